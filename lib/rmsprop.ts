import {
  applyLoadedState,
  buildStateDict,
  decodeState,
  encodeState,
  readCheckpointFile,
  readStateDict,
  writeFileAtomically,
  type StateBuffer,
  type StateDict,
} from './checkpoint';
import { CpuBackend, CudaBackend, type Backend } from './backend';
import { cudaInfo } from './cuda';
import { typeError, valueError } from './errors';
import { readParams, type ParameterEntry, type ParamsInput } from './groups';
import { binding, type CudaNativeOptimizer } from './native';
import { readOptions, type ResolvedOptions, type RMSPropOptions } from './options';
import { StepPlan } from './plan';
import {
  checkHandle,
  deserializeStepValue,
  isShared,
  serializeStepValue,
  type SharedRMSProp,
} from './sharing';
import { allocateStates, type ParameterState } from './state';
import { dtypeOf, Parameter, Tensor, type DType, type FloatArray } from './tensor';

const OWNER = 'RMSProp';

/** What `RMSProp.fromShared` hands its constructor call: everything already validated and allocated. */
interface Adopted {
  options: ResolvedOptions;
  parsed: { entries: ParameterEntry[]; groupLr: boolean };
  states: ParameterState[];
  counter: Int32Array;
}

// fromShared's way into the constructor: it passes a fresh token object as `params`, and the
// constructor takes what the token stands for (once). A user cannot make a token.
const adoptions = new WeakMap<object, Adopted>();

function takeAdopted(params: unknown): Adopted | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  const adopted = adoptions.get(params);
  adoptions.delete(params);
  return adopted;
}

/** A gradient: a typed array of the parameter's dtype and length, or a `Tensor` of it. */
export type Gradient = FloatArray | Tensor;

/** Device addresses of one parameter's buffers on the GPU (`BigInt`s; `0n` where none). */
export interface DeviceBuffers {
  /** The parameter's name. */
  readonly name: string;
  readonly dtype: DType;
  /** Elements in each buffer. */
  readonly length: number;
  readonly param: bigint;
  readonly meanSquare: bigint;
  readonly moment: bigint;
  /** `0n` unless centered. */
  readonly meanGrad: bigint;
  /** Where `stepDeviceGradients()` reads this parameter's gradient. */
  readonly grad: bigint;
}

/** One parameter as the optimizer holds it. */
interface Slot {
  readonly param: Parameter;
  readonly dtype: DType;
  readonly size: number;
  readonly state: ParameterState;
}

/**
 * MindSpore's RMSProp optimizer (`mindspore.nn.RMSProp`), plain or centered.
 *
 * For each parameter w with gradient g, at global step k (0 for the first step):
 *
 * ```text
 * g ← (g + wd·L·w − c) · (1/L)     weight decay where it applies; c the slice mean under
 *                                  gradient centralization (else 0); unscale by the loss scale L
 * plain:    s ← ρ·s + (1−ρ)·g²
 *           m ← β·m + η_k·g / √(s + ε)
 *           w ← w − m
 * centered: ḡ ← ρ·ḡ + (1−ρ)·g
 *           s ← ρ·s + (1−ρ)·g²
 *           d ← s − ḡ² + ε
 *           if d > 0: m ← β·m + η_k·g / √d ;  w ← w − m      (else m and w are kept)
 * ```
 *
 * State starts at s = 1, m = 0, ḡ = 0. float32 parameters compute in float32 with every
 * hyper-parameter rounded to float32; float64 parameters in float64. Every step is one native
 * call that updates all parameters in place with the best SIMD kernels of the CPU.
 */
