// The CUDA kernels of the step and the host code that lays out their launch tables. nvcc
// compiles this into the plugin (rmsprop_cuda.cu); the host compiler, with
// emulation/cuda_shim.h included first, compiles the very same code into a CPU emulation of the
// launches, which the host emulator plugin (emulator/) and the native tests run where there is no
// GPU. The per-element math is the CPU kernels' own header (include/rmsprop_math.h),
// instantiated with device arithmetic, so the formula and the centered guard keep one home.
//
// A step is at most two launches whatever the number of tensors (in the style of PyTorch's
// multi_tensor_apply): blocks walk a table of fixed-size chunks of every tensor; gradient
// centralization first reduces each slice's mean (in float64) in a separate launch. Tensors whose
// buffers are all 16-byte aligned move 16 bytes per load and store.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

#include "../include/rmsprop_cuda.h"
#include "../include/rmsprop_math.h"
#include "../include/step_scalars.h"

namespace rmsprop::cuda_kernels {

// A parameter's storage type P and the type of its state and math: P itself for float and
// double; float for the half-precision types (__half, __nv_bfloat16: docs/semantics.md §11),
// widened exactly on load and rounded to nearest even on store.
template <class P>
struct Storage {
  using Math = P;
  static constexpr bool kHalf = false;
  __device__ static Math widen(P x) { return x; }
  __device__ static P narrow(Math x) { return x; }
};
template <>
struct Storage<__half> {
  using Math = float;
  static constexpr bool kHalf = true;
  __device__ static float widen(__half x) { return __half2float(x); }
  __device__ static __half narrow(float x) { return __float2half_rn(x); }
};
template <>
struct Storage<__nv_bfloat16> {
  using Math = float;
  static constexpr bool kHalf = true;
  __device__ static float widen(__nv_bfloat16 x) { return __bfloat162float(x); }
  __device__ static __nv_bfloat16 narrow(float x) { return __float2bfloat16_rn(x); }
};

// Element i of a tensor's parameter as the update sees it: the master copy where there is one,
// else the parameter widened.
template <class P>
__device__ __forceinline__ typename Storage<P>::Math param_at(const rmsprop_cuda_tensor& t, uint64_t i) {
  if constexpr (Storage<P>::kHalf) {
    if (t.master != nullptr) return static_cast<const float*>(t.master)[i];
  }
  return Storage<P>::widen(static_cast<const P*>(t.param)[i]);
}

// Element i of a tensor's gradient: of the parameter's dtype, or float32 for a half-precision
// parameter whose record says so.
template <class P>
__device__ __forceinline__ typename Storage<P>::Math grad_at(const rmsprop_cuda_tensor& t, uint64_t i) {
  if constexpr (Storage<P>::kHalf) {
    if (t.grad_float32) return static_cast<const float*>(t.grad)[i];
  }
  return Storage<P>::widen(static_cast<const P*>(t.grad)[i]);
}

template <class Scalar>
struct DeviceOps {
  using T = Scalar;
  using V = Scalar;
  using Mask = bool;
  __device__ static V add(V a, V b) { return a + b; }
  __device__ static V sub(V a, V b) { return a - b; }
  __device__ static V mul(V a, V b) { return a * b; }
  __device__ static V div(V a, V b) { return a / b; }
  __device__ static V sqrt(V a) { return ::sqrt(a); }
  __device__ static V madd(V a, V b, V c) { return fma(a, b, c); }
  __device__ static V over_sqrt(V a, V x) { return a / ::sqrt(x); }
  __device__ static Mask positive(V a) { return a > V(0); }
  __device__ static V select(Mask m, V a, V b) { return m ? a : b; }
};

// 16-byte vectors: 4 floats or 2 doubles per load.
template <class T> struct Vec;
template <> struct Vec<float> { using type = float4; static constexpr int kLanes = 4; };
template <> struct Vec<double> { using type = double2; static constexpr int kLanes = 2; };

// Elements per chunk (one block) of the launch table: 4 float4 (or 8 double2) per thread, and
// enough blocks to cover every SM of an H100 (132) from ~5e5 elements on.
constexpr uint64_t kChunk = 1 << 12;
constexpr unsigned kThreads = 256;    // threads per block

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

// Per-slice means of the decayed gradient (g + wd·w) for the centralized tensors; one block per
// slice, summed in double (from the widened values for half precision).
template <class P>
__global__ void slice_means(const Tensor* tensors, const uint32_t* slice_tensor, const uint64_t* slice_index,
                            double* means) {
  using T = typename Storage<P>::Math;
  const Tensor& entry = tensors[slice_tensor[blockIdx.x]];
  const rmsprop_cuda_tensor& t = entry.t;
  const uint64_t size = t.size / t.slices;
  const uint64_t from = slice_index[blockIdx.x] * size;
  const T wd = static_cast<T>(t.weight_decay);
  double sum = 0;
  if (t.variant & rmsprop::kCoupledDecay) {
    for (uint64_t i = threadIdx.x; i < size; i += blockDim.x) {
      sum += static_cast<double>(
          rmsprop::decayed_gradient<DeviceOps<T>, true>(grad_at<P>(t, from + i), param_at<P>(t, from + i), wd));
    }
  } else {
    for (uint64_t i = threadIdx.x; i < size; i += blockDim.x) sum += static_cast<double>(grad_at<P>(t, from + i));
  }
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) means[entry.mean_offset + slice_index[blockIdx.x]] = partial[0] / static_cast<double>(size);
}

