// The per-element RMSProp update of docs/semantics.md, written once.
//
//   g ← (g + wd·w − c) · (1/L)                weight decay (where it applies), gradient
//                                             centralization (c: the slice mean, else 0), unscale
//   plain:    s ← ρ·s + (1−ρ)·g²
//             m ← β·m + η·g / √(s + ε)
//             w ← w − m
//   centered: ḡ ← ρ·ḡ + (1−ρ)·g
//             s ← ρ·s + (1−ρ)·g²
//             d ← s − ḡ² + ε
//             if d > 0: m ← β·m + η·g / √d ; w ← w − m   (else m and w keep their values)
//
// `Ops` supplies the arithmetic of one lane type: a scalar (float, double) or a SIMD register:
// add, sub, mul, madd(a, b, c) = a·b + c (fused where the instruction set has FMA),
// over_sqrt(a, x) = a / √x (exactly, or through a refined reciprocal square root within the
// tolerance of docs/semantics.md §2), positive(x) = the mask of x > 0, select(mask, a, b).
// Every instruction-set file (and the CUDA file) instantiates these templates with an Ops type
// declared in its own anonymous namespace, so each instantiation has internal linkage and the
// linker can never pick code compiled for one instruction set to serve another (the ODR trap
// that makes a binary crash with SIGILL on older CPUs).
#pragma once

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

// Weight decay (when kWeightDecay), centralization and unscaling of one gradient lane.
// Subtracting a zero shift is exact for every value, so it needs no branch.
template <class Ops, bool kWeightDecay>
RMSPROP_LANE typename Ops::V effective_gradient(typename Ops::V g, typename Ops::V w,
                                                const LaneScalars<typename Ops::V>& c) {
  g = decayed_gradient<Ops, kWeightDecay>(g, w, c.weight_decay);
  return Ops::mul(Ops::sub(g, c.grad_shift), c.inv_loss_scale);
}

template <class Ops, bool kWeightDecay>
RMSPROP_LANE void plain_update(typename Ops::V& w, typename Ops::V& mean_square,
                               typename Ops::V& moment, typename Ops::V g,
                               const LaneScalars<typename Ops::V>& c) {
  g = effective_gradient<Ops, kWeightDecay>(g, w, c);
  mean_square = Ops::madd(c.decay, mean_square, Ops::mul(c.one_minus_decay, Ops::mul(g, g)));
  moment = Ops::madd(c.momentum, moment,
                     Ops::over_sqrt(Ops::mul(c.lr, g), Ops::add(mean_square, c.epsilon)));
  w = Ops::sub(w, moment);
}

template <class Ops, bool kWeightDecay>
RMSPROP_LANE void centered_update(typename Ops::V& w, typename Ops::V& mean_square,
                                  typename Ops::V& moment, typename Ops::V& mean_grad,
                                  typename Ops::V g, const LaneScalars<typename Ops::V>& c) {
  g = effective_gradient<Ops, kWeightDecay>(g, w, c);
  mean_grad = Ops::madd(c.decay, mean_grad, Ops::mul(c.one_minus_decay, g));
  mean_square = Ops::madd(c.decay, mean_square, Ops::mul(c.one_minus_decay, Ops::mul(g, g)));
  const typename Ops::V denominator =
      Ops::add(Ops::sub(mean_square, Ops::mul(mean_grad, mean_grad)), c.epsilon);
  // The guard: where d is not > 0 (including NaN) moment and weight keep their values.
  // Lanes that fail it compute √(negative) = NaN, which the select discards.
  const typename Ops::Mask ok = Ops::positive(denominator);
  const typename Ops::V new_moment =
      Ops::madd(c.momentum, moment, Ops::over_sqrt(Ops::mul(c.lr, g), denominator));
  moment = Ops::select(ok, new_moment, moment);
  w = Ops::select(ok, Ops::sub(w, new_moment), w);
}

}  // namespace rmsprop
