/**
 * What the facade's public methods share (lib/rmsprop.ts): the parts of an optimizer wired up
 * (plan, step index, loss scaling, backend, gradient reader, operation queue) and the protected
 * machinery over them: one step, synchronous or not, and the whole-state hooks that state dicts
 * and checkpoints go through, which the data-parallel optimizer overrides (lib/distributed/).
 * Not exported by the package; `RMSProp` is its one direct subclass.
 */
import { applyLoadedState, stateBuffersOf, type LoadedState, type StateBuffer } from './state/checkpoint';
import { createBackend, type Backend } from './native/backend';
import { torchPlaces, type TorchPlace } from './state/formats';
import { GradientReader } from './step/gradients';
import type { ParameterEntry } from './config/groups';
import { OperationQueue } from './step/operations';
import { skipsNonFinite } from './config/options';
import type { Parts } from './parts';
import { LossScaling } from './step/loss-scaling';
import { StepPlan } from './step/plan';
import { attachmentCheck, type ParameterState } from './state/state';
import { StepIndex } from './step/step-index';
import type { AnyParameter, DType, Tensor, TensorArray } from './base/tensor';

/** A gradient: a typed array of the parameter's dtype and length, or a `Tensor` of it. */
export type Gradient = TensorArray | Tensor<TensorArray>;

export abstract class OptimizerCore {
  protected readonly parts: Parts;
  protected readonly stateOf: ReadonlyMap<AnyParameter, ParameterState>;
  protected readonly stateBuffers: readonly StateBuffer[];
  /** The numbers each native step reads (docs/ARCHITECTURE.md), filled per step. */
  protected readonly plan: StepPlan;
  protected readonly index: StepIndex;
  protected readonly backend: Backend;
  protected readonly gradients: GradientReader;
  protected readonly operations = new OperationQueue();
  /** The loss scale of the next steps (a DynamicLossScaler's counters where there is one). */
  protected readonly scaling: LossScaling;

  protected constructor(parts: Parts) {
    const { options, entries, states } = parts;
    this.parts = parts;
    this.stateOf = new Map(entries.map((e, i) => [e.param, states[i]]));
    this.stateBuffers = stateBuffersOf(entries.map((e) => e.param), states);
    this.plan = new StepPlan(entries, options);
    this.index = new StepIndex(parts.counter, this.plan, options.useLocking || skipsNonFinite(options));
    this.scaling = new LossScaling(options.lossScale, this.plan);
    const assertStateAttached = attachmentCheck(states);
    this.backend = createBackend(parts.buffers(), this.plan.values, options, parts.counter, assertStateAttached);
    const slots = entries.map(({ param }) => ({ param, dtype: param.dtype as DType, size: param.size }));
    this.gradients = new GradientReader(slots, assertStateAttached);
  }

  /**
   * The parameters' entries and their plan as the user gave them: what `parameters`, `getLr()`
   * and state-dict layouts speak of. A data-parallel optimizer steps a piece of them.
   */
  protected get wholeEntries(): readonly ParameterEntry[] {
    return this.parts.entries;
  }

  protected get wholePlan(): StepPlan {
    return this.plan;
  }

  /** One step (the body of `step`, without the idle check). */
  protected apply(gradients: readonly Gradient[] | undefined): boolean {
    this.gradients.check(gradients);
    this.backend.beforeStep();
    return this.stepped(this.index.step(this.backend, this.gradients.buffers, this.gradients.handTo(this.backend)));
  }

  /** One step off the JavaScript thread (the body of `stepAsync`'s operation). */
  protected async applyAsync(gradients: readonly Gradient[] | undefined): Promise<boolean> {
    this.gradients.check(gradients);
    this.backend.beforeStep();
    return this.stepped(await this.index.stepAsync(this.backend, this.gradients.buffers, this.gradients.handTo(this.backend)));
  }

  /** After a step (applied, or skipped for a non-finite gradient): the dynamic scale's rule. */
  protected stepped(applied: boolean): boolean {
    this.scaling.stepped(applied);
    return applied;
  }

  /**
   * `read` of the whole state's buffers, current (a device's state fetched first): what state
   * dicts and checkpoints are made of. A data-parallel optimizer with sharded state gathers them
   * from every rank (collectively).
   */
  protected withWholeState<T>(read: (buffers: readonly StateBuffer[]) => T): T {
    this.backend.pullState();
    return read(this.stateBuffers);
  }

  /** The whole state's buffers that a state dict or file is checked against (names, dtypes, shapes). */
  protected wholeStateBuffers(): readonly StateBuffer[] {
    return this.stateBuffers;
  }

  /** Where each parameter sits in PyTorch's layout now (lib/state/formats.ts). */
  protected torchPlaces(): TorchPlace[] {
    return torchPlaces(this.wholeEntries, this.wholePlan, this.index.value);
  }

  /**
   * Applies a checked state, in `wholeStateBuffers()` order (every check, the scaler's included,
   * before anything changes).
   */
  protected applyLoaded(loaded: LoadedState, where: string): void {
    const applyScale = this.scaling.load(loaded.extras, where);
    this.backend.stateWritten();
    applyLoadedState(this.stateBuffers, loaded);
    this.index.value = loaded.globalStep;
    applyScale();
  }

  // The device-only methods: an Error on the CPU; then, as every synchronous state access, idle.
  protected requireDevice(method: string): void {
    if (this.backend.device === 'cpu') throw new Error(`For 'RMSProp', '${method}' needs device 'cuda' (this optimizer runs on the CPU).`);
    this.operations.assertIdle(method);
  }

  // syncParameters / uploadParameters: nothing on the CPU.
  protected transferParameters(method: string, transfer: () => void): void {
    if (this.backend.device === 'cpu') return;
    this.operations.assertIdle(method);
    this.gradients.assertParametersAttached();
    transfer();
  }
}
