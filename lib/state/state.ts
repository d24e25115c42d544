/** The optimizer's state buffers: where they live and how they are laid out. */
import { valueError } from '../base/errors';
import { fromHalfBits } from '../base/half';
import { isHalf, stateDType, type FloatArray, type AnyParameter } from '../base/tensor';

/**
 * Live views of one parameter's optimizer state: its length, and its dtype (float32 for a
 * float16 or bfloat16 parameter).
 */
export interface ParameterState {
  /** s, the moving average of squared gradients (starts at `initialMeanSquare`: 1, or 0 in most flavours). */
  readonly meanSquare: FloatArray;
  /** m, the momentum buffer (starts at 0). */
  readonly moment: FloatArray;
  /** ḡ, the moving average of gradients (centered only; starts at 0). */
  readonly meanGrad?: FloatArray;
  /** With `masterWeights`, for a float16 or bfloat16 parameter: its float32 copy, the one the updates apply to. */
  readonly master?: Float32Array;
}

// Elements between the starts of two tensors' state: 64 bytes, a cache line and a full vector.
const STATE_ALIGN_BYTES = 64;

/**
 * The state buffers of all parameters: for each dtype and each kind (meanSquare, moment,
 * meanGrad) one contiguous array, viewed per parameter. Contiguous state streams better than
 * thousands of scattered small arrays and costs one allocation per kind.
 */
export function allocateStates(
  params: readonly AnyParameter[],
  centered: boolean,
  shared: boolean,
  initialMeanSquare = 1,
  masterWeights = false,
): ParameterState[] {
  const offsets = new Array<number>(params.length);
  const totals: Record<'float32' | 'float64', number> = { float32: 0, float64: 0 };
  params.forEach((p, i) => {
    const dtype = stateDType(p.dtype);
    const align = STATE_ALIGN_BYTES / (dtype === 'float32' ? 4 : 8);
    offsets[i] = totals[dtype];
    totals[dtype] += Math.ceil(p.size / align) * align;
  });
  const kind = (dtype: 'float32' | 'float64', fill: number): FloatArray => {
    const Type = dtype === 'float32' ? Float32Array : Float64Array;
    const length = totals[dtype];
    const array = shared
      ? new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT) as unknown as ArrayBuffer)
      : new Type(length);
    return fill === 0 ? array : array.fill(fill);
  };
  const pools = (['float32', 'float64'] as const).map((dtype) => ({
    meanSquare: kind(dtype, initialMeanSquare),
    moment: kind(dtype, 0),
    meanGrad: centered ? kind(dtype, 0) : undefined,
  }));
  const masters = masterWeights && params.some((p) => isHalf(p.dtype)) ? (kind('float32', 0) as Float32Array) : null;
  return params.map((p, i) => {
    const pool = pools[stateDType(p.dtype) === 'float32' ? 0 : 1];
    const view = (array: FloatArray) => array.subarray(offsets[i], offsets[i] + p.size);
    const master = masters && isHalf(p.dtype) ? (view(masters) as Float32Array) : undefined;
    if (master && isHalf(p.dtype)) {
      const dtype = p.dtype;
      p.data.forEach((bits, j) => (master[j] = fromHalfBits(bits, dtype)));
    }
    return Object.freeze({
      meanSquare: view(pool.meanSquare),
      moment: view(pool.moment),
      ...(pool.meanGrad ? { meanGrad: view(pool.meanGrad) } : {}),
      ...(master ? { master } : {}),
    });
  });
}


/**
 * A check that throws when one of the state's buffers was transferred (its views then have
 * length 0), which would leave the native side pointing at memory the optimizer no longer owns.
 */
export function attachmentCheck(states: readonly ParameterState[]): () => void {
  const sentinels = new Map<ArrayBufferLike, { view: FloatArray; length: number }>();
  for (const state of states) {
    for (const view of [state.meanSquare, state.moment, state.meanGrad, state.master]) {
      if (view && !sentinels.has(view.buffer)) sentinels.set(view.buffer, { view, length: view.length });
    }
  }
  const list = [...sentinels.values()];
  return () => {
    for (const sentinel of list) {
      if (sentinel.view.length !== sentinel.length) {
        throw valueError('RMSProp', 'state', 'backed by the buffers this optimizer allocated (was one transferred?)', sentinel.view);
      }
    }
  };
}
