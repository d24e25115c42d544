/**
 * The options of `new RMSProp(params, options)`: one table of name, default and reader, used by
 * the constructor (and the source of the table in README.md).
 */
import { boolean, nonNegative, positive } from './checks';
import { typeError, valueError } from './errors';
import {
  resolveLearningRate,
  resolveWeightDecay,
  type LearningRate,
  type StepValue,
  type WeightDecay,
} from './learning-rate';

/** Where the optimizer runs. */
export type Device = 'cpu' | 'cuda';

/**
 * With `device: 'cuda'`, where the parameters' truth lives. `'step'`: in each `Parameter.data`,
 * as on the CPU (every step uploads them first and writes the updated values back). `'manual'`:
 * on the GPU; `syncParameters()` copies them into `Parameter.data`, `uploadParameters()` the other way.
 */
export type ParameterSync = 'step' | 'manual';

/** Options of `new RMSProp(params, options)`; every key is optional. */
export interface RMSPropOptions {
  /** η: a number ≥ 0, or a dynamic form (see `LearningRate`). Default `0.1`. */
  learningRate?: LearningRate;
  /** ρ, the decay of the moving averages: a number ≥ 0. Default `0.9`. */
  decay?: number;
  /** β, the momentum: a number ≥ 0. Default `0`. */
  momentum?: number;
  /** ε, added inside the square root: a number > 0. Default `1e-10`. */
  epsilon?: number;
  /** Whether each parameter's update runs under a per-parameter lock. Default `false`. */
  useLocking?: boolean;
  /** Centered RMSProp (normalises by an estimate of the variance). Default `false`. */
  centered?: boolean;
  /** L: gradients arrive multiplied by L and are divided by it. A number > 0. Default `1`. */
  lossScale?: number;
  /** A number ≥ 0 or a function / object with `at` of the global step. Default `0`. */
  weightDecay?: WeightDecay;
  /** `'cpu'` or `'cuda'`. Default `'cpu'`. */
  device?: Device;
  /** With `device: 'cuda'`: `'step'` or `'manual'` (see `ParameterSync`); ignored on the CPU. Default `'step'`. */
  parameterSync?: ParameterSync;
}

/** The options after validation, in the form the optimizer uses. */
export interface ResolvedOptions {
  learningRate: StepValue;
  decay: number;
  momentum: number;
  epsilon: number;
  useLocking: boolean;
  centered: boolean;
  lossScale: number;
  weightDecay: StepValue;
  device: Device;
  parameterSync: ParameterSync;
}

type Reader<T> = (owner: string, key: string, value: unknown) => T;

/** A reader accepting exactly one of `values` (strings). */
function oneOf<T extends string>(...values: T[]): Reader<T> {
  const expected = values.map((v) => `'${v}'`).join(' or ');
  return (owner, key, value) => {
    if (typeof value !== 'string') throw typeError(owner, key, expected, value);
    if (!(values as string[]).includes(value)) throw valueError(owner, key, expected, value);
    return value as T;
  };
}

interface OptionSpec<T> {
  readonly default: unknown;
  readonly read: Reader<T>;
}

/** Every option: its default and how a given value is checked and read. */
export const OPTION_SPECS: { readonly [K in keyof ResolvedOptions]: OptionSpec<ResolvedOptions[K]> } = {
  learningRate: { default: 0.1, read: resolveLearningRate },
  decay: { default: 0.9, read: nonNegative },
  momentum: { default: 0.0, read: nonNegative },
  epsilon: { default: 1e-10, read: positive },
  useLocking: { default: false, read: boolean },
  centered: { default: false, read: boolean },
  lossScale: { default: 1.0, read: positive },
  weightDecay: { default: 0.0, read: resolveWeightDecay },
  device: { default: 'cpu', read: oneOf<Device>('cpu', 'cuda') },
  parameterSync: { default: 'step', read: oneOf<ParameterSync>('step', 'manual') },
};

const OPTION_NAMES = Object.keys(OPTION_SPECS) as (keyof ResolvedOptions)[];

// Names users bring from MindSpore, PyTorch and TensorFlow.js.
const ALIASES: Readonly<Record<string, keyof ResolvedOptions>> = {
  lr: 'learningRate',
  rho: 'decay',
  alpha: 'decay',
  eps: 'epsilon',
};

/** The key a mistyped one most likely meant, if any (snake_case, case and known aliases). */
export function suggestKey(
  key: string,
  names: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const camel = key.replace(/_+([a-zA-Z])/g, (_, c: string) => c.toUpperCase());
  const folded = camel.toLowerCase();
  return names.find((name) => name.toLowerCase() === folded) ?? aliases[key] ?? aliases[camel] ?? aliases[folded];
}

/** A `TypeError` for an unknown key, naming it and the likely intended one. */
export function unknownKeyError(
  owner: string,
  kind: string,
  key: string,
  names: readonly string[],
  aliases: Readonly<Record<string, string>> = ALIASES,
): TypeError {
  const suggestion = suggestKey(key, names, aliases);
  const hint = suggestion ? ` Did you mean '${suggestion}'?` : '';
  return new TypeError(
    `For '${owner}', '${key}' is not a known ${kind}.${hint} The ${kind}s are: ${names.join(', ')}.`,
  );
}

/** Validates `options` (every rule, before anything is allocated) and fills in defaults. */
export function readOptions(owner: string, options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(owner, 'options', 'an object', options);
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(OPTION_NAMES as string[]).includes(key)) {
      throw unknownKeyError(owner, 'option', key, OPTION_NAMES);
    }
  }
  const resolved: Partial<Record<keyof ResolvedOptions, unknown>> = {};
  for (const name of OPTION_NAMES) {
    const spec = OPTION_SPECS[name] as OptionSpec<unknown>;
    const value = given[name] === undefined ? spec.default : given[name];
    resolved[name] = spec.read(owner, name, value);
  }
  return resolved as ResolvedOptions;
}
