/**
 * Learning rates and weight decays that may change with the global step: how the constructor
 * reads each accepted form once, and how a step evaluates it.
 */
import { nonNegative } from '../base/checks';
import { typeError, valueError } from '../base/errors';
import { dtypeOf, Tensor, type FloatArray } from '../base/tensor';

/**
 * Base class of learning-rate schedules (MindSpore's `LearningRateSchedule`): a subclass returns
 * the learning rate of a global step from `at(globalStep)`. Pass an instance as `learningRate`.
 */
export abstract class LearningRateSchedule {
  /** The learning rate of the step with index `globalStep` (0 for the first step). */
  abstract at(globalStep: number): number;
}

/** A function of the global step (0 for the first step) that returns a learning rate. */
export type LearningRateFunction = (globalStep: number) => number;

/**
 * Every form a learning rate can take: a number ≥ 0 (fixed); a `Tensor` of rank 0 (fixed) or
 * rank 1 (a table: step k uses entry k); a typed array or any iterable of numbers (a table); a
 * `LearningRateSchedule` or a function of the global step.
 */
export type LearningRate =
  | number
  | Tensor
  | FloatArray
  | Iterable<number>
  | LearningRateSchedule
  | LearningRateFunction;

/** A weight decay: a number ≥ 0, or a function / object with `at` of the global step. */
export type WeightDecay = number | ((globalStep: number) => number) | { at(globalStep: number): number };

/** A value resolved for use at each step. */
export type StepValue =
  | { readonly kind: 'fixed'; readonly value: number }
  | { readonly kind: 'table'; readonly values: readonly number[] }
  | { readonly kind: 'function'; readonly at: (globalStep: number) => number; readonly source: unknown };

function checkFixed(owner: string, what: string, value: number): StepValue {
  return { kind: 'fixed', value: nonNegative(owner, what, value) };
}

function tableFrom(owner: string, what: string, values: Iterable<unknown>): StepValue {
  const table: number[] = [];
  for (const v of values) {
    if (typeof v !== 'number') {
      throw typeError(owner, `${what}[${table.length}]`, 'a number', v);
    }
    table.push(v);
  }
  return { kind: 'table', values: table };
}

function isIterable(value: object): value is Iterable<unknown> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

function scheduleMethod(value: object): ((k: number) => number) | undefined {
  const at = (value as { at?: unknown }).at;
  return typeof at === 'function' ? (k: number) => at.call(value, k) as number : undefined;
}

const LR_TYPES = 'a number, a Tensor, a typed array, an iterable of numbers, a LearningRateSchedule or a function';

/** Reads a learning rate of any accepted form (see `LearningRate`). */
export function resolveLearningRate(owner: string, what: string, value: unknown): StepValue {
  if (typeof value === 'number') return checkFixed(owner, what, value);
  if (typeof value === 'function') return { kind: 'function', at: value as LearningRateFunction, source: value };
  if (value === null || typeof value !== 'object') throw typeError(owner, what, LR_TYPES, value);
  if (value instanceof Tensor) {
    if (value.rank === 0) return { kind: 'fixed', value: value.data[0] };
    if (value.rank === 1) return tableFrom(owner, what, value.data);
    throw valueError(owner, what, 'a Tensor of rank 0 or 1', `a Tensor of rank ${value.rank}`);
  }
  if (value instanceof LearningRateSchedule) return { kind: 'function', at: (k) => value.at(k), source: value };
  if (dtypeOf(value) !== undefined || isIterable(value)) {
    return tableFrom(owner, what, value as Iterable<unknown>);
  }
  const at = scheduleMethod(value);
  if (at) return { kind: 'function', at, source: value };
  throw typeError(owner, what, LR_TYPES, value);
}

/** Reads a weight decay: a number ≥ 0, or a function / object with `at` (dynamic). */
export function resolveWeightDecay(owner: string, what: string, value: unknown): StepValue {
  if (typeof value === 'number') return checkFixed(owner, what, value);
  if (typeof value === 'function') return { kind: 'function', at: value as (k: number) => number, source: value };
  const at = value !== null && typeof value === 'object' ? scheduleMethod(value) : undefined;
  if (at) return { kind: 'function', at, source: value };
  throw typeError(owner, what, 'a number, a function of the global step or an object with at(globalStep)', value);
}

/** Whether a step value can change from step to step. */
export function isDynamic(value: StepValue): boolean {
  return value.kind !== 'fixed';
}

/**
 * The value for global step k. A table that has run out is a `ValueError`; a function that
 * returns something other than a number is a `TypeError`. Values are not range-checked.
 */
export function valueAt(owner: string, what: string, value: StepValue, k: number): number {
  switch (value.kind) {
    case 'fixed':
      return value.value;
    case 'table':
      if (k >= value.values.length) {
        throw valueError(
          owner,
          'global step',
          `< ${value.values.length}, the length of the '${what}' table`,
          k,
        );
      }
      return value.values[k];
    case 'function': {
      const result = value.at(k);
      if (typeof result !== 'number') {
        throw typeError(owner, `${what}(${k})`, 'a number', result);
      }
      return result;
    }
  }
}
