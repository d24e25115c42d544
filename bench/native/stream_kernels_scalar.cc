// The benchmark's scalar kernel table (the memory-traffic baseline of bench/run.js): the addon's
// own loops and scalar arithmetic (binding/kernels/ops_scalar.h) with stream_update.h's update in
// place of RMSProp's. Built into the benchmark's addon only (CMakeLists.txt, rmsprop_bench).
#include "../../binding/kernels/ops_scalar.h"
#include "stream_update.h"

namespace rmsprop {
extern const KernelTable kScalarKernels = make_kernel_table<ScalarOps<float>, ScalarOps<double>, StreamUpdate>("scalar");
}  // namespace rmsprop
