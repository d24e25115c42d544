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

// The launch tables of one dtype, kept on the device between steps. Rebuilt and sent whole only
// when the step's tensors change (pointers, sizes, slices, flags); when only learning rates or
// weight decays change (a schedule), the host copy is patched and only the tensor records are
// sent; when nothing changes (fixed rates), nothing is sent and a step is its launches alone.
// Two page-locked staging buffers are used in turn, so preparing a step's tables never waits for
// the copy of the step before.
struct TableCache {
  rmsprop::cuda_kernels::LaunchTables tables;
  std::vector<rmsprop_cuda_tensor> built_from;  // the records the device copy holds
  bool valid = false;
  char* device = nullptr;
  size_t device_capacity = 0;
  char* host[2] = {nullptr, nullptr};
  size_t host_capacity[2] = {0, 0};
  cudaEvent_t sent[2] = {nullptr, nullptr};  // the last copy from host[i] has left it
  bool pending[2] = {false, false};
  int next = 0;
};

// A stream with a table cache per dtype.
struct rmsprop_cuda_queue_s {
  cudaStream_t stream = nullptr;
  TableCache cache[2];  // [0] float32, [1] float64
};

namespace {

bool same_layout(const rmsprop_cuda_tensor& a, const rmsprop_cuda_tensor& b) {
  return a.param == b.param && a.mean_square == b.mean_square && a.moment == b.moment &&
         a.mean_grad == b.mean_grad && a.grad == b.grad && a.size == b.size && a.slices == b.slices &&
         a.apply_weight_decay == b.apply_weight_decay;
}

bool same_scalars(const rmsprop_cuda_tensor& a, const rmsprop_cuda_tensor& b) {
  return a.lr == b.lr && a.weight_decay == b.weight_decay;
}

// Copies `bytes` of the tables (the whole layout, or its tensor records alone) to the device
// through the next staging buffer.
int stage(cudaStream_t stream, TableCache& c, size_t bytes, bool whole) {
  const int b = c.next;
  c.next ^= 1;
  if (c.pending[b]) {  // the copy from this buffer two sends ago
    if (cudaError_t e = cudaEventSynchronize(c.sent[b])) return e;
    c.pending[b] = false;
  }
  if (c.host_capacity[b] < bytes) {
    cudaFreeHost(c.host[b]);
    c.host[b] = nullptr;
    c.host_capacity[b] = 0;
    if (cudaError_t e = cudaMallocHost(reinterpret_cast<void**>(&c.host[b]), bytes)) return e;
    c.host_capacity[b] = bytes;
  }
  if (whole) {
    c.tables.pack(c.host[b]);
  } else {
    c.tables.pack_tensors(c.host[b]);
  }
  if (cudaError_t e = cudaMemcpyAsync(c.device, c.host[b], bytes, cudaMemcpyHostToDevice, stream)) return e;
  if (cudaError_t e = cudaEventRecord(c.sent[b], stream)) return e;
  c.pending[b] = true;
  return 0;
}

// Makes the device copy of `c` hold the tables of `tensors`.
int update_tables(cudaStream_t stream, TableCache& c, const rmsprop_cuda_tensor* tensors, size_t count) {
  bool layout = c.valid && c.built_from.size() == count;
  bool scalars = layout;
  for (size_t i = 0; layout && i < count; ++i) {
    layout = same_layout(c.built_from[i], tensors[i]);
    scalars = scalars && same_scalars(c.built_from[i], tensors[i]);
  }
  if (layout && scalars) return 0;
  LaunchTables& tables = c.tables;
  if (layout) {  // new learning rates or weight decays: patch the records and send them alone
    for (size_t i = 0; i < count; ++i) {
      tables.tensors[i].t.lr = tensors[i].lr;
      tables.tensors[i].t.weight_decay = tensors[i].weight_decay;
      c.built_from[i].lr = tensors[i].lr;
      c.built_from[i].weight_decay = tensors[i].weight_decay;
    }
    c.valid = false;
    if (int e = stage(stream, c, tables.tensor_bytes(), false)) return e;
    c.valid = true;
    return 0;
  }
  c.valid = false;
  tables.build(tensors, count);
  if (tables.chunks.empty()) return 0;
  const size_t total = tables.total();
  if (c.device_capacity < total) {
    // The device buffer may still be read by an earlier launch of this stream.
    if (cudaError_t e = cudaStreamSynchronize(stream)) return e;
    cudaFree(c.device);
    c.device = nullptr;
    c.device_capacity = 0;
    if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&c.device), total)) return e;
    c.device_capacity = total;
  }
  if (int e = stage(stream, c, tables.sent(), true)) return e;
  c.built_from.assign(tensors, tensors + count);
  c.valid = true;
  return 0;
}

template <class T>
int enqueue_step(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                 const rmsprop_cuda_step_config& config) {
  TableCache& c = q->cache[sizeof(T) == 8 ? 1 : 0];
  if (int e = update_tables(q->stream, c, tensors, count)) return e;
  const LaunchTables& tables = c.tables;
  if (tables.chunks.empty()) return 0;  // update_tables leaves c invalid only then
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
    for (cudaEvent_t& event : c.sent) {
      if (e == cudaSuccess) e = cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
    }
  }
  if (e != cudaSuccess) {
    for (TableCache& c : q->cache) {
      for (cudaEvent_t event : c.sent) {
        if (event) cudaEventDestroy(event);
      }
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
    for (int b = 0; b < 2; ++b) {
      cudaFreeHost(c.host[b]);
      cudaEventDestroy(c.sent[b]);
    }
    cudaFree(c.device);
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
