// The streaming loop shared by every CPU instruction set: full registers, then the tail run
// through the very same lane code on a padded copy, so every element gets bit-identical
// arithmetic wherever it sits in the tensor (a split across threads or tensors cannot change
// a result). Include only from an instruction-set file, with Ops declared in an anonymous
// namespace there (see rmsprop_math.h for why).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../include/half_bits.h"
#include "kernel_types.h"
#include "../../include/rmsprop_math.h"

namespace rmsprop {

// The update of one register, the policy every loop below runs: RMSProp, plain or centered
// (rmsprop_math.h). The benchmark builds tables with another policy (bench/native/
// stream_update.h: the same loads and stores with trivial arithmetic, its memory-traffic
// baseline); a table's policy is a template argument of make_kernel_table.
struct RMSPropUpdate {
  template <class Ops, unsigned kV, class V = typename Ops::V>
  static RMSPROP_LANE void plain(V& w, V& s, V& m, V g, const LaneScalars<V>& c) {
    plain_update<Ops, kV>(w, s, m, g, c);
  }
  template <class Ops, unsigned kV, class V = typename Ops::V>
  static RMSPROP_LANE void centered(V& w, V& s, V& m, V& mg, V g, const LaneScalars<V>& c) {
    centered_update<Ops, kV>(w, s, m, mg, g, c);
  }
};

template <class Ops>
LaneScalars<typename Ops::V> broadcast_scalars(const TensorScalars<typename Ops::T>& k) {
  return {Ops::broadcast(k.decay),        Ops::broadcast(k.one_minus_decay),
          Ops::broadcast(k.momentum),     Ops::broadcast(k.epsilon),
          Ops::broadcast(k.lr),           Ops::broadcast(k.weight_decay),
          Ops::broadcast(k.grad_shift),   Ops::broadcast(k.inv_loss_scale)};
}

// Whole registers: plain loads and stores (`fill` unused).
template <class Ops>
struct FullRegister {
  static typename Ops::V load(const typename Ops::T* p, typename Ops::T) { return Ops::load(p); }
  static void store(typename Ops::T* p, typename Ops::V v) { Ops::store(p, v); }
};

// The first `n` lanes of a register, through the instruction set's masked loads and stores
// (Ops::load_partial / store_partial, where it has them): the other lanes read `fill` and are
// never written.
template <class Ops>
struct PartialRegister {
  std::size_t n;
  typename Ops::V load(const typename Ops::T* p, typename Ops::T fill) const { return Ops::load_partial(p, n, fill); }
  void store(typename Ops::T* p, typename Ops::V v) const { Ops::store_partial(p, v, n); }
};

template <class Ops, class = void>
struct HasPartialAccess : std::false_type {};
template <class Ops>
struct HasPartialAccess<Ops, std::void_t<decltype(Ops::load_partial(nullptr, 0, typename Ops::T()))>>
    : std::true_type {};

// One register of every buffer through the per-element update. Lanes past a tensor's end read
// harmless values (s = 1 keeps √ in the normal range, so the register takes the same path as a
// full one) and their results are discarded.
template <class U, class Ops, bool kCentered, unsigned kV, class Access>
void update_block(typename Ops::T* w, typename Ops::T* s, typename Ops::T* m,
                  typename Ops::T* mg, const typename Ops::T* g,
                  const LaneScalars<typename Ops::V>& c, const Access& at) {
  using T = typename Ops::T;
  typename Ops::V vw = at.load(w, T(0)), vs = at.load(s, T(1)), vm = at.load(m, T(0));
  const typename Ops::V vg = at.load(g, T(0));
  if (kCentered) {
    typename Ops::V vmg = at.load(mg, T(0));
    U::template centered<Ops, kV>(vw, vs, vm, vmg, vg, c);
    at.store(mg, vmg);
  } else {
    U::template plain<Ops, kV>(vw, vs, vm, vg, c);
  }
  at.store(w, vw);
  at.store(s, vs);
  at.store(m, vm);
}

template <class U, class Ops, bool kCentered, unsigned kV>
void update_tensor(const TensorBuffers<typename Ops::T>& t,
                   const LaneScalars<typename Ops::V>& c) {
  using T = typename Ops::T;
  constexpr std::size_t W = Ops::kWidth;
  const FullRegister<Ops> full;
  std::size_t i = 0;
  for (; i + W <= t.size; i += W) {
    update_block<U, Ops, kCentered, kV>(t.param + i, t.mean_square + i, t.moment + i,
                                     kCentered ? t.mean_grad + i : nullptr, t.grad + i, c, full);
  }
  const std::size_t rest = t.size - i;
  if (rest == 0) return;
  if constexpr (HasPartialAccess<Ops>::value) {
    update_block<U, Ops, kCentered, kV>(t.param + i, t.mean_square + i, t.moment + i,
                                     kCentered ? t.mean_grad + i : nullptr, t.grad + i, c,
                                     PartialRegister<Ops>{rest});
  } else {
    // Without masked access: the same register code on a padded copy.
    T w[W] = {}, s[W], m[W] = {}, mg[W] = {}, g[W] = {};
    for (std::size_t j = 0; j < W; ++j) s[j] = T(1);
    const std::size_t bytes = rest * sizeof(T);
    std::memcpy(w, t.param + i, bytes);
    std::memcpy(s, t.mean_square + i, bytes);
    std::memcpy(m, t.moment + i, bytes);
    std::memcpy(g, t.grad + i, bytes);
    if (kCentered) std::memcpy(mg, t.mean_grad + i, bytes);
    update_block<U, Ops, kCentered, kV>(w, s, m, mg, g, c, full);
    std::memcpy(t.param + i, w, bytes);
    std::memcpy(t.mean_square + i, s, bytes);
    std::memcpy(t.moment + i, m, bytes);
    if (kCentered) std::memcpy(t.mean_grad + i, mg, bytes);
  }
}

// The variant `variant` of the update (a compile-time instantiation for each of kVariantCount).
template <class U, class Ops, bool kCentered, unsigned kV = 0>
void update_variant(unsigned variant, const TensorBuffers<typename Ops::T>& t,
                    const LaneScalars<typename Ops::V>& c) {
  if constexpr (kV < kVariantCount) {
    if (variant == kV) {
      update_tensor<U, Ops, kCentered, kV>(t, c);
    } else {
      update_variant<U, Ops, kCentered, kV + 1>(variant, t, c);
    }
  }
}

template <class U, class Ops, bool kCentered>
void update_tensor_entry(const TensorBuffers<typename Ops::T>& t,
                         const TensorScalars<typename Ops::T>& k) {
  update_variant<U, Ops, kCentered>(k.variant, t, broadcast_scalars<Ops>(k));
}

// Whether all n values are finite: the exponent bits of each (kExponent), all ones for inf and
// NaN, OR-ed together as integers (which the compiler vectorises for the instruction set of the
// file that instantiates this), in blocks so that a long tensor with an early inf stops early.
// `Ops` only gives the instantiation its instruction set's linkage (see rmsprop_math.h).
template <class Ops, class Bits, Bits kExponent>
bool all_finite_bits(const void* values, std::size_t n) {
  constexpr std::size_t kBlock = 4096;
  const auto* bytes = static_cast<const unsigned char*>(values);
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t end = begin + kBlock < n ? begin + kBlock : n;
    Bits bad = 0;
    for (std::size_t i = begin; i < end; ++i) {
      Bits x;
      std::memcpy(&x, bytes + i * sizeof(Bits), sizeof x);
      bad |= (x & kExponent) == kExponent;
    }
    if (bad != 0) return false;
  }
  return true;
}

