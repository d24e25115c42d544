/**
 * Sharing one optimizer across worker threads: the structured-clonable handle of `opt.share()`
 * and how `RMSProp.fromShared` reads it back. Parameters, state and the global step live on
 * SharedArrayBuffers, so every thread works on the same memory.
 */
import { DynamicLossScaler } from '../schedules/loss-scale';
import { types } from 'node:util';

import { typeError, valueError } from '../base/errors';
import type { ParameterEntry } from '../config/groups';
import type { StepValue } from '../schedules/learning-rate';
import { readOptions, type ResolvedOptions } from '../config/options';
import type { StepPlan } from '../step/plan';
import type { ParameterState } from './state';
import {
  CosineDecayLR,
  ExponentialDecayLR,
  InverseDecayLR,
  NaturalExpDecayLR,
  PolynomialDecayLR,
  WarmUpLR,
} from '../schedules/schedules';
import { dtypeOf, Parameter, type FloatArray } from '../base/tensor';

/** A learning rate or weight decay in a form that crosses threads. */
export type SharedStepValue =
  | { readonly kind: 'fixed'; readonly value: number }
  | { readonly kind: 'table'; readonly values: readonly number[] }
  | { readonly kind: 'schedule'; readonly schedule: string; readonly args: readonly (number | boolean)[] };

/** One parameter of a shared optimizer, with its state views. */
export interface SharedParameter {
  readonly name: string;
  readonly shape: readonly number[];
  readonly requiresGrad: boolean;
  readonly data: FloatArray;
  readonly meanSquare: FloatArray;
  readonly moment: FloatArray;
  readonly meanGrad?: FloatArray;
  /** Index into `lrs`. */
  readonly lr: number;
  /** Index into `weightDecays`, or -1 where none applies. */
  readonly weightDecay: number;
  readonly gradCentralization: boolean;
  /** Its group and its position in the groups as given (ParameterEntry). */
  readonly group: number;
  readonly declared: number;
}

/** The options a handle carries. */
export type SharedOptions = Readonly<Omit<ResolvedOptions, 'learningRate' | 'weightDecay' | 'parameterSync'>>;

/** What `opt.share()` returns: pass it to another thread (postMessage, workerData). */
export interface SharedRMSProp {
  readonly kind: 'rmsprop-native/shared';
  readonly version: 1;
  /** Every option but the learning rate and weight decay (those travel in `lrs` / `weightDecays`) and `parameterSync` (CPU only). */
  readonly options: SharedOptions;
  readonly groupLr: boolean;
  readonly lrs: readonly SharedStepValue[];
  readonly weightDecays: readonly SharedStepValue[];
  readonly parameters: readonly SharedParameter[];
  /** The global step, an Int32Array of one element on a SharedArrayBuffer. */
  readonly globalStep: Int32Array;
}

type ScheduleClass = new (...args: never[]) => object;

// Our schedule classes and the constructor arguments each one keeps, in order.
const SCHEDULES: readonly [string, ScheduleClass, (s: never) => (number | boolean)[]][] = [
  ['ExponentialDecayLR', ExponentialDecayLR, (s: ExponentialDecayLR) => [s.learningRate, s.decayRate, s.decaySteps, s.isStair]],
  ['NaturalExpDecayLR', NaturalExpDecayLR, (s: NaturalExpDecayLR) => [s.learningRate, s.decayRate, s.decaySteps, s.isStair]],
  ['InverseDecayLR', InverseDecayLR, (s: InverseDecayLR) => [s.learningRate, s.decayRate, s.decaySteps, s.isStair]],
  ['CosineDecayLR', CosineDecayLR, (s: CosineDecayLR) => [s.minLr, s.maxLr, s.decaySteps]],
  ['PolynomialDecayLR', PolynomialDecayLR, (s: PolynomialDecayLR) => [s.learningRate, s.endLearningRate, s.decaySteps, s.power, s.updateDecaySteps]],
  ['WarmUpLR', WarmUpLR, (s: WarmUpLR) => [s.learningRate, s.warmupSteps]],
];

/** Whether a typed array lives on a SharedArrayBuffer (from any realm). */
export function isShared(array: ArrayBufferView): boolean {
  return types.isSharedArrayBuffer(array.buffer);
}

/** A step value as it crosses threads; functions and foreign schedules cannot. */
export function serializeStepValue(value: StepValue, what: string): SharedStepValue {
  if (value.kind === 'fixed') return { kind: 'fixed', value: value.value };
  if (value.kind === 'table') return { kind: 'table', values: [...value.values] };
  for (const [name, Class, args] of SCHEDULES) {
    if (value.source instanceof Class) return { kind: 'schedule', schedule: name, args: args(value.source as never) };
  }
  throw typeError(
    'RMSProp.share',
    what,
    "a number, a table or one of this library's schedule classes (a function cannot cross threads)",
    value.source,
  );
}

/** Rebuilds a step value in this thread. */
export function deserializeStepValue(value: SharedStepValue, what: string): StepValue {
  if (value?.kind === 'fixed' && typeof value.value === 'number') return { kind: 'fixed', value: value.value };
  if (value?.kind === 'table' && Array.isArray(value.values)) return { kind: 'table', values: [...value.values] };
  if (value?.kind === 'schedule') {
    const entry = SCHEDULES.find(([name]) => name === value.schedule);
    if (entry && Array.isArray(value.args)) {
      const schedule = new entry[1](...(value.args as never[])) as { at(k: number): number };
      return { kind: 'function', at: (k) => schedule.at(k), source: schedule };
    }
  }
  throw typeError('RMSProp.fromShared', what, 'a shared learning rate or weight decay', value);
}