export class RMSProp {
  private readonly options: ResolvedOptions;
  private readonly slots: readonly Slot[];
  private readonly slotOf: ReadonlyMap<Parameter, Slot>;
  private readonly groupLr: boolean;
  private readonly stateBuffers: readonly StateBuffer[];
  /** The numbers each native step reads (docs/ARCHITECTURE.md), filled per step. */
  private readonly plan: StepPlan;
  /** Where the steps run (lib/backend.ts). */
  private readonly backend: Backend;
  /** The device optimizer when `device: 'cuda'` (for the device-only methods), else null. */
  private readonly cuda: CudaNativeOptimizer | null = null;
  private readonly gradBuffers: FloatArray[];
  private readonly entries: readonly ParameterEntry[];
  /** One view of each distinct state buffer, with its length, to notice a transferred buffer. */
  private readonly stateSentinels: readonly { view: FloatArray; length: number }[];
  /** Whether gradBuffers holds the same array objects as at the previous native call. */
  private sameGradients = false;
  private gradientsRead = false;
  /** The global step (Int32, on a SharedArrayBuffer when the parameters are shared). */
  private readonly counter: Int32Array;
  /** Asynchronous operations (stepAsync, saveState, loadState) run one after another, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private pendingOperations = 0;

  /**
   * @param params the parameters to train, each once (names unique): a list of `Parameter`s, or
   *   of groups `{ params, lr?, weightDecay?, gradCentralization? }` with at most one
   *   `{ orderParams }` giving the update order.
   * @param options hyper-parameters; see `RMSPropOptions` for each key, its default and range.
   * @throws TypeError for a value of the wrong type or an unknown option or group key.
   * @throws ValueError for a value out of range, empty or repeated params, a bad `orderParams`,
   *   or learning-rate tables of different lengths.
   */
  constructor(params: ParamsInput, options?: RMSPropOptions) {
    const adopted = takeAdopted(params);
    const resolved = adopted ? adopted.options : readOptions(OWNER, options);
    const { entries, groupLr } = adopted ? adopted.parsed : readParams(OWNER, params, resolved);
    const cuda = resolved.device === 'cuda' ? cudaInfo() : undefined;
    if (cuda && !cuda.available) {
      throw new Error(
        `For 'RMSProp', the 'device' 'cuda' is not available (cudaAvailable() is false): ${cuda.reason}. ` +
          "Use device: 'cpu'.",
      );
    }
    this.options = resolved;
    this.groupLr = groupLr;
    // On SharedArrayBuffers when every parameter is, so that share() can hand them to workers.
    const shared = entries.every((e) => isShared(e.param.data));
    const states = adopted ? adopted.states : allocateStates(entries.map((e) => e.param), resolved.centered, shared);
    this.counter = adopted
      ? adopted.counter
      : new Int32Array(shared ? (new SharedArrayBuffer(4) as unknown as ArrayBuffer) : new ArrayBuffer(4));
    this.entries = entries;
    this.slots = entries.map((entry, i): Slot => {
      const { param } = entry;
      return {
        param,
        dtype: param.dtype,
        size: param.size,
        state: states[i],
      };
    });
    this.slotOf = new Map(this.slots.map((slot) => [slot.param, slot]));
    this.stateBuffers = this.slots.flatMap(({ param, dtype, state }) => [
      { key: `mean_square.${param.name}`, dtype, shape: param.shape, array: state.meanSquare },
      { key: `moment.${param.name}`, dtype, shape: param.shape, array: state.moment },
      ...(state.meanGrad ? [{ key: `mean_grad.${param.name}`, dtype, shape: param.shape, array: state.meanGrad }] : []),
    ]);

    this.plan = new StepPlan(entries, resolved);
    const buffers = [
      this.slots.map((s) => s.param.data),
      this.slots.map((s) => s.state.meanSquare),
      this.slots.map((s) => s.state.moment),
      resolved.centered ? this.slots.map((s) => s.state.meanGrad as FloatArray) : null,
    ] as const;
    if (cuda) {
      // Parameters and state move to the GPU; the host arrays are the host side of every transfer.
      this.cuda = new binding.CudaOptimizer(
        cuda.library as string,
        ...buffers,
        this.plan.values,
        resolved.useLocking,
        resolved.parameterSync === 'step',
        this.counter,
      );
      this.backend = new CudaBackend(this.cuda, resolved.centered, () => this.assertStateAttached());
    } else {
      this.backend = new CpuBackend(new binding.NativeOptimizer(...buffers, this.plan.values, resolved.useLocking, this.counter));
    }
    this.gradBuffers = this.slots.map((s) => s.param.data);
    const sentinels = new Map<ArrayBufferLike, { view: FloatArray; length: number }>();
    for (const b of this.stateBuffers) {
      if (!sentinels.has(b.array.buffer)) sentinels.set(b.array.buffer, { view: b.array, length: b.array.length });
    }
    this.stateSentinels = [...sentinels.values()];
  }

