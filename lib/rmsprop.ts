import { typeError, valueError } from './errors';
import { isDynamic, valueAt, type StepValue } from './learning-rate';
import { binding, type NativeOptimizer } from './native';
import { readOptions, type ResolvedOptions, type RMSPropOptions } from './options';
import { dtypeOf, Parameter, Tensor, type DType, type FloatArray } from './tensor';

const OWNER = 'RMSProp';
const layout = binding.planLayout;

/** Live views of one parameter's optimizer state (same dtype and length as the parameter). */
export interface ParameterState {
  /** s, the moving average of squared gradients (starts at 1). */
  readonly meanSquare: FloatArray;
  /** m, the momentum buffer (starts at 0). */
  readonly moment: FloatArray;
  /** ḡ, the moving average of gradients (centered only; starts at 0). */
  readonly meanGrad?: FloatArray;
}

/** A gradient: a typed array of the parameter's dtype and length, or a `Tensor` of it. */
export type Gradient = FloatArray | Tensor;

/** One parameter as the optimizer holds it. */
interface Slot {
  readonly param: Parameter;
  readonly dtype: DType;
  readonly size: number;
  readonly state: ParameterState;
  readonly lr: StepValue;
  /** The weight decay applied to this parameter, or null where none applies. */
  readonly weightDecay: StepValue | null;
}

function allocate(dtype: DType, size: number, fill: number): FloatArray {
  const array = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  return fill === 0 ? array : array.fill(fill);
}

// Without groups, weight decay skips names containing 'beta' or 'gamma' (semantics.md §4.1).
function decaysByName(name: string): boolean {
  return !name.includes('beta') && !name.includes('gamma');
}

function appliesWeightDecay(weightDecay: StepValue): boolean {
  return isDynamic(weightDecay) || (weightDecay.kind === 'fixed' && weightDecay.value > 0);
}

function readParams(params: unknown): Parameter[] {
  if (params === undefined || params === null) {
    throw valueError(OWNER, 'params', 'a non-empty array of Parameters', params);
  }
  if (typeof params !== 'object' || !(Symbol.iterator in params)) {
    throw typeError(OWNER, 'params', 'an array of Parameters', params);
  }
  const list = Array.from(params as Iterable<unknown>);
  if (list.length === 0) throw valueError(OWNER, 'params', 'a non-empty array of Parameters', list);
  const names = new Set<string>();
  const seen = new Set<Parameter>();
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) throw typeError(OWNER, `params[${i}]`, 'a Parameter', p);
    if (seen.has(p) || names.has(p.name)) {
      throw valueError(OWNER, `params[${i}]`, `a parameter not given before (name '${p.name}')`, p);
    }
    seen.add(p);
    names.add(p.name);
  });
  return list as Parameter[];
}

/**
 * MindSpore's RMSProp optimizer (`mindspore.nn.RMSProp`), plain or centered.
 *
 * For each parameter w with gradient g, at global step k (0 for the first step):
 *
 * ```text
 * g ← (g + wd·L·w) · (1/L)         weight decay where it applies, then unscale by the loss scale L
 * plain:    s ← ρ·s + (1−ρ)·g²
 *           m ← β·m + η_k·g / √(s + ε)
 *           w ← w − m
 * centered: ḡ ← ρ·ḡ + (1−ρ)·g
 *           s ← ρ·s + (1−ρ)·g²
 *           d ← s − ḡ² + ε
 *           if d > 0: m ← β·m + η_k·g / √d ;  w ← w − m      (else m and w are kept)
 * ```
 *
 * State starts at s = 1, m = 0, ḡ = 0. float32 parameters compute in float32 with every
 * hyper-parameter rounded to float32; float64 parameters in float64. Every step is one native
 * call that updates all parameters in place with the best SIMD kernels of the CPU.
 */
export class RMSProp {
  private readonly options: ResolvedOptions;
  private readonly slots: readonly Slot[];
  private readonly slotOf: ReadonlyMap<Parameter, Slot>;
  private readonly plan: Float64Array;
  private readonly native: NativeOptimizer;
  private readonly gradBuffers: FloatArray[];
  private completedSteps = 0;

