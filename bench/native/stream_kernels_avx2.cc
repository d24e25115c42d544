// The benchmark's avx2 kernel table (the memory-traffic baseline of bench/run.js): the addon's
// own loops and avx2 arithmetic (binding/kernels/ops_avx2.h) with stream_update.h's update in
// place of RMSProp's. Built into the benchmark's addon only (CMakeLists.txt, rmsprop_bench).
#if defined(__x86_64__) || defined(_M_X64)
#include "../../binding/kernels/ops_avx2.h"
#include "stream_update.h"

namespace rmsprop {
extern const KernelTable kAvx2Kernels = make_kernel_table<Avx2F32, Avx2F64, StreamUpdate>("avx2");
}  // namespace rmsprop
#endif
