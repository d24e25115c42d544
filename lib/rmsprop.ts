/**
 * The optimizer's facade: `RMSProp` keeps the meaning (options, groups, learning rates, the
 * global step, checkpoints) and delegates where a step runs to its backend (lib/native/backend.ts),
 * through the machinery of lib/optimizer-core.ts.
 */
import { buildStateDict, decodeState, encodeState, readCheckpointFile, readStateDict, writeFileAtomically, type StateDict } from './state/checkpoint';
import type { DeviceBuffers } from './native/backend';
import { shown, typeError, valueError } from './base/errors';
import { detectFormat, fromFormat, readFormat, toFormat, type StateFormat } from './state/formats';
import type { ParamsInput } from './config/groups';
import type { RMSPropOptions } from './config/options';
import { OptimizerCore, type Gradient } from './optimizer-core';
import { Parts, parallel } from './parts';
import { makeHandle, readHandle, type SharedRMSProp } from './state/sharing';
import type { ParameterState } from './state/state';
import { Parameter, type AnyParameter, type TensorArray } from './base/tensor';

export type { SharedRMSProp, DeviceBuffers, Gradient };

const OWNER = 'RMSProp';

/**
 * MindSpore's RMSProp optimizer (`mindspore.nn.RMSProp`), plain or centered, or another
 * framework's (`flavor`). Each step updates every parameter in place, in one native call, with
 * the best SIMD kernels of the CPU (or on a CUDA GPU). The update, the order of preprocessing
 * (weight decay, gradient centralization, loss scale), the centered guard and the precision rule:
 * docs/semantics.md (README, "The algorithm"). float32 parameters compute in float32 with every
 * hyper-parameter rounded to float32; float64 parameters in float64.
 */
export class RMSProp extends OptimizerCore {
  /**
   * @param params the parameters to train, each once (names unique): a list of `Parameter`s, or
   *   of groups `{ params, lr?, weightDecay?, gradCentralization? }` with at most one
   *   `{ orderParams }` giving the update order.
   * @param options hyper-parameters; see `RMSPropOptions` for each key, its default and range.
   * @throws TypeError for a value of the wrong type or an unknown option or group key.
   * @throws ValueError for a value out of range, empty or repeated params, a bad `orderParams`,
   *   or learning-rate tables of different lengths.
   */
  constructor(params: ParamsInput, options?: RMSPropOptions);
  /** @internal An optimizer over parts already read (`fromShared`, the data-parallel optimizer). */
  constructor(parts: Parts);
  constructor(params: ParamsInput | Parts, options?: RMSPropOptions) {
    // A data-parallel request (a `communicator` option) returns that optimizer instead.
    if (!(params instanceof Parts) && parallel.factory?.wants(options)) return parallel.factory.create(params, options) as RMSProp;
    super(params instanceof Parts ? params : Parts.read(params, options));
  }

  /** The parameters, in update order (the `orderParams` order where given, else group order). */
  get parameters(): readonly AnyParameter[] {
    return this.wholeEntries.map((e) => e.param);
  }

  /** The number of completed steps. */
  get globalStep(): number {
    return this.index.value;
  }

  /**
   * The loss scale L of the next step: the `lossScale` option's number, or a
   * `DynamicLossScaler`'s current scale.
   */
  get lossScale(): number {
    return this.scaling.scale;
  }

  /**
   * The bytes of optimizer state this optimizer holds (meanSquare, moment, meanGrad, master
   * weights); with a communicator and `shardState`, this rank's piece only.
   */
  get stateBytes(): number {
    return this.stateBuffers.reduce((n, b) => n + b.array.byteLength, 0);
  }

  /** Whether this optimizer runs centered RMSProp. */
  get centered(): boolean {
    return this.parts.options.centered;
  }

  /**
   * The learning rate the next step will use: a number, or one per parameter (in `parameters`
   * order) when groups carry their own `lr`. A table that has run out is a `ValueError`.
   */
  getLr(): number | number[] {
    const k = this.globalStep;
    return this.parts.groupLr ? this.wholePlan.learningRates(k) : this.wholePlan.firstLearningRate(k);
  }