  /** The parameters, in update order (the `orderParams` order where given, else group order). */
  get parameters(): readonly Parameter[] {
    return this.slots.map((slot) => slot.param);
  }

  /** The number of completed steps. */
  get globalStep(): number {
    return Atomics.load(this.counter, 0);
  }

  /** Whether this optimizer runs centered RMSProp. */
  get centered(): boolean {
    return this.options.centered;
  }

  /**
   * The learning rate the next step will use: a number, or one per parameter (in `parameters`
   * order) when groups carry their own `lr`. A table that has run out is a `ValueError`.
   */
  getLr(): number | number[] {
    const k = this.globalStep;
    return this.groupLr ? this.plan.learningRates(k) : this.plan.firstLearningRate(k);
  }

  /**
   * Live views of `param`'s state; writes to them change what the next step uses. With
   * `device: 'cuda'` they are host copies, current when this returns and uploaded before the
   * next step (so writes take effect as on the CPU); call `state()` again after a step.
   */
  state(param: Parameter): ParameterState {
    const slot = this.slotFor(param);
    if (this.cuda) {
      this.assertIdle('state');
      this.backend.pullState();
      this.backend.stateWritten(); // views handed out: what is written to them goes up before the next step
    }
    return slot.state;
  }

  /** Where this optimizer runs: `'cpu'` or `'cuda'`. */
  get device(): 'cpu' | 'cuda' {
    return this.options.device;
  }

  /**
   * With `device: 'cuda'`: copies the parameters from the GPU into each `Parameter.data` (needed
   * with `parameterSync: 'manual'`; with `'step'` they are already there). No-op on the CPU.
   */
  syncParameters(): void {
    if (!this.cuda) return;
    this.assertIdle('syncParameters');
    this.assertParametersAttached();
    this.cuda.download('param');
  }

  /**
   * With `device: 'cuda'`: copies each `Parameter.data` to the GPU (after writing to them with
   * `parameterSync: 'manual'`; with `'step'` every step does this). No-op on the CPU.
   */
  uploadParameters(): void {
    if (!this.cuda) return;
    this.assertIdle('uploadParameters');
    this.assertParametersAttached();
    this.cuda.upload('param');
  }

  /**
   * With `device: 'cuda'`: the device addresses of every parameter's buffers, in `parameters`
   * order, for native code of the same process that computes gradients on the GPU: it writes
   * each gradient (the parameter's dtype and length) at `grad`, then `stepDeviceGradients()`
   * applies them without any host transfer. Throws an `Error` on the CPU.
   */
  deviceBuffers(): DeviceBuffers[] {
    const cuda = this.requireCuda('deviceBuffers');
    this.assertIdle('deviceBuffers');
    return cuda.deviceBuffers().map((b, i) => {
      const { param } = this.slots[i];
      return Object.freeze({ name: param.name, dtype: param.dtype, length: param.size, ...b });
    });
  }

  /**
   * With `device: 'cuda'`: one step with the gradients already in the device gradient buffers
   * (see `deviceBuffers()`). Parameters sync as `parameterSync` says. Throws an `Error` on the CPU.
   */
  stepDeviceGradients(): true {
    const cuda = this.requireCuda('stepDeviceGradients');
    this.assertIdle('stepDeviceGradients');
    this.assertParametersAttached();
    this.backend.beforeStep();
    this.claimAndStep(cuda, null, false);
    return true;
  }

  /**
   * With `device: 'cuda'`: frees the GPU memory and page-locked staging now rather than when the
   * optimizer is garbage-collected (the collector does not see GPU memory). Any later step or
   * transfer throws. On the CPU it does nothing.
   */
  dispose(): void {
    if (!this.cuda) return;
    this.assertIdle('dispose');
    this.backend.dispose();
  }