  /**
   * @param params the parameters to train (each once; names unique).
   * @param options hyper-parameters; see `RMSPropOptions` for each key, its default and range.
   * @throws TypeError for a value of the wrong type or an unknown option (named in the message).
   * @throws ValueError for a value out of range, or empty or repeated `params`.
   */
  constructor(params: readonly Parameter[], options?: RMSPropOptions) {
    const parameters = readParams(params);
    this.options = readOptions(OWNER, options);
    if (this.options.device === 'cuda' && !cudaAvailable()) {
      throw new Error(
        "For 'RMSProp', the 'device' 'cuda' is not available: this build has no CUDA kernels or " +
          "no usable GPU was found (cudaAvailable() is false). Use device: 'cpu'.",
      );
    }
    const { centered, weightDecay, learningRate } = this.options;
    const decayAll = appliesWeightDecay(weightDecay);
    this.slots = parameters.map((param): Slot => {
      const size = param.size;
      const dtype = param.dtype;
      const state: ParameterState = Object.freeze({
        meanSquare: allocate(dtype, size, 1),
        moment: allocate(dtype, size, 0),
        ...(centered ? { meanGrad: allocate(dtype, size, 0) } : {}),
      });
      const decays = decayAll && decaysByName(param.name);
      return { param, dtype, size, state, lr: learningRate, weightDecay: decays ? weightDecay : null };
    });
    this.slotOf = new Map(this.slots.map((slot) => [slot.param, slot]));
    this.plan = new Float64Array(layout.headerSize + this.slots.length * layout.tensorStride);
    this.plan[layout.decay] = this.options.decay;
    this.plan[layout.momentum] = this.options.momentum;
    this.plan[layout.epsilon] = this.options.epsilon;
    this.plan[layout.invLossScale] = 1 / this.options.lossScale;
    this.slots.forEach((slot, i) => {
      const at = layout.headerSize + i * layout.tensorStride;
      this.plan[at + layout.flags] = slot.weightDecay ? layout.applyWeightDecay : 0;
    });
    this.native = new binding.NativeOptimizer(
      this.slots.map((s) => s.param.data),
      this.slots.map((s) => s.state.meanSquare),
      this.slots.map((s) => s.state.moment),
      centered ? this.slots.map((s) => s.state.meanGrad as FloatArray) : null,
      this.plan,
    );
    this.gradBuffers = this.slots.map((s) => s.param.data);
  }

  /** The parameters, in update order. */
  get parameters(): readonly Parameter[] {
    return this.slots.map((slot) => slot.param);
  }

  /** The number of completed steps. */
  get globalStep(): number {
    return this.completedSteps;
  }

  /** Whether this optimizer runs centered RMSProp. */
  get centered(): boolean {
    return this.options.centered;
  }

  /** The learning rate the next step will use (throws a `ValueError` if a table has run out). */
  getLr(): number {
    return valueAt(OWNER, 'learningRate', this.options.learningRate, this.completedSteps);
  }

  /** Live views of `param`'s state; writes to them change what the next step uses. */
  state(param: Parameter): ParameterState {
    return this.slotFor(param).state;
  }

  /**
   * Applies one update to every parameter, in place.
   *
   * @param gradients one per parameter, in the order of `parameters`: a typed array of the
   *   parameter's dtype and length, or a `Tensor` of it. Never modified.
   * @returns `true`.
   * @throws TypeError / ValueError before anything changes: a wrong count, type, dtype or length,
   *   or a learning-rate table that has run out. Parameters, state and `globalStep` are then
   *   exactly as they were.
   */
  step(gradients: readonly Gradient[]): true {
    const k = this.completedSteps;
    this.readGradients(gradients);
    this.writeStepValues(k);
    this.native.step(this.gradBuffers);
    this.completedSteps = k + 1;
    return true;
  }

  private slotFor(param: Parameter): Slot {
    if (!(param instanceof Parameter)) throw typeError(OWNER, 'param', 'a Parameter', param);
    const slot = this.slotOf.get(param);
    if (!slot) throw valueError(OWNER, 'param', 'one of the parameters of this optimizer', `'${param.name}'`);
    return slot;
  }

  // Checks every gradient and the parameters' buffers, filling gradBuffers; throws before any write.
  private readGradients(gradients: unknown): void {
    if (!Array.isArray(gradients)) {
      throw typeError(OWNER, 'gradients', 'an array with one gradient per parameter', gradients);
    }
    const slots = this.slots;
    if (gradients.length !== slots.length) {
      throw valueError(OWNER, 'gradients', `an array of ${slots.length} gradients (one per parameter)`, gradients);
    }
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
      if (slot.param.data.length !== slot.size) {
        throw valueError(
          OWNER,
          `parameter '${slot.param.name}'`,
          `backed by ${slot.size} elements (was its buffer transferred?)`,
          slot.param.data,
        );
      }
      this.gradBuffers[i] = array;
    }
  }

  // Evaluates the learning rate and weight decay of step k into the plan; throws before any write.
  private writeStepValues(k: number): void {
    const { learningRate, weightDecay, lossScale } = this.options;
    const lr = valueAt(OWNER, 'learningRate', learningRate, k);
    const wd = valueAt(OWNER, 'weightDecay', weightDecay, k) * lossScale;
    const plan = this.plan;
    for (let i = 0, at = layout.headerSize; i < this.slots.length; i++, at += layout.tensorStride) {
      plan[at + layout.lr] = lr;
      plan[at + layout.weightDecay] = wd;
    }
  }
}

/**
 * Whether the CUDA kernels are built and a usable GPU is present. Never throws.
 * The CUDA backend (cuda/) is not part of this build yet, so this is false everywhere for now.
 */
export function cudaAvailable(): boolean {
  return false;
}

/** The CPU kernel level in use: `'avx512'`, `'avx2'`, `'sse2'`, `'neon'` or `'scalar'`. */
export function simdLevel(): 'avx512' | 'avx2' | 'sse2' | 'neon' | 'scalar' {
  return binding.simdLevel();
}
