#include "centralization.h"

#include "../../include/rmsprop_math.h"

namespace rmsprop::core {
namespace {

// The one arithmetic decayed_gradient needs, in T (unfused: the core is built without FMA).
template <class Scalar>
struct SumOps {
  using V = Scalar;
  static V madd(V a, V b, V c) { return a * b + c; }
};

constexpr std::size_t kLanes = 8;  // independent partial sums: pipelined, and a fixed order

// Pairwise over blocks keeps float64 sums of long slices accurate to ~log2(n) ulps.
template <class T, bool kWeightDecay>
double sum_block(const T* grad, const T* param, std::size_t n, T weight_decay) {
  constexpr std::size_t kBlock = 4096;
  if (n > kBlock) {
    const std::size_t half = (n / 2 / kLanes) * kLanes;
    return sum_block<T, kWeightDecay>(grad, param, half, weight_decay) +
           sum_block<T, kWeightDecay>(grad + half, param + half, n - half, weight_decay);
  }
  double partial[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) {
      partial[j] += static_cast<double>(decayed_gradient<SumOps<T>, kWeightDecay>(grad[i + j], param[i + j], weight_decay));
    }
  }
  for (std::size_t j = 0; i < n; ++i, ++j) {
    partial[j] += static_cast<double>(decayed_gradient<SumOps<T>, kWeightDecay>(grad[i], param[i], weight_decay));
  }
  double sum = 0;
  for (std::size_t j = 0; j < kLanes; ++j) sum += partial[j];
  return sum;
}

}  // namespace

template <class T>
double slice_mean(const T* grad, const T* param, std::size_t n, T weight_decay,
                  bool apply_weight_decay) {
  if (n == 0) return 0;
  const double sum = apply_weight_decay ? sum_block<T, true>(grad, param, n, weight_decay)
                                        : sum_block<T, false>(grad, param, n, weight_decay);
  return sum / static_cast<double>(n);
}

template double slice_mean<float>(const float*, const float*, std::size_t, float, bool);
template double slice_mean<double>(const double*, const double*, std::size_t, double, bool);

}  // namespace rmsprop::core
