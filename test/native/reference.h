// A float64 reference of one RMSProp step of one tensor (docs/semantics.md §1–§4), shared by the
// native test programs (the CPU kernels' and the device plugins'). It checks every output
// (parameter, mean square, moment, mean gradient) within `tol` relative to the magnitudes
// involved, and prints the first few mismatches.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

namespace rmsprop::testing {

struct Hyper {
  double decay, momentum, epsilon, lr, weight_decay, inv_loss_scale;
  bool apply_weight_decay;
  bool centered;
  std::size_t slices;  // 0: none; >= 1: gradient centralization over this many slices (dividing n)
};

template <class T>
struct TensorValues {
  const T* param;
  const T* mean_square;
  const T* moment;
  const T* mean_grad;  // null unless centered
};

// The number of mismatching elements of `after` against one step from `before` with gradient `g`.
// `param_round`: the relative error one rounding of the parameter to a narrower type adds (half
// precision without a master copy: 2^-11 for float16, 2^-8 for bfloat16), else 0.
template <class T>
std::size_t reference_mismatches(const TensorValues<T>& before, const T* g, std::size_t n, const Hyper& h,
                                 const TensorValues<T>& after, const char* what, double param_round = 0) {
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-11;
  // Hyper-parameters as the dtype rounds them.
  const double rho = T(h.decay), beta = T(h.momentum), eps = T(h.epsilon), lr = T(h.lr);
  const double wd = h.apply_weight_decay ? double(T(h.weight_decay)) : 0.0, inv = T(h.inv_loss_scale);
  const bool centralize = h.slices >= 1 && n > 0 && n % h.slices == 0;
  const std::size_t slice = centralize ? n / h.slices : n;
  std::size_t bad = 0;
  auto expect = [&](double actual, double expected, const char* name, std::size_t i) {
    if (std::fabs(actual - expected) <= tol * (1 + std::fabs(expected))) return;
    if (bad < 8) std::fprintf(stderr, "FAIL %s %s[%zu]: %.17g vs %.17g\n", what, name, i, actual, expected);
    ++bad;
  };
  for (std::size_t from = 0; from < n; from += slice) {
    double mean = 0;
    if (centralize) {
      for (std::size_t i = from; i < from + slice; ++i) mean += g[i] + wd * before.param[i];
      mean /= double(slice);
    }
    for (std::size_t i = from; i < from + slice; ++i) {
      const double gi = (g[i] + wd * before.param[i] - mean) * inv;
      const double s = rho * before.mean_square[i] + (1 - rho) * gi * gi;
      double d = s + eps, mg = 0;
      if (h.centered) {
        mg = rho * before.mean_grad[i] + (1 - rho) * gi;
        d = s - mg * mg + eps;
      }
      double m = before.moment[i], w = before.param[i];
      if (d > 0) {
        m = beta * m + lr * gi / std::sqrt(d);
        w -= m;
      }
      // The moment's error carries into the parameter: judge w relative to |m| too.
      if (std::fabs(after.param[i] - w) > tol * (1 + std::fabs(w) + std::fabs(m)) + param_round * std::fabs(w)) {
        expect(after.param[i], w, "param", i);
      }
      expect(after.mean_square[i], s, "mean_square", i);
      expect(after.moment[i], m, "moment", i);
      if (h.centered) expect(after.mean_grad[i], mg, "mean_grad", i);
    }
  }
  return bad;
}

}  // namespace rmsprop::testing