  /**
   * Applies one update to every parameter, in place.
   *
   * @param gradients one per parameter, in the order of `parameters`: a typed array of the
   *   parameter's dtype and length, or a `Tensor` of it. Never modified.
   * @returns `true`.
   * @throws TypeError / ValueError before anything changes: a wrong count, type, dtype or length,
   *   or a learning-rate table that has run out. Parameters, state and `globalStep` are then
   *   exactly as they were.
   */
  step(gradients: readonly Gradient[]): true {
    this.assertIdle('step');
    this.readGradients(gradients);
    this.backend.beforeStep();
    this.claimAndStep(this.backend.native, this.gradBuffers, this.sameGradients);
    return true;
  }

  /**
   * The same as `step`, with the update running off the JavaScript thread (the event loop keeps
   * running). Calls on one optimizer apply in call order, after any earlier `stepAsync`,
   * `saveState` or `loadState`. Do not write to the parameters or gradients before the promise
   * settles. A validation error rejects the promise and changes nothing.
   */
  stepAsync(gradients: readonly Gradient[]): Promise<true> {
    return this.enqueue(async () => {
      this.readGradients(gradients);
      this.backend.beforeStep();
      if (!this.options.useLocking) {
        this.claimStep();
        await this.backend.native.stepAsync(this.gradBuffers, this.sameGradients);
        return true as const;
      }
      // As claimAndStep: values evaluated outside the locks, the index claimed under them.
      for (;;) {
        const k = Atomics.load(this.counter, 0);
        this.plan.write(k);
        if (await this.backend.native.stepAsync(this.gradBuffers, this.sameGradients, k)) return true as const;
      }
    });
  }

  /**
   * Copies of every state buffer as `Tensor`s under MindSpore's names (`mean_square.<name>`,
   * `moment.<name>`, `mean_grad.<name>` when centered) and the number `global_step`.
   */
  stateDict(): StateDict {
    this.assertIdle('stateDict');
    this.backend.pullState();
    return buildStateDict(this.stateBuffers, this.globalStep);
  }

  /**
   * Replaces the state and global step with those of `dict` (as `stateDict()` returns). The
   * names must match exactly, each value a `Tensor` (or typed array) of the parameter's dtype
   * and shape; otherwise a `ValueError` (or `TypeError`) and nothing changes.
   */
  loadStateDict(dict: StateDict): void {
    this.assertIdle('loadStateDict');
    const loaded = readStateDict(this.stateBuffers, dict);
    this.backend.stateWritten();
    applyLoadedState(this.stateBuffers, loaded);
    Atomics.store(this.counter, 0, loaded.globalStep);
  }

  /**
   * Writes the state (as `stateDict()`) to a safetensors file at `path`, atomically: a crash
   * never leaves a half-written file there. `global_step` is stored as an I64 scalar.
   */
  async saveState(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError(OWNER, 'path', 'a non-empty string', path);
    return this.enqueue(() => {
      this.backend.pullState();
      return writeFileAtomically(path, encodeState(this.stateBuffers, this.globalStep));
    });
  }

  /**
   * Reads a safetensors file written by `saveState` (or any with exactly the same entries). A
   * missing, truncated or corrupt file, or one whose entries differ from this optimizer's (a name
   * missing or extra, another dtype or shape), is a `ValueError` and changes nothing.
   */
  async loadState(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError(OWNER, 'path', 'a non-empty string', path);
    return this.enqueue(async () => {
      const file = await readCheckpointFile(path);
      const loaded = decodeState(this.stateBuffers, file, path);
      this.backend.stateWritten();
      applyLoadedState(this.stateBuffers, loaded);
      Atomics.store(this.counter, 0, loaded.globalStep);
    });
  }

