/**
 * `rmsprop-native/tfjs`: `TfjsRMSProp`, a TensorFlow.js `Optimizer` that runs this library's
 * RMSProp on a model's variables. TensorFlow.js (`@tensorflow/tfjs-core` and a backend) is an
 * optional peer dependency: only this entry loads it.
 *
 * ```ts
 * model.compile({ optimizer: new TfjsRMSProp({ learningRate: 0.001, centered: true }), loss: 'categoricalCrossentropy' });
 * ```
 */
import type * as tfc from '@tensorflow/tfjs-core';

import { shown, typeError, valueError } from './base/errors';
import type { OrderParamsGroup, ParameterGroup } from './config/groups';
import { readOptions, type RMSPropOptions } from './config/options';
import { RMSProp } from './rmsprop';
import { Parameter, Tensor } from './base/tensor';

function loadTfjs(): typeof tfc {
  try {
    return require('@tensorflow/tfjs-core') as typeof tfc;
  } catch (cause) {
    throw new Error(
      "rmsprop-native/tfjs needs TensorFlow.js: install '@tensorflow/tfjs-core' and a backend " +
        `(e.g. '@tensorflow/tfjs-backend-cpu'), or '@tensorflow/tfjs'. Cause: ${(cause as Error).message}`,
    );
  }
}

const tf = loadTfjs();

const OWNER = 'TfjsRMSProp';

/** A tensor with a name, as tfjs optimizers take and give them. */
type NamedTensor = { name: string; tensor: tfc.Tensor };

/** A parameter group over variables named as in TensorFlow.js (`variable.name`). */
export type TfjsParameterGroup =
  | (Omit<ParameterGroup, 'params'> & { params: readonly string[] })
  | { orderParams: readonly string[] };

/** The options of `RMSProp`, plus parameter groups by variable name. */
export interface TfjsRMSPropOptions extends RMSPropOptions {
  /** MindSpore-style groups; every variable that receives a gradient must be in one. */
  groups?: readonly TfjsParameterGroup[];
}

/** The variable a weight of `getWeights()` belongs to (`<kind>.<variable>`). */
const variableOf = (weight: string) => weight.slice(weight.indexOf('.') + 1);

/** One weight of `setWeights`, copied out of its tensor. */
interface SavedWeight {
  readonly name: string;
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A state dict of saved weights at `step`, each variable named by `rename`. */
function stateDictOf(values: readonly SavedWeight[], step: number, rename: (variable: string) => string): Record<string, Tensor | number> {
  const dict: Record<string, Tensor | number> = { global_step: step };
  for (const { name, data, shape } of values) {
    const kind = name.slice(0, name.indexOf('.'));
    dict[`${kind}.${rename(variableOf(name))}`] = new Tensor(data, shape);
  }
  return dict;
}

function namedGradients(variableGradients: tfc.NamedTensorMap | NamedTensor[]): [string, tfc.Tensor][] {
  return Array.isArray(variableGradients)
    ? variableGradients.map((g) => [g.name, g.tensor] as [string, tfc.Tensor])
    : Object.entries(variableGradients);
}

/**
 * A TensorFlow.js optimizer backed by rmsprop-native: the same options, semantics and parameter
 * groups as `RMSProp` (groups name variables). Each step reads the variables and gradients,
 * updates them with one native call, and assigns the results back. The gradients are
 * `dataSync()`'s new arrays each step: they are handed to the native step as they are (one
 * `readGradients` call), not copied into `gradientBuffers()`, which `npm run bench` measures
 * slower (README, Performance: the per-tensor table). The parameters are the optimizer's own
 * arrays: each step gives each variable a new array of the result (TensorFlow.js keeps a tensor's
 * array by reference, so memory a caller may hold is never written) and copies a variable in only
 * when it no longer holds the array it was given (`npm run bench -- --tfjs-handover`: the copy out
 * is 19–37% of a step, which stays 60–150× faster than tf.train.rmsprop's). Registered for
 * serialization as `TfjsRMSProp`; `getWeights()` / `setWeights()` round-trip its state under
 * MindSpore's names (`mean_square.<variable>`, …) after tfjs's iteration counter.
 */
export class TfjsRMSProp extends tf.Optimizer {
  static className = 'TfjsRMSProp';

