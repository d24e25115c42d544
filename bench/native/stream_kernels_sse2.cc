// The benchmark's sse2 kernel table (the memory-traffic baseline of bench/run.js): the addon's
// own loops and sse2 arithmetic (binding/kernels/ops_sse2.h) with stream_update.h's update in
// place of RMSProp's. Built into the benchmark's addon only (CMakeLists.txt, rmsprop_bench).
#if defined(__x86_64__) || defined(_M_X64)
#include "../../binding/kernels/ops_sse2.h"
#include "stream_update.h"

namespace rmsprop {
extern const KernelTable kSse2Kernels = make_kernel_table<Sse2F32, Sse2F64, StreamUpdate>("sse2");
}  // namespace rmsprop
#endif
