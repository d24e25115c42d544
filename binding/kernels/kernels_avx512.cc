// AVX-512F kernels: 16 float32 or 8 float64 lanes, opmask selects. Compiled with -mavx512f;
// chosen only when CPUID reports AVX-512F and the OS saves the opmask and ZMM state (XGETBV).
#if defined(__x86_64__) || defined(_M_X64)
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
  static V broadcast(T x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V madd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V sqrt(V a) { return _mm512_sqrt_ps(a); }
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
  static V broadcast(T x) { return _mm512_set1_pd(x); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V div(V a, V b) { return _mm512_div_pd(a, b); }
  static V madd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V sqrt(V a) { return _mm512_sqrt_pd(a); }
  static Mask positive(V a) { return _mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_GT_OQ); }
  static V select(Mask m, V a, V b) { return _mm512_mask_blend_pd(m, b, a); }
};

}  // namespace

namespace rmsprop {
extern const KernelTable kAvx512Kernels = make_kernel_table<Avx512F32, Avx512F64>("avx512");
}  // namespace rmsprop
#endif