  private readonly options: TfjsRMSPropOptions;
  private optimizer?: RMSProp;
  private variables: tfc.Variable[] = [];
  /** The array each variable was last given (its storage until something else assigns it). */
  private readonly given: (Float32Array | undefined)[] = [];
  private readonly byName = new Map<string, number>();
  /** Weights given to `setWeights` before the first step: applied at the first step, by position. */
  private pending?: { readonly names: readonly string[]; readonly values: readonly SavedWeight[]; readonly step: number };

  constructor(options: TfjsRMSPropOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') throw typeError(OWNER, 'options', 'an object', options);
    const { groups, ...rest } = options;
    if (groups !== undefined && !Array.isArray(groups)) throw typeError(OWNER, 'groups', 'an array of groups', groups);
    const resolved = readOptions(OWNER, rest); // mistakes in the options surface now, not at the first step
    if (resolved.parameterSync !== 'step') {
      // Each step copies the variables into the parameters and back: they must be the truth.
      throw valueError(OWNER, 'parameterSync', "'step' (the adapter syncs the variables every step)", resolved.parameterSync);
    }
    this.options = options;
  }

  /**
   * The underlying optimizer, e.g. for `state()` or `saveState()`: `undefined` until the first
   * step names the variables it trains.
   */
  get rmsprop(): RMSProp | undefined {
    return this.optimizer;
  }

