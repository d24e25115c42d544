// What the CPU and the operating system let us run. Compiled for the baseline architecture.
#pragma once

namespace rmsprop {

struct CpuFeatures {
  bool sse2 = false;
  bool avx2_fma = false;  // AVX2, FMA and F16C in CPUID, YMM state saved by the OS
  bool avx512f = false;   // AVX-512F in CPUID, opmask and ZMM state saved by the OS
  bool neon = false;
};

// Detected once per process (thread-safe), then cached.
const CpuFeatures& cpu_features();

}  // namespace rmsprop