  /** Runs `operation` after every earlier asynchronous operation of this optimizer has settled. */
  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    this.pendingOperations++;
    const result = this.queue.then(operation).finally(() => {
      this.pendingOperations--;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  // Synchronous calls that read or write the state must not interleave with asynchronous ones.
  private assertIdle(method: string): void {
    if (this.pendingOperations > 0) {
      throw new Error(
        `For 'RMSProp', '${method}' cannot run while ${this.pendingOperations} asynchronous ` +
          'operation(s) (stepAsync, saveState, loadState) of this optimizer are pending; await them first.',
      );
    }
  }

  /**
   * A structured-clonable handle to this optimizer (post it to a worker thread), for
   * `RMSProp.fromShared`. Needs every parameter on a SharedArrayBuffer (then the state and the
   * global step are too), and learning rates and weight decays that can cross threads: numbers,
   * tables and this library's schedule classes (a function cannot).
   */
  share(): SharedRMSProp {
    if (this.cuda) throw valueError('RMSProp.share', 'device', "'cpu' (sharing across threads is CPU only)", 'cuda');
    const unshared = this.slots.find((s) => !isShared(s.param.data));
    if (unshared) {
      throw valueError('RMSProp.share', `parameter '${unshared.param.name}'`, 'backed by a SharedArrayBuffer', unshared.param.data);
    }
    const { decay, momentum, epsilon, useLocking, centered, lossScale, device } = this.options;
    return {
      kind: 'rmsprop-native/shared',
      version: 1,
      options: { decay, momentum, epsilon, useLocking, centered, lossScale, device },
      groupLr: this.groupLr,
      lrs: this.plan.lrSources.map((v, i) => serializeStepValue(v, `lr ${i}`)),
      weightDecays: this.plan.weightDecaySources.map((v, i) => serializeStepValue(v, `weightDecay ${i}`)),
      parameters: this.slots.map((slot, i) => ({
        name: slot.param.name,
        shape: slot.param.shape,
        requiresGrad: slot.param.requiresGrad,
        data: slot.param.data,
        meanSquare: slot.state.meanSquare,
        moment: slot.state.moment,
        ...(slot.state.meanGrad ? { meanGrad: slot.state.meanGrad } : {}),
        lr: this.plan.lrIndex[i],
        weightDecay: this.plan.weightDecayIndex[i],
        gradCentralization: this.entries[i].gradCentralization,
      })),
      globalStep: this.counter,
    };
  }

  /**
   * An optimizer over the same parameters, state and global step as the one whose `share()`
   * made `handle` (typically in another worker thread). Each step claims its index atomically.
   */
  static fromShared(handle: SharedRMSProp): RMSProp {
    const h = checkHandle(handle);
    const options = readOptions(OWNER, { ...h.options });
    const lrs = h.lrs.map((v, i) => deserializeStepValue(v, `lrs[${i}]`));
    const weightDecays = h.weightDecays.map((v, i) => deserializeStepValue(v, `weightDecays[${i}]`));
    const entries: ParameterEntry[] = h.parameters.map((p) => ({
      param: new Parameter(p.data, p.name, { shape: p.shape, requiresGrad: p.requiresGrad }),
      lr: lrs[p.lr],
      weightDecay: p.weightDecay >= 0 ? weightDecays[p.weightDecay] : null,
      gradCentralization: p.gradCentralization,
    }));
    const states: ParameterState[] = h.parameters.map((p) =>
      Object.freeze({ meanSquare: p.meanSquare, moment: p.moment, ...(p.meanGrad ? { meanGrad: p.meanGrad } : {}) }),
    );
    const token = {};
    adoptions.set(token, { options, parsed: { entries, groupLr: h.groupLr }, states, counter: h.globalStep });
    return new RMSProp(token as never);
  }

  // Claims the step index and runs the native step. With useLocking, the learning rates and
  // weight decays of index k are evaluated first, outside any lock (a schedule may run any code,
  // even step another optimizer over the same parameters), then the binding takes the locks and
  // claims k there, or reports that another step took it: then again with the next index. So
  // locked steps of optimizers sharing a global step (share()) apply in the order of their
  // indices (docs/semantics.md §8; StepCounter in binding/napi/common.h). `grads` null (device gradients)
  // only with the device optimizer.
  private claimAndStep(native: Pick<CudaNativeOptimizer, 'step'>, grads: FloatArray[] | null, same: boolean): void {
    if (!this.options.useLocking) {
      this.claimStep();
      native.step(grads, same);
      return;
    }
    for (;;) {
      const k = Atomics.load(this.counter, 0);
      this.plan.write(k);
      if (native.step(grads, same, k)) return;
    }
  }

  private requireCuda(method: string): CudaNativeOptimizer {
    if (!this.cuda) throw new Error(`For 'RMSProp', '${method}' needs device 'cuda' (this optimizer runs on the CPU).`);
    return this.cuda;
  }

  // The state lives in a few contiguous buffers: a transferred one (its views then have length
  // 0) would leave the native side pointing at memory this optimizer no longer owns.
  private assertStateAttached(): void {
    for (const sentinel of this.stateSentinels) {
      if (sentinel.view.length !== sentinel.length) {
        throw valueError(OWNER, 'state', 'backed by the buffers this optimizer allocated (was one transferred?)', sentinel.view);
      }
    }
  }

  private assertParametersAttached(): void {
    for (const slot of this.slots) {
      if (slot.param.data.length !== slot.size) {
        throw valueError(OWNER, `parameter '${slot.param.name}'`, `backed by ${slot.size} elements (was its buffer transferred?)`, slot.param.data);
      }
    }
  }

  // Claims the next step index: evaluates its learning rates and weight decays into the plan
  // (which throws, claiming nothing, when a table has run out), then advances the global step
  // atomically, so threads sharing it each get their own index.
  private claimStep(): void {
    for (;;) {
      const k = Atomics.load(this.counter, 0);
      this.plan.write(k);
      if (Atomics.compareExchange(this.counter, 0, k, k + 1) === k) return;
    }
  }

  private slotFor(param: Parameter): Slot {
    if (!(param instanceof Parameter)) throw typeError(OWNER, 'param', 'a Parameter', param);
    const slot = this.slotOf.get(param);
    if (!slot) throw valueError(OWNER, 'param', 'one of the parameters of this optimizer', `'${param.name}'`);
    return slot;
  }

  // Checks every gradient and the parameters' buffers, filling gradBuffers; throws before any write.
  private readGradients(gradients: unknown): void {
    if (!Array.isArray(gradients)) {
      throw typeError(OWNER, 'gradients', 'an array with one gradient per parameter', gradients);
    }
    const slots = this.slots;
    if (gradients.length !== slots.length) {
      throw valueError(OWNER, 'gradients', `an array of ${slots.length} gradients (one per parameter)`, gradients);
    }
    this.assertStateAttached();
    // Fast path of a training loop that reuses its gradient arrays: the same objects as last
    // time, still attached (a detached array has length 0), need no further checks.
    let same = true;
    for (let i = 0; i < slots.length; i++) {
      const entry: unknown = gradients[i];
      const size = slots[i].size;
      const previous = this.gradBuffers[i];
      if (entry !== previous || previous.length !== size || slots[i].param.data.length !== size) {
        same = false;
        break;
      }
    }
    this.sameGradients = same && this.gradientsRead;
    if (this.sameGradients) return;
    this.gradientsRead = false; // until every entry below has passed
    this.assertParametersAttached();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      const entry: unknown = gradients[i];
      const data = entry instanceof Tensor ? entry.data : entry;
      const dtype = dtypeOf(data);
      const what = `gradients[${i}]`;
      if (dtype === undefined) {
        throw typeError(OWNER, what, `a ${slot.dtype} typed array or Tensor (parameter '${slot.param.name}')`, entry);
      }
      if (dtype !== slot.dtype) {
        throw typeError(OWNER, what, `of dtype ${slot.dtype} like parameter '${slot.param.name}'`, entry);
      }
      const array = data as FloatArray;
      if (array.length !== slot.size) {
        throw valueError(OWNER, what, `of length ${slot.size} like parameter '${slot.param.name}'`, entry);
      }
      this.gradBuffers[i] = array;
    }
    this.gradientsRead = true;
  }
}
