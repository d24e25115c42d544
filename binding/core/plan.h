// The step plan: a float64 array that the TypeScript facade owns and fills (lib/step/plan.ts),
// registered with the native optimizer once and read at every step. Its layout is exported to
// JavaScript by the binding (planLayout), so this file is the one source of it, and the readers
// below are the one place that decodes it (flags, slices, rounding to a tensor's precision).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../kernels/kernel_types.h"
#include "../kernels/rmsprop_math.h"

namespace rmsprop::plan {

// Shared by every tensor, at the start of the array.
constexpr std::size_t kDecay = 0;
constexpr std::size_t kMomentum = 1;
constexpr std::size_t kEpsilon = 2;
constexpr std::size_t kInvLossScale = 3;
constexpr std::size_t kCheckFinite = 4;  // 1: a step whose gradients hold an inf or NaN is skipped
// 1 − ρ (option decayComplement): 0 formed in the tensor's type as 1 − T(ρ) (MindSpore's and
// TF1's kernels), 1 formed in double and rounded once, T(1 − ρ) (PyTorch, Keras, tfjs, optax:
// ρ is a host double there).
constexpr std::size_t kComplementInDouble = 5;
constexpr std::size_t kHeaderSize = 6;

// Per tensor, at kHeaderSize + index * kTensorStride.
constexpr std::size_t kLr = 0;
constexpr std::size_t kWeightDecay = 1;  // the factor wd·L (coupled), or wd (decoupled)
constexpr std::size_t kFlags = 2;
constexpr std::size_t kSlices = 3;  // slices along axis 0 (shape[0]) for centralization, else 1
constexpr std::size_t kTensorStride = 4;

// Bits of kFlags.
constexpr std::uint32_t kApplyWeightDecay = 1u << 0;      // coupled: g ← g + wd·L·w
constexpr std::uint32_t kCentralize = 1u << 1;            // gradient centralization per slice
constexpr std::uint32_t kDecoupledWeightDecay = 1u << 2;  // w ← w − η·wd·w before the update
constexpr std::uint32_t kEpsilonOutside = 1u << 3;        // σ = √s + ε (else √(s + ε))
constexpr std::uint32_t kLrOutsideMomentum = 1u << 4;     // m ← β·m + g/σ, w ← w − η·m
constexpr std::uint32_t kNesterov = 1u << 5;              // w moves by β·m + q (optax's nesterov)

constexpr std::size_t size_for(std::size_t tensors) { return kHeaderSize + tensors * kTensorStride; }

// The hyper-parameters every tensor shares, as the facade wrote them (float64).
struct Shared {
  double decay;
  double momentum;
  double epsilon;
  double inv_loss_scale;
  bool complement_in_double;  // kComplementInDouble
};

// What the plan says about one tensor of `size` elements at this step.
struct TensorPlan {
  double lr;
  double weight_decay;      // wd·L (coupled) or wd (decoupled)
  unsigned variant;         // the update's variant bits (rmsprop_math.h), coupled decay included
  bool centralize;          // subtract each slice's mean (docs/semantics.md §4 step 2)
  std::size_t slices;       // slices along axis 0 when centralize, else 1
  std::size_t slice_size;   // elements per slice (the whole tensor unless centralize)
};

inline Shared read_shared(const double* plan) {
  return Shared{plan[kDecay], plan[kMomentum], plan[kEpsilon], plan[kInvLossScale], plan[kComplementInDouble] != 0};
}

// Tensor `index`. Centralization applies where flagged, to non-empty tensors whose slices (the
// parameter's shape[0], one or more) divide them.
inline TensorPlan read_tensor(const double* plan, std::size_t index, std::size_t size) {
  const double* at = plan + kHeaderSize + index * kTensorStride;
  const auto flags = static_cast<std::uint32_t>(at[kFlags]);
  const auto slices = static_cast<std::size_t>(at[kSlices]);
  const bool centralize = (flags & kCentralize) != 0 && size > 0 && slices >= 1 && size % slices == 0;
  const unsigned variant = ((flags & kApplyWeightDecay) ? ::rmsprop::kCoupledDecay : 0u) |
                           ((flags & kDecoupledWeightDecay) ? ::rmsprop::kDecoupledDecay : 0u) |
                           ((flags & kEpsilonOutside) ? ::rmsprop::kEpsilonOutside : 0u) |
                           ((flags & kLrOutsideMomentum) ? ::rmsprop::kLrOutside : 0u) |
                           ((flags & kNesterov) ? ::rmsprop::kNesterov : 0u);
  return TensorPlan{at[kLr], at[kWeightDecay], variant, centralize,
                    centralize ? slices : 1, centralize ? size / slices : size};
}

// The values of tensor `index` that change from step to step: its learning rate and weight decay.
struct Rates {
  double lr;
  double weight_decay;
  bool operator==(const Rates& o) const { return lr == o.lr && weight_decay == o.weight_decay; }
};

inline Rates read_rates(const double* plan, std::size_t index) {
  const double* at = plan + kHeaderSize + index * kTensorStride;
  return Rates{at[kLr], at[kWeightDecay]};
}

// One tensor's scalars rounded to its precision T (docs/semantics.md §2), once per step.
template <class T>
TensorScalars<T> scalars_for(const Shared& shared, const TensorPlan& tensor) {
  TensorScalars<T> k;
  k.decay = static_cast<T>(shared.decay);
  k.one_minus_decay = shared.complement_in_double ? static_cast<T>(1.0 - shared.decay) : T(1) - k.decay;
  k.momentum = static_cast<T>(shared.momentum);
  k.epsilon = static_cast<T>(shared.epsilon);
  k.inv_loss_scale = static_cast<T>(shared.inv_loss_scale);
  k.lr = static_cast<T>(tensor.lr);
  k.weight_decay = static_cast<T>(tensor.weight_decay);
  k.grad_shift = T(0);
  k.variant = tensor.variant;
  return k;
}

}  // namespace rmsprop::plan
