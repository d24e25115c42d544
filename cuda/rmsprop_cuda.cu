// CUDA kernels of the RMSProp step (work in progress, issue 8). The per-element math is the CPU
// kernels' own header (binding/kernels/rmsprop_math.h), instantiated with device arithmetic, so
// the formula and the centered guard keep one home. One launch per step covers every tensor:
// blocks walk a table of fixed-size chunks; gradient centralization first reduces each slice's
// mean in a separate launch.
#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>
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

constexpr uint64_t kChunk = 1 << 16;  // elements per chunk of the launch table
constexpr int kThreads = 256;

struct Chunk {
  uint32_t tensor;
  uint64_t begin;
  uint64_t end;
};

struct Shared {
  double decay, momentum, epsilon, inv_loss_scale;
};

// Per-slice means of the decayed gradient (g + wd·w) for the centralized tensors; one block per
// slice, summed in double.
template <class T>
__global__ void slice_means(const rmsprop_cuda_tensor* tensors, const uint32_t* slice_tensor,
                            const uint64_t* slice_index, double* means) {
  const rmsprop_cuda_tensor t = tensors[slice_tensor[blockIdx.x]];
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
  if (threadIdx.x == 0) means[blockIdx.x] = partial[0] / static_cast<double>(size);
}

template <class T, bool kCentered>
__global__ void update(const rmsprop_cuda_tensor* tensors, const Chunk* chunks, const double* means,
                       const uint64_t* mean_offset, Shared s) {
  using Ops = DeviceOps<T>;
  const Chunk c = chunks[blockIdx.x];
  const rmsprop_cuda_tensor t = tensors[c.tensor];
  rmsprop::LaneScalars<T> k;
  k.decay = static_cast<T>(s.decay);
  k.one_minus_decay = T(1) - k.decay;
  k.momentum = static_cast<T>(s.momentum);
  k.epsilon = static_cast<T>(s.epsilon);
  k.inv_loss_scale = static_cast<T>(s.inv_loss_scale);
  k.lr = static_cast<T>(t.lr);
  k.weight_decay = static_cast<T>(t.weight_decay);
  T* w = static_cast<T*>(t.param);
  T* ms = static_cast<T*>(t.mean_square);
  T* m = static_cast<T*>(t.moment);
  T* mg = static_cast<T*>(t.mean_grad);
  const T* g = static_cast<const T*>(t.grad);
  const uint64_t slice = t.slices > 1 ? t.size / t.slices : 0;
  for (uint64_t i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) {
    k.grad_shift = slice ? static_cast<T>(means[mean_offset[c.tensor] + i / slice]) : T(0);
    T wi = w[i], si = ms[i], mi = m[i];
    if (kCentered) {
      T mgi = mg[i];
      if (t.apply_weight_decay) rmsprop::centered_update<Ops, true>(wi, si, mi, mgi, g[i], k);
      else rmsprop::centered_update<Ops, false>(wi, si, mi, mgi, g[i], k);
      mg[i] = mgi;
    } else {
      if (t.apply_weight_decay) rmsprop::plain_update<Ops, true>(wi, si, mi, g[i], k);
      else rmsprop::plain_update<Ops, false>(wi, si, mi, g[i], k);
    }
    w[i] = wi;
    ms[i] = si;
    m[i] = mi;
  }
}

// Device buffers for the launch tables, grown as needed and reused (one step at a time).
struct Scratch {
  std::mutex mutex;
  void* device = nullptr;
  size_t capacity = 0;
};
Scratch& scratch() {
  static Scratch* s = new Scratch();
  return *s;
}

