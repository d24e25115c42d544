// Portable kernels: plain C++ arithmetic, compiled for the architecture's baseline.
// The Ops of this instruction set, in an anonymous namespace: include this header from exactly
// one file of a binary (kernels_scalar.cc, the addon's table; bench/native/stream_kernels_scalar.cc,
// the benchmark's), which instantiates the loops of kernel_loop.h with them (see rmsprop_math.h
// on why every instantiation must have internal linkage).
#pragma once
#include <cmath>

#include "kernel_loop.h"

namespace {

template <class Scalar>
struct ScalarOps {
  using T = Scalar;
  using V = Scalar;
  using Mask = bool;
  static constexpr std::size_t kWidth = 1;
  static V load(const T* p) { return *p; }
  static void store(T* p, V v) { *p = v; }
  static V broadcast(T x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V madd(V a, V b, V c) { return a * b + c; }
  static V sqrt(V a) { return std::sqrt(a); }
  static V over_sqrt(V a, V x) { return div(a, sqrt(x)); }
  static Mask positive(V a) { return a > V(0); }
  static V select(Mask m, V a, V b) { return m ? a : b; }
};

}  // namespace
