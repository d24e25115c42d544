// The benchmark's avx512 kernel table (the memory-traffic baseline of bench/run.js): the addon's
// own loops and avx512 arithmetic (binding/kernels/ops_avx512.h) with stream_update.h's update in
// place of RMSProp's. Built into the benchmark's addon only (CMakeLists.txt, rmsprop_bench).
#if defined(__x86_64__) || defined(_M_X64)
#include "../../binding/kernels/ops_avx512.h"
#include "stream_update.h"

namespace rmsprop {
extern const KernelTable kAvx512Kernels = make_kernel_table<Avx512F32, Avx512F64, StreamUpdate>("avx512");
}  // namespace rmsprop
#endif
