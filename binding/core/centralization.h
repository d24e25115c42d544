// Gradient centralization (docs/semantics.md §4 step 2): the mean of one slice of the decayed gradient.
#pragma once
#include <cstddef>

namespace rmsprop::core {

// mean(g[i] + wd·w[i]) over n elements (wd·w only when apply_weight_decay), summed in float64
// with a fixed association, so the result depends only on the slice's values.
template <class T>
double slice_mean(const T* grad, const T* param, std::size_t n, T weight_decay,
                  bool apply_weight_decay);

}  // namespace rmsprop::core
