/**
 * The step plan: the one channel for numbers from the facade to the native step (a Float64Array
 * laid out by binding/core/plan.h: the shared hyper-parameters, then per parameter its learning
 * rate, weight decay, flags and slices), and the distinct learning rates and weight decays that
 * fill it for each step (each schedule is evaluated once per step).
 */
import type { ParameterEntry } from '../config/groups';
import { valueAt, type StepValue } from '../schedules/learning-rate';
import { binding } from '../native/native';
import { initialLossScale, skipsNonFinite, type ResolvedOptions } from '../config/options';

const OWNER = 'RMSProp';
const layout = binding.planLayout;

/**
 * A tensor's variant bits: each knob of the binding's table (include/variants.h) whose option has
 * its value, the weighted ones only where the tensor has a weight decay.
 */
export function variantBits(options: ResolvedOptions, weighted: boolean): number {
  let bits = 0;
  for (const knob of layout.variants) {
    if (options[knob.option as keyof ResolvedOptions] === knob.value && (weighted || !knob.weighted)) bits |= knob.bit;
  }
  return bits;
}

// Index of `value` in `list`, appending it when new.
function indexIn(list: StepValue[], value: StepValue): number {
  const at = list.indexOf(value);
  return at >= 0 ? at : list.push(value) - 1;
}

export class StepPlan {
  /** The plan the binding reads at every step. */
  readonly values: Float64Array;
  /** The distinct learning rates and weight decays, in first-use order. */
  readonly lrSources: readonly StepValue[];
  readonly weightDecaySources: readonly StepValue[];
  /** Per parameter: its index into `lrSources`, and into `weightDecaySources` (-1: none applies). */
  readonly lrIndex: readonly number[];
  readonly weightDecayIndex: readonly number[];
  private readonly lrValues: Float64Array;
  private readonly weightDecayValues: Float64Array;
  /** What a weight decay value is multiplied by in the plan (see `setLossScale`). */
  private weightDecayFactor = 1;
  private readonly decoupled: boolean;
  private readonly sign: number;

  constructor(entries: readonly ParameterEntry[], options: ResolvedOptions) {
    const lrSources: StepValue[] = [];
    const weightDecaySources: StepValue[] = [];
    this.lrIndex = entries.map((entry) => indexIn(lrSources, entry.lr));
    this.weightDecayIndex = entries.map((entry) => (entry.weightDecay ? indexIn(weightDecaySources, entry.weightDecay) : -1));
    this.lrSources = lrSources;
    this.weightDecaySources = weightDecaySources;
    this.lrValues = new Float64Array(lrSources.length);
    this.weightDecayValues = new Float64Array(weightDecaySources.length);
    this.decoupled = options.weightDecayMode === 'decoupled';
    this.sign = options.maximize ? -1 : 1;

    const plan = new Float64Array(layout.headerSize + entries.length * layout.tensorStride);
    plan[layout.decay] = options.decay;
    plan[layout.momentum] = options.momentum;
    // tf.train.rmsprop's centered σ is √(s − (ḡ² + ε)): its ε enters with a minus sign.
    const negated = options.flavor === 'tfjs' && options.centered && options.epsilonPlacement === 'inside';
    plan[layout.epsilon] = negated ? -options.epsilon : options.epsilon;
    plan[layout.checkFinite] = skipsNonFinite(options) ? 1 : 0;
    plan[layout.complementInDouble] = options.decayComplement === 'float64' ? 1 : 0;
    entries.forEach((entry, i) => {
      const at = layout.headerSize + i * layout.tensorStride;
      // Centralization applies to rank ≥ 3 parameters (convolution kernels) of flagged groups.
      const centralize = entry.gradCentralization && entry.param.rank >= 3;
      plan[at + layout.flags] = variantBits(options, entry.weightDecay !== null) | (centralize ? layout.centralize : 0);
      plan[at + layout.slices] = centralize ? entry.param.shape[0] : 1;
    });
    this.values = plan;
    this.setLossScale(initialLossScale(options));
  }

  /**
   * The loss scale L of the next steps: 1/L in the plan, and the factor of a coupled weight decay
   * (wd·L; the next `write` applies it). Coupled weight decay acts on the scaled gradient; with
   * maximize on its negation, folded here into the signs of wd·L and 1/L (docs/semantics.md §9).
   * Decoupled: wd itself.
   */
  setLossScale(scale: number): void {
    this.values[layout.invLossScale] = this.sign / scale;
    this.weightDecayFactor = this.decoupled ? 1 : this.sign * scale;
  }

  /** The learning rate of each parameter at step k (a table that has run out throws). */
  learningRates(k: number): number[] {
    this.evaluateLearningRates(k);
    return this.lrIndex.map((i) => this.lrValues[i]);
  }

  /** The learning rate of the first source at step k (the one rate when no group has its own). */
  firstLearningRate(k: number): number {
    this.evaluateLearningRates(k);
    return this.lrValues[0];
  }

  /**
   * Writes the learning rates and weight decays of step k into the plan (a coupled weight decay
   * times the loss scale, docs/semantics.md §4 step 1). Evaluates everything first: a table that
   * has run out throws before anything is written.
   */
  write(k: number): void {
    this.evaluateLearningRates(k);
    for (let i = 0; i < this.weightDecaySources.length; i++) {
      this.weightDecayValues[i] = valueAt(OWNER, 'weightDecay', this.weightDecaySources[i], k) * this.weightDecayFactor;
    }
    const plan = this.values;
    for (let i = 0, at = layout.headerSize; i < this.lrIndex.length; i++, at += layout.tensorStride) {
      plan[at + layout.lr] = this.lrValues[this.lrIndex[i]];
      const wd = this.weightDecayIndex[i];
      plan[at + layout.weightDecay] = wd >= 0 ? this.weightDecayValues[wd] : 0;
    }
  }

  private evaluateLearningRates(k: number): void {
    for (let i = 0; i < this.lrSources.length; i++) {
      this.lrValues[i] = valueAt(OWNER, 'learningRate', this.lrSources[i], k);
    }
  }
}
