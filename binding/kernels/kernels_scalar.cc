// The scalar kernel table: ops_scalar.h's arithmetic through RMSProp's update (kernel_loop.h).
#include "ops_scalar.h"

namespace rmsprop {
extern const KernelTable kScalarKernels =
    make_kernel_table<ScalarOps<float>, ScalarOps<double>>("scalar");
}  // namespace rmsprop
