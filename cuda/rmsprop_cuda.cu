// The CUDA plugin (librmsprop_cuda.so): memory, queues and launches around the kernels of
// kernels.cuh, behind the C interface of rmsprop_cuda.h.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "kernels.cuh"
#include "rmsprop_cuda.h"

using namespace rmsprop::cuda_kernels;

// A stream with its launch tables: built in page-locked host memory, copied with one
// asynchronous copy per step, both buffers grown as needed and reused.
struct rmsprop_cuda_queue_s {
  cudaStream_t stream = nullptr;
  cudaEvent_t tables_sent = nullptr;  // the last table copy has left the host buffer
  bool tables_pending = false;
  char* host = nullptr;
  char* device = nullptr;
  size_t capacity = 0;
  LaunchTables tables;
};

namespace {

template <class T>
int enqueue_step(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                 const rmsprop_cuda_step_config& config) {
  LaunchTables& tables = q->tables;
  tables.build(tensors, count);
  if (tables.chunks.empty()) return 0;
  // The host buffer may still be the source of the previous step's table copy.
  if (q->tables_pending) {
    if (cudaError_t e = cudaEventSynchronize(q->tables_sent)) return e;
    q->tables_pending = false;
  }
  const size_t total = tables.total();
  if (q->capacity < total) {
    // The device buffer may still be read by an earlier launch of this stream.
    if (cudaError_t e = cudaStreamSynchronize(q->stream)) return e;
    cudaFreeHost(q->host);
    cudaFree(q->device);
    q->host = nullptr;
    q->device = nullptr;
    q->capacity = 0;
    if (cudaError_t e = cudaMallocHost(reinterpret_cast<void**>(&q->host), total)) return e;
    if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&q->device), total)) return e;
    q->capacity = total;
  }
  tables.pack(q->host);
  if (cudaError_t e = cudaMemcpyAsync(q->device, q->host, tables.sent(), cudaMemcpyHostToDevice, q->stream)) return e;
  if (cudaError_t e = cudaEventRecord(q->tables_sent, q->stream)) return e;
  q->tables_pending = true;
  const LaunchTables::Views d = tables.views(q->device);
  if (!tables.slice_index.empty()) {
    slice_means<T><<<static_cast<unsigned>(tables.slice_index.size()), kThreads, 0, q->stream>>>(
        d.tensors, d.slice_tensor, d.slice_index, d.means);
  }
  const Shared shared{config.decay, config.momentum, config.epsilon, config.inv_loss_scale};
  const unsigned blocks = static_cast<unsigned>(tables.chunks.size());
  if (config.centered) {
    update<T, true><<<blocks, kThreads, 0, q->stream>>>(d.tensors, d.chunks, d.means, shared);
  } else {
    update<T, false><<<blocks, kThreads, 0, q->stream>>>(d.tensors, d.chunks, d.means, shared);
  }
  return cudaGetLastError();
}

}  // namespace

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
  cudaError_t e = cudaStreamCreateWithFlags(&q->stream, cudaStreamNonBlocking);
  if (e == cudaSuccess) e = cudaEventCreateWithFlags(&q->tables_sent, cudaEventDisableTiming);
  if (e != cudaSuccess) {
    if (q->stream) cudaStreamDestroy(q->stream);
    delete q;
    return e;
  }
  *out = q;
  return 0;
}

extern "C" int rmsprop_cuda_queue_destroy(rmsprop_cuda_queue q) {
  if (q == nullptr) return 0;
  const cudaError_t e = cudaStreamSynchronize(q->stream);
  cudaFreeHost(q->host);
  cudaFree(q->device);
  cudaEventDestroy(q->tables_sent);
  cudaStreamDestroy(q->stream);
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
  return cudaMemcpyAsync(dst, src, bytes, k, q->stream);
}

extern "C" int rmsprop_cuda_step_async(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                                       const rmsprop_cuda_step_config* config) {
  if (q == nullptr || config == nullptr || (count > 0 && tensors == nullptr)) return cudaErrorInvalidValue;
  try {
    return config->float64 ? enqueue_step<double>(q, tensors, count, *config)
                           : enqueue_step<float>(q, tensors, count, *config);
  } catch (const std::bad_alloc&) {
    return cudaErrorMemoryAllocation;
  }
}

extern "C" int rmsprop_cuda_synchronize(rmsprop_cuda_queue q) {
  if (q == nullptr) return cudaErrorInvalidValue;
  return cudaStreamSynchronize(q->stream);
}

extern "C" const char* rmsprop_cuda_error_string(int code) {
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}
