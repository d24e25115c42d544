// The neon kernel table: ops_neon.h's arithmetic through RMSProp's update (kernel_loop.h).
#if defined(__aarch64__) || defined(_M_ARM64)
#include "ops_neon.h"

namespace rmsprop {
extern const KernelTable kNeonKernels = make_kernel_table<NeonF32, NeonF64>("neon");
}  // namespace rmsprop
#endif
