// The benchmark's neon kernel table (the memory-traffic baseline of bench/run.js): the addon's
// own loops and neon arithmetic (binding/kernels/ops_neon.h) with stream_update.h's update in
// place of RMSProp's. Built into the benchmark's addon only (CMakeLists.txt, rmsprop_bench).
#if defined(__aarch64__) || defined(_M_ARM64)
#include "../../binding/kernels/ops_neon.h"
#include "stream_update.h"

namespace rmsprop {
extern const KernelTable kNeonKernels = make_kernel_table<NeonF32, NeonF64, StreamUpdate>("neon");
}  // namespace rmsprop
#endif