template <class Ops>
bool all_finite(const typename Ops::T* values, std::size_t n) {
  using T = typename Ops::T;
  if constexpr (sizeof(T) == 4) {
    return all_finite_bits<Ops, std::uint32_t, 0x7f800000u>(values, n);
  } else {
    return all_finite_bits<Ops, std::uint64_t, 0x7ff0000000000000ull>(values, n);
  }
}

template <class Ops>
bool all_finite_f16(const std::uint16_t* values, std::size_t n) {
  return all_finite_bits<Ops, std::uint16_t, 0x7c00u>(values, n);
}

template <class Ops>
bool all_finite_bf16(const std::uint16_t* values, std::size_t n) {
  return all_finite_bits<Ops, std::uint16_t, 0x7f80u>(values, n);
}

// Half precision, one value at a time (the instruction sets without conversion instructions, and
// the tails of those with them): half_bits.h.

// Where the float32 Ops of an instruction set has conversion instructions (load_half: kWidth
// halves to a register; store_half: a register to kWidth halves, rounded to nearest even),
// whole registers use them and the rest goes one value at a time.
template <class Ops, class = void>
struct HasHalfInstructions : std::false_type {};
template <class Ops>
struct HasHalfInstructions<Ops, std::void_t<decltype(Ops::load_half(nullptr))>> : std::true_type {};

