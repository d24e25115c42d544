// AVX2 + FMA kernels: 8 float32 or 4 float64 lanes (and F16C's half conversions). Compiled with
// -mavx2 -mfma -mf16c; nothing here runs unless the dispatcher found all three in CPUID and the OS saving the YMM state (XGETBV).
// The Ops of this instruction set, in an anonymous namespace: include this header from exactly
// one file of a binary (kernels_avx2.cc, the addon's table; bench/native/stream_kernels_avx2.cc,
// the benchmark's), which instantiates the loops of kernel_loop.h with them (see rmsprop_math.h
// on why every instantiation must have internal linkage).
#pragma once
#include <immintrin.h>

#include "kernel_loop.h"

namespace {

struct Avx2F32 {
  using T = float;
  using V = __m256;
  using Mask = __m256;
  static constexpr std::size_t kWidth = 8;
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  // F16C (required with this level, see cpu_features.cc).
  static V load_half(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store_half(std::uint16_t* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static V load_bfloat(const std::uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  // Round to nearest even (x + 0x7fff + the kept lowest bit), NaN kept quiet, then the top halves.
  static void store_bfloat(std::uint16_t* p, V v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    rounded = _mm256_blendv_epi8(rounded, _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40)), nan);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm_packus_epi32(_mm256_castsi256_si128(rounded), _mm256_extracti128_si256(rounded, 1)));
  }
  // The first n lanes (AVX2's vmaskmov: masked-off lanes are neither read nor faulted on).
  static __m256i first(std::size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_partial(const T* p, std::size_t n, T fill) {
    const __m256i mask = first(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
  }
  static void store_partial(T* p, V v, std::size_t n) { _mm256_maskstore_ps(p, first(n), v); }
  static V broadcast(T x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V madd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  // a/√x as a·r with r = rsqrt(x) (12 bits) refined by one Newton step (~23 bits): well inside
  // docs/semantics.md §2 and without the slow divide and square root. Lanes outside the normal range
  // (0, ∞), NaN, denormals) take the exact path, for the whole register, so edge values
  // (the centered guard, overflow) behave exactly as in the scalar kernels.
  static V over_sqrt(V a, V x) {
    const V in_range = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_GE_OQ),
                                     _mm256_cmp_ps(x, _mm256_set1_ps(3.40282347e+38f), _CMP_LE_OQ));
    if (_mm256_movemask_ps(in_range) != 0xFF) return div(a, sqrt(x));
    V r = _mm256_rsqrt_ps(x);
    const V half_x_r = _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), r);
    r = _mm256_mul_ps(r, _mm256_fnmadd_ps(half_x_r, r, _mm256_set1_ps(1.5f)));
    return _mm256_mul_ps(a, r);
  }
  static Mask positive(V a) { return _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
};

struct Avx2F64 {
  using T = double;
  using V = __m256d;
  using Mask = __m256d;
  static constexpr std::size_t kWidth = 4;
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static __m256i first(std::size_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n)), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V load_partial(const T* p, std::size_t n, T fill) {
    const __m256i mask = first(n);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, mask), _mm256_castsi256_pd(mask));
  }
  static void store_partial(T* p, V v, std::size_t n) { _mm256_maskstore_pd(p, first(n), v); }
  static V broadcast(T x) { return _mm256_set1_pd(x); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
  static V madd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V sqrt(V a) { return _mm256_sqrt_pd(a); }
  static V over_sqrt(V a, V x) { return div(a, sqrt(x)); }
  static Mask positive(V a) { return _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm256_blendv_pd(b, a, m); }
};

}  // namespace
