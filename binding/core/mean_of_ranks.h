// The reduce of the data-parallel exchange (lib/distributed/optimizer.ts): the mean over the
// ranks of their gradients, summed in rank order in double precision and rounded once to T, so
// that every rank's piece is formed the same way and a run is bit-reproducible. For two float32
// ranks the sum is exact and the mean correctly rounded.
#pragma once

#include <cstddef>

namespace rmsprop::core {

// out[j] = T((inputs[0][j] + … + inputs[ranks - 1][j]) / ranks) for j in [0, count), the sum in
// double in rank order. T is float or double.
template <typename T>
void mean_of_ranks(const T* const* inputs, std::size_t ranks, std::size_t count, T* out);

// out[j] = T(double(in[j]) · factor) for j in [0, count), rounded once (in and out may be the
// same memory): the MPI exchange's share of the mean, each rank's gradients × 1/ranks before
// MPI sums them (lib/distributed/mpi.ts).
template <typename T>
void scale_into(const T* in, std::size_t count, double factor, T* out);

}  // namespace rmsprop::core