  applyGradients(variableGradients: tfc.NamedTensorMap | NamedTensor[]): void {
    const named = namedGradients(variableGradients);
    const optimizer = this.ensureOptimizer(named.map(([name]) => name));
    if (this.pending) this.applyPending(optimizer);
    const gradients: Float32Array[] = new Array(this.variables.length);
    for (const [name, tensor] of named) {
      const index = this.byName.get(name);
      if (index === undefined) throw valueError(OWNER, 'variableGradients', 'gradients of the variables of the first step', shown(`a gradient of '${name}'`));
      gradients[index] = tensor.dataSync() as Float32Array;
    }
    const missing = this.variables.findIndex((_, i) => gradients[i] === undefined);
    if (missing >= 0) {
      throw valueError(OWNER, 'variableGradients', 'a gradient for every variable of the first step', shown(`none for '${this.variables[missing].name}'`));
    }
    // The parameters are this optimizer's own arrays: the variables' values are copied in, and
    // each variable gets a new array of the result. TensorFlow.js's CPU backend keeps a tensor's
    // array by reference (the array a tensor was made from, its clones, a kept snapshot), so
    // stepping its storage in place would rewrite memory the caller may still hold. A variable
    // that still holds the array this optimizer gave it last step holds the parameter's values:
    // no copy in (npm run bench -- --tfjs-handover measures both copies).
    optimizer.parameters.forEach((p, i) => {
      const now = this.variables[i].dataSync() as Float32Array;
      if (now !== this.given[i]) p.data.set(now);
    });
    optimizer.step(gradients);
    tf.tidy(() => {
      optimizer.parameters.forEach((p, i) => {
        this.given[i] = p.data.slice() as Float32Array;
        this.variables[i].assign(tf.tensor(this.given[i], this.variables[i].shape));
      });
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    if (!this.optimizer && this.pending) {
      return [await this.saveIterations(), ...this.pending.values.map(({ name, data, shape }) => ({ name, tensor: tf.tensor(data, [...shape]) }))];
    }
    const state = this.optimizer ? this.optimizer.stateDict() : {};
    const entries = Object.entries(state).filter(([name]) => name !== 'global_step');
    return [await this.saveIterations(), ...entries.map(([name, t]) => ({ name, tensor: tf.tensor((t as Tensor).data, [...(t as Tensor).shape]) }))];
  }

  /**
   * Restores the state `getWeights()` gave (as `tf.loadLayersModel` does for a model saved with
   * `includeOptimizer: true`), by position, as TensorFlow.js's own optimizers do: the i-th saved
   * variable's state goes to the i-th variable this optimizer trains (the same model: the same
   * order; a reloaded model names its variables anew). Before the first step it is kept and
   * applied at the first step, which names the variables; a different count of variables is a
   * `ValueError` then.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const values = await this.extractIterations(weightValues);
    if (values.length === 0) return;
    // Copied now: the caller (tf.loadLayersModel) disposes the tensors once this returns.
    const saved = values.map(({ name, tensor }) => ({ name, data: tensor.dataSync().slice() as Float32Array, shape: tensor.shape }));
    this.pending = { names: [...new Set(saved.map((v) => variableOf(v.name)))], values: saved, step: this.iterations };
    if (this.optimizer) this.applyPending(this.optimizer);
  }

  // The weights of setWeights onto this optimizer's variables, by position.
  private applyPending(optimizer: RMSProp): void {
    const { names, values, step } = this.pending!;
    const trained = optimizer.parameters.map((p) => p.name);
    if (trained.length !== names.length) {
      throw valueError(OWNER, 'setWeights', `weights of as many variables as this model trains (${trained.length})`, shown(`weights of ${names.length}`));
    }
    const renamed = new Map(names.map((name, i) => [name, trained[i]]));
    optimizer.loadStateDict(stateDictOf(values, step, (name) => renamed.get(name)!));
    this.pending = undefined;
  }

  /**
   * The options, for `model.save` (tfjs serializes them as JSON): numbers, booleans and strings,
   * and `groups`. An option that is a function or an object (a learning-rate schedule, a
   * `DynamicLossScaler`) cannot be serialized: a `TypeError` naming it.
   */
  getConfig(): tfc.serialization.ConfigDict {
    const plain = (value: unknown) => typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string';
    const config: tfc.serialization.ConfigDict = {};
    for (const [key, value] of Object.entries(this.options)) {
      if (key === 'groups') continue;
      if (!plain(value)) throw typeError(OWNER, key, 'a number, boolean or string to be serialized', value);
      config[key] = value as number | boolean | string;
    }
    if (this.options.groups) config.groups = JSON.parse(JSON.stringify(this.options.groups));
    return config;
  }

  /**
   * Rebuilds an optimizer from `getConfig()` (as `tf.loadLayersModel` does; the `customObjects`
   * it adds to the config are not options).
   */
  static override fromConfig<T extends tfc.serialization.Serializable>(
    cls: tfc.serialization.SerializableConstructor<T>,
    config: tfc.serialization.ConfigDict,
  ): T {
    const options = { ...config };
    delete options.customObjects;
    return new cls(options as never);
  }

  // Builds the native optimizer over the named variables, once.
  private ensureOptimizer(names: readonly string[]): RMSProp {
    if (this.optimizer) return this.optimizer;
    const registered = tf.engine().registeredVariables;
    const parameters = new Map<string, Parameter>();
    for (const name of names) {
      const variable = registered[name];
      if (!variable) throw valueError(OWNER, 'variable', 'a registered tf.Variable', shown(`'${name}', which is not one`));
      if (variable.dtype !== 'float32') throw typeError(OWNER, `variable '${name}'`, 'float32', variable.dtype);
      parameters.set(name, new Parameter(new Float32Array(variable.size), name, { shape: variable.shape })); // filled at each step
    }
    const { groups, ...options } = this.options;
    const param = (name: string) => {
      const p = parameters.get(name);
      if (!p) throw valueError(OWNER, 'groups', 'names of variables that are trained', shown(`'${name}'`));
      return p;
    };
    const params = groups
      ? groups.map((g) =>
          'orderParams' in g
            ? ({ orderParams: g.orderParams.map(param) } as OrderParamsGroup)
            : ({ ...g, params: g.params.map(param) } as ParameterGroup),
        )
      : [...parameters.values()];
    const optimizer = new RMSProp(params as never, options);
    this.variables = optimizer.parameters.map((p) => registered[p.name]);
    this.variables.forEach((v, i) => this.byName.set(v.name, i));
    this.optimizer = optimizer;
    return optimizer;
  }
}

tf.serialization.registerClass(TfjsRMSProp);