template <class T>
int run(const rmsprop_cuda_tensor* tensors, size_t count, const rmsprop_cuda_step_config& config) {
  std::vector<Chunk> chunks;
  std::vector<uint32_t> slice_tensor;
  std::vector<uint64_t> slice_index, mean_offset(count, 0);
  for (size_t i = 0; i < count; ++i) {
    const rmsprop_cuda_tensor& t = tensors[i];
    if (t.slices > 1 && t.size % t.slices == 0) {
      mean_offset[i] = slice_index.size();
      for (uint64_t s = 0; s < t.slices; ++s) {
        slice_tensor.push_back(static_cast<uint32_t>(i));
        slice_index.push_back(s);
      }
    }
    for (uint64_t b = 0; b < t.size; b += kChunk) chunks.push_back(Chunk{static_cast<uint32_t>(i), b, b + kChunk < t.size ? b + kChunk : t.size});
  }
  if (chunks.empty()) return 0;
  auto bytes = [](size_t n, size_t size) { return (n * size + 255) / 256 * 256; };
  const size_t b_tensors = bytes(count, sizeof(rmsprop_cuda_tensor)), b_chunks = bytes(chunks.size(), sizeof(Chunk));
  const size_t b_slices = bytes(slice_tensor.size(), sizeof(uint32_t)), b_index = bytes(slice_index.size(), sizeof(uint64_t));
  const size_t b_offset = bytes(count, sizeof(uint64_t)), b_means = bytes(slice_index.size(), sizeof(double));
  const size_t total = b_tensors + b_chunks + b_slices + b_index + b_offset + b_means;
  Scratch& s = scratch();
  std::lock_guard<std::mutex> guard(s.mutex);
  if (s.capacity < total) {
    if (s.device) cudaFree(s.device);
    s.device = nullptr;
    s.capacity = 0;
    if (cudaError_t e = cudaMalloc(&s.device, total)) return e;
    s.capacity = total;
  }
  char* base = static_cast<char*>(s.device);
  auto* d_tensors = reinterpret_cast<rmsprop_cuda_tensor*>(base);
  auto* d_chunks = reinterpret_cast<Chunk*>(base + b_tensors);
  auto* d_slice_tensor = reinterpret_cast<uint32_t*>(base + b_tensors + b_chunks);
  auto* d_slice_index = reinterpret_cast<uint64_t*>(base + b_tensors + b_chunks + b_slices);
  auto* d_offset = reinterpret_cast<uint64_t*>(base + b_tensors + b_chunks + b_slices + b_index);
  auto* d_means = reinterpret_cast<double*>(base + b_tensors + b_chunks + b_slices + b_index + b_offset);
  cudaMemcpy(d_tensors, tensors, count * sizeof(rmsprop_cuda_tensor), cudaMemcpyHostToDevice);
  cudaMemcpy(d_chunks, chunks.data(), chunks.size() * sizeof(Chunk), cudaMemcpyHostToDevice);
  cudaMemcpy(d_offset, mean_offset.data(), count * sizeof(uint64_t), cudaMemcpyHostToDevice);
  if (!slice_index.empty()) {
    cudaMemcpy(d_slice_tensor, slice_tensor.data(), slice_tensor.size() * sizeof(uint32_t), cudaMemcpyHostToDevice);
    cudaMemcpy(d_slice_index, slice_index.data(), slice_index.size() * sizeof(uint64_t), cudaMemcpyHostToDevice);
    slice_means<T><<<static_cast<unsigned>(slice_index.size()), kThreads>>>(d_tensors, d_slice_tensor, d_slice_index, d_means);
  }
  const Shared shared{config.decay, config.momentum, config.epsilon, config.inv_loss_scale};
  if (config.centered) {
    update<T, true><<<static_cast<unsigned>(chunks.size()), kThreads>>>(d_tensors, d_chunks, d_means, d_offset, shared);
  } else {
    update<T, false><<<static_cast<unsigned>(chunks.size()), kThreads>>>(d_tensors, d_chunks, d_means, d_offset, shared);
  }
  if (cudaError_t e = cudaGetLastError()) return e;
  return cudaDeviceSynchronize();
}

}  // namespace

extern "C" int rmsprop_cuda_device_count(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear "no driver" / "no device"
    return 0;
  }
  return count;
}

extern "C" int rmsprop_cuda_step(const rmsprop_cuda_tensor* tensors, size_t count, const rmsprop_cuda_step_config* config) {
  return config->float64 ? run<double>(tensors, count, *config) : run<float>(tensors, count, *config);
}

extern "C" const char* rmsprop_cuda_error_string(int code) {
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}
