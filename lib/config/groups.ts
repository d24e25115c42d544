/**
 * Reading `params`: a list of Parameters, or of parameter groups (MindSpore's group params)
 * `{ params, lr?, weightDecay?, gradCentralization? }` with at most one `{ orderParams }`.
 * The result is one entry per parameter, in update order, with its learning rate, weight decay
 * and centralization flag resolved (docs/semantics.md §4 step 1–2).
 */
import { boolean } from '../base/checks';
import { shown, typeError, unknownKeyError, valueError } from '../base/errors';
import {
  isDynamic,
  resolveLearningRate,
  resolveWeightDecay,
  type LearningRate,
  type StepValue,
  type WeightDecay,
} from '../schedules/learning-rate';
import type { ResolvedOptions } from './options';
import { Parameter, type AnyParameter } from '../base/tensor';

/** A parameter group: parameters sharing a learning rate, weight decay and centralization. */
export interface ParameterGroup {
  /** The group's parameters (non-empty). */
  params: readonly AnyParameter[];
  /** The group's own learning rate, in any form `learningRate` accepts. */
  lr?: LearningRate;
  /** The group's own weight decay (replaces the global one; no beta/gamma name filter). */
  weightDecay?: WeightDecay;
  /** Centre the gradients of the group's rank ≥ 3 parameters on each slice's mean. Default false. */
  gradCentralization?: boolean;
}

/** The update order of the grouped parameters: a permutation of all of them. */
export interface OrderParamsGroup {
  orderParams: readonly AnyParameter[];
}

/** What `new RMSProp(params)` accepts. */
export type ParamsInput = readonly AnyParameter[] | readonly (ParameterGroup | OrderParamsGroup)[];

/** One parameter with everything its update needs. */
export interface ParameterEntry {
  readonly param: AnyParameter;
  readonly lr: StepValue;
  /** The weight decay applied to this parameter, or null where none applies. */
  readonly weightDecay: StepValue | null;
  readonly gradCentralization: boolean;
  /** Which group it came in (0 without groups), and its position in the groups as given (before `orderParams`): PyTorch's numbering. */
  readonly group: number;
  readonly declared: number;
}

export interface ParsedParams {
  readonly entries: readonly ParameterEntry[];
  /** Whether any group carries its own `lr` (then `getLr()` returns one value per parameter). */
  readonly groupLr: boolean;
}

const GROUP_KEYS = ['params', 'lr', 'weightDecay', 'gradCentralization'];
const ORDER_KEY = 'orderParams';
const GROUP_ALIASES = { learningRate: 'lr', learning_rate: 'lr', order_params: ORDER_KEY };

function appliesWeightDecay(weightDecay: StepValue): boolean {
  return isDynamic(weightDecay) || (weightDecay.kind === 'fixed' && weightDecay.value > 0);
}

// Without groups, MindSpore's weight decay skips names containing 'beta' or 'gamma'
// (docs/semantics.md §4 step 1); the other flavours decay every parameter, as their frameworks do.
function decaysByName(name: string): boolean {
  return !name.includes('beta') && !name.includes('gamma');
}

// A group is a plain object literal (a Tensor or an array is not).
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
}

function listOf(owner: string, what: string, value: unknown): unknown[] {
  if (value === undefined || value === null) throw valueError(owner, what, 'a non-empty array of Parameters', value);
  if (typeof value !== 'object' || !(Symbol.iterator in value)) {
    throw typeError(owner, what, 'an array of Parameters', value);
  }
  return Array.from(value as Iterable<unknown>);
}

function parameterList(owner: string, what: string, value: unknown): AnyParameter[] {
  const list = listOf(owner, what, value);
  if (list.length === 0) throw valueError(owner, what, 'a non-empty array of Parameters', list);
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) throw typeError(owner, `${what}[${i}]`, 'a Parameter', p);
  });
  return list as AnyParameter[];
}

// Each parameter once, by object and by name.
function checkUnique(owner: string, params: readonly AnyParameter[], where: (i: number) => string): void {
  const names = new Set<string>();
  const seen = new Set<AnyParameter>();
  params.forEach((p, i) => {
    if (seen.has(p) || names.has(p.name)) {
      throw valueError(owner, where(i), `a parameter not given before (name '${p.name}')`, p);
    }
    seen.add(p);
    names.add(p.name);
  });
}

