/**
 * Half precision in JavaScript: the values of float16 (IEEE binary16) and bfloat16 bit patterns,
 * and the patterns of numbers rounded to them (to nearest, ties to even). The optimizer's own
 * conversions are native (binding/kernels/kernel_loop.h); these serve tensors built from numbers
 * and master weights' first values.
 */
/** The half-precision dtypes: 16-bit patterns, float32 state and arithmetic. */
export type HalfDType = 'float16' | 'bfloat16';

const scratch = new DataView(new ArrayBuffer(4));

/** The value of one 16-bit pattern of `dtype`. */
export function fromHalfBits(bits: number, dtype: HalfDType): number {
  if (dtype === 'bfloat16') {
    scratch.setUint32(0, (bits & 0xffff) << 16);
    return scratch.getFloat32(0);
  }
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The 16-bit pattern of `x` rounded to `dtype` (to nearest, ties to even; NaN quiet). */
export function toHalfBits(x: number, dtype: HalfDType): number {
  if (dtype === 'bfloat16') {
    scratch.setFloat32(0, x); // a double goes through float32 first: rounded twice only where a tie of bfloat16 hides below float32's precision
    const u = scratch.getUint32(0);
    if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
    return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
  }
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24); // subnormal (may round up to the smallest normal: 0x400)
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent -= 1; // log2's rounding near powers of two
  if (2 ** (exponent + 1) <= a) exponent += 1;
  const mantissa = roundEven((a / 2 ** exponent - 1) * 1024); // 0 … 1024 (1024: carries into the exponent)
  return sign | (((exponent + 15) << 10) + mantissa);
}

function roundEven(v: number): number {
  const floor = Math.floor(v);
  const rest = v - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}
