/**
 * Reading a step's gradients: the checks that make a bad gradient a clear error before anything
 * changes, and the fast path of a training loop that passes the very same arrays every step.
 */
import { typeError, valueError } from '../base/errors';
import type { GradientSink } from '../native/backend';
import { dtypeOf, halfBits, isFloat16Array, isHalf, Tensor, type DType, type TensorArray, type AnyParameter } from '../base/tensor';

const OWNER = 'RMSProp';

/** The array type of each dtype (16-bit patterns for half precision). */
const ARRAY_OF: Record<DType, Float32ArrayConstructor | Float64ArrayConstructor | Uint16ArrayConstructor> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
};

/** Where each view of the gradient arena starts: a multiple of a cache line. */
const ARENA_ALIGN = 64;

/** Past this many tensors the binding reads the gradients from an array (a call's arguments live on the stack). */
const MAX_ARGUMENT_GRADIENTS = 8192;

/** One parameter as the reader checks its gradient. */
export interface GradientSlot {
  readonly param: AnyParameter;
  readonly dtype: DType;
  readonly size: number;
}

export class GradientReader {
  /** The arrays of the last gradients read (one per parameter), handed to the binding. */
  readonly buffers: TensorArray[];
  /** Whether `buffers` holds the same array objects as the previous check, which passed. */
  same = false;
  private read = false;
  /** Whether the binding holds `buffers` (handTo gave them, or the step it preceded read them). */
  private handed = false;
  private arenaViews?: readonly TensorArray[];

  /** @param assertStateAttached throws when a state buffer was transferred. */
  constructor(
    private readonly slots: readonly GradientSlot[],
    private readonly assertStateAttached: () => void,
  ) {
    this.buffers = slots.map((s) => s.param.data);
  }

  /**
   * One view per parameter (its dtype and length, in slot order) on one contiguous ArrayBuffer,
   * each starting on a 64-byte boundary: created at the first call, the same views after.
   */
  arena(): readonly TensorArray[] {
    if (this.arenaViews) return this.arenaViews;
    const offsets: number[] = [];
    let bytes = 0;
    for (const slot of this.slots) {
      offsets.push(bytes);
      bytes += Math.ceil((slot.size * ARRAY_OF[slot.dtype].BYTES_PER_ELEMENT) / ARENA_ALIGN) * ARENA_ALIGN;
    }
    const buffer = new ArrayBuffer(bytes);
    this.arenaViews = Object.freeze(this.slots.map((slot, i) => new ARRAY_OF[slot.dtype](buffer, offsets[i], slot.size)));
    return this.arenaViews;
  }

  /**
   * Checks every gradient (`undefined`: the arena's views, once `arena()` made them) and the
   * parameters' buffers, filling `buffers`; throws before any write.
   */
  check(given: unknown): void {
    let gradients = given;
    if (gradients === undefined) {
      if (!this.arenaViews) {
        throw typeError(OWNER, 'gradients', 'an array with one gradient per parameter (step() without one needs gradientBuffers() first)', gradients);
      }
      gradients = this.arenaViews;
    }
    if (!Array.isArray(gradients)) {
      throw typeError(OWNER, 'gradients', 'an array with one gradient per parameter', gradients);
    }
    const slots = this.slots;
    if (gradients.length !== slots.length) {
      throw valueError(OWNER, 'gradients', `an array of ${slots.length} gradients (one per parameter)`, gradients);
    }
    this.assertStateAttached();
    // Fast path of a training loop that reuses its gradient arrays: the same objects as last
    // time, still attached (a detached array has length 0), need no further checks.
    let same = true;
    for (let i = 0; i < slots.length; i++) {
      const entry: unknown = gradients[i];
      const size = slots[i].size;
      const previous = this.buffers[i];
      if (entry !== previous || previous.length !== size || slots[i].param.data.length !== size) {
        same = false;
        break;
      }
    }
    this.same = same && this.read;
    if (this.same) return;
    this.read = false; // until every entry below has passed
    this.handed = false; // until handTo gives these arrays to the binding
    this.assertParametersAttached();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      const entry: unknown = gradients[i];
      // The common case first: an array of this realm's constructor for the dtype (an
      // `instanceof` is far cheaper than util.types' checks, which cover every realm).
      if (entry instanceof ARRAY_OF[slot.dtype] && (entry as TensorArray).length === slot.size) {
        this.buffers[i] = entry as TensorArray;
        continue;
      }
      const data = entry instanceof Tensor ? entry.data : entry;
      const half = isHalf(slot.dtype);
      // A bare Uint16Array holds the bits of its half-precision parameter's dtype.
      const dtype: DType | undefined =
        entry instanceof Tensor
          ? entry.dtype
          : (dtypeOf(data) ?? (isFloat16Array(data) ? 'float16' : half && halfBits(data) ? slot.dtype : undefined));
      const what = `gradients[${i}]`;
      const expected = half ? `${slot.dtype} (a Uint16Array of its bits) or float32` : slot.dtype;
      if (dtype === undefined) {
        throw typeError(OWNER, what, `a ${expected} typed array or Tensor (parameter '${slot.param.name}')`, entry);
      }
      if (dtype !== slot.dtype && !(half && dtype === 'float32')) {
        throw typeError(OWNER, what, `of dtype ${expected} like parameter '${slot.param.name}'`, entry);
      }
      const array = (dtype === 'float16' ? halfBits(data) : data) as TensorArray;
      if (array.length !== slot.size) {
        throw valueError(OWNER, what, `of length ${slot.size} like parameter '${slot.param.name}'`, entry);
      }
      this.buffers[i] = array;
    }
    this.read = true;
  }

  /**
   * Hands the arrays of the last `check` to `native` and returns the `same` flag of its next
   * step: arrays it already holds need nothing (a check of the same arrays that were not handed
   * over yet, as `stepAsync`'s early check and its step's, still hands them once); new ones go as the arguments of one
   * `readGradients` call (cheaper per tensor than the binding reading an array's elements),
   * unless there are too many for the arguments of a call.
   */
  handTo(native: GradientSink): boolean {
    if (this.same && this.handed) return true;
    this.handed = true;
    if (this.buffers.length > MAX_ARGUMENT_GRADIENTS) return false; // the step reads them from its argument
    native.readGradients(...this.buffers);
    return true;
  }

  /** Throws when a parameter's buffer was transferred (its views then have length 0). */
  assertParametersAttached(): void {
    for (const slot of this.slots) {
      if (slot.param.data.length !== slot.size) {
        throw valueError(OWNER, `parameter '${slot.param.name}'`, `backed by ${slot.size} elements (was its buffer transferred?)`, slot.param.data);
      }
    }
  }
}
