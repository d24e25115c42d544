// The CUDA plugin (librmsprop_cuda.so): memory, queues and launches around the kernels of
// kernels.cuh and the launch sequence of launch.h, behind the C interface of rmsprop_cuda.h.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "launch.h"
#include "../include/rmsprop_cuda.h"

using namespace rmsprop::cuda_kernels;
using rmsprop::cuda_launch::TableCache;

// The CUDA side of the launch sequence (launch.h): a stream, its events, its launches.
struct CudaRuntime {
  using Event = cudaEvent_t;
  cudaStream_t stream = nullptr;

  int host_alloc(char** p, size_t bytes) { return cudaMallocHost(reinterpret_cast<void**>(p), bytes); }
  void host_free(char* p) { cudaFreeHost(p); }
  int device_alloc(char** p, size_t bytes) { return cudaMalloc(reinterpret_cast<void**>(p), bytes); }
  void device_free(char* p) { cudaFree(p); }
  int copy_to_device(void* dst, const void* src, size_t bytes) {
    return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream);
  }
  int record(Event& e) { return cudaEventRecord(e, stream); }
  int wait(Event& e) { return cudaEventSynchronize(e); }
  int synchronize() { return cudaStreamSynchronize(stream); }
  template <class T>
  int launch_slice_means(unsigned blocks, const LaunchTables::Views& d) {
    slice_means<T><<<blocks, kThreads, 0, stream>>>(d.tensors, d.slice_tensor, d.slice_index, d.means);
    return cudaGetLastError();
  }
  template <class T>
  int launch_nonfinite(unsigned blocks, const LaunchTables::Views& d, uint32_t* flag) {
    nonfinite<T><<<blocks, kThreads, 0, stream>>>(d.tensors, d.chunks, flag);
    return cudaGetLastError();
  }
  template <class T, bool kCentered>
  int launch_update(unsigned blocks, const LaunchTables::Views& d, const rmsprop_shared_scalars& shared) {
    update<T, kCentered><<<blocks, kThreads, 0, stream>>>(d.tensors, d.chunks, d.means, shared);
    return cudaGetLastError();
  }
};

// A stream with a table cache per dtype.
struct rmsprop_cuda_queue_s {
  CudaRuntime rt;
  TableCache<CudaRuntime> cache[rmsprop::cuda_launch::kDTypes];  // by rmsprop_cuda_dtype
};

extern "C" int rmsprop_cuda_abi_version(void) { return RMSPROP_CUDA_ABI_VERSION; }

extern "C" int rmsprop_cuda_device_count(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear "no driver" / "no device"
    return 0;
  }
  // Usable means the current device can run these kernels: a GPU older than the built
  // architectures (sm_80 and up) has no image for them.
  cudaFuncAttributes attributes;
  if (cudaFuncGetAttributes(&attributes, update<float, false>) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

extern "C" int rmsprop_cuda_device_name(char* out, size_t size) {
  if (out == nullptr || size == 0) return cudaErrorInvalidValue;
  int device = 0;
  if (cudaError_t e = cudaGetDevice(&device)) return e;
  cudaDeviceProp prop;
  if (cudaError_t e = cudaGetDeviceProperties(&prop, device)) return e;
  std::strncpy(out, prop.name, size - 1);
  out[size - 1] = '\0';
  return 0;
}

extern "C" int rmsprop_cuda_malloc(void** ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
extern "C" int rmsprop_cuda_free(void* ptr) { return cudaFree(ptr); }
extern "C" int rmsprop_cuda_host_alloc(void** ptr, size_t bytes) { return cudaMallocHost(ptr, bytes); }
extern "C" int rmsprop_cuda_host_free(void* ptr) { return cudaFreeHost(ptr); }

extern "C" int rmsprop_cuda_queue_create(rmsprop_cuda_queue* out) {
  if (out == nullptr) return cudaErrorInvalidValue;
  auto* q = new (std::nothrow) rmsprop_cuda_queue_s();
  if (q == nullptr) return cudaErrorMemoryAllocation;
  cudaError_t e = cudaStreamCreateWithFlags(&q->rt.stream, cudaStreamNonBlocking);
  for (TableCache<CudaRuntime>& c : q->cache) {
    for (cudaEvent_t& event : c.sent) {
      if (e == cudaSuccess) e = cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
    }
  }
  if (e != cudaSuccess) {
    for (TableCache<CudaRuntime>& c : q->cache) {
      for (cudaEvent_t event : c.sent) {
        if (event) cudaEventDestroy(event);
      }
    }
    if (q->rt.stream) cudaStreamDestroy(q->rt.stream);
    delete q;
    return e;
  }
  *out = q;
  return 0;
}

extern "C" int rmsprop_cuda_queue_destroy(rmsprop_cuda_queue q) {
  if (q == nullptr) return 0;
  const cudaError_t e = cudaStreamSynchronize(q->rt.stream);
  for (TableCache<CudaRuntime>& c : q->cache) {
    rmsprop::cuda_launch::release(q->rt, c);
    for (cudaEvent_t event : c.sent) cudaEventDestroy(event);
  }
  cudaStreamDestroy(q->rt.stream);
  delete q;
  return e;
}

extern "C" int rmsprop_cuda_copy_async(rmsprop_cuda_queue q, void* dst, const void* src, size_t bytes, int kind) {
  if (q == nullptr) return cudaErrorInvalidValue;
  cudaMemcpyKind k;
  switch (kind) {
    case RMSPROP_CUDA_HOST_TO_DEVICE: k = cudaMemcpyHostToDevice; break;
    case RMSPROP_CUDA_DEVICE_TO_HOST: k = cudaMemcpyDeviceToHost; break;
    case RMSPROP_CUDA_DEVICE_TO_DEVICE: k = cudaMemcpyDeviceToDevice; break;
    default: return cudaErrorInvalidValue;
  }
  if (bytes == 0) return 0;
  return cudaMemcpyAsync(dst, src, bytes, k, q->rt.stream);
}

extern "C" int rmsprop_cuda_step_async(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                                       const rmsprop_cuda_step_config* config) {
  if (q == nullptr || config == nullptr || (count > 0 && tensors == nullptr)) return cudaErrorInvalidValue;
  try {
    return rmsprop::cuda_launch::enqueue(q->rt, q->cache, tensors, count, *config, cudaErrorInvalidValue);
  } catch (const std::bad_alloc&) {
    return cudaErrorMemoryAllocation;
  }
}

extern "C" int rmsprop_cuda_check_finite_async(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                                               const rmsprop_cuda_step_config* config, uint32_t* flag) {
  if (q == nullptr || config == nullptr || flag == nullptr || (count > 0 && tensors == nullptr)) return cudaErrorInvalidValue;
  try {
    return rmsprop::cuda_launch::enqueue_finite_check(q->rt, q->cache, tensors, count, *config, flag, cudaErrorInvalidValue);
  } catch (const std::bad_alloc&) {
    return cudaErrorMemoryAllocation;
  }
}

extern "C" int rmsprop_cuda_synchronize(rmsprop_cuda_queue q) {
  if (q == nullptr) return cudaErrorInvalidValue;
  return cudaStreamSynchronize(q->rt.stream);
}

extern "C" const char* rmsprop_cuda_error_string(int code) {
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}