// One element (or one lane of a vector) through the shared header.
template <class T, bool kCentered, unsigned kV>
__device__ __forceinline__ void element(T& w, T& s, T& m, T& mg, T g, const rmsprop::LaneScalars<T>& k) {
  using Ops = DeviceOps<T>;
  if (kCentered) {
    rmsprop::centered_update<Ops, kV>(w, s, m, mg, g, k);
  } else {
    rmsprop::plain_update<Ops, kV>(w, s, m, g, k);
  }
}

template <class T, bool kCentered, unsigned kV>
__device__ void update_range(const Tensor& entry, rmsprop::LaneScalars<T> k, const double* means, uint64_t begin,
                             uint64_t end) {
  const rmsprop_cuda_tensor& t = entry.t;
  T* w = static_cast<T*>(t.param);
  T* ms = static_cast<T*>(t.mean_square);
  T* m = static_cast<T*>(t.moment);
  T* mg = static_cast<T*>(t.mean_grad);
  const T* g = static_cast<const T*>(t.grad);
  T unused = 0;
  if (t.slices > 0) {  // centralized (small convolution kernels): the slice mean per element
    const uint64_t slice = t.size / t.slices;
    for (uint64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      k.grad_shift = static_cast<T>(means[entry.mean_offset + i / slice]);
      T mgi = kCentered ? mg[i] : unused;
      element<T, kCentered, kV>(w[i], ms[i], m[i], mgi, g[i], k);
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
      for (int l = 0; l < kLanes; ++l) element<T, kCentered, kV>(wl[l], sl[l], ml[l], mgl[l], gl[l], k);
      *reinterpret_cast<V*>(w + at) = wv;
      *reinterpret_cast<V*>(ms + at) = sv;
      *reinterpret_cast<V*>(m + at) = mv;
      if (kCentered) *reinterpret_cast<V*>(mg + at) = mgv;
    }
    i = begin + vectors * kLanes;
  }
  for (i += threadIdx.x; i < end; i += blockDim.x) {
    T mgi = kCentered ? mg[i] : unused;
    element<T, kCentered, kV>(w[i], ms[i], m[i], mgi, g[i], k);
    if (kCentered) mg[i] = mgi;
  }
}

// Four half-precision values (8 bytes) and four floats (16 bytes): one load or store each where
// aligned.
template <class P>
struct alignas(8) Half4 {
  P v[4];
};
struct alignas(16) Float4 {
  float v[4];
};

