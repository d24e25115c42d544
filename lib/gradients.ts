/**
 * Reading a step's gradients: the checks that make a bad gradient a clear error before anything
 * changes, and the fast path of a training loop that passes the very same arrays every step.
 */
import { typeError, valueError } from './errors';
import { dtypeOf, Tensor, type DType, type FloatArray, type Parameter } from './tensor';

const OWNER = 'RMSProp';

/** One parameter as the reader checks its gradient. */
export interface GradientSlot {
  readonly param: Parameter;
  readonly dtype: DType;
  readonly size: number;
}

export class GradientReader {
  /** The arrays of the last gradients read (one per parameter), handed to the binding. */
  readonly buffers: FloatArray[];
  /** Whether `buffers` holds the same array objects as at the previous native call. */
  same = false;
  private read = false;

  /** @param assertStateAttached throws when a state buffer was transferred. */
  constructor(
    private readonly slots: readonly GradientSlot[],
    private readonly assertStateAttached: () => void,
  ) {
    this.buffers = slots.map((s) => s.param.data);
  }

  /** Checks every gradient and the parameters' buffers, filling `buffers`; throws before any write. */
  check(gradients: unknown): void {
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
    this.assertParametersAttached();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      const entry: unknown = gradients[i];
      const data = entry instanceof Tensor ? entry.data : entry;
      const dtype = dtypeOf(data);
      const what = `gradients[${i}]`;
      if (dtype === undefined) {
        throw typeError(OWNER, what, `a ${slot.dtype} typed array or Tensor (parameter '${slot.param.name}')`, entry);
      }
      if (dtype !== slot.dtype) {
        throw typeError(OWNER, what, `of dtype ${slot.dtype} like parameter '${slot.param.name}'`, entry);
      }
      const array = data as FloatArray;
      if (array.length !== slot.size) {
        throw valueError(OWNER, what, `of length ${slot.size} like parameter '${slot.param.name}'`, entry);
      }
      this.buffers[i] = array;
    }
    this.read = true;
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
