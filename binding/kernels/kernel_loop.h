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

#include "kernel_types.h"
#include "rmsprop_math.h"

#if defined(RMSPROP_BENCH_STREAM)
#include "../../bench/native/stream_update.h"
#else
namespace rmsprop {
// The update of one register: RMSProp, plain or centered (rmsprop_math.h).
template <class Ops, unsigned kV>
struct ElementUpdate {
  using V = typename Ops::V;
  static RMSPROP_LANE void plain(V& w, V& s, V& m, V g, const LaneScalars<V>& c) {
    plain_update<Ops, kV>(w, s, m, g, c);
  }
  static RMSPROP_LANE void centered(V& w, V& s, V& m, V& mg, V g, const LaneScalars<V>& c) {
    centered_update<Ops, kV>(w, s, m, mg, g, c);
  }
};
}  // namespace rmsprop
#endif

namespace rmsprop {

template <class Ops>
LaneScalars<typename Ops::V> broadcast_scalars(const TensorScalars<typename Ops::T>& k) {
  return {Ops::broadcast(k.decay),        Ops::broadcast(k.one_minus_decay),
          Ops::broadcast(k.momentum),     Ops::broadcast(k.epsilon),
          Ops::broadcast(k.lr),           Ops::broadcast(k.weight_decay),
          Ops::broadcast(k.grad_shift),   Ops::broadcast(k.inv_loss_scale),
          Ops::broadcast(k.decoupled_decay)};
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
// full one) and their results are discarded. The benchmark compiles these same
// instruction-set files a second time, with RMSPROP_BENCH_STREAM defined, into its own addon
// (CMakeLists.txt, rmsprop_bench): there ElementUpdate is its memory-traffic baseline, the same
// loads and stores with trivial arithmetic (bench/native/stream_update.h).
template <class Ops, bool kCentered, unsigned kV, class Access>
void update_block(typename Ops::T* w, typename Ops::T* s, typename Ops::T* m,
                  typename Ops::T* mg, const typename Ops::T* g,
                  const LaneScalars<typename Ops::V>& c, const Access& at) {
  using T = typename Ops::T;
  typename Ops::V vw = at.load(w, T(0)), vs = at.load(s, T(1)), vm = at.load(m, T(0));
  const typename Ops::V vg = at.load(g, T(0));
  if (kCentered) {
    typename Ops::V vmg = at.load(mg, T(0));
    ElementUpdate<Ops, kV>::centered(vw, vs, vm, vmg, vg, c);
    at.store(mg, vmg);
  } else {
    ElementUpdate<Ops, kV>::plain(vw, vs, vm, vg, c);
  }
  at.store(w, vw);
  at.store(s, vs);
  at.store(m, vm);
}

template <class Ops, bool kCentered, unsigned kV>
void update_tensor(const TensorBuffers<typename Ops::T>& t,
                   const LaneScalars<typename Ops::V>& c) {
  using T = typename Ops::T;
  constexpr std::size_t W = Ops::kWidth;
  const FullRegister<Ops> full;
  std::size_t i = 0;
  for (; i + W <= t.size; i += W) {
    update_block<Ops, kCentered, kV>(t.param + i, t.mean_square + i, t.moment + i,
                                     kCentered ? t.mean_grad + i : nullptr, t.grad + i, c, full);
  }
  const std::size_t rest = t.size - i;
  if (rest == 0) return;
  if constexpr (HasPartialAccess<Ops>::value) {
    update_block<Ops, kCentered, kV>(t.param + i, t.mean_square + i, t.moment + i,
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
    update_block<Ops, kCentered, kV>(w, s, m, mg, g, c, full);
    std::memcpy(t.param + i, w, bytes);
    std::memcpy(t.mean_square + i, s, bytes);
    std::memcpy(t.moment + i, m, bytes);
    if (kCentered) std::memcpy(t.mean_grad + i, mg, bytes);
  }
}

// The variant `variant` of the update (a compile-time instantiation for each of kVariantCount).
template <class Ops, bool kCentered, unsigned kV = 0>
void update_variant(unsigned variant, const TensorBuffers<typename Ops::T>& t,
                    const LaneScalars<typename Ops::V>& c) {
  if constexpr (kV < kVariantCount) {
    if (variant == kV) {
      update_tensor<Ops, kCentered, kV>(t, c);
    } else {
      update_variant<Ops, kCentered, kV + 1>(variant, t, c);
    }
  }
}

template <class Ops, bool kCentered>
void update_tensor_entry(const TensorBuffers<typename Ops::T>& t,
                         const TensorScalars<typename Ops::T>& k) {
  update_variant<Ops, kCentered>(k.variant, t, broadcast_scalars<Ops>(k));
}

// Whether all n values are finite: the exponent bits of each, all ones for inf and NaN, OR-ed
// together as integers (which the compiler vectorises for the instruction set of the file that
// instantiates this), in blocks so that a long tensor with an early inf stops early.
template <class Ops>
bool all_finite(const typename Ops::T* values, std::size_t n) {
  using T = typename Ops::T;
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits kExponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  constexpr std::size_t kBlock = 4096;
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t end = begin + kBlock < n ? begin + kBlock : n;
    Bits bad = 0;
    for (std::size_t i = begin; i < end; ++i) {
      Bits x;
      std::memcpy(&x, values + i, sizeof x);
      bad |= (x & kExponent) == kExponent;
    }
    if (bad != 0) return false;
  }
  return true;
}

// Builds a constant-initialised table from one instruction set's float32 and float64 Ops.
template <class OpsF32, class OpsF64>
constexpr KernelTable make_kernel_table(const char* level) {
  return KernelTable{level,
                     &update_tensor_entry<OpsF32, false>,
                     &update_tensor_entry<OpsF32, true>,
                     &update_tensor_entry<OpsF64, false>,
                     &update_tensor_entry<OpsF64, true>,
                     &all_finite<OpsF32>,
                     &all_finite<OpsF64>};
}

}  // namespace rmsprop