// A half-precision tensor's range: the parameter (or its master copy) and gradient widened, the
// update in float32, the parameter rounded once. Where every buffer is aligned (the addon's
// always are), each thread takes 4 consecutive elements per load (8 bytes of 16-bit values, 16
// of floats); the rest, and centralized tensors, one element per thread (consecutive threads,
// consecutive elements: coalesced).
template <class P, bool kCentered, unsigned kV>
__device__ void update_half_range(const Tensor& entry, rmsprop::LaneScalars<float> k, const double* means,
                                  uint64_t begin, uint64_t end) {
  using S = Storage<P>;
  const rmsprop_cuda_tensor& t = entry.t;
  P* w16 = static_cast<P*>(t.param);
  float* master = static_cast<float*>(t.master);
  float* ms = static_cast<float*>(t.mean_square);
  float* m = static_cast<float*>(t.moment);
  float* mg = static_cast<float*>(t.mean_grad);
  const uint64_t slice = t.slices > 0 ? t.size / t.slices : 0;
  k.grad_shift = 0.0f;
  auto aligned = [](const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  uint64_t i = begin;
  if (slice == 0 && begin % 4 == 0 && aligned(w16, 8) && aligned(ms, 16) && aligned(m, 16) &&
      (!kCentered || aligned(mg, 16)) && (master == nullptr || aligned(master, 16)) &&
      aligned(t.grad, t.grad_float32 ? 16 : 8)) {
    const uint64_t vectors = (end - begin) / 4;
    for (uint64_t v = threadIdx.x; v < vectors; v += blockDim.x) {
      const uint64_t at = begin + v * 4;
      Half4<P> wv = *reinterpret_cast<const Half4<P>*>(w16 + at);
      Float4 sv = *reinterpret_cast<const Float4*>(ms + at), mv = *reinterpret_cast<const Float4*>(m + at);
      Float4 mgv = kCentered ? *reinterpret_cast<const Float4*>(mg + at) : Float4{};
      Float4 wf = master != nullptr ? *reinterpret_cast<const Float4*>(master + at) : Float4{};
      Float4 gv;
      if (t.grad_float32) {
        gv = *reinterpret_cast<const Float4*>(static_cast<const float*>(t.grad) + at);
      } else {
        const Half4<P> g16 = *reinterpret_cast<const Half4<P>*>(static_cast<const P*>(t.grad) + at);
#pragma unroll
        for (int l = 0; l < 4; ++l) gv.v[l] = S::widen(g16.v[l]);
      }
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        float w = master != nullptr ? wf.v[l] : S::widen(wv.v[l]);
        element<float, kCentered, kV>(w, sv.v[l], mv.v[l], mgv.v[l], gv.v[l], k);
        wf.v[l] = w;
        wv.v[l] = S::narrow(w);
      }
      if (master != nullptr) *reinterpret_cast<Float4*>(master + at) = wf;
      *reinterpret_cast<Half4<P>*>(w16 + at) = wv;
      *reinterpret_cast<Float4*>(ms + at) = sv;
      *reinterpret_cast<Float4*>(m + at) = mv;
      if (kCentered) *reinterpret_cast<Float4*>(mg + at) = mgv;
    }
    i = begin + vectors * 4;
  }
  for (i += threadIdx.x; i < end; i += blockDim.x) {
    if (slice > 0) k.grad_shift = static_cast<float>(means[entry.mean_offset + i / slice]);
    float w = param_at<P>(t, i), s = ms[i], mi = m[i], mgi = kCentered ? mg[i] : 0.0f;
    element<float, kCentered, kV>(w, s, mi, mgi, grad_at<P>(t, i), k);
    if (master != nullptr) master[i] = w;
    w16[i] = S::narrow(w);
    ms[i] = s;
    m[i] = mi;
    if (kCentered) mg[i] = mgi;
  }
}

// The block's tensor through its variant of the update (each of the kVariantCount instantiated).
template <class P, bool kCentered, unsigned kV = 0>
__device__ void update_variant(unsigned variant, const Tensor& entry,
                               const rmsprop::LaneScalars<typename Storage<P>::Math>& k, const double* means,
                               uint64_t begin, uint64_t end) {
  if constexpr (kV < rmsprop::kVariantCount) {
    if (variant == kV) {
      if constexpr (Storage<P>::kHalf) {
        update_half_range<P, kCentered, kV>(entry, k, means, begin, end);
      } else {
        update_range<P, kCentered, kV>(entry, k, means, begin, end);
      }
    } else {
      update_variant<P, kCentered, kV + 1>(variant, entry, k, means, begin, end);
    }
  }
}

template <class P, bool kCentered>
__global__ void update(const Tensor* tensors, const Chunk* chunks, const double* means, rmsprop_shared_scalars s) {
  using T = typename Storage<P>::Math;
  const Chunk c = chunks[blockIdx.x];
  const Tensor& entry = tensors[c.tensor];
  const rmsprop::LaneScalars<T> k = rmsprop::tensor_scalars<T>(s, entry.t.lr, entry.t.weight_decay);
  update_variant<P, kCentered>(entry.t.variant, entry, k, means, c.begin, c.end);
}

