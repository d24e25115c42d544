// The knobs that change the per-element update, in one table. Each row is one bit of a variant:
// the update branches on it at compile time (rmsprop_math.h: every combination is instantiated),
// the plan carries the very same bit in each tensor's flags (binding/core/plan.h), and the binding
// exports the rows to the facade (planLayout.variants), which sets the bit from the option
// (lib/step/plan.ts). docs/ARCHITECTURE.md, "Where to add", lists what else a new knob takes.
//
//   X(constant, name, option, value, weighted)
//     constant  the bit's name in C++ (rmsprop::kNesterov, …), bits numbered in table order
//     name      its name in planLayout.variants
//     option    the RMSPropOptions key that sets it (lib/config/options.ts, OPTION_SPECS) …
//     value     … when the option has this value (a bool or a string)
//     weighted  true: only in tensors that have a weight decay
//
// The order is part of the device plugins' interface (rmsprop_cuda_tensor.variant): a new row
// goes at the end, and a change of order bumps RMSPROP_CUDA_ABI_VERSION.
#pragma once

#define RMSPROP_VARIANT_KNOBS(X)                                                                 \
  X(kCoupledDecay, "coupledWeightDecay", "weightDecayMode", "coupled", true)   /* g ← g + wd·w */  \
  X(kDecoupledDecay, "decoupledWeightDecay", "weightDecayMode", "decoupled", true) /* w ← w − η·wd·w first */ \
  X(kEpsilonOutside, "epsilonOutside", "epsilonPlacement", "outside", false)   /* √s + ε, not √(s + ε) */ \
  X(kLrOutside, "lrOutsideMomentum", "lrInMomentum", false, false)          /* m ← β·m + g/σ, w ← w − η·m */ \
  X(kNesterov, "nesterov", "nesterov", true, false)                          /* w moves by β·m + q */

namespace rmsprop {

namespace variant_index {
#define RMSPROP_VARIANT_INDEX(constant, ...) constant,
enum : unsigned { RMSPROP_VARIANT_KNOBS(RMSPROP_VARIANT_INDEX) kCount };
#undef RMSPROP_VARIANT_INDEX
}  // namespace variant_index

// kCoupledDecay = 1u << 0, kDecoupledDecay = 1u << 1, …
#define RMSPROP_VARIANT_BIT(constant, ...) constexpr unsigned constant = 1u << variant_index::constant;
RMSPROP_VARIANT_KNOBS(RMSPROP_VARIANT_BIT)
#undef RMSPROP_VARIANT_BIT

// The number of variants (every combination of the bits), and the mask of the bits.
constexpr unsigned kVariantCount = 1u << variant_index::kCount;
constexpr unsigned kVariantMask = kVariantCount - 1;

}  // namespace rmsprop
