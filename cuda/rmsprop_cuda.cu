// The CUDA plugin: the RMSProp step on an NVIDIA GPU. The per-element math is the CPU kernels'
// own header (binding/kernels/rmsprop_math.h), instantiated with device arithmetic, so the
// formula and the centered guard keep one home. A step is at most two launches whatever the
// number of tensors (in the style of PyTorch's multi_tensor_apply): blocks walk a table of
// fixed-size chunks of every tensor; gradient centralization first reduces each slice's mean (in
// float64) in a separate launch. Aligned tensors move 16 bytes per load and store.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "../binding/kernels/rmsprop_math.h"
#include "rmsprop_cuda.h"

namespace {

template <class Scalar>
struct DeviceOps {
  using T = Scalar;
  using V = Scalar;
  using Mask = bool;
  __device__ static V add(V a, V b) { return a + b; }
  __device__ static V sub(V a, V b) { return a - b; }
  __device__ static V mul(V a, V b) { return a * b; }
  __device__ static V madd(V a, V b, V c) { return fma(a, b, c); }
  __device__ static V over_sqrt(V a, V x) { return a / sqrt(x); }
  __device__ static Mask positive(V a) { return a > V(0); }
  __device__ static V select(Mask m, V a, V b) { return m ? a : b; }
};

// 16-byte vectors: 4 floats or 2 doubles per load.
template <class T> struct Vec;
template <> struct Vec<float> { using type = float4; static constexpr int kLanes = 4; };
template <> struct Vec<double> { using type = double2; static constexpr int kLanes = 2; };

constexpr uint64_t kChunk = 1 << 14;  // elements per chunk (block) of the launch table
constexpr int kThreads = 256;

struct Chunk {
  uint32_t tensor;
  uint64_t begin;
  uint64_t end;
};

// A tensor as the kernels read it: the caller's record plus where its slice means start.
struct Tensor {
  rmsprop_cuda_tensor t;
  uint64_t mean_offset;
};

struct Shared {
  double decay, momentum, epsilon, inv_loss_scale;
};

// Per-slice means of the decayed gradient (g + wd·w) for the centralized tensors; one block per
// slice, summed in double.
template <class T>
__global__ void slice_means(const Tensor* tensors, const uint32_t* slice_tensor, const uint64_t* slice_index,
                            double* means) {
  const Tensor& entry = tensors[slice_tensor[blockIdx.x]];
  const rmsprop_cuda_tensor& t = entry.t;
  const uint64_t size = t.size / t.slices;
  const uint64_t from = slice_index[blockIdx.x] * size;
  const T* g = static_cast<const T*>(t.grad) + from;
  const T* w = static_cast<const T*>(t.param) + from;
  const T wd = static_cast<T>(t.weight_decay);
  double sum = 0;
  for (uint64_t i = threadIdx.x; i < size; i += blockDim.x) {
    const T gi = t.apply_weight_decay ? fma(wd, w[i], g[i]) : g[i];
    sum += static_cast<double>(gi);
  }
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) means[entry.mean_offset + slice_index[blockIdx.x]] = partial[0] / static_cast<double>(size);
}

// One element (or one lane of a vector) through the shared header.
template <class T, bool kCentered, bool kWeightDecay>
__device__ __forceinline__ void element(T& w, T& s, T& m, T& mg, T g, const rmsprop::LaneScalars<T>& k) {
  using Ops = DeviceOps<T>;
  if (kCentered) {
    rmsprop::centered_update<Ops, kWeightDecay>(w, s, m, mg, g, k);
  } else {
    rmsprop::plain_update<Ops, kWeightDecay>(w, s, m, g, k);
  }
}

