// Half precision in software, one value at a time: float16 (IEEE binary16) and bfloat16 bit
// patterns widened to float32 (exact) and float32 rounded to them (to nearest, ties to even; NaN
// stays NaN, quiet; no flush of subnormals). Used by every CPU instruction set (the levels
// without conversion instructions, and the tails of those with them) and by the host emulation
// of the CUDA kernels (cuda/emulation/cuda_shim.h), so both round exactly as the GPU's
// __float2half_rn / __float2bfloat16_rn.
// `static`: each instruction-set file keeps its own copy (see rmsprop_math.h on the ODR trap).
#pragma once
#include <cstdint>
#include <cstring>

#include "rmsprop_math.h"

namespace rmsprop {

static RMSPROP_LANE float bits_to_float(std::uint32_t x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

static RMSPROP_LANE std::uint32_t float_to_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  return x;
}

static RMSPROP_LANE float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return bits_to_float(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
  if (exponent == 0) {
    // 0 or a subnormal: mantissa · 2^-24, exact in float32.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return bits_to_float(sign | float_to_bits(magnitude));
  }
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

static RMSPROP_LANE std::uint16_t float_to_half(float f) {
  const std::uint32_t x = float_to_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));  // NaN, quiet
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // ≥ 65520: rounds to inf
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a subnormal half. Adding 0.5 (whose ulp, 2^-24, is the subnormal step)
    // lets the FPU round to nearest even; the low bits are then the half's.
    const float shifted = bits_to_float(magnitude) + 0.5f;
    return static_cast<std::uint16_t>(sign | (float_to_bits(shifted) - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest even.
  std::uint32_t u = magnitude + 0xc8000fffu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | (u >> 13));
}

static RMSPROP_LANE float bfloat_to_float(std::uint16_t b) { return bits_to_float(static_cast<std::uint32_t>(b) << 16); }

static RMSPROP_LANE std::uint16_t float_to_bfloat(float f) {
  const std::uint32_t x = float_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // NaN, quiet
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace rmsprop
