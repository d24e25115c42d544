/**
 * The options of `new RMSProp(params, options)`: one table of name, default and reader, used by
 * the constructor (and the source of the table in README.md).
 */
import { boolean, nonNegative, positive } from '../base/checks';
import { typeError, unknownKeyError, valueError } from '../base/errors';
import type { Communicator } from '../distributed/communicator';
import { DynamicLossScaler } from '../schedules/loss-scale';
import {
  resolveLearningRate,
  resolveWeightDecay,
  type LearningRate,
  type WeightDecay,
} from '../schedules/learning-rate';

/** Where the optimizer runs. */
export type Device = 'cpu' | 'cuda';

/**
 * With `device: 'cuda'`, where the parameters' truth lives. `'step'`: in each `Parameter.data`,
 * as on the CPU (every step uploads them first and writes the updated values back). `'manual'`:
 * on the GPU; `syncParameters()` copies them into `Parameter.data`, `uploadParameters()` the other way.
 */
export type ParameterSync = 'step' | 'manual';

/**
 * Whose RMSProp to reproduce: each flavour sets the defaults and the knobs below exactly as that
 * framework does (see `FLAVORS` and README, "Porting from …"). Default `'mindspore'`.
 */
export type Flavor = 'mindspore' | 'tf1' | 'pytorch' | 'keras' | 'tfjs' | 'optax';

/** Options of `new RMSProp(params, options)`; every key is optional. */
export interface RMSPropOptions {
  /** Whose RMSProp (see `Flavor`); the defaults of every other option follow it. Default `'mindspore'`. */
  flavor?: Flavor;
  /**
   * η: a number ≥ 0, or a dynamic form (see `LearningRate`). Default `0.1` (the flavour's:
   * PyTorch `0.01`, Keras `0.001`; required with `'tf1'`, `'tfjs'` and `'optax'`, as there).
   */
  learningRate?: LearningRate;
  /** ρ, the decay of the moving averages: a number ≥ 0. Default `0.9` (PyTorch `0.99`). */
  decay?: number;
  /** β, the momentum: a number ≥ 0. Default `0`. */
  momentum?: number;
  /** ε: a number > 0. Default `1e-10` (PyTorch and optax `1e-8`, Keras and tfjs `1e-7`). */
  epsilon?: number;
  /** Where ε goes: `'inside'` √(s + ε) or `'outside'` √s + ε. Default `'inside'` (PyTorch `'outside'`). */
  epsilonPlacement?: EpsilonPlacement;
  /** s before the first step: a number ≥ 0. Default `1` (every other flavour `0`). */
  initialMeanSquare?: number;
  /**
   * `true`: m ← β·m + η·g/σ, w ← w − m; `false`: m ← β·m + g/σ, w ← w − η·m.
   * Default `true` (PyTorch `false`).
   */
  lrInMomentum?: boolean;
  /**
   * `'coupled'`: wd·w is added to the gradient; `'decoupled'`: w ← w − (w·wd)·η before the update
   * (Keras 3's order of operations).
   * Default `'coupled'` (Keras `'decoupled'`).
   */
  weightDecayMode?: WeightDecayMode;
  /**
   * How 1 − ρ is formed for float32 (and half-precision) parameters: `'compute'` in float32, as
   * 1 − float32(ρ) (MindSpore's and TF1's kernels); `'float64'` in double and rounded once, as
   * float32(1 − ρ) (PyTorch, Keras, tfjs and optax, whose ρ is a host double). At ρ = 0.999 the
   * two differ by 1.3e-5 relative. float64 parameters: the same either way. Default `'compute'`
   * (those four flavours: `'float64'`).
   */
  decayComplement?: DecayComplement;
  /** Ascend instead of descend (the gradient negated first), as PyTorch's `maximize`. Default `false`. */
  maximize?: boolean;
  /** Nesterov momentum, as optax's `rmsprop(nesterov=True)`: w moves by β·m + η·g/σ. Default `false`. */
  nesterov?: boolean;
  /** Whether each parameter's update runs under a per-parameter lock. Default `false`. */
  useLocking?: boolean;
  /** Centered RMSProp (normalises by an estimate of the variance). Default `false`. */
  centered?: boolean;
  /**
   * L: gradients arrive multiplied by L and are divided by it. A number > 0, or a
   * `DynamicLossScaler` (the scale then follows MindSpore's dynamic rule, and a step with an
   * inf/NaN gradient is skipped). Default `1`.
   */
  lossScale?: number | DynamicLossScaler;
  /**
   * Skip a step whose gradients hold an inf or NaN (checked in the same native call, before
   * anything is written): nothing changes and `step()` returns `false`. Always on with a
   * `DynamicLossScaler`. On the CPU and on the GPU. Default `false`.
   */
  skipNonFinite?: boolean;
  /**
   * For float16 and bfloat16 parameters: keep a float32 copy of each as optimizer state
   * (`master.<name>` in state dicts and checkpoints); updates apply to it and the parameter is
   * its rounding, so updates smaller than half a unit in the last place are not lost. Default `false`.
   */
  masterWeights?: boolean;
  /** A number ≥ 0 or a function / object with `at` of the global step. Default `0`. */
  weightDecay?: WeightDecay;
  /** `'cpu'` or `'cuda'`. Default `'cpu'`. */
  device?: Device;
  /** With `device: 'cuda'`: `'step'` or `'manual'` (see `ParameterSync`); ignored on the CPU. Default `'step'`. */
  parameterSync?: ParameterSync;
  /**
   * Data-parallel training: the communicator of `await distributed.init()`. Every rank builds
   * the optimizer with the same parameters and options; its parameters become rank 0's; each
   * step is collective and uses the mean of the ranks' gradients (README, "Data-parallel
   * training"). A communicator of size 1 changes nothing.
   */
  communicator?: Communicator;
  /**
   * With a `communicator`: each rank keeps the state (meanSquare, moment, meanGrad, master
   * weights) of its 1/size of the elements only and steps those (ZeRO-1). `false`: every rank
   * keeps all the state. Default `true`.
   */
  shardState?: boolean;
  /**
   * With a `communicator` on the `'mpi'` backend: the most bytes one MPI call of the exchange
   * carries (each dtype's gradients and parameters go in buckets of at most this size). An
   * integer from 1024 to 2^30; the same on every rank. Default 64 MiB. The other backends
   * accept it and need no buckets.
   */
  bucketBytes?: number;
}

