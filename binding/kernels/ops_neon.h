// NEON kernels (every arm64 CPU): 4 float32 or 2 float64 lanes, fused multiply-add.
// The Ops of this instruction set, in an anonymous namespace: include this header from exactly
// one file of a binary (kernels_neon.cc, the addon's table; bench/native/stream_kernels_neon.cc,
// the benchmark's), which instantiates the loops of kernel_loop.h with them (see rmsprop_math.h
// on why every instantiation must have internal linkage).
#pragma once
#include <arm_neon.h>

#include "kernel_loop.h"

namespace {

struct NeonF32 {
  using T = float;
  using V = float32x4_t;
  using Mask = uint32x4_t;
  static constexpr std::size_t kWidth = 4;
  static V load(const T* p) { return vld1q_f32(p); }
  static void store(T* p, V v) { vst1q_f32(p, v); }
  static V load_half(const std::uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static void store_half(std::uint16_t* p, V v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
  static V broadcast(T x) { return vdupq_n_f32(x); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V madd(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V sqrt(V a) { return vsqrtq_f32(a); }
  static V over_sqrt(V a, V x) { return div(a, sqrt(x)); }
  static Mask positive(V a) { return vcgtq_f32(a, vdupq_n_f32(0.0f)); }
  static V select(Mask m, V a, V b) { return vbslq_f32(m, a, b); }
};

struct NeonF64 {
  using T = double;
  using V = float64x2_t;
  using Mask = uint64x2_t;
  static constexpr std::size_t kWidth = 2;
  static V load(const T* p) { return vld1q_f64(p); }
  static void store(T* p, V v) { vst1q_f64(p, v); }
  static V broadcast(T x) { return vdupq_n_f64(x); }
  static V add(V a, V b) { return vaddq_f64(a, b); }
  static V sub(V a, V b) { return vsubq_f64(a, b); }
  static V mul(V a, V b) { return vmulq_f64(a, b); }
  static V div(V a, V b) { return vdivq_f64(a, b); }
  static V madd(V a, V b, V c) { return vfmaq_f64(c, a, b); }
  static V sqrt(V a) { return vsqrtq_f64(a); }
  static V over_sqrt(V a, V x) { return div(a, sqrt(x)); }
  static Mask positive(V a) { return vcgtq_f64(a, vdupq_n_f64(0.0)); }
  static V select(Mask m, V a, V b) { return vbslq_f64(m, a, b); }
};

}  // namespace
