// The avx2 kernel table: ops_avx2.h's arithmetic through RMSProp's update (kernel_loop.h).
#if defined(__x86_64__) || defined(_M_X64)
#include "ops_avx2.h"

namespace rmsprop {
extern const KernelTable kAvx2Kernels = make_kernel_table<Avx2F32, Avx2F64>("avx2");
}  // namespace rmsprop
#endif