/** Checks that a handle is what `share()` made (TypeError otherwise). */
export function checkHandle(handle: unknown): SharedRMSProp {
  const h = handle as Partial<SharedRMSProp> | null;
  if (h === null || typeof h !== 'object' || h.kind !== 'rmsprop-native/shared' || h.version !== 1) {
    throw typeError('RMSProp.fromShared', 'handle', 'the object returned by share()', handle);
  }
  if (!types.isInt32Array(h.globalStep) || !isShared(h.globalStep) || !Array.isArray(h.parameters)) {
    throw typeError('RMSProp.fromShared', 'handle', 'the object returned by share() (its buffers shared)', handle);
  }
  h.parameters.forEach((p, i) => {
    for (const key of ['data', 'meanSquare', 'moment'] as const) {
      const array = p?.[key];
      if (dtypeOf(array) === undefined || !isShared(array as FloatArray)) {
        throw typeError('RMSProp.fromShared', `handle.parameters[${i}].${key}`, 'a typed array on a SharedArrayBuffer', array);
      }
    }
  });
  if (h.parameters.length === 0) throw valueError('RMSProp.fromShared', 'handle.parameters', 'non-empty', h.parameters);
  return h as SharedRMSProp;
}

/** What an optimizer is made of, as `share()` reads it and `fromShared` rebuilds it. */
export interface OptimizerParts {
  readonly options: ResolvedOptions;
  readonly entries: readonly ParameterEntry[];
  readonly groupLr: boolean;
  readonly states: readonly ParameterState[];
  readonly counter: Int32Array;
}

/** The handle of `opt.share()` (a ValueError / TypeError for what cannot cross threads). */
export function makeHandle(parts: OptimizerParts, plan: StepPlan): SharedRMSProp {
  const { options, entries, states } = parts;
  if (options.device === 'cuda') {
    throw valueError('RMSProp.share', 'device', "'cpu' (sharing across threads is CPU only)", 'cuda');
  }
  if (options.lossScale instanceof DynamicLossScaler) {
    throw valueError('RMSProp.share', 'lossScale', "a number (a DynamicLossScaler's scale and counters belong to one optimizer)", options.lossScale);
  }
  const half = entries.find((e) => e.param.dtype !== 'float32' && e.param.dtype !== 'float64');
  if (half) {
    throw valueError('RMSProp.share', `parameter '${half.param.name}'`, 'float32 or float64 (half precision cannot be shared yet)', half.param.dtype);
  }
  const unshared = entries.find((e) => !isShared(e.param.data));
  if (unshared) {
    throw valueError('RMSProp.share', `parameter '${unshared.param.name}'`, 'backed by a SharedArrayBuffer', unshared.param.data);
  }
  const { learningRate, weightDecay, parameterSync, ...shared } = options;
  return {
    kind: 'rmsprop-native/shared',
    version: 1,
    options: shared,
    groupLr: parts.groupLr,
    lrs: plan.lrSources.map((v, i) => serializeStepValue(v, `learning rate of parameter ${i}`)),
    weightDecays: plan.weightDecaySources.map((v, i) => serializeStepValue(v, `weight decay of parameter ${i}`)),
    parameters: entries.map(({ param, gradCentralization, group, declared }, i) => ({
      name: param.name,
      shape: param.shape,
      requiresGrad: param.requiresGrad,
      data: param.data as FloatArray,
      meanSquare: states[i].meanSquare,
      moment: states[i].moment,
      ...(states[i].meanGrad ? { meanGrad: states[i].meanGrad } : {}),
      lr: plan.lrIndex[i],
      weightDecay: plan.weightDecayIndex[i],
      gradCentralization,
      group,
      declared,
    })),
    globalStep: parts.counter,
  };
}

/** The parts of the optimizer whose `share()` made `handle`, over the same shared memory. */
export function readHandle(handle: unknown): OptimizerParts {
  const h = checkHandle(handle);
  // The learning rates travel per parameter (`lrs`); the option is only a stand-in here, for the
  // flavours that require one.
  const options = readOptions('RMSProp', { ...h.options, learningRate: 0 });
  const lrs = h.lrs.map((v, i) => deserializeStepValue(v, `lrs[${i}]`));
  const weightDecays = h.weightDecays.map((v, i) => deserializeStepValue(v, `weightDecays[${i}]`));
  const entries: ParameterEntry[] = h.parameters.map((p, i) => ({
    param: new Parameter(p.data, p.name, { shape: p.shape, requiresGrad: p.requiresGrad }),
    lr: lrs[p.lr],
    weightDecay: p.weightDecay >= 0 ? weightDecays[p.weightDecay] : null,
    gradCentralization: p.gradCentralization,
    group: p.group ?? 0,
    declared: p.declared ?? i,
  }));
  const states: ParameterState[] = h.parameters.map((p) =>
    Object.freeze({ meanSquare: p.meanSquare, moment: p.moment, ...(p.meanGrad ? { meanGrad: p.meanGrad } : {}) }),
  );
  return { options, entries, groupLr: h.groupLr, states, counter: h.globalStep };
}
