// The avx512 kernel table: ops_avx512.h's arithmetic through RMSProp's update (kernel_loop.h).
#if defined(__x86_64__) || defined(_M_X64)
#include "ops_avx512.h"

namespace rmsprop {
extern const KernelTable kAvx512Kernels = make_kernel_table<Avx512F32, Avx512F64>("avx512");
}  // namespace rmsprop
#endif
