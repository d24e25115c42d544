// The sse2 kernel table: ops_sse2.h's arithmetic through RMSProp's update (kernel_loop.h).
#if defined(__x86_64__) || defined(_M_X64)
#include "ops_sse2.h"

namespace rmsprop {
extern const KernelTable kSse2Kernels = make_kernel_table<Sse2F32, Sse2F64>("sse2");
}  // namespace rmsprop
#endif
