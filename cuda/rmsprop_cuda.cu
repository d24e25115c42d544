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

// The launch tables of one dtype: built in page-locked host memory and copied to the device
// with one asynchronous copy, both buffers grown as needed and reused. Rebuilt and copied only
// when the step's tensor records differ from those the device copy was built from: the steps of
// a run with fixed learning rates and weight decays send the same records every time, and then
// a step is its launches alone (no host work, no copy, no wait for the previous copy).
struct TableCache {
  rmsprop::cuda_kernels::LaunchTables tables;
  std::vector<rmsprop_cuda_tensor> built_from;
  bool valid = false;         // the device buffer holds the tables of built_from
  cudaEvent_t sent = nullptr;  // the last table copy has left the host buffer
  bool pending = false;
  char* host = nullptr;
  char* device = nullptr;
  size_t capacity = 0;
};

// A stream with a table cache per dtype.
struct rmsprop_cuda_queue_s {
  cudaStream_t stream = nullptr;
  TableCache cache[2];  // [0] float32, [1] float64
};

namespace {

bool same_record(const rmsprop_cuda_tensor& a, const rmsprop_cuda_tensor& b) {
  return a.param == b.param && a.mean_square == b.mean_square && a.moment == b.moment &&
         a.mean_grad == b.mean_grad && a.grad == b.grad && a.size == b.size && a.slices == b.slices &&
         a.lr == b.lr && a.weight_decay == b.weight_decay && a.apply_weight_decay == b.apply_weight_decay;
}

bool same_records(const std::vector<rmsprop_cuda_tensor>& cached, const rmsprop_cuda_tensor* tensors, size_t count) {
  if (cached.size() != count) return false;
  for (size_t i = 0; i < count; ++i) {
    if (!same_record(cached[i], tensors[i])) return false;
  }
  return true;
}

// Builds and sends the tables of `tensors` to the device buffer of `c`.
int send_tables(cudaStream_t stream, TableCache& c, const rmsprop_cuda_tensor* tensors, size_t count) {
  c.valid = false;
  LaunchTables& tables = c.tables;
  tables.build(tensors, count);
  if (tables.chunks.empty()) return 0;
  // The host buffer may still be the source of the previous table copy.
  if (c.pending) {
    if (cudaError_t e = cudaEventSynchronize(c.sent)) return e;
    c.pending = false;
  }
  const size_t total = tables.total();
  if (c.capacity < total) {
    // The device buffer may still be read by an earlier launch of this stream.
    if (cudaError_t e = cudaStreamSynchronize(stream)) return e;
    cudaFreeHost(c.host);
    cudaFree(c.device);
    c.host = nullptr;
    c.device = nullptr;
    c.capacity = 0;
    if (cudaError_t e = cudaMallocHost(reinterpret_cast<void**>(&c.host), total)) return e;
    if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&c.device), total)) return e;
    c.capacity = total;
  }
  tables.pack(c.host);
  if (cudaError_t e = cudaMemcpyAsync(c.device, c.host, tables.sent(), cudaMemcpyHostToDevice, stream)) return e;
  if (cudaError_t e = cudaEventRecord(c.sent, stream)) return e;
  c.pending = true;
  c.built_from.assign(tensors, tensors + count);
  c.valid = true;
  return 0;
}

template <class T>
int enqueue_step(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                 const rmsprop_cuda_step_config& config) {
  TableCache& c = q->cache[sizeof(T) == 8 ? 1 : 0];
  if (!c.valid || !same_records(c.built_from, tensors, count)) {
    if (int e = send_tables(q->stream, c, tensors, count)) return e;
  }
  const LaunchTables& tables = c.tables;
  if (tables.chunks.empty()) return 0;
  const LaunchTables::Views d = tables.views(c.device);
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
  for (TableCache& c : q->cache) {
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&c.sent, cudaEventDisableTiming);
  }
  if (e != cudaSuccess) {
    for (TableCache& c : q->cache) {
      if (c.sent) cudaEventDestroy(c.sent);
    }
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
  for (TableCache& c : q->cache) {
    cudaFreeHost(c.host);
    cudaFree(c.device);
    cudaEventDestroy(c.sent);
  }
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
