/**
 * Tensors and parameters: `Tensor` (a typed array with a shape), `Parameter` (a named tensor an
 * optimizer trains), and the dtype checks every other module uses.
 */
import { types } from 'node:util';

import { shown, typeError, valueError } from './errors';
import { toHalfBits, type HalfDType } from './half';

/**
 * Element type of a tensor. `'float16'` (IEEE binary16) and `'bfloat16'` hold 16-bit patterns
 * (a `Uint16Array`, or a `Float16Array` for float16 where the runtime has one); a parameter of
 * either has float32 state and float32 math (docs/semantics.md §11).
 */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16';

export type { HalfDType } from './half';

/** The typed arrays of float32 and float64 tensors (and of every optimizer state). */
export type FloatArray = Float32Array | Float64Array;

/** The typed arrays a tensor can hold: float32, float64, or 16-bit patterns (float16 / bfloat16). */
export type TensorArray = FloatArray | Uint16Array;

/** What `new Tensor(data)` accepts: a typed array (kept by reference), numbers, or one number. */
export type TensorData = TensorArray | readonly number[] | number;

/** Options of `new Tensor(data, shape, options)`. */
export interface TensorOptions {
  /**
   * The element type: needed for a `Uint16Array` (`'float16'` or `'bfloat16'` bits); else it must
   * match the array's type (a `Float16Array` is `'float16'`). Numbers are converted to it
   * (rounded to nearest even). Default: from the data, float32 for numbers.
   */
  dtype?: DType;
}

const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];

/** The dtype of a Float32Array or Float64Array (from any realm), else undefined. */
export function dtypeOf(value: unknown): 'float32' | 'float64' | undefined {
  if (types.isFloat32Array(value)) return 'float32';
  if (types.isFloat64Array(value)) return 'float64';
  return undefined;
}

/** Whether `value` is a Float16Array (a runtime that has them). */
export function isFloat16Array(value: unknown): boolean {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Float16Array]';
}

/** The 16-bit patterns of a Uint16Array or Float16Array, as a Uint16Array over the same memory. */
export function halfBits(value: unknown): Uint16Array | undefined {
  if (types.isUint16Array(value)) return value as Uint16Array;
  if (isFloat16Array(value)) {
    const v = value as ArrayBufferView & { length: number };
    return new Uint16Array(v.buffer, v.byteOffset, v.length);
  }
  return undefined;
}

/** A parameter of any dtype (the type the optimizer takes). */
export type AnyParameter = Parameter<TensorArray>;

/** A tensor of any dtype. */
export type AnyTensor = Tensor<TensorArray>;

export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** The dtype of the state (and math) of a parameter of `dtype`: float32 for half precision. */
export function stateDType(dtype: DType): 'float32' | 'float64' {
  return dtype === 'float64' ? 'float64' : 'float32';
}

function isNumberArray(value: unknown): value is readonly number[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'number');
}

// The array a tensor keeps, and its dtype.
function readData(owner: string, data: unknown, given: unknown): { array: TensorArray; dtype: DType } {
  if (given !== undefined && (typeof given !== 'string' || !(DTYPES as string[]).includes(given))) {
    throw (typeof given === 'string' ? valueError : typeError)(owner, 'dtype', "'float32', 'float64', 'float16' or 'bfloat16'", given);
  }
  const wanted = given as DType | undefined;
  const own = dtypeOf(data) ?? (isFloat16Array(data) ? 'float16' : undefined);
  if (own !== undefined) {
    if (wanted !== undefined && wanted !== own) throw typeError(owner, 'dtype', `'${own}' for a ${describeArray(data)}`, wanted);
    return { array: own === 'float16' ? (halfBits(data) as Uint16Array) : (data as FloatArray), dtype: own };
  }
  if (types.isUint16Array(data)) {
    if (wanted === undefined || !isHalf(wanted)) {
      throw typeError(owner, 'dtype', "'float16' or 'bfloat16' for a Uint16Array (its elements are 16-bit patterns)", wanted);
    }
    return { array: data as Uint16Array, dtype: wanted };
  }
  const numbers = typeof data === 'number' ? [data] : isNumberArray(data) ? data : undefined;
  if (numbers === undefined) {
    throw typeError(owner, 'data', 'a Float32Array, a Float64Array, a Uint16Array (with a dtype), an array of numbers or a number', data);
  }
  const dtype = wanted ?? 'float32';
  if (dtype === 'float32') return { array: Float32Array.from(numbers), dtype };
  if (dtype === 'float64') return { array: Float64Array.from(numbers), dtype };
  return { array: Uint16Array.from(numbers, (x) => toHalfBits(x, dtype)), dtype };
}

