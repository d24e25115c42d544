/**
 * Sharing one optimizer across worker threads: the structured-clonable handle of `opt.share()`
 * and how `RMSProp.fromShared` reads it back. Parameters, state and the global step live on
 * SharedArrayBuffers, so every thread works on the same memory.
 */
import { types } from 'node:util';

import { typeError, valueError } from './errors';
import type { StepValue } from './learning-rate';
import type { Device } from './options';
import {
  CosineDecayLR,
  ExponentialDecayLR,
  InverseDecayLR,
  NaturalExpDecayLR,
  PolynomialDecayLR,
  WarmUpLR,
} from './schedules';
import { dtypeOf, type FloatArray } from './tensor';

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
}

/** What `opt.share()` returns: pass it to another thread (postMessage, workerData). */
export interface SharedRMSProp {
  readonly kind: 'rmsprop-native/shared';
  readonly version: 1;
  readonly options: {
    readonly decay: number;
    readonly momentum: number;
    readonly epsilon: number;
    readonly useLocking: boolean;
    readonly centered: boolean;
    readonly lossScale: number;
    readonly device: Device;
  };
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
