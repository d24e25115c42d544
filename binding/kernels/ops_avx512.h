// AVX-512F kernels: 16 float32 or 8 float64 lanes, opmask selects. Compiled with -mavx512f;
// chosen only when CPUID reports AVX-512F and the OS saves the opmask and ZMM state (XGETBV).
// The Ops of this instruction set, in an anonymous namespace: include this header from exactly
// one file of a binary (kernels_avx512.cc, the addon's table; bench/native/stream_kernels_avx512.cc,
// the benchmark's), which instantiates the loops of kernel_loop.h with them (see rmsprop_math.h
// on why every instantiation must have internal linkage).
#pragma once
#include <immintrin.h>

#include "kernel_loop.h"

namespace {

struct Avx512F32 {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr std::size_t kWidth = 16;
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V load_half(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store_half(std::uint16_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static V load_bfloat(const std::uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  // Round to nearest even (x + 0x7fff + the kept lowest bit), NaN kept quiet, then the top halves.
  static void store_bfloat(std::uint16_t* p, V v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), odd), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(rounded));
  }
  static V load_partial(const T* p, std::size_t n, T fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << n) - 1), p);
  }
  static void store_partial(T* p, V v, std::size_t n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  }
  static V broadcast(T x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V madd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V sqrt(V a) { return _mm512_sqrt_ps(a); }
  // a/√x as a·r with r = rsqrt14(x) (14 bits) refined by one Newton step (~28 bits), within
  // docs/semantics.md §2 and without the slow divide and square root. Registers with a lane outside
  // the normal range [FLT_MIN, FLT_MAX] (the centered guard, NaN, overflow, denormals) take the
  // exact path, so edge values behave exactly as in the scalar kernels.
  static V over_sqrt(V a, V x) {
    const __mmask16 in_range = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.17549435e-38f), _CMP_GE_OQ) &
                               _mm512_cmp_ps_mask(x, _mm512_set1_ps(3.40282347e+38f), _CMP_LE_OQ);
    if (in_range != 0xFFFF) return div(a, sqrt(x));
    V r = _mm512_rsqrt14_ps(x);
    const V half_x_r = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), r);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(half_x_r, r, _mm512_set1_ps(1.5f)));
    return _mm512_mul_ps(a, r);
  }
  static Mask positive(V a) { return _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
};

struct Avx512F64 {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr std::size_t kWidth = 8;
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V load_partial(const T* p, std::size_t n, T fill) {
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), static_cast<__mmask8>((1u << n) - 1), p);
  }
  static void store_partial(T* p, V v, std::size_t n) {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), v);
  }
  static V broadcast(T x) { return _mm512_set1_pd(x); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V div(V a, V b) { return _mm512_div_pd(a, b); }
  static V madd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V sqrt(V a) { return _mm512_sqrt_pd(a); }
  // As for float32, with two Newton steps from 14 bits (~56 bits before rounding), within the
  // 1e-12 of docs/semantics.md §2; the exact path for lanes outside [DBL_MIN, DBL_MAX].
  static V over_sqrt(V a, V x) {
    const __mmask8 in_range = _mm512_cmp_pd_mask(x, _mm512_set1_pd(2.2250738585072014e-308), _CMP_GE_OQ) &
                              _mm512_cmp_pd_mask(x, _mm512_set1_pd(1.7976931348623157e+308), _CMP_LE_OQ);
    if (in_range != 0xFF) return div(a, sqrt(x));
    const V half_x = _mm512_mul_pd(x, _mm512_set1_pd(0.5));
    const V three_halves = _mm512_set1_pd(1.5);
    V r = _mm512_rsqrt14_pd(x);
    r = _mm512_mul_pd(r, _mm512_fnmadd_pd(_mm512_mul_pd(half_x, r), r, three_halves));
    r = _mm512_mul_pd(r, _mm512_fnmadd_pd(_mm512_mul_pd(half_x, r), r, three_halves));
    return _mm512_mul_pd(a, r);
  }
  static Mask positive(V a) { return _mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm512_mask_blend_pd(m, b, a); }
};

}  // namespace