// Whether any gradient element of the chunks is inf or NaN: each thread tests its elements
// (widened for half precision) and writes 1 to *flag where one is not finite (every writer
// writes the same value). Reads only the gradients.
template <class P>
__global__ void nonfinite(const Tensor* tensors, const Chunk* chunks, uint32_t* flag) {
  const Chunk c = chunks[blockIdx.x];
  const rmsprop_cuda_tensor& t = tensors[c.tensor].t;
  bool bad = false;
  for (uint64_t i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) {
    const auto g = grad_at<P>(t, i);
    bad = bad || !(g - g == g - g);  // inf - inf and NaN - NaN are NaN; finite - finite is 0
  }
  if (bad) *flag = 1u;
}

// The launch tables of one step, laid out in one buffer: tensors, chunks, centralized slices
// (tensor and index), then room for the slice means (written by the first launch).
struct LaunchTables {
  std::vector<Tensor> tensors;
  std::vector<Chunk> chunks;
  std::vector<uint32_t> slice_tensor;
  std::vector<uint64_t> slice_index;
  size_t b_tensors = 0, b_chunks = 0, b_slices = 0, b_index = 0, b_means = 0;

  struct Views {
    const Tensor* tensors;
    const Chunk* chunks;
    const uint32_t* slice_tensor;
    const uint64_t* slice_index;
    double* means;
  };

  static size_t round_up(size_t bytes) { return (bytes + 255) / 256 * 256; }

  void build(const rmsprop_cuda_tensor* in, size_t count) {
    tensors.assign(count, Tensor{});
    chunks.clear();
    slice_tensor.clear();
    slice_index.clear();
    for (size_t i = 0; i < count; ++i) {
      const rmsprop_cuda_tensor& t = in[i];
      tensors[i].t = t;
      tensors[i].mean_offset = slice_index.size();
      if (t.slices > 0 && t.size > 0 && t.size % t.slices == 0) {
        for (uint64_t s = 0; s < t.slices; ++s) {
          slice_tensor.push_back(static_cast<uint32_t>(i));
          slice_index.push_back(s);
        }
      } else {
        tensors[i].t.slices = 0;
      }
      for (uint64_t b = 0; b < t.size; b += kChunk) {
        chunks.push_back(Chunk{static_cast<uint32_t>(i), b, b + kChunk < t.size ? b + kChunk : t.size});
      }
    }
    b_tensors = round_up(tensors.size() * sizeof(Tensor));
    b_chunks = round_up(chunks.size() * sizeof(Chunk));
    b_slices = round_up(slice_tensor.size() * sizeof(uint32_t));
    b_index = round_up(slice_index.size() * sizeof(uint64_t));
    b_means = round_up(slice_index.size() * sizeof(double));
  }

  // Bytes to copy to the device (everything but the means), and the whole buffer.
  size_t sent() const { return b_tensors + b_chunks + b_slices + b_index; }
  size_t total() const { return sent() + b_means; }

  // The tensor records alone (the first part of the layout): what changes when only the
  // learning rates or weight decays do.
  size_t tensor_bytes() const { return tensors.size() * sizeof(Tensor); }
  void pack_tensors(char* host) const {
    if (!tensors.empty()) std::memcpy(host, tensors.data(), tensor_bytes());
  }

  void pack(char* host) const {
    pack_tensors(host);
    if (!chunks.empty()) std::memcpy(host + b_tensors, chunks.data(), chunks.size() * sizeof(Chunk));
    if (!slice_tensor.empty()) std::memcpy(host + b_tensors + b_chunks, slice_tensor.data(), slice_tensor.size() * sizeof(uint32_t));
    if (!slice_index.empty()) std::memcpy(host + b_tensors + b_chunks + b_slices, slice_index.data(), slice_index.size() * sizeof(uint64_t));
  }

  Views views(char* base) const {
    return Views{reinterpret_cast<const Tensor*>(base), reinterpret_cast<const Chunk*>(base + b_tensors),
                 reinterpret_cast<const uint32_t*>(base + b_tensors + b_chunks),
                 reinterpret_cast<const uint64_t*>(base + b_tensors + b_chunks + b_slices),
                 reinterpret_cast<double*>(base + sent())};
  }
};

}  // namespace rmsprop::cuda_kernels
