#include "cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#include <cstdint>
#endif

namespace rmsprop {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
struct CpuidRegisters {
  std::uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegisters cpuid(std::uint32_t leaf, std::uint32_t subleaf) {
  CpuidRegisters r;
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(subleaf));
  r.eax = regs[0], r.ebx = regs[1], r.ecx = regs[2], r.edx = regs[3];
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// XCR0: which register states the OS saves on a context switch. Only valid with OSXSAVE.
std::uint64_t read_xcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}

bool bit(std::uint32_t value, int index) { return (value >> index) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  f.sse2 = true;  // part of x86-64
  const std::uint32_t max_leaf = cpuid(0, 0).eax;
  if (max_leaf < 1) return f;
  const CpuidRegisters leaf1 = cpuid(1, 0);
  const bool osxsave = bit(leaf1.ecx, 27), avx = bit(leaf1.ecx, 28), fma = bit(leaf1.ecx, 12),
             f16c = bit(leaf1.ecx, 29);
  if (!osxsave || !avx) return f;
  const std::uint64_t xcr0 = read_xcr0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  const bool zmm_saved = (xcr0 & 0xE6) == 0xE6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (max_leaf < 7 || !ymm_saved) return f;
  const CpuidRegisters leaf7 = cpuid(7, 0);
  f.avx2_fma = fma && f16c && bit(leaf7.ebx, 5);
  f.avx512f = f.avx2_fma && zmm_saved && bit(leaf7.ebx, 16);
  return f;
}
#elif defined(__aarch64__) || defined(_M_ARM64)
CpuFeatures detect() {
  CpuFeatures f;
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();  // C++11 guarantees one thread-safe init
  return features;
}

}  // namespace rmsprop
