// The CPU kernel tables and the one-time choice among them.
#pragma once
#include <string>
#include <vector>

#include "kernel_types.h"

namespace rmsprop {

// Defined, one each, in kernels_<level>.cc; only those of the target architecture exist.
extern const KernelTable kScalarKernels;
#if defined(__x86_64__) || defined(_M_X64)
extern const KernelTable kSse2Kernels;
extern const KernelTable kAvx2Kernels;
extern const KernelTable kAvx512Kernels;
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
extern const KernelTable kNeonKernels;
#endif

// The tables this CPU and OS can run, best first (always ends with "scalar").
const std::vector<const KernelTable*>& supported_kernels();

// The table in use. Chosen once per process (the best supported level, or the one named by the
// environment variable RMSPROP_SIMD when it is supported); thread-safe.
const KernelTable& active_kernels();

// Switches the table in use to a supported level by name (for tests and benchmarks).
// Returns false, changing nothing, for an unknown or unsupported level.
bool select_kernels(const std::string& level);

}  // namespace rmsprop