  /**
   * Live views of `param`'s state; writes to them change what the next step uses. With
   * `device: 'cuda'` they are host copies, current when this returns and uploaded before the
   * next step (so writes take effect as on the CPU); call `state()` again after a step.
   */
  state(param: AnyParameter): ParameterState {
    if (!(param instanceof Parameter)) throw typeError(OWNER, 'param', 'a Parameter', param);
    const state = this.stateOf.get(param);
    if (!state) throw valueError(OWNER, 'param', 'one of the parameters of this optimizer', shown(`the parameter '${param.name}'`));
    if (this.device === 'cuda') {
      this.operations.assertIdle('state');
      this.backend.pullState();
      this.backend.stateWritten(); // views handed out: what is written to them goes up before the next step
    }
    return state;
  }

  /** Where this optimizer runs: `'cpu'` or `'cuda'`. */
  get device(): 'cpu' | 'cuda' {
    return this.backend.device;
  }

  /**
   * With `device: 'cuda'`: copies the parameters from the GPU into each `Parameter.data` (needed
   * with `parameterSync: 'manual'`; with `'step'` they are already there). No-op on the CPU.
   */
  syncParameters(): void {
    this.transferParameters('syncParameters', () => this.backend.downloadParameters());
  }

  /**
   * With `device: 'cuda'`: copies each `Parameter.data` to the GPU (after writing to them with
   * `parameterSync: 'manual'`; with `'step'` every step does this). No-op on the CPU.
   */
  uploadParameters(): void {
    this.transferParameters('uploadParameters', () => this.backend.uploadParameters());
  }

  /**
   * With `device: 'cuda'`: the device addresses of every parameter's buffers, in `parameters`
   * order, for native code of the same process that computes gradients on the GPU: it writes
   * each gradient (the parameter's dtype and length) at `grad`, then `stepDeviceGradients()`
   * applies them without any host transfer. Throws an `Error` on the CPU.
   */
  deviceBuffers(): DeviceBuffers[] {
    this.requireDevice('deviceBuffers');
    const { entries } = this.parts;
    return this.backend.deviceBuffers().map((b, i) => {
      const { param } = entries[i];
      return Object.freeze({ name: param.name, dtype: param.dtype, length: param.size, ...b });
    });
  }

  /**
   * With `device: 'cuda'`: one step with the gradients already in the device gradient buffers
   * (see `deviceBuffers()`). Parameters sync as `parameterSync` says. Throws an `Error` on the CPU.
   */
  stepDeviceGradients(): boolean {
    this.requireDevice('stepDeviceGradients');
    this.gradients.assertParametersAttached();
    this.backend.beforeStep();
    return this.stepped(this.index.step(this.backend, null, false));
  }

  /**
   * With `device: 'cuda'`: frees the GPU memory and page-locked staging now rather than when the
   * optimizer is garbage-collected (the collector does not see GPU memory). Any later step or
   * transfer throws. On the CPU it does nothing.
   */
  dispose(): void {
    if (this.device === 'cpu') return;
    this.operations.assertIdle('dispose');
    this.backend.dispose();
  }

  /**
   * The zero-copy way to hand over gradients: one view per parameter (its dtype and length, in
   * `parameters` order) on one contiguous buffer owned by this optimizer. Fill them in place
   * (e.g. `views[i].set(grad)`, or compute into them) and call `step()` / `stepAsync()` with no
   * argument: the binding reads them without looking at any array. The same views at every call.
   */
  gradientBuffers(): TensorArray[] {
    return [...this.gradients.arena()];
  }

  /**
   * Applies one update to every parameter, in place.
   *
   * @param gradients one per parameter, in the order of `parameters`: a typed array of the
   *   parameter's dtype and length, or a `Tensor` of it. Never modified. Omitted: what the views
   *   of `gradientBuffers()` hold (a `TypeError` if it was never called).
   * @returns `true` when the update applied; `false` when it was skipped because a gradient
   *   held an inf or NaN (only with `skipNonFinite` or a `DynamicLossScaler`): then parameters,
   *   state and `globalStep` are exactly as they were (and a dynamic scale shrinks).
   * @throws TypeError / ValueError before anything changes: a wrong count, type, dtype or length,
   *   or a learning-rate table that has run out. Parameters, state and `globalStep` are then
   *   exactly as they were.
   */
  step(gradients?: readonly Gradient[]): boolean {
    this.operations.assertIdle('step');
    return this.apply(gradients);
  }