template <class T, bool kCentered, bool kWeightDecay>
__device__ void update_range(const Tensor& entry, rmsprop::LaneScalars<T> k, const double* means, uint64_t begin,
                             uint64_t end) {
  const rmsprop_cuda_tensor& t = entry.t;
  T* w = static_cast<T*>(t.param);
  T* ms = static_cast<T*>(t.mean_square);
  T* m = static_cast<T*>(t.moment);
  T* mg = static_cast<T*>(t.mean_grad);
  const T* g = static_cast<const T*>(t.grad);
  T unused = 0;
  if (t.slices > 1) {  // centralized (small convolution kernels): the slice mean per element
    const uint64_t slice = t.size / t.slices;
    for (uint64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      k.grad_shift = static_cast<T>(means[entry.mean_offset + i / slice]);
      T mgi = kCentered ? mg[i] : unused;
      element<T, kCentered, kWeightDecay>(w[i], ms[i], m[i], kCentered ? mgi : unused, g[i], k);
      if (kCentered) mg[i] = mgi;
    }
    return;
  }
  k.grad_shift = T(0);
  using V = typename Vec<T>::type;
  constexpr int kLanes = Vec<T>::kLanes;
  const uintptr_t any = reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(ms) |
                        reinterpret_cast<uintptr_t>(m) | reinterpret_cast<uintptr_t>(g) |
                        (kCentered ? reinterpret_cast<uintptr_t>(mg) : 0);
  uint64_t i = begin;
  if ((any % 16) == 0 && begin % kLanes == 0) {
    const uint64_t vectors = (end - begin) / kLanes;
    for (uint64_t v = threadIdx.x; v < vectors; v += blockDim.x) {
      const uint64_t at = begin + v * kLanes;
      V wv = *reinterpret_cast<const V*>(w + at), sv = *reinterpret_cast<const V*>(ms + at);
      V mv = *reinterpret_cast<const V*>(m + at);
      const V gv = *reinterpret_cast<const V*>(g + at);
      V mgv = kCentered ? *reinterpret_cast<const V*>(mg + at) : V{};
      T* wl = reinterpret_cast<T*>(&wv);
      T* sl = reinterpret_cast<T*>(&sv);
      T* ml = reinterpret_cast<T*>(&mv);
      T* mgl = reinterpret_cast<T*>(&mgv);
      const T* gl = reinterpret_cast<const T*>(&gv);
#pragma unroll
      for (int l = 0; l < kLanes; ++l) element<T, kCentered, kWeightDecay>(wl[l], sl[l], ml[l], mgl[l], gl[l], k);
      *reinterpret_cast<V*>(w + at) = wv;
      *reinterpret_cast<V*>(ms + at) = sv;
      *reinterpret_cast<V*>(m + at) = mv;
      if (kCentered) *reinterpret_cast<V*>(mg + at) = mgv;
    }
    i = begin + vectors * kLanes;
  }
  for (i += threadIdx.x; i < end; i += blockDim.x) {
    T mgi = kCentered ? mg[i] : unused;
    element<T, kCentered, kWeightDecay>(w[i], ms[i], m[i], kCentered ? mgi : unused, g[i], k);
    if (kCentered) mg[i] = mgi;
  }
}

template <class T, bool kCentered>
__global__ void update(const Tensor* tensors, const Chunk* chunks, const double* means, Shared s) {
  const Chunk c = chunks[blockIdx.x];
  const Tensor& entry = tensors[c.tensor];
  rmsprop::LaneScalars<T> k;
  k.decay = static_cast<T>(s.decay);
  k.one_minus_decay = T(1) - k.decay;
  k.momentum = static_cast<T>(s.momentum);
  k.epsilon = static_cast<T>(s.epsilon);
  k.inv_loss_scale = static_cast<T>(s.inv_loss_scale);
  k.lr = static_cast<T>(entry.t.lr);
  k.weight_decay = static_cast<T>(entry.t.weight_decay);
  k.grad_shift = T(0);
  if (entry.t.apply_weight_decay) {
    update_range<T, kCentered, true>(entry, k, means, c.begin, c.end);
  } else {
    update_range<T, kCentered, false>(entry, k, means, c.begin, c.end);
  }
}