/** Where ε goes in σ. */
export type EpsilonPlacement = 'inside' | 'outside';

/** How weight decay applies. */
export type WeightDecayMode = 'coupled' | 'decoupled';

/** Where 1 − ρ is formed: in the compute type, or in float64 and rounded once. */
export type DecayComplement = 'compute' | 'float64';

type Reader<T> = (owner: string, key: string, value: unknown) => T;

// A number > 0 or a DynamicLossScaler.
function lossScaleOption(owner: string, key: string, value: unknown): number | DynamicLossScaler {
  if (value instanceof DynamicLossScaler) return value;
  if (typeof value !== 'number') throw typeError(owner, key, 'a number > 0 or a DynamicLossScaler', value);
  return positive(owner, key, value);
}

/** The loss scale of the first step. */
export function initialLossScale(options: ResolvedOptions): number {
  return options.lossScale instanceof DynamicLossScaler ? options.lossScale.initLossScale : options.lossScale;
}

/** Whether a step with an inf/NaN gradient is skipped (a dynamic scaler implies it). */
export function skipsNonFinite(options: ResolvedOptions): boolean {
  return options.skipNonFinite || options.lossScale instanceof DynamicLossScaler;
}

/** A reader accepting exactly one of `values` (strings). */
export function oneOf<T extends string>(...values: T[]): Reader<T> {
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

/**
 * Every option: its default and how a given value is checked and read (what the reader returns
 * is the option's type in `ResolvedOptions`).
 */
export const OPTION_SPECS = {
  flavor: { default: 'mindspore', read: oneOf<Flavor>('mindspore', 'tf1', 'pytorch', 'keras', 'tfjs', 'optax') },
  learningRate: { default: 0.1, read: resolveLearningRate },
  decay: { default: 0.9, read: nonNegative },
  momentum: { default: 0.0, read: nonNegative },
  epsilon: { default: 1e-10, read: positive },
  epsilonPlacement: { default: 'inside', read: oneOf<EpsilonPlacement>('inside', 'outside') },
  initialMeanSquare: { default: 1, read: nonNegative },
  lrInMomentum: { default: true, read: boolean },
  weightDecayMode: { default: 'coupled', read: oneOf<WeightDecayMode>('coupled', 'decoupled') },
  decayComplement: { default: 'compute', read: oneOf<DecayComplement>('compute', 'float64') },
  maximize: { default: false, read: boolean },
  nesterov: { default: false, read: boolean },
  useLocking: { default: false, read: boolean },
  centered: { default: false, read: boolean },
  lossScale: { default: 1.0, read: lossScaleOption },
  skipNonFinite: { default: false, read: boolean },
  masterWeights: { default: false, read: boolean },
  weightDecay: { default: 0.0, read: resolveWeightDecay },
  device: { default: 'cpu', read: oneOf<Device>('cpu', 'cuda') },
  parameterSync: { default: 'step', read: oneOf<ParameterSync>('step', 'manual') },
} satisfies Record<string, OptionSpec<unknown>>;

/** The options after validation, in the form the optimizer uses: each option's reader's type. */
export type ResolvedOptions = { [K in keyof typeof OPTION_SPECS]: ReturnType<(typeof OPTION_SPECS)[K]['read']> };

const OPTION_NAMES = Object.keys(OPTION_SPECS) as (keyof ResolvedOptions)[];

/** What a flavour changes: its framework's defaults (`required`: no default there either). */
interface FlavorSpec {
  readonly framework: string;
  readonly defaults: Partial<Record<keyof ResolvedOptions, unknown>>;
  readonly required?: readonly (keyof ResolvedOptions)[];
}

/**
 * Each flavour's defaults, from its framework's source (README, "Porting from …", cites file and
 * version). The knobs' defaults are those of `'mindspore'` (`OPTION_SPECS`) unless given here.
 */
export const FLAVORS: { readonly [F in Flavor]: FlavorSpec } = {
  mindspore: { framework: 'mindspore.nn.RMSProp', defaults: {} },
  tf1: { framework: 'tf.compat.v1.train.RMSPropOptimizer', defaults: {}, required: ['learningRate'] },
  pytorch: {
    framework: 'torch.optim.RMSprop',
    defaults: { learningRate: 0.01, decay: 0.99, epsilon: 1e-8, epsilonPlacement: 'outside', initialMeanSquare: 0, lrInMomentum: false, decayComplement: 'float64' },
  },
  keras: {
    framework: 'keras.optimizers.RMSprop (Keras 3)',
    defaults: { learningRate: 0.001, epsilon: 1e-7, initialMeanSquare: 0, weightDecayMode: 'decoupled', decayComplement: 'float64' },
  },
  tfjs: { framework: 'tf.train.rmsprop', defaults: { epsilon: 1e-7, initialMeanSquare: 0, decayComplement: 'float64' }, required: ['learningRate'] },
  optax: { framework: 'optax.rmsprop', defaults: { epsilon: 1e-8, initialMeanSquare: 0, decayComplement: 'float64' }, required: ['learningRate'] },
};

// Names users bring from MindSpore, PyTorch and TensorFlow.js.
const ALIASES: Readonly<Record<string, keyof ResolvedOptions>> = {
  lr: 'learningRate',
  rho: 'decay',
  alpha: 'decay',
  eps: 'epsilon',
  eps_in_sqrt: 'epsilonPlacement',
  epsInSqrt: 'epsilonPlacement',
  initial_scale: 'initialMeanSquare',
  initialScale: 'initialMeanSquare',
  weight_decay: 'weightDecay',
  flavour: 'flavor',
};

/** Validates `options` (every rule, before anything is allocated) and fills in defaults. */
export function readOptions(owner: string, options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(owner, 'options', 'an object', options);
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(OPTION_NAMES as string[]).includes(key)) {
      throw unknownKeyError(owner, 'option', key, OPTION_NAMES, ALIASES);
    }
  }
  const flavor = OPTION_SPECS.flavor.read(owner, 'flavor', given.flavor ?? OPTION_SPECS.flavor.default);
  const { framework, defaults, required = [] } = FLAVORS[flavor];
  const resolved: Partial<Record<keyof ResolvedOptions, unknown>> = {};
  for (const name of OPTION_NAMES) {
    const spec = OPTION_SPECS[name] as OptionSpec<unknown>;
    if (given[name] === undefined && required.includes(name)) {
      throw new TypeError(`For '${owner}', '${name}' is required with flavor '${flavor}' (${framework} has no default).`);
    }
    const value = given[name] === undefined ? (name in defaults ? defaults[name] : spec.default) : given[name];
    resolved[name] = spec.read(owner, name, value);
  }
  const done = resolved as ResolvedOptions;
  if (done.lossScale instanceof DynamicLossScaler && given.skipNonFinite === false) {
    throw valueError(owner, 'skipNonFinite', 'true or omitted with a DynamicLossScaler (it always skips overflowing steps)', false);
  }
  return done;
}
