# Checks the PTX of the CUDA plugin (cmake -DPTX=<file> -P check-ptx.cmake): the update kernels
# move aligned tensors with 16-byte vector loads and stores (4 floats / 2 doubles), as the issue
# asks, so a change that silently drops the vector path fails `npm run test:cuda` even without a GPU;
# half-precision tensors move four 16-bit values per 8-byte load and store (ld/st.v4.u16).
file(READ "${PTX}" ptx)
foreach(instruction "ld.v4.f32" "st.v4.f32" "ld.v2.f64" "st.v2.f64" "ld.v4.u16" "st.v4.u16")
  string(FIND "${ptx}" "${instruction}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${PTX}: no ${instruction}: the vector path of the update kernels is gone")
  endif()
endforeach()
message(STATUS "${PTX}: 16-byte vector loads and stores present")
