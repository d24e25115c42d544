/** The optimizer's state buffers: where they live and how they are laid out. */
import { valueError } from './errors';
import type { DType, FloatArray, Parameter } from './tensor';

/** Live views of one parameter's optimizer state (same dtype and length as the parameter). */
export interface ParameterState {
  /** s, the moving average of squared gradients (starts at `initialMeanSquare`: 1, or 0 in most flavours). */
  readonly meanSquare: FloatArray;
  /** m, the momentum buffer (starts at 0). */
  readonly moment: FloatArray;
  /** ḡ, the moving average of gradients (centered only; starts at 0). */
  readonly meanGrad?: FloatArray;
}

// Elements between the starts of two tensors' state: 64 bytes, a cache line and a full vector.
const STATE_ALIGN_BYTES = 64;

/**
 * The state buffers of all parameters: for each dtype and each kind (meanSquare, moment,
 * meanGrad) one contiguous array, viewed per parameter. Contiguous state streams better than
 * thousands of scattered small arrays and costs one allocation per kind.
 */
export function allocateStates(
  params: readonly Parameter[],
  centered: boolean,
  shared: boolean,
  initialMeanSquare = 1,
): ParameterState[] {
  const offsets = new Array<number>(params.length);
  const totals: Record<DType, number> = { float32: 0, float64: 0 };
  params.forEach((p, i) => {
    const align = STATE_ALIGN_BYTES / (p.dtype === 'float32' ? 4 : 8);
    offsets[i] = totals[p.dtype];
    totals[p.dtype] += Math.ceil(p.size / align) * align;
  });
  const kind = (dtype: DType, fill: number): FloatArray => {
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
  return params.map((p, i) => {
    const pool = pools[p.dtype === 'float32' ? 0 : 1];
    const view = (array: FloatArray) => array.subarray(offsets[i], offsets[i] + p.size);
    return Object.freeze({
      meanSquare: view(pool.meanSquare),
      moment: view(pool.moment),
      ...(pool.meanGrad ? { meanGrad: view(pool.meanGrad) } : {}),
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
    for (const view of [state.meanSquare, state.moment, state.meanGrad]) {
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
