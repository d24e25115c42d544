# Checks the PTX of the CUDA plugin (cmake -DPTX=<file> -P check-ptx.cmake): the update kernels
# move aligned tensors with 16-byte vector loads and stores (4 floats / 2 doubles), as the issue
# asks, so a change that silently drops the vector path fails `npm run test:cuda` even without a GPU.
file(READ "${PTX}" ptx)
foreach(instruction "ld.v4.f32" "st.v4.f32" "ld.v2.f64" "st.v2.f64")
  string(FIND "${ptx}" "${instruction}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${PTX}: no ${instruction}: the 16-byte vector path of the update kernels is gone")
  endif()
endforeach()
message(STATUS "${PTX}: 16-byte vector loads and stores present")
