// The step plan: a float64 array that the TypeScript facade owns and fills, registered with the
// native optimizer once and read at every step. Its layout is exported to JavaScript by the
// binding (planLayout), so this file is the one source of it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rmsprop::plan {

// Shared by every tensor, at the start of the array.
constexpr std::size_t kDecay = 0;
constexpr std::size_t kMomentum = 1;
constexpr std::size_t kEpsilon = 2;
constexpr std::size_t kInvLossScale = 3;
constexpr std::size_t kHeaderSize = 4;

// Per tensor, at kHeaderSize + index * kTensorStride.
constexpr std::size_t kLr = 0;
constexpr std::size_t kWeightDecay = 1;  // the factor wd·L
constexpr std::size_t kFlags = 2;
constexpr std::size_t kSlices = 3;  // slices along axis 0 (shape[0]) for centralization, else 1
constexpr std::size_t kTensorStride = 4;

// Bits of kFlags.
constexpr std::uint32_t kApplyWeightDecay = 1u << 0;
constexpr std::uint32_t kCentralize = 1u << 1;  // gradient centralization per slice

constexpr std::size_t size_for(std::size_t tensors) { return kHeaderSize + tensors * kTensorStride; }

// The values of tensor `index` in `plan`, and its flags.
inline const double* tensor_values(const double* plan, std::size_t index) {
  return plan + kHeaderSize + index * kTensorStride;
}
inline std::uint32_t flags_of(const double* tensor) { return static_cast<std::uint32_t>(tensor[kFlags]); }

}  // namespace rmsprop::plan
