/**
 * Tensors and parameters: `Tensor` (a typed array with a shape), `Parameter` (a named tensor an
 * optimizer trains), and the dtype checks every other module uses.
 */
import { types } from 'node:util';

import { typeError, valueError } from './errors';

/** Element type of a tensor. */
export type DType = 'float32' | 'float64';

/** The typed arrays a tensor can hold. */
export type FloatArray = Float32Array | Float64Array;

/** What `new Tensor(data)` accepts: a typed array (kept by reference), numbers, or one number. */
export type TensorData = FloatArray | readonly number[] | number;

/** The dtype of a Float32Array or Float64Array (from any realm), else undefined. */
export function dtypeOf(value: unknown): DType | undefined {
  if (types.isFloat32Array(value)) return 'float32';
  if (types.isFloat64Array(value)) return 'float64';
  return undefined;
}

function isNumberArray(value: unknown): value is readonly number[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'number');
}

function toFloatArray(owner: string, data: unknown): FloatArray {
  if (dtypeOf(data) !== undefined) return data as FloatArray;
  if (typeof data === 'number') return Float32Array.of(data);
  if (isNumberArray(data)) return Float32Array.from(data);
  throw typeError(owner, 'data', 'a Float32Array, a Float64Array, an array of numbers or a number', data);
}

function checkShape(owner: string, shape: unknown, length: number): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) {
    throw typeError(owner, 'shape', 'an array of non-negative integers', shape);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw valueError(owner, 'shape', 'an array of non-negative integers', shape.join(','));
    }
  }
  const product = shape.reduce((a, b) => a * b, 1);
  if (product !== length) {
    throw valueError(owner, 'shape', `an array whose product equals the data length ${length}`, `[${shape.join(', ')}]`);
  }
  return [...shape];
}

/**
 * A dense float32 or float64 array with a shape.
 *
 * `new Tensor(data, shape?)`: `data` is a `Float32Array` or `Float64Array` (kept by reference,
 * never copied), an array of numbers (copied into a new `Float32Array`) or a number (a 0-D
 * float32 tensor). `shape` defaults to `[data.length]` (`[]` for a number); its product must
 * equal the length.
 */
export class Tensor {
  /** The elements, row-major. Shared with the caller when a typed array was given. */
  readonly data: FloatArray;
  /** The dimensions; `[]` for a 0-D tensor. */
  readonly shape: readonly number[];

  constructor(data: TensorData, shape?: readonly number[]) {
    const owner = new.target.name;
    this.data = toFloatArray(owner, data);
    const defaultShape = typeof data === 'number' ? [] : [this.data.length];
    this.shape = Object.freeze(checkShape(owner, shape ?? defaultShape, this.data.length));
  }

  /** `'float32'` or `'float64'`, from the data's type. */
  get dtype(): DType {
    return dtypeOf(this.data) as DType;
  }

  /** The number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** The number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }
}

/** Options of `new Parameter(data, name, options)`. */
export interface ParameterOptions {
  /** The shape; defaults to `[data.length]` (`[]` for a number). */
  shape?: readonly number[];
  /** Whether the parameter is trained (informational, as MindSpore's `requires_grad`). Default `true`. */
  requiresGrad?: boolean;
}

/**
 * A named tensor that an optimizer updates in place (MindSpore's `Parameter`).
 *
 * `new Parameter(data, name, { shape?, requiresGrad = true })`: `data` as for `Tensor`, `name` a
 * non-empty string, unique within an optimizer; state entries are named after it
 * (`mean_square.<name>`).
 */
export class Parameter extends Tensor {
  readonly name: string;
  readonly requiresGrad: boolean;

  constructor(data: TensorData, name: string, options: ParameterOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw typeError('Parameter', 'options', 'an object', options);
    }
    super(data, options.shape);
    if (typeof name !== 'string') throw typeError('Parameter', 'name', 'a non-empty string', name);
    if (name.length === 0) throw valueError('Parameter', 'name', 'a non-empty string', name);
    const requiresGrad = options.requiresGrad ?? true;
    if (typeof requiresGrad !== 'boolean') {
      throw typeError('Parameter', 'requiresGrad', 'a boolean', requiresGrad);
    }
    this.name = name;
    this.requiresGrad = requiresGrad;
  }
}
