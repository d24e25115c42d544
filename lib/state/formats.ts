/**
 * Other frameworks' state layouts (`stateDict({ format })`, `loadStateDict(dict, { format })`):
 * translations to and from this library's own state dict (MindSpore's names, lib/state/checkpoint.ts),
 * which keeps every check of a load in one place.
 *
 * - `'pytorch'`: `torch.optim.RMSprop.state_dict()`: `{ state: { [index]: { step, square_avg,
 *   momentum_buffer (momentum > 0), grad_avg (centered) } }, param_groups: [{ params, lr, alpha,
 *   eps, weight_decay, momentum, centered, maximize }] }`: one param group per parameter group, with
 *   its own lr and weight decay, parameters numbered as PyTorch does (group by group, in the order
 *   the groups list them, whatever `orderParams` says).
 * - `'keras'`: Keras 3's optimizer variables: `iteration`, `<path>_velocity`, `<path>_momentum`
 *   (momentum > 0), `<path>_average_gradient` (centered), `<path>` the parameter's name with `/` → `_`.
 * - `'tfjs'`: `tf.train.rmsprop`'s `getWeights()` as an object by name: `iter`, `<name>/rms`,
 *   `<name>/momentum`, `<name>/mg` (centered).
 */
import { checkKeys, GLOBAL_STEP, type StateDict } from './checkpoint';
import { typeError, unknownKeyError, ValueError } from '../base/errors';
import type { ParameterEntry } from '../config/groups';
import { valueAt } from '../schedules/learning-rate';
import { oneOf, type ResolvedOptions } from '../config/options';
import type { StepPlan } from '../step/plan';
import { stateDType, Tensor, type AnyParameter } from '../base/tensor';

/** Whose layout a state dict is in. `'mindspore'` is this library's own (the default). */
export type StateFormat = 'mindspore' | 'pytorch' | 'keras' | 'tfjs';

const FORMATS: readonly StateFormat[] = ['mindspore', 'pytorch', 'keras', 'tfjs'];
const OWNER = 'RMSProp';

const readStateFormat = oneOf<StateFormat>(...FORMATS);

/** The `{ format }` argument of `stateDict` / `loadStateDict`. */
export function readFormat(options: unknown, method: string): StateFormat | undefined {
  if (options === undefined) return undefined;
  const owner = `RMSProp.${method}`;
  if (options === null || typeof options !== 'object') throw typeError(owner, 'options', 'an object { format }', options);
  const { format, ...rest } = options as { format?: unknown };
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw unknownKeyError(owner, 'option', unknown, ['format'], {});
  return format === undefined ? undefined : readStateFormat(owner, 'format', format);
}

/** The format a dict is in, from its keys (`loadStateDict` without `{ format }`). */
export function detectFormat(dict: unknown): StateFormat {
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) return 'mindspore';
  const keys = Object.keys(dict);
  if (keys.includes('state') && keys.includes('param_groups')) return 'pytorch';
  if (keys.includes('iteration')) return 'keras';
  if (keys.includes('iter')) return 'tfjs';
  return 'mindspore';
}

