// What a CPU kernel receives: one tensor's buffers and its scalars in the tensor's own precision.
// Plain data only; shared by the dispatcher, the core and every instruction-set file.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../../include/rmsprop_math.h"

namespace rmsprop {

template <class T>
struct TensorBuffers {
  T* param;
  T* mean_square;
  T* moment;
  T* mean_grad;    // null unless centered
  const T* grad;   // never written
  std::size_t size;
};

// Hyper-parameters of one tensor's update, each rounded to T (docs/semantics.md §2: formed by
// include/step_scalars.h's tensor_scalars), and the variant of its update (include/variants.h).
template <class T>
struct TensorScalars : LaneScalars<T> {
  unsigned variant;
};

template <class T>
using KernelFn = void (*)(const TensorBuffers<T>&, const TensorScalars<T>&);

// Whether every one of n values is finite (no inf, no NaN).
template <class T>
using FiniteFn = bool (*)(const T*, std::size_t);

// A half-precision tensor's buffers: the parameter as 16-bit patterns (float16 or bfloat16), its
// float32 master copy (master weights: the update reads and writes it, the parameter is its
// rounding) or null, the state float32, the gradient in the parameter's dtype or float32.
struct HalfTensorBuffers {
  std::uint16_t* param;
  float* master;  // null without master weights
  float* mean_square;
  float* moment;
  float* mean_grad;  // null unless centered
  const void* grad;
  bool grad_f32;  // the gradient is float32 (else the parameter's dtype)
  std::size_t size;
};

// Returns false, having changed nothing, for a variant it does not fuse (kFusedHalfVariants).
using HalfKernelFn = bool (*)(const HalfTensorBuffers&, const TensorScalars<float>&);

// The variants the fused half kernels cover (no weight decay, coupled, decoupled: the plain forms
// of every flavour): each costs ~8 KB of code per instruction set and dtype, and all kVariantCount of them
// would double the binary. The others go through the block path (multi_tensor_step.cc).
constexpr unsigned kFusedHalfVariants[] = {0u, kCoupledDecay, kDecoupledDecay};

// Conversions of n half-precision values (IEEE binary16, or bfloat16) to float32 (exact) and
// back (rounded to nearest, ties to even; NaN stays NaN, quiet).
using WidenFn = void (*)(const std::uint16_t*, float*, std::size_t);
using NarrowFn = void (*)(const float*, std::uint16_t*, std::size_t);

// One instruction set's kernels. Each table is a constant-initialised object in its own
// translation unit, so no code compiled for that instruction set runs before it is chosen.
struct KernelTable {
  const char* level;  // "avx512", "avx2", "sse2", "neon", "scalar"
  KernelFn<float> plain_f32;
  KernelFn<float> centered_f32;
  KernelFn<double> plain_f64;
  KernelFn<double> centered_f64;
  FiniteFn<float> finite_f32;
  FiniteFn<double> finite_f64;
  FiniteFn<std::uint16_t> finite_f16;
  FiniteFn<std::uint16_t> finite_bf16;
  WidenFn f16_to_f32;
  NarrowFn f32_to_f16;
  WidenFn bf16_to_f32;
  NarrowFn f32_to_bf16;
  // The update of a half-precision tensor, converting in registers (null where the instruction
  // set has no conversion instructions: the core then converts in blocks through the float32
  // kernel, as it does for centralized tensors).
  HalfKernelFn plain_f16;
  HalfKernelFn centered_f16;
  HalfKernelFn plain_bf16;
  HalfKernelFn centered_bf16;
};

}  // namespace rmsprop
