// Chooses the kernel table once per process. Compiled for the baseline architecture.
#include <atomic>
#include <cstdlib>

#include "cpu_features.h"
#include "kernels.h"

namespace rmsprop {
namespace {

std::vector<const KernelTable*> detect_supported() {
  const CpuFeatures& f = cpu_features();
  std::vector<const KernelTable*> tables;
#if defined(__x86_64__) || defined(_M_X64)
  if (f.avx512f) tables.push_back(&kAvx512Kernels);
  if (f.avx2_fma) tables.push_back(&kAvx2Kernels);
  if (f.sse2) tables.push_back(&kSse2Kernels);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
  if (f.neon) tables.push_back(&kNeonKernels);
#endif
  (void)f;
  tables.push_back(&kScalarKernels);
  return tables;
}

const KernelTable* find_supported(const std::string& level) {
  for (const KernelTable* table : supported_kernels()) {
    if (level == table->level) return table;
  }
  return nullptr;
}

const KernelTable* initial_kernels() {
  const char* forced = std::getenv("RMSPROP_SIMD");
  if (forced != nullptr && *forced != '\0') {
    if (const KernelTable* table = find_supported(forced)) return table;
  }
  return supported_kernels().front();
}

std::atomic<const KernelTable*>& active_slot() {
  static std::atomic<const KernelTable*> slot{initial_kernels()};
  return slot;
}

}  // namespace

const std::vector<const KernelTable*>& supported_kernels() {
  static const std::vector<const KernelTable*> tables = detect_supported();
  return tables;
}

const KernelTable& active_kernels() { return *active_slot().load(std::memory_order_acquire); }

bool select_kernels(const std::string& level) {
  const KernelTable* table = find_supported(level);
  if (table == nullptr) return false;
  active_slot().store(table, std::memory_order_release);
  return true;
}

}  // namespace rmsprop
