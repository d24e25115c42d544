// See mean_of_ranks.h. Plain loops the compiler vectorises at the baseline ISA: the reduce reads
// `ranks` arrays and writes one, so memory, not arithmetic, bounds it.
#include "mean_of_ranks.h"

#include <algorithm>

namespace rmsprop::core {

template <typename T>
void mean_of_ranks(const T* const* inputs, std::size_t ranks, std::size_t count, T* out) {
  if (ranks == 2) {
    const T* a = inputs[0];
    const T* b = inputs[1];
    for (std::size_t j = 0; j < count; ++j) out[j] = static_cast<T>((static_cast<double>(a[j]) + static_cast<double>(b[j])) * 0.5);
    return;
  }
  // Blocks of double sums, one rank at a time (each pass streams; the block stays in L1).
  constexpr std::size_t kBlock = 512;
  double sum[kBlock];
  const double n = static_cast<double>(ranks);
  for (std::size_t from = 0; from < count; from += kBlock) {
    const std::size_t len = std::min(kBlock, count - from);
    const T* first = inputs[0] + from;
    for (std::size_t j = 0; j < len; ++j) sum[j] = static_cast<double>(first[j]);
    for (std::size_t k = 1; k < ranks; ++k) {
      const T* in = inputs[k] + from;
      for (std::size_t j = 0; j < len; ++j) sum[j] += static_cast<double>(in[j]);
    }
    for (std::size_t j = 0; j < len; ++j) out[from + j] = static_cast<T>(sum[j] / n);
  }
}

template <typename T>
void scale_into(const T* in, std::size_t count, double factor, T* out) {
  for (std::size_t j = 0; j < count; ++j) out[j] = static_cast<T>(static_cast<double>(in[j]) * factor);
}

template void scale_into<float>(const float*, std::size_t, double, float*);
template void scale_into<double>(const double*, std::size_t, double, double*);
template void mean_of_ranks<float>(const float* const*, std::size_t, std::size_t, float*);
template void mean_of_ranks<double>(const double* const*, std::size_t, std::size_t, double*);

}  // namespace rmsprop::core
