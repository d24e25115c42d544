// The per-element RMSProp update of docs/semantics.md, written once, in every flavour (§9).
//
//   w ← w − (w·wd)·η                          decoupled weight decay only (Keras 3's order)
//   g ← (g + wd·w − c) · (1/L)                coupled weight decay (where it applies), gradient
//                                             centralization (c: the slice mean, else 0), unscale
//   plain:    s ← ρ·s + (1−ρ)·g²
//             σ ← √(s + ε)      (epsilon inside)  or  √s + ε  (outside)
//   centered: ḡ ← ρ·ḡ + (1−ρ)·g
//             s ← ρ·s + (1−ρ)·g²
//             σ ← √(s − ḡ² + ε) (inside)          or  √(s − ḡ²) + ε  (outside)
//   then, where σ² resp. σ is > 0 (always for plain; the centered guard, else m and w are kept):
//             q ← η·g / σ ; m ← β·m + q ; w ← w − m        (learning rate inside the momentum)
//          or q ← g / σ   ; m ← β·m + q ; w ← w − η·m      (outside, as PyTorch)
//   Nesterov (optax's trace(nesterov=True)): w ← w − (β·m + q), resp. w ← w − η·(β·m + q).
//
// A variant is a bit set (the table of variants.h: kCoupledDecay, kDecoupledDecay, kEpsilonOutside,
// kLrOutside, kNesterov) fixed at compile time, so the default (MindSpore's) costs nothing for the others.
//
// `Ops` supplies the arithmetic of one lane type: a scalar (float, double) or a SIMD register:
// add, sub, mul, div, sqrt, madd(a, b, c) = a·b + c (fused where the instruction set has FMA),
// over_sqrt(a, x) = a / √x (exactly, or through a refined reciprocal square root within the
// tolerance of docs/semantics.md §2), positive(x) = the mask of x > 0, select(mask, a, b).
// Every instruction-set file (and the CUDA file) instantiates these templates with an Ops type
// declared in its own anonymous namespace, so each instantiation has internal linkage and the
// linker can never pick code compiled for one instruction set to serve another (the ODR trap
// that makes a binary crash with SIGILL on older CPUs).
#pragma once
#include "variants.h"  // the bits of a variant (kCoupledDecay, …): one table

#if defined(__CUDACC__)
#define RMSPROP_LANE __host__ __device__ __forceinline__
#elif defined(_MSC_VER)
#define RMSPROP_LANE __forceinline
#else
#define RMSPROP_LANE inline __attribute__((always_inline))
#endif