size_t round_up(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

// A stream with its launch tables: built in page-locked host memory, copied with one
// asynchronous copy per step, both buffers grown as needed and reused.
struct rmsprop_cuda_queue_s {
  cudaStream_t stream = nullptr;
  cudaEvent_t tables_sent = nullptr;  // the last table copy has left the host buffer
  bool tables_pending = false;
  char* host = nullptr;
  char* device = nullptr;
  size_t capacity = 0;
  std::vector<Chunk> chunks;
  std::vector<uint32_t> slice_tensor;
  std::vector<uint64_t> slice_index;
};

namespace {

template <class T>
int enqueue_step(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, size_t count,
                 const rmsprop_cuda_step_config& config) {
  q->chunks.clear();
  q->slice_tensor.clear();
  q->slice_index.clear();
  std::vector<Tensor> table(count);
  for (size_t i = 0; i < count; ++i) {
    const rmsprop_cuda_tensor& t = tensors[i];
    table[i].t = t;
    table[i].mean_offset = q->slice_index.size();
    if (t.slices > 1 && t.size % t.slices == 0) {
      for (uint64_t s = 0; s < t.slices; ++s) {
        q->slice_tensor.push_back(static_cast<uint32_t>(i));
        q->slice_index.push_back(s);
      }
    } else {
      table[i].t.slices = 1;
    }
    for (uint64_t b = 0; b < t.size; b += kChunk) {
      q->chunks.push_back(Chunk{static_cast<uint32_t>(i), b, b + kChunk < t.size ? b + kChunk : t.size});
    }
  }
  if (q->chunks.empty()) return 0;
  const size_t b_tensors = round_up(count * sizeof(Tensor)), b_chunks = round_up(q->chunks.size() * sizeof(Chunk));
  const size_t b_slices = round_up(q->slice_tensor.size() * sizeof(uint32_t));
  const size_t b_index = round_up(q->slice_index.size() * sizeof(uint64_t));
  const size_t b_means = round_up(q->slice_index.size() * sizeof(double));
  const size_t sent = b_tensors + b_chunks + b_slices + b_index, total = sent + b_means;
  // The host buffer may still be the source of the previous step's table copy.
  if (q->tables_pending) {
    if (cudaError_t e = cudaEventSynchronize(q->tables_sent)) return e;
    q->tables_pending = false;
  }
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
  char* h = q->host;
  std::memcpy(h, table.data(), count * sizeof(Tensor));
  std::memcpy(h + b_tensors, q->chunks.data(), q->chunks.size() * sizeof(Chunk));
  std::memcpy(h + b_tensors + b_chunks, q->slice_tensor.data(), q->slice_tensor.size() * sizeof(uint32_t));
  std::memcpy(h + b_tensors + b_chunks + b_slices, q->slice_index.data(), q->slice_index.size() * sizeof(uint64_t));
  if (cudaError_t e = cudaMemcpyAsync(q->device, h, sent, cudaMemcpyHostToDevice, q->stream)) return e;
  if (cudaError_t e = cudaEventRecord(q->tables_sent, q->stream)) return e;
  q->tables_pending = true;
  char* d = q->device;
  const auto* d_tensors = reinterpret_cast<const Tensor*>(d);
  const auto* d_chunks = reinterpret_cast<const Chunk*>(d + b_tensors);
  const auto* d_slice_tensor = reinterpret_cast<const uint32_t*>(d + b_tensors + b_chunks);
  const auto* d_slice_index = reinterpret_cast<const uint64_t*>(d + b_tensors + b_chunks + b_slices);
  auto* d_means = reinterpret_cast<double*>(d + sent);
  if (!q->slice_index.empty()) {
    slice_means<T><<<static_cast<unsigned>(q->slice_index.size()), kThreads, 0, q->stream>>>(
        d_tensors, d_slice_tensor, d_slice_index, d_means);
  }
  const Shared shared{config.decay, config.momentum, config.epsilon, config.inv_loss_scale};
  const unsigned blocks = static_cast<unsigned>(q->chunks.size());
  if (config.centered) {
    update<T, true><<<blocks, kThreads, 0, q->stream>>>(d_tensors, d_chunks, d_means, shared);
  } else {
    update<T, false><<<blocks, kThreads, 0, q->stream>>>(d_tensors, d_chunks, d_means, shared);
  }
  return cudaGetLastError();
}

}  // namespace

extern "C" int rmsprop_cuda_abi_version(void) { return RMSPROP_CUDA_ABI_VERSION; }

extern "C" int rmsprop_cuda_device_count(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear "no driver" / "no device"
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