template <class Ops>
void f16_to_f32(const std::uint16_t* in, float* out, std::size_t n) {
  std::size_t i = 0;
  if constexpr (HasHalfInstructions<Ops>::value) {
    for (; i + Ops::kWidth <= n; i += Ops::kWidth) Ops::store(out + i, Ops::load_half(in + i));
  }
  for (; i < n; ++i) out[i] = half_to_float(in[i]);
}

template <class Ops>
void f32_to_f16(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  if constexpr (HasHalfInstructions<Ops>::value) {
    for (; i + Ops::kWidth <= n; i += Ops::kWidth) Ops::store_half(out + i, Ops::load(in + i));
  }
  for (; i < n; ++i) out[i] = float_to_half(in[i]);
}

// bfloat16 is the top half of a float32: integer shifts and a rounding add, in registers where
// the float32 Ops has load_bfloat / store_bfloat, else one value at a time.
template <class Ops, class = void>
struct HasBfloatInstructions : std::false_type {};
template <class Ops>
struct HasBfloatInstructions<Ops, std::void_t<decltype(Ops::load_bfloat(nullptr))>> : std::true_type {};

template <class Ops>
void bf16_to_f32(const std::uint16_t* in, float* out, std::size_t n) {
  std::size_t i = 0;
  if constexpr (HasBfloatInstructions<Ops>::value) {
    for (; i + Ops::kWidth <= n; i += Ops::kWidth) Ops::store(out + i, Ops::load_bfloat(in + i));
  }
  for (; i < n; ++i) out[i] = bfloat_to_float(in[i]);
}

template <class Ops>
void f32_to_bf16(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  if constexpr (HasBfloatInstructions<Ops>::value) {
    for (; i + Ops::kWidth <= n; i += Ops::kWidth) Ops::store_bfloat(out + i, Ops::load(in + i));
  }
  for (; i < n; ++i) out[i] = float_to_bfloat(in[i]);
}

// The update of a half-precision tensor, converting in registers: the parameter (or its master
// copy) and the gradient (unless float32) widened on load, the parameter rounded on store (to
// nearest even, as the conversions above). Whether there is a master copy and whether the
// gradient is float32 are fixed for a tensor: branches the CPU predicts, not more instantiations.
// The tail goes through the float32 register code on a padded copy, converted one value at a
// time (the same exact widening and the same rounding).
template <class Ops, bool kBf16>
struct HalfRegister {
  static typename Ops::V load(const std::uint16_t* p) {
    if constexpr (kBf16) return Ops::load_bfloat(p);
    else return Ops::load_half(p);
  }
  static void store(std::uint16_t* p, typename Ops::V v) {
    if constexpr (kBf16) Ops::store_bfloat(p, v);
    else Ops::store_half(p, v);
  }
  static float widen(std::uint16_t x) { return kBf16 ? bfloat_to_float(x) : half_to_float(x); }
  static std::uint16_t narrow(float x) { return kBf16 ? float_to_bfloat(x) : float_to_half(x); }
};

