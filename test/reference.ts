/**
 * An independent float64 implementation of docs/semantics.md §1–§4 (one step, one parameter), used
 * to judge the native kernels, plus the tolerance rule of docs/semantics.md §2.
 */
// Builtins read once: inside jest's vm context every lookup of a global such as `Math` goes
// through an interceptor and costs ~200 ns, which would dominate million-element checks.
const { abs, sqrt, fround, imul } = Math;
const { isNaN } = Number;

export type Dtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export interface Hyper {
  lr: number;
  decay: number;
  momentum: number;
  epsilon: number;
  lossScale: number;
  /** The weight decay value (before the loss-scale factor); 0 or null means none applied. */
  weightDecay: number | null;
  centered: boolean;
  /** Gradient centralization: the number of slices along axis 0 (shape[0]); absent for none. */
  centralizeSlices?: number;
}

export interface StateValues {
  param: ArrayLike<number>;
  meanSquare: ArrayLike<number>;
  moment: ArrayLike<number>;
  meanGrad?: ArrayLike<number>;
}

export interface Expected {
  param: Float64Array;
  meanSquare: Float64Array;
  moment: Float64Array;
  meanGrad?: Float64Array;
  /** Allowed absolute error of each value (docs/semantics.md §2). */
  tol: { param: Float64Array; meanSquare: Float64Array; moment: Float64Array; meanGrad?: Float64Array };
}

export const RELATIVE_TOLERANCE: Record<Dtype, number> = { float32: 2e-6, float64: 1e-12 };

/** One step in float64 from the given values; hyper-parameters rounded to float32 for float32. */
export function referenceStep(dtype: Dtype, h: Hyper, before: StateValues, grad: ArrayLike<number>): Expected {
  const r = dtype === 'float32' ? fround : (x: number) => x;
  const rel = RELATIVE_TOLERANCE[dtype];
  const n = grad.length;
  const rho = r(h.decay);
  const beta = r(h.momentum);
  const eps = r(h.epsilon);
  const lr = r(h.lr);
  const inv = r(1 / h.lossScale);
  const wdf = h.weightDecay === null ? 0 : r(h.weightDecay * h.lossScale);
  const out: Expected = {
    param: new Float64Array(n),
    meanSquare: new Float64Array(n),
    moment: new Float64Array(n),
    tol: { param: new Float64Array(n), meanSquare: new Float64Array(n), moment: new Float64Array(n) },
  };
  if (h.centered) {
    out.meanGrad = new Float64Array(n);
    out.tol.meanGrad = new Float64Array(n);
  }
  // Centralization: the mean of each slice of the decayed gradient (docs/semantics.md §4 step 2).
  const sliceSize = h.centralizeSlices ? n / h.centralizeSlices : n;
  const shift = new Float64Array(n);
  if (h.centralizeSlices) {
    for (let from = 0; from < n; from += sliceSize) {
      let sum = 0;
      for (let i = from; i < from + sliceSize; i++) sum += grad[i] + (h.weightDecay === null ? 0 : wdf * before.param[i]);
      shift.fill(sum / sliceSize, from, from + sliceSize);
    }
  }
  for (let i = 0; i < n; i++) {
    const w = before.param[i];
    const s = before.meanSquare[i];
    const m = before.moment[i];
    const gIn = grad[i];
    const decayTerm = h.weightDecay === null ? 0 : wdf * w;
    const g = (gIn + decayTerm - shift[i]) * inv;
    const gMag = (abs(gIn) + abs(decayTerm) + abs(shift[i])) * inv; // magnitude of the terms forming g
    const s1 = rho * s + (1 - rho) * g * g;
    const sMag = abs(rho * s) + (1 - rho) * gMag * gMag;
    out.meanSquare[i] = s1;
    out.tol.meanSquare[i] = rel * sMag;
    let denominator: number;
    let dMag: number;
    if (h.centered) {
      const mg = before.meanGrad![i];
      const mg1 = rho * mg + (1 - rho) * g;
      out.meanGrad![i] = mg1;
      out.tol.meanGrad![i] = rel * (abs(rho * mg) + abs(1 - rho) * gMag);
      denominator = s1 - mg1 * mg1 + eps;
      dMag = sMag + mg1 * mg1 + eps;
    } else {
      denominator = s1 + eps;
      dMag = sMag + eps;
    }
    if (denominator > 0) {
      const step = (lr * g) / sqrt(denominator);
      // Relative error of g/√d from its inputs: that of g plus half that of d.
      const stepMag = ((lr * gMag) / sqrt(denominator)) * (1 + (0.5 * dMag) / denominator);
      const m1 = beta * m + step;
      const mMag = abs(beta * m) + stepMag;
      out.moment[i] = m1;
      out.tol.moment[i] = rel * mMag;
      out.param[i] = w - m1;
      out.tol.param[i] = rel * (abs(w) + mMag);
    } else {
      out.moment[i] = m;
      out.param[i] = w;
    }
  }
  return out;
}

/** Indices where |actual − expected| > tol (NaN where both are NaN counts as equal). */
export function mismatches(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: ArrayLike<number>): number[] {
  const bad: number[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (isNaN(a) && isNaN(e)) continue;
    if (!(abs(a - e) <= tol[i])) bad.push(i);
  }
  return bad;
}

/** A small seeded generator (mulberry32), so failures reproduce. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An array of `dtype` filled with uniform values in [lo, hi). */
export function uniform(dtype: Dtype, n: number, rand: () => number, lo: number, hi: number): FloatArray {
  const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}