// The names of parameter p's mean square, moment and mean gradient in `format`, for writing and
// for reading; STEP_NAME: the name of the global step.
function namesOf(format: 'mindspore' | 'keras' | 'tfjs', p: AnyParameter): { s: string; m: string; mg: string } {
  if (format === 'mindspore') return { s: `mean_square.${p.name}`, m: `moment.${p.name}`, mg: `mean_grad.${p.name}` };
  if (format === 'tfjs') return { s: `${p.name}/rms`, m: `${p.name}/momentum`, mg: `${p.name}/mg` };
  const path = p.name.replace(/\//g, '_');
  return { s: `${path}_velocity`, m: `${path}_momentum`, mg: `${path}_average_gradient` };
}
const STEP_NAME = { keras: 'iteration', tfjs: 'iter' } as const;
const own = (p: AnyParameter) => namesOf('mindspore', p);

/** Where one parameter sits in PyTorch's layout: its group, its index, its group's lr and weight decay now. */
export interface TorchPlace {
  readonly group: number;
  readonly index: number;
  readonly lr: number;
  readonly weightDecay: number;
}

/** Each parameter's place (in `entries` order) at global step k; NaN for a table that has run out. */
export function torchPlaces(entries: readonly ParameterEntry[], plan: StepPlan, k: number): TorchPlace[] {
  let lrs: number[];
  try {
    lrs = plan.learningRates(k);
  } catch {
    lrs = entries.map(() => NaN);
  }
  const decayAt = (e: ParameterEntry) => {
    if (!e.weightDecay) return 0;
    try {
      return valueAt(OWNER, 'weightDecay', e.weightDecay, k);
    } catch {
      return NaN;
    }
  };
  return entries.map((e, i) => ({ group: e.group, index: e.declared, lr: lrs[i], weightDecay: decayAt(e) }));
}

// The param groups' `params` lists PyTorch numbers them with, group by group.
function torchGroups(places: readonly TorchPlace[]): TorchPlace[][] {
  const groups: TorchPlace[][] = [];
  for (const place of places) (groups[place.group] ??= []).push(place);
  return groups.filter(Boolean).map((g) => g.sort((a, b) => a.index - b.index));
}

const listed = (groups: readonly unknown[][]) =>
  `${groups.length} group${groups.length === 1 ? '' : 's'}: ${groups.map((g) => `[${g.join(', ')}]`).join(', ')}`;

/** `canonical` (this library's state dict) in `format`. */
export function toFormat(format: StateFormat, canonical: StateDict, params: readonly AnyParameter[], options: ResolvedOptions, places: readonly TorchPlace[]): object {
  const step = canonical[GLOBAL_STEP] as number;
  const momentum = options.momentum > 0;
  switch (format) {
    case 'mindspore':
      return canonical;
    case 'pytorch': {
      const state: Record<number, Record<string, Tensor | number>> = {};
      params.forEach((p, i) => {
        const k = own(p);
        state[places[i].index] = {
          step,
          square_avg: canonical[k.s] as Tensor,
          ...(momentum ? { momentum_buffer: canonical[k.m] as Tensor } : {}),
          ...(options.centered ? { grad_avg: canonical[k.mg] as Tensor } : {}),
        };
      });
      const paramGroups = torchGroups(places).map((members) => ({
        params: members.map((m) => m.index),
        ...{ lr: members[0].lr, alpha: options.decay, eps: options.epsilon, weight_decay: members[0].weightDecay },
        ...{ momentum: options.momentum, centered: options.centered, maximize: options.maximize },
      }));
      return { state: step === 0 ? {} : state, param_groups: paramGroups };
    }
    case 'keras': {
      const out: Record<string, Tensor | number> = { [STEP_NAME.keras]: step };
      for (const p of params) {
        const [k, theirs] = [own(p), namesOf('keras', p)];
        out[theirs.s] = canonical[k.s];
        if (momentum) out[theirs.m] = canonical[k.m];
        if (options.centered) out[theirs.mg] = canonical[k.mg];
      }
      return out;
    }
    case 'tfjs': {
      // getWeights() order: every mean square, then every moment, then every mean gradient.
      const out: Record<string, Tensor | number> = { [STEP_NAME.tfjs]: step };
      for (const p of params) out[namesOf('tfjs', p).s] = canonical[own(p).s];
      for (const p of params) out[namesOf('tfjs', p).m] = canonical[own(p).m];
      if (options.centered) for (const p of params) out[namesOf('tfjs', p).mg] = canonical[own(p).mg];
      return out;
    }
  }
}

// A zero buffer of parameter p (state a framework does not keep: momentum 0).
const zeros = (p: AnyParameter) => new Tensor(stateDType(p.dtype) === 'float32' ? new Float32Array(p.size) : new Float64Array(p.size), p.shape);

function stepNumber(value: unknown, what: string): number {
  const v = value instanceof Tensor ? (value.size === 1 ? value.data[0] : NaN) : value;
  if (typeof v !== 'number') throw typeError(OWNER, what, 'a number (or a one-element Tensor)', value);
  return v;
}

/**
 * `dict` in `format` as this library's state dict, for `readStateDict` to check (names, dtypes,
 * shapes) like any other. State a framework does not keep (a momentum buffer without momentum) is
 * zero; a framework's entry this optimizer has no use for is an error, as an unknown name is.
 */
export function fromFormat(format: StateFormat, dict: unknown, params: readonly AnyParameter[], options: ResolvedOptions, places: readonly TorchPlace[]): unknown {
  if (format === 'mindspore') return dict;
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw typeError(OWNER, 'stateDict', `a ${format} state dict (an object)`, dict);
  }
  const given = dict as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const momentum = options.momentum > 0;
  if (format === 'pytorch') {
    const state = given.state as Record<string, Record<string, unknown>> | undefined;
    if (state === null || typeof state !== 'object') throw typeError(OWNER, 'stateDict.state', 'an object by parameter index', state);
    if (!Array.isArray(given.param_groups)) throw typeError(OWNER, 'stateDict.param_groups', 'an array', given.param_groups);
    // Another model's (or another grouping's) state is refused before anything is read.
    const wanted = torchGroups(places).map((g) => g.map((m) => m.index));
    const got = (given.param_groups as unknown[]).map((g) => {
      const list = g !== null && typeof g === 'object' ? (g as { params?: unknown }).params : undefined;
      return Array.isArray(list) ? list : ['(no params)'];
    });
    if (listed(got) !== listed(wanted)) {
      throw new ValueError(`For '${OWNER}', the PyTorch 'param_groups' must match this optimizer's parameter groups (${listed(wanted)}), but got ${listed(got)}.`);
    }
    const indices = Object.keys(state);
    if (indices.length === 0) {
      // A PyTorch optimizer that has not stepped: no state yet.
      params.forEach((p) => {
        const k = own(p);
        out[k.s] = new Tensor(zeros(p).data.fill(options.initialMeanSquare), p.shape);
        out[k.m] = zeros(p);
        if (options.centered) out[k.mg] = zeros(p);
      });
      out[GLOBAL_STEP] = 0;
      return out;
    }
    const extra = indices.filter((i) => !(Number(i) >= 0 && Number(i) < params.length && String(Number(i)) === i));
    if (extra.length > 0 || indices.length !== params.length) {
      throw new ValueError(`For '${OWNER}', the PyTorch state must have one entry per parameter, 0 to ${params.length - 1}, but got ${indices.join(', ')}.`);
    }
    const steps = new Set<number>();
    params.forEach((p, i) => {
      const at = places[i].index;
      const entry = state[String(at)];
      const k = own(p);
      const where = `stateDict.state[${at}]`;
      if (entry === null || typeof entry !== 'object') throw typeError(OWNER, where, 'an object', entry);
      steps.add(stepNumber(entry.step, `${where}.step`));
      out[k.s] = entry.square_avg;
      out[k.m] = momentum ? entry.momentum_buffer : zeros(p);
      if (options.centered) out[k.mg] = entry.grad_avg;
      for (const [key, expected] of [['momentum_buffer', momentum], ['grad_avg', options.centered]] as const) {
        if ((entry[key] !== undefined) !== expected) {
          throw new ValueError(`For '${OWNER}', '${where}.${key}' must ${expected ? 'be present' : 'be absent'} with this optimizer's momentum and centered options.`);
        }
      }
    });
    if (steps.size !== 1) throw new ValueError(`For '${OWNER}', every parameter's 'step' in the PyTorch state must be equal, but got ${[...steps].join(', ')}.`);
    out[GLOBAL_STEP] = [...steps][0];
    return out;
  }
  const stepKey = STEP_NAME[format];
  const used = new Set<string>([stepKey]);
  for (const p of params) {
    const theirs = namesOf(format, p);
    const k = own(p);
    const keepsMomentum = format === 'tfjs' || momentum;
    out[k.s] = given[theirs.s];
    used.add(theirs.s);
    out[k.m] = keepsMomentum ? given[theirs.m] : zeros(p);
    if (keepsMomentum) used.add(theirs.m);
    if (options.centered) {
      out[k.mg] = given[theirs.mg];
      used.add(theirs.mg);
    }
  }
  checkKeys(used, Object.keys(given), `${format} state dict`);
  out[GLOBAL_STEP] = stepNumber(given[stepKey], stepKey);
  return out;
}