namespace rmsprop {

// The scalars of one tensor's update, already broadcast to the lane type.
template <class V>
struct LaneScalars {
  V decay;            // ρ
  V one_minus_decay;  // 1 − ρ
  V momentum;         // β
  V epsilon;          // ε
  V lr;               // η of this step
  V weight_decay;     // wd·L (the factor applied to w)
  V grad_shift;       // the slice mean subtracted by gradient centralization, else 0
  V inv_loss_scale;   // 1/L
};

// The decayed gradient g + wd·w (g alone without weight decay): what the update and the slice
// means of gradient centralization (binding/core/centralization.cc, cuda/kernels.cuh) both read.
template <class Ops, bool kWeightDecay>
RMSPROP_LANE typename Ops::V decayed_gradient(typename Ops::V g, typename Ops::V w,
                                              typename Ops::V weight_decay) {
  return kWeightDecay ? Ops::madd(weight_decay, w, g) : g;
}

// Decoupled weight decay (when the variant has it), then coupled weight decay,
// centralization and unscaling of one gradient lane. Subtracting a zero shift is exact for
// every value, so it needs no branch.
template <class Ops, unsigned kV>
RMSPROP_LANE typename Ops::V effective_gradient(typename Ops::V g, typename Ops::V& w,
                                                const LaneScalars<typename Ops::V>& c) {
  // Keras 3 (base_optimizer._apply_weight_decay): variable - variable * wd * lr, in that order;
  // weight_decay holds wd itself for this variant.
  if (kV & kDecoupledDecay) w = Ops::sub(w, Ops::mul(Ops::mul(w, c.weight_decay), c.lr));
  g = decayed_gradient<Ops, (kV & kCoupledDecay) != 0>(g, w, c.weight_decay);
  return Ops::mul(Ops::sub(g, c.grad_shift), c.inv_loss_scale);
}

// q = η·g/σ (or g/σ with the learning rate outside), with σ² = `d` (epsilon inside) or σ = `d`
// (outside).
template <class Ops, unsigned kV>
RMSPROP_LANE typename Ops::V increment(typename Ops::V g, typename Ops::V d, const LaneScalars<typename Ops::V>& c) {
  const typename Ops::V numerator = (kV & kLrOutside) ? g : Ops::mul(c.lr, g);
  return (kV & kEpsilonOutside) ? Ops::div(numerator, d) : Ops::over_sqrt(numerator, d);
}

// w after the step, from the new moment m and the increment q.
template <class Ops, unsigned kV>
RMSPROP_LANE typename Ops::V moved_weight(typename Ops::V w, typename Ops::V moment, typename Ops::V q,
                                          const LaneScalars<typename Ops::V>& c) {
  const typename Ops::V step = (kV & kNesterov) ? Ops::madd(c.momentum, moment, q) : moment;
  return (kV & kLrOutside) ? Ops::sub(w, Ops::mul(c.lr, step)) : Ops::sub(w, step);
}

template <class Ops, unsigned kV>
RMSPROP_LANE void plain_update(typename Ops::V& w, typename Ops::V& mean_square,
                               typename Ops::V& moment, typename Ops::V g,
                               const LaneScalars<typename Ops::V>& c) {
  g = effective_gradient<Ops, kV>(g, w, c);
  mean_square = Ops::madd(c.decay, mean_square, Ops::mul(c.one_minus_decay, Ops::mul(g, g)));
  const typename Ops::V d = (kV & kEpsilonOutside) ? Ops::add(Ops::sqrt(mean_square), c.epsilon)
                                                   : Ops::add(mean_square, c.epsilon);
  const typename Ops::V q = increment<Ops, kV>(g, d, c);
  moment = Ops::madd(c.momentum, moment, q);
  w = moved_weight<Ops, kV>(w, moment, q, c);
}

template <class Ops, unsigned kV>
RMSPROP_LANE void centered_update(typename Ops::V& w, typename Ops::V& mean_square,
                                  typename Ops::V& moment, typename Ops::V& mean_grad,
                                  typename Ops::V g, const LaneScalars<typename Ops::V>& c) {
  g = effective_gradient<Ops, kV>(g, w, c);
  mean_grad = Ops::madd(c.decay, mean_grad, Ops::mul(c.one_minus_decay, g));
  mean_square = Ops::madd(c.decay, mean_square, Ops::mul(c.one_minus_decay, Ops::mul(g, g)));
  const typename Ops::V variance = Ops::sub(mean_square, Ops::mul(mean_grad, mean_grad));
  const typename Ops::V d = (kV & kEpsilonOutside) ? Ops::add(Ops::sqrt(variance), c.epsilon)
                                                   : Ops::add(variance, c.epsilon);
  // The guard: where d is not > 0 (including NaN: √ of a negative variance) moment and weight
  // keep their values. Lanes that fail it compute NaN, which the select discards.
  const typename Ops::Mask ok = Ops::positive(d);
  const typename Ops::V q = increment<Ops, kV>(g, d, c);
  const typename Ops::V updated = Ops::madd(c.momentum, moment, q);
  w = Ops::select(ok, moved_weight<Ops, kV>(w, updated, q, c), w);
  moment = Ops::select(ok, updated, moment);
}

}  // namespace rmsprop