function describeArray(data: unknown): string {
  return Object.prototype.toString.call(data).slice(8, -1);
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
    throw valueError(owner, 'shape', `an array whose product equals the data length ${length}`, shown(`[${shape.join(', ')}]`));
  }
  return [...shape];
}

/**
 * A dense array with a shape: float32, float64, or half precision (16-bit patterns).
 *
 * `new Tensor(data, shape?, { dtype }?)`: `data` is a `Float32Array` or `Float64Array` (kept by
 * reference, never copied), a `Uint16Array` of float16 or bfloat16 bits with `dtype` saying which
 * (kept by reference), a `Float16Array` (float16; its memory is kept, viewed as bits), an array
 * of numbers (copied into a new array of `dtype`, float32 by default) or a number (a 0-D tensor).
 * `shape` defaults to `[data.length]` (`[]` for a number); its product must equal the length.
 */
/**
 * Each tensor's dtype, kept out of the object (not a `#private` field: a declaration with one
 * fails to compile under TypeScript's default target, TS18028, in users' projects).
 */
const dtypes = new WeakMap<object, DType>();

export class Tensor<A extends TensorArray = FloatArray> {
  /**
   * The elements, row-major (the 16-bit patterns for float16 and bfloat16). Shared with the
   * caller when a typed array was given. `A`: the array type (`Uint16Array` for half precision).
   */
  readonly data: A;
  /** The dimensions; `[]` for a 0-D tensor. */
  readonly shape: readonly number[];

  constructor(data: A, shape?: readonly number[], options?: TensorOptions);
  constructor(data: readonly number[] | number, shape?: readonly number[], options?: TensorOptions);
  constructor(data: A | readonly number[] | number, shape?: readonly number[], options: TensorOptions = {}) {
    const owner = new.target.name;
    if (options === null || typeof options !== 'object') throw typeError(owner, 'options', 'an object', options);
    const { array, dtype } = readData(owner, data, options.dtype);
    this.data = array as A;
    dtypes.set(this, dtype);
    const defaultShape = typeof data === 'number' ? [] : [this.data.length];
    this.shape = Object.freeze(checkShape(owner, shape ?? defaultShape, this.data.length));
  }

  /** `'float32'`, `'float64'`, `'float16'` or `'bfloat16'`. */
  get dtype(): DType {
    return dtypes.get(this)!;
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
export interface ParameterOptions extends TensorOptions {
  /** The shape; defaults to `[data.length]` (`[]` for a number). */
  shape?: readonly number[];
  /** Whether the parameter is trained (informational, as MindSpore's `requires_grad`). Default `true`. */
  requiresGrad?: boolean;
}

/**
 * A named tensor that an optimizer updates in place (MindSpore's `Parameter`).
 *
 * `new Parameter(data, name, { shape?, dtype?, requiresGrad = true })`: `data` and `dtype` as for
 * `Tensor`, `name` a
 * non-empty string, unique within an optimizer; state entries are named after it
 * (`mean_square.<name>`).
 */
export class Parameter<A extends TensorArray = FloatArray> extends Tensor<A> {
  readonly name: string;
  readonly requiresGrad: boolean;

  constructor(data: A, name: string, options?: ParameterOptions);
  constructor(data: readonly number[] | number, name: string, options?: ParameterOptions);
  constructor(data: A | readonly number[] | number, name: string, options: ParameterOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw typeError('Parameter', 'options', 'an object', options);
    }
    super(data as A, options.shape, { dtype: options.dtype });
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
