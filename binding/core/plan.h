// The step plan: a float64 array that the TypeScript facade owns and fills (lib/step/plan.ts),
// registered with the native optimizer once and read at every step. Its layout is exported to
// JavaScript by the binding (planLayout), so this file is the one source of it, and the readers
// below are the one place that decodes it (flags, slices, rounding to a tensor's precision).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../../include/step_scalars.h"
#include "../../include/variants.h"
#include "../kernels/kernel_types.h"

namespace rmsprop::plan {

// The slots of the plan, X(constant, name in planLayout). Shared by every tensor, at the start
// of the array: ρ, β, ε, 1/L; checkFinite, 1 where a step whose gradients hold an inf or NaN is
// skipped; complementInDouble (option decayComplement), 0 where 1 − ρ is formed in the tensor's
// type as 1 − T(ρ) (MindSpore's and TF1's kernels), 1 where it is formed in double and rounded
// once, T(1 − ρ) (PyTorch, Keras, tfjs, optax: ρ is a host double there).
#define RMSPROP_PLAN_HEADER(X) \
  X(kDecay, decay) X(kMomentum, momentum) X(kEpsilon, epsilon) X(kInvLossScale, invLossScale) \
  X(kCheckFinite, checkFinite) X(kComplementInDouble, complementInDouble)
// Per tensor, at kHeaderSize + index * kTensorStride: its learning rate, its weight decay (the
// factor wd·L when coupled, wd when decoupled), its flags (the bits below), and its slices along
// axis 0 (shape[0]) for gradient centralization, else 1.
#define RMSPROP_PLAN_TENSOR(X) X(kLr, lr) X(kWeightDecay, weightDecay) X(kFlags, flags) X(kSlices, slices)

#define RMSPROP_PLAN_SLOT(constant, name) constant,
enum : std::size_t { RMSPROP_PLAN_HEADER(RMSPROP_PLAN_SLOT) kHeaderSize };
enum : std::size_t { RMSPROP_PLAN_TENSOR(RMSPROP_PLAN_SLOT) kTensorStride };
#undef RMSPROP_PLAN_SLOT

// Bits of kFlags: the variant bits of the update (include/variants.h: kCoupledDecay where a
// coupled weight decay applies, kDecoupledDecay, kEpsilonOutside, kLrOutside, kNesterov), as the
// facade set them from the table the binding exports, and above them the plan's own bits.
constexpr std::uint32_t kCentralize = kVariantCount;  // gradient centralization per slice

constexpr std::size_t size_for(std::size_t tensors) { return kHeaderSize + tensors * kTensorStride; }

// The hyper-parameters every tensor shares, as the facade wrote them (float64).
using Shared = rmsprop_shared_scalars;

// What the plan says about one tensor of `size` elements at this step.
struct TensorPlan {
  double lr;
  double weight_decay;      // wd·L (coupled) or wd (decoupled)
  unsigned variant;         // the update's variant bits (include/variants.h)
  bool centralize;          // subtract each slice's mean (docs/semantics.md §4 step 2)
  std::size_t slices;       // slices along axis 0 when centralize, else 1
  std::size_t slice_size;   // elements per slice (the whole tensor unless centralize)
};

inline Shared read_shared(const double* plan) {
  return Shared{plan[kDecay], plan[kMomentum], plan[kEpsilon], plan[kInvLossScale], plan[kComplementInDouble] != 0 ? 1 : 0};
}

// Tensor `index`. Centralization applies where flagged, to non-empty tensors whose slices (the
// parameter's shape[0], one or more) divide them.
inline TensorPlan read_tensor(const double* plan, std::size_t index, std::size_t size) {
  const double* at = plan + kHeaderSize + index * kTensorStride;
  const auto flags = static_cast<std::uint32_t>(at[kFlags]);
  const auto slices = static_cast<std::size_t>(at[kSlices]);
  const bool centralize = (flags & kCentralize) != 0 && size > 0 && slices >= 1 && size % slices == 0;
  return TensorPlan{at[kLr], at[kWeightDecay], flags & kVariantMask, centralize,
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
  static_cast<LaneScalars<T>&>(k) = tensor_scalars<T>(shared, tensor.lr, tensor.weight_decay);
  k.variant = tensor.variant;
  return k;
}

}  // namespace rmsprop::plan