// Dynamic learning-rate tables must all have one length (the global one counts when it is a table).
function checkTableLengths(owner: string, global: StepValue, groups: readonly StepValue[]): void {
  let length: number | undefined;
  for (const lr of [global, ...groups]) {
    if (lr.kind !== 'table') continue;
    if (length === undefined) length = lr.values.length;
    else if (lr.values.length !== length) {
      throw valueError(owner, 'lr', `a table of the same length as the others (${length})`, `a table of length ${lr.values.length}`);
    }
  }
}

function readGroups(owner: string, list: readonly unknown[], options: ResolvedOptions): ParsedParams {
  const entries: ParameterEntry[] = [];
  const groupLrs: StepValue[] = [];
  let order: AnyParameter[] | undefined;
  let groups = 0;
  list.forEach((group, g) => {
    const where = `params[${g}]`;
    if (!isPlainObject(group)) {
      throw typeError(owner, where, 'a group object like the other elements (not a mix of Parameters and groups)', group);
    }
    const keys = Object.keys(group);
    if (ORDER_KEY in group) {
      if (keys.length !== 1) {
        throw valueError(owner, where, `an object with only the key '${ORDER_KEY}'`, shown(`the keys ${keys.join(', ')}`));
      }
      if (order) throw valueError(owner, where, `the only '${ORDER_KEY}' object`, shown('a second one'));
      order = parameterList(owner, `${where}.${ORDER_KEY}`, group[ORDER_KEY]);
      return;
    }
    for (const key of keys) {
      if (!GROUP_KEYS.includes(key)) throw unknownKeyError(owner, 'group key', key, [...GROUP_KEYS, ORDER_KEY], GROUP_ALIASES);
    }
    const params = parameterList(owner, `${where}.params`, group.params);
    const lr = group.lr === undefined ? options.learningRate : resolveLearningRate(owner, `${where}.lr`, group.lr);
    if (group.lr !== undefined) groupLrs.push(lr);
    const weightDecay = group.weightDecay === undefined
      ? options.weightDecay
      : resolveWeightDecay(owner, `${where}.weightDecay`, group.weightDecay);
    const gradCentralization = boolean(owner, `${where}.gradCentralization`, group.gradCentralization ?? false);
    const decay = appliesWeightDecay(weightDecay) ? weightDecay : null;
    const index = groups++;
    for (const param of params) entries.push({ param, lr, weightDecay: decay, gradCentralization, group: index, declared: entries.length });
  });
  if (entries.length === 0) throw valueError(owner, 'params', 'groups holding at least one parameter', 'only orderParams');
  checkUnique(owner, entries.map((e) => e.param), (i) => `parameter '${entries[i].param.name}'`);
  checkTableLengths(owner, options.learningRate, groupLrs);
  return { entries: order ? reorder(owner, entries, order) : entries, groupLr: groupLrs.length > 0 };
}

function reorder(owner: string, entries: readonly ParameterEntry[], order: readonly AnyParameter[]): ParameterEntry[] {
  const byParam = new Map(entries.map((e) => [e.param, e]));
  const rule = 'a permutation of the grouped parameters';
  if (order.length !== entries.length) {
    throw valueError(owner, ORDER_KEY, `${rule} (${entries.length} of them)`, shown(`${order.length} parameters`));
  }
  const used = new Set<AnyParameter>();
  return order.map((param) => {
    const entry = byParam.get(param);
    if (!entry || used.has(param)) {
      throw valueError(owner, ORDER_KEY, rule, shown(`'${param.name}' ${entry ? 'twice' : 'which is in no group'}`));
    }
    used.add(param);
    return entry;
  });
}

/** Validates `params` (every rule) and resolves each parameter's lr, weight decay and centralization. */
export function readParams(owner: string, params: unknown, options: ResolvedOptions): ParsedParams {
  const list = listOf(owner, 'params', params);
  if (list.length === 0) throw valueError(owner, 'params', 'a non-empty array of Parameters or groups', list);
  if (!(list[0] instanceof Parameter) && isPlainObject(list[0])) return readGroups(owner, list, options);
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) {
      const rule = isPlainObject(p) ? 'a Parameter like the other elements (not a mix of Parameters and groups)' : 'a Parameter';
      throw typeError(owner, `params[${i}]`, rule, p);
    }
  });
  const parameters = list as AnyParameter[];
  checkUnique(owner, parameters, (i) => `params[${i}]`);
  const decays = appliesWeightDecay(options.weightDecay);
  return {
    entries: parameters.map((param, declared) => ({
      param,
      group: 0,
      declared,
      lr: options.learningRate,
      weightDecay: decays && (options.flavor !== 'mindspore' || decaysByName(param.name)) ? options.weightDecay : null,
      gradCentralization: false,
    })),
    groupLr: false,
  };
}