template <class U, class Ops, bool kCentered, unsigned kV, bool kBf16>
void update_half_tensor(const HalfTensorBuffers& t, const LaneScalars<typename Ops::V>& c) {
  using H = HalfRegister<Ops, kBf16>;
  using V = typename Ops::V;
  constexpr std::size_t W = Ops::kWidth;
  const auto* grad16 = static_cast<const std::uint16_t*>(t.grad);
  const auto* grad32 = static_cast<const float*>(t.grad);
  std::size_t i = 0;
  for (; i + W <= t.size; i += W) {
    V vw = t.master ? Ops::load(t.master + i) : H::load(t.param + i);
    V vs = Ops::load(t.mean_square + i), vm = Ops::load(t.moment + i);
    const V vg = t.grad_f32 ? Ops::load(grad32 + i) : H::load(grad16 + i);
    if (kCentered) {
      V vmg = Ops::load(t.mean_grad + i);
      U::template centered<Ops, kV>(vw, vs, vm, vmg, vg, c);
      Ops::store(t.mean_grad + i, vmg);
    } else {
      U::template plain<Ops, kV>(vw, vs, vm, vg, c);
    }
    if (t.master) Ops::store(t.master + i, vw);
    H::store(t.param + i, vw);
    Ops::store(t.mean_square + i, vs);
    Ops::store(t.moment + i, vm);
  }
  const std::size_t rest = t.size - i;
  if (rest == 0) return;
  float w[W] = {}, s[W], m[W] = {}, mg[W] = {}, g[W] = {};
  for (std::size_t j = 0; j < W; ++j) s[j] = 1.0f;
  for (std::size_t j = 0; j < rest; ++j) {
    w[j] = t.master ? t.master[i + j] : H::widen(t.param[i + j]);
    g[j] = t.grad_f32 ? grad32[i + j] : H::widen(grad16[i + j]);
  }
  std::memcpy(s, t.mean_square + i, rest * sizeof(float));
  std::memcpy(m, t.moment + i, rest * sizeof(float));
  if (kCentered) std::memcpy(mg, t.mean_grad + i, rest * sizeof(float));
  update_block<U, Ops, kCentered, kV>(w, s, m, mg, g, c, FullRegister<Ops>());
  if (t.master) std::memcpy(t.master + i, w, rest * sizeof(float));
  for (std::size_t j = 0; j < rest; ++j) t.param[i + j] = H::narrow(w[j]);
  std::memcpy(t.mean_square + i, s, rest * sizeof(float));
  std::memcpy(t.moment + i, m, rest * sizeof(float));
  if (kCentered) std::memcpy(t.mean_grad + i, mg, rest * sizeof(float));
}

template <class U, class Ops, bool kCentered, bool kBf16, std::size_t kAt = 0>
bool update_half_variant(unsigned variant, const HalfTensorBuffers& t, const LaneScalars<typename Ops::V>& c) {
  constexpr std::size_t kCount = sizeof(kFusedHalfVariants) / sizeof(kFusedHalfVariants[0]);
  if constexpr (kAt < kCount) {
    if (variant == kFusedHalfVariants[kAt]) {
      update_half_tensor<U, Ops, kCentered, kFusedHalfVariants[kAt], kBf16>(t, c);
      return true;
    }
    return update_half_variant<U, Ops, kCentered, kBf16, kAt + 1>(variant, t, c);
  } else {
    return false;
  }
}

template <class U, class Ops, bool kCentered, bool kBf16>
bool update_half_entry(const HalfTensorBuffers& t, const TensorScalars<float>& k) {
  return update_half_variant<U, Ops, kCentered, kBf16>(k.variant, t, broadcast_scalars<Ops>(k));
}

// The fused half-precision kernel where the float32 Ops converts in registers, else null.
template <class U, class Ops, bool kCentered, bool kBf16>
constexpr HalfKernelFn half_kernel() {
  if constexpr (kBf16 ? HasBfloatInstructions<Ops>::value : HasHalfInstructions<Ops>::value) {
    return &update_half_entry<U, Ops, kCentered, kBf16>;
  } else {
    return nullptr;
  }
}

// Builds a constant-initialised table from one instruction set's float32 and float64 Ops, whose
// updates run the policy U (RMSProp's own, unless a benchmark says otherwise).
template <class OpsF32, class OpsF64, class U = RMSPropUpdate>
constexpr KernelTable make_kernel_table(const char* level) {
  return KernelTable{level,
                     &update_tensor_entry<U, OpsF32, false>,
                     &update_tensor_entry<U, OpsF32, true>,
                     &update_tensor_entry<U, OpsF64, false>,
                     &update_tensor_entry<U, OpsF64, true>,
                     &all_finite<OpsF32>,
                     &all_finite<OpsF64>,
                     &all_finite_f16<OpsF32>,
                     &all_finite_bf16<OpsF32>,
                     &f16_to_f32<OpsF32>,
                     &f32_to_f16<OpsF32>,
                     &bf16_to_f32<OpsF32>,
                     &f32_to_bf16<OpsF32>,
                     half_kernel<U, OpsF32, false, false>(),
                     half_kernel<U, OpsF32, true, false>(),
                     half_kernel<U, OpsF32, false, true>(),
                     half_kernel<U, OpsF32, true, true>()};
}

}  // namespace rmsprop