  /**
   * The same as `step`, with the update running off the JavaScript thread (the event loop keeps
   * running). Calls on one optimizer apply in call order, after any earlier `stepAsync`,
   * `saveState` or `loadState`. Do not write to the parameters or gradients before the promise
   * settles. A validation error rejects the promise and changes nothing. Omitted `gradients`: the
   * views of `gradientBuffers()`, as for `step`.
   */
  stepAsync(gradients?: readonly Gradient[]): Promise<boolean> {
    if (this.operations.idle) {
      // Bad input rejects at once and is never queued: it does not hold up the next step().
      try {
        this.gradients.check(gradients);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.operations.enqueue(() => this.applyAsync(gradients));
  }

  /**
   * Copies of every state buffer as `Tensor`s under MindSpore's names (`mean_square.<name>`,
   * `moment.<name>`, `mean_grad.<name>` when centered) and the number `global_step`; with
   * `{ format }` (`'pytorch'`, `'keras'`, `'tfjs'`) in that framework's layout (lib/state/formats.ts).
   */
  stateDict(options?: { format?: 'mindspore' }): StateDict;
  stateDict(options: { format: StateFormat }): Record<string, unknown>;
  stateDict(options?: { format?: StateFormat }): Record<string, unknown> {
    const format = readFormat(options, 'stateDict') ?? 'mindspore';
    this.operations.assertIdle('stateDict');
    const dict = this.withWholeState((buffers) => buildStateDict(buffers, this.globalStep, this.scaling.entries()));
    return toFormat(format, dict, this.parameters, this.parts.options, this.torchPlaces()) as Record<string, unknown>;
  }

  /**
   * Replaces the state and global step with those of `dict` (as `stateDict()` returns, in any of
   * its formats: `{ format }`, else recognised by its keys). The names must match exactly, each
   * value a `Tensor` (or typed array) of the parameter's dtype and shape; otherwise a
   * `ValueError` (or `TypeError`) and nothing changes.
   */
  loadStateDict(dict: StateDict | Record<string, unknown>, options?: { format?: StateFormat }): void {
    const format = readFormat(options, 'loadStateDict') ?? detectFormat(dict);
    this.operations.assertIdle('loadStateDict');
    const translated = fromFormat(format, dict, this.parameters, this.parts.options, this.torchPlaces());
    // Other frameworks' layouts have no loss-scale counters and no master weights: those keep their values.
    const canonical = format === 'mindspore' ? translated : { ...this.stateDict(), ...(translated as object) };
    const loaded = readStateDict(this.wholeStateBuffers(), canonical, this.scaling.keys());
    this.applyLoaded(loaded, 'the state dict');
  }

  /**
   * Writes the state (as `stateDict()`) to a safetensors file at `path`, atomically: a crash
   * never leaves a half-written file there. `global_step` is stored as an I64 scalar.
   */
  async saveState(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError(OWNER, 'path', 'a non-empty string', path);
    return this.operations.enqueue(() =>
      writeFileAtomically(path, this.withWholeState((buffers) => encodeState(buffers, this.globalStep, this.scaling.entries()))),
    );
  }

  /**
   * Reads a safetensors file written by `saveState` (or any with exactly the same entries). A
   * missing, truncated or corrupt file, or one whose entries differ from this optimizer's (a name
   * missing or extra, another dtype or shape), is a `ValueError` and changes nothing.
   */
  async loadState(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError(OWNER, 'path', 'a non-empty string', path);
    return this.operations.enqueue(async () => {
      const file = await readCheckpointFile(path);
      this.applyLoaded(decodeState(this.wholeStateBuffers(), file, path, this.scaling.keys()), path);
    });
  }

  /**
   * A structured-clonable handle to this optimizer (post it to a worker thread), for
   * `RMSProp.fromShared`. Needs every parameter on a SharedArrayBuffer (then the state and the
   * global step are too), and learning rates and weight decays that can cross threads: numbers,
   * tables and this library's schedule classes (a function cannot).
   */
  share(): SharedRMSProp {
    return makeHandle(this.parts, this.plan);
  }

  /**
   * An optimizer over the same parameters, state and global step as the one whose `share()`
   * made `handle` (typically in another worker thread). Each step claims its index atomically.
   */
  static fromShared(handle: SharedRMSProp): RMSProp {
    const { options, entries, groupLr, states, counter } = readHandle(handle);
    return new RMSProp(new Parts(options, entries, groupLr, states, counter));
  }
}
