/**
 * Dynamic loss scaling (MindSpore's `DynamicLossScaleManager`): the scale the gradients arrive
 * multiplied by shrinks when a step meets an inf/NaN gradient (that step is skipped) and grows
 * after `scaleWindow` steps without one. docs/semantics.md §10.
 */
import { finiteNumber, positiveInteger } from '../base/checks';
import { typeError, unknownKeyError, valueError } from '../base/errors';

const OWNER = 'DynamicLossScaler';

/** Options of `new DynamicLossScaler(options)`; every key is optional. */
export interface DynamicLossScalerOptions {
  /** The scale of the first step: a number ≥ 1. Default `2 ** 24`. */
  initLossScale?: number;
  /** What an overflow divides the scale by and a good window multiplies it by: a number ≥ 1. Default `2`. */
  scaleFactor?: number;
  /** Steps without overflow after which the scale grows: a positive integer. Default `2000`. */
  scaleWindow?: number;
}

/**
 * MindSpore's `DynamicLossScaleManager(init_loss_scale = 2**24, scale_factor = 2, scale_window =
 * 2000)`, as the `lossScale` option of `RMSProp`. Each step checks every gradient for inf/NaN in
 * the same native call; on overflow nothing changes (parameters, state, global step), the step
 * returns `false` and the scale becomes max(scale / scaleFactor, 1); otherwise the step applies
 * and, every `scaleWindow` steps counted from the last overflow, the scale is multiplied by
 * `scaleFactor`. The object holds the configuration only: each optimizer keeps its own scale and
 * counters (`opt.lossScale`, and `loss_scale.*` in its state dict), so one scaler may configure
 * several optimizers.
 */
export class DynamicLossScaler {
  readonly initLossScale: number;
  readonly scaleFactor: number;
  readonly scaleWindow: number;

  constructor(options: DynamicLossScalerOptions = {}) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw typeError(OWNER, 'options', 'an object', options);
    }
    const names = ['initLossScale', 'scaleFactor', 'scaleWindow'];
    for (const key of Object.keys(options)) {
      if (!names.includes(key)) throw unknownKeyError(OWNER, 'option', key, names, {});
    }
    const atLeastOne = (key: string, value: unknown) => {
      const x = finiteNumber(OWNER, key, value);
      if (!(x >= 1)) throw valueError(OWNER, key, '>= 1', x);
      return x;
    };
    this.initLossScale = atLeastOne('initLossScale', options.initLossScale ?? 2 ** 24);
    this.scaleFactor = atLeastOne('scaleFactor', options.scaleFactor ?? 2);
    this.scaleWindow = positiveInteger(OWNER, 'scaleWindow', options.scaleWindow ?? 2000);
    Object.freeze(this);
  }

  /** The state before the first step. */
  initialState(): LossScaleState {
    return { scale: this.initLossScale, iteration: 1, lastOverflow: 0 };
  }

  /** The state after a step that overflowed (`overflow`) or applied: MindSpore's `update_loss_scale`. */
  next(state: LossScaleState, overflow: boolean): LossScaleState {
    let { scale, lastOverflow } = state;
    if (overflow) {
      scale = Math.max(scale / this.scaleFactor, 1);
      lastOverflow = state.iteration;
    } else if ((state.iteration - lastOverflow) % this.scaleWindow === 0) {
      scale *= this.scaleFactor;
    }
    return { scale, iteration: state.iteration + 1, lastOverflow };
  }
}

/**
 * A dynamic scaler's counters, as MindSpore's manager keeps them: the scale, the iteration about
 * to run (from 1) and the iteration of the last overflow (0: none yet).
 */
export interface LossScaleState {
  scale: number;
  iteration: number;
  lastOverflow: number;
}

/** The names of a dynamic scaler's counters in state dicts and checkpoints. */
export const LOSS_SCALE_KEYS = ['loss_scale', 'loss_scale_iteration', 'loss_scale_last_overflow'] as const;

/** `state` as the extra scalars of a state dict. */
export function lossScaleEntries(state: LossScaleState): Record<string, number> {
  return { loss_scale: state.scale, loss_scale_iteration: state.iteration, loss_scale_last_overflow: state.lastOverflow };
}

/** The counters read back from a state dict or checkpoint (`where` names it); a ValueError if they are not a state the rule can reach. */
export function lossScaleFromEntries(values: Readonly<Record<string, number>>, where: string): LossScaleState {
  const scale = values.loss_scale;
  const iteration = values.loss_scale_iteration;
  const lastOverflow = values.loss_scale_last_overflow;
  const fail = (key: string, rule: string, value: number) =>
    valueError('RMSProp', key, `${rule} (in ${where})`, value);
  if (!(scale >= 1)) throw fail('loss_scale', '>= 1', scale);
  if (!Number.isSafeInteger(iteration) || iteration < 1) throw fail('loss_scale_iteration', 'an integer >= 1', iteration);
  if (!Number.isSafeInteger(lastOverflow) || lastOverflow < 0 || lastOverflow >= iteration) {
    throw fail('loss_scale_last_overflow', `an integer >= 0 and < loss_scale_iteration (${iteration})`, lastOverflow);
  }
  return { scale, iteration, lastOverflow };
}
