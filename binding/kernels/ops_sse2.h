// SSE2 kernels (every x86-64 CPU): 4 float32 or 2 float64 lanes, no fused multiply-add.
// The Ops of this instruction set, in an anonymous namespace: include this header from exactly
// one file of a binary (kernels_sse2.cc, the addon's table; bench/native/stream_kernels_sse2.cc,
// the benchmark's), which instantiates the loops of kernel_loop.h with them (see rmsprop_math.h
// on why every instantiation must have internal linkage).
#pragma once
#include <emmintrin.h>

#include "kernel_loop.h"

namespace {

struct Sse2F32 {
  using T = float;
  using V = __m128;
  using Mask = __m128;
  static constexpr std::size_t kWidth = 4;
  static V load(const T* p) { return _mm_loadu_ps(p); }
  static void store(T* p, V v) { _mm_storeu_ps(p, v); }
  static V broadcast(T x) { return _mm_set1_ps(x); }
  static V add(V a, V b) { return _mm_add_ps(a, b); }
  static V sub(V a, V b) { return _mm_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm_mul_ps(a, b); }
  static V div(V a, V b) { return _mm_div_ps(a, b); }
  static V madd(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static V sqrt(V a) { return _mm_sqrt_ps(a); }
  static V over_sqrt(V a, V x) { return div(a, sqrt(x)); }
  static Mask positive(V a) { return _mm_cmpgt_ps(a, _mm_setzero_ps()); }
  static V select(Mask m, V a, V b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }
};

struct Sse2F64 {
  using T = double;
  using V = __m128d;
  using Mask = __m128d;
  static constexpr std::size_t kWidth = 2;
  static V load(const T* p) { return _mm_loadu_pd(p); }
  static void store(T* p, V v) { _mm_storeu_pd(p, v); }
  static V broadcast(T x) { return _mm_set1_pd(x); }
  static V add(V a, V b) { return _mm_add_pd(a, b); }
  static V sub(V a, V b) { return _mm_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm_mul_pd(a, b); }
  static V div(V a, V b) { return _mm_div_pd(a, b); }
  static V madd(V a, V b, V c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
  static V sqrt(V a) { return _mm_sqrt_pd(a); }
  static V over_sqrt(V a, V x) { return div(a, sqrt(x)); }
  static Mask positive(V a) { return _mm_cmpgt_pd(a, _mm_setzero_pd()); }
  static V select(Mask m, V a, V b) { return _mm_or_pd(_mm_and_pd(m, a), _mm_andnot_pd(m, b)); }
};

}  // namespace
