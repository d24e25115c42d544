/**
 * The data-parallel optimizer: `new RMSProp(params, { communicator })` with more than one rank.
 * Where it sits in one `step()` (docs/ARCHITECTURE.md, "Data-parallel"):
 *
 *   check the gradients (this rank, before any exchange)
 *   → write them into this rank's gradient buffer                 ┐ the exchange
 *   → barrier → reduce this rank's piece: the mean over the ranks  │ (reduce-scatter)
 *   → [barrier: did any rank's piece hold an inf/NaN?]            ┘
 *   → the ordinary step of this rank's piece (sharded) or of all (not sharded), MindSpore's
 *     semantics applied once, to the mean
 *   → write the updated piece → barrier → copy the other pieces   (all-gather; sharded only)
 *
 * The sum runs in a fixed rank order in float64 and is rounded once, so every run is
 * bit-reproducible and every rank ends each step with bit-identical parameters. The class is a
 * `RMSProp` over this rank's piece (sub-parameters viewing the parameters' own arrays) whose
 * public methods speak of the whole parameters.
 */
import { encodeState, stateBuffersOf, writeFileAtomically, type LoadedState, type StateBuffer } from '../checkpoint';
import { boolean } from '../checks';
import { typeError, valueError, ValueError } from '../errors';
import { GradientReader } from '../gradients';
import { readParams, type ParameterEntry, type ParamsInput } from '../groups';
import { fromHalfBits } from '../half';
import { readOptions, skipsNonFinite, type ResolvedOptions } from '../options';
import { Parts } from '../parts';
import { StepPlan } from '../plan';
import { registerParallel, RMSProp, type Gradient, type SharedRMSProp, type DeviceBuffers } from '../rmsprop';
import { binding } from '../native';
import { allocateStates, type ParameterState } from '../state';
import { isHalf, Parameter, type AnyParameter, type HalfDType, type TensorArray } from '../tensor';
import { isCommunicator, type CommunicatorImpl, type ReduceArray } from './communicator';
import { ShardLayout, type Segment } from './layout';

const OWNER = 'RMSProp';

/** The shared memory of one data-parallel optimizer, per flat group (lib/distributed/layout.ts). */
interface Exchange {
  /** Each rank's gradients, full length, in the reduce dtype: `slots[rank][group]`. */
  readonly slots: readonly (readonly ReduceArray[])[];
  /** The parameters in their own dtype: where the pieces are gathered (and rank 0's broadcast). */
  readonly params: readonly TensorArray[];
  /** Not sharded: the mean gradients every rank steps with. */
  readonly mean: readonly ReduceArray[] | null;
  /** Per rank: 1 when its piece of the mean held an inf or NaN. */
  readonly nonFinite: Int32Array;
}

/** Everything the constructor needs, worked out (collectively) before `super`. */
interface Setup {
  readonly communicator: CommunicatorImpl;
  readonly options: ResolvedOptions;
  readonly entries: readonly ParameterEntry[];
  readonly groupLr: boolean;
  readonly layout: ShardLayout;
  readonly sharded: boolean;
  readonly segments: readonly Segment[];
  readonly exchange: Exchange;
  readonly parts: Parts;
}

const reduceType = (dtype: string) => (dtype === 'float64' ? Float64Array : Float32Array);
const storageType = (dtype: string) => (dtype === 'float64' ? Float64Array : dtype === 'float32' ? Float32Array : Uint16Array);
/** Elements per cache line of float32: slots start on 64-byte boundaries. */
const PAD = 16;
const padded = (n: number) => Math.ceil(n / PAD) * PAD;

// What every rank must agree on, one line per fact (the first line that differs is the error).
function describe(entries: readonly ParameterEntry[], groupLr: boolean, options: ResolvedOptions, sharded: boolean): string[] {
  const value = (v: unknown): string =>
    JSON.stringify(v, (_, x: unknown) =>
      typeof x === 'function' ? `function ${x.name || '(anonymous)'}` : x instanceof Object && !Array.isArray(x) && x.constructor !== Object ? { [x.constructor.name]: { ...x } } : x,
    );
  const { learningRate, weightDecay, ...rest } = options;
  const step = (v: ParameterEntry['lr'] | null) => (v === null ? 'none' : v.kind === 'function' ? value(v.source) : value(v));
  return [
    `shardState ${sharded}`,
    `options ${value(rest)}`,
    `learningRate ${step(learningRate)}, weightDecay ${step(weightDecay)}, group learning rates ${groupLr}`,
    `${entries.length} parameters`,
    ...entries.map(
      (e, i) =>
        `parameter ${i} '${e.param.name}' ${e.param.dtype} [${e.param.shape.join(', ')}] ` +
        `(lr ${step(e.lr)}, weightDecay ${step(e.weightDecay)}, gradCentralization ${e.gradCentralization})`,
    ),
  ];
}

// The same ValueError on every rank when one rank's description differs from rank 0's.
function checkAgreement(all: readonly string[][]): void {
  const base = all[0];
  for (let rank = 1; rank < all.length; rank++) {
    const mine = all[rank];
    const at = base.findIndex((line, i) => line !== mine[i]);
    const i = at >= 0 ? at : mine.length > base.length ? base.length : -1;
    if (i < 0) continue;
    throw new ValueError(
      `For '${OWNER}', every rank must build the data-parallel optimizer with the same parameters and options as rank 0, ` +
        `but rank ${rank} has ${mine[i] ?? 'nothing'} where rank 0 has ${base[i] ?? 'nothing'}.`,
    );
  }
}

function allocate(communicator: CommunicatorImpl, layout: ShardLayout, sharded: boolean): Exchange {
  const { size } = communicator;
  const groups = layout.groups;
  const bytes = [
    ...groups.map((g) => size * padded(g.total) * reduceType(g.dtype).BYTES_PER_ELEMENT),
    ...groups.map((g) => padded(g.total) * storageType(g.dtype).BYTES_PER_ELEMENT),
    ...(sharded ? [] : groups.map((g) => padded(g.total) * reduceType(g.dtype).BYTES_PER_ELEMENT)),
    4 * size,
  ];
  const buffers = communicator.collectives.sharedBuffers(bytes);
  if (!buffers) throw new Error(`For '${OWNER}', the '${communicator.backend}' backend has no shared memory (not built yet).`);
  const n = groups.length;
  const slots = Array.from({ length: size }, (_, rank) =>
    groups.map((g, i) => new (reduceType(g.dtype))(buffers[i] as unknown as ArrayBuffer, rank * padded(g.total) * reduceType(g.dtype).BYTES_PER_ELEMENT, g.total)),
  );
  const params = groups.map((g, i) => new (storageType(g.dtype))(buffers[n + i] as unknown as ArrayBuffer, 0, g.total));
  const mean = sharded ? null : groups.map((g, i) => new (reduceType(g.dtype))(buffers[2 * n + i] as unknown as ArrayBuffer, 0, g.total));
  return { slots, params, mean, nonFinite: new Int32Array(buffers[buffers.length - 1]) };
}

// Rank 0's parameters to every rank, through the gather buffers.
function broadcast(communicator: CommunicatorImpl, layout: ShardLayout, entries: readonly ParameterEntry[], exchange: Exchange): void {
  const copy = (toShared: boolean) =>
    entries.forEach((e, i) => {
      const { group, offset, size } = layout.placement[i];
      const shared = exchange.params[group].subarray(offset, offset + size);
      if (toShared) shared.set(e.param.data as never);
      else e.param.data.set(shared as never);
    });
  if (communicator.rank === 0) copy(true);
  communicator.collectives.barrier();
  if (communicator.rank !== 0) copy(false);
  communicator.collectives.barrier(); // nobody writes the gather buffers before every rank has read them
}

// A piece of a parameter as a Parameter over the same memory (centralized ones keep their rows).
function subParameter(entry: ParameterEntry, segment: Segment): AnyParameter {
  const { param } = entry;
  const data = param.data.subarray(segment.start, segment.end);
  const centralized = entry.gradCentralization && param.rank >= 3;
  const rows = param.size / param.shape[0];
  const shape = centralized ? [(segment.end - segment.start) / rows, ...param.shape.slice(1)] : [segment.end - segment.start];
  return new Parameter(data as never, param.name, { shape, dtype: param.dtype }) as AnyParameter;
}

function build(params: ParamsInput, given: Record<string, unknown>, communicator: CommunicatorImpl, sharded: boolean): Setup {
  const options = readOptions(OWNER, given);
  const { entries, groupLr } = readParams(OWNER, params, options);
  if (options.device === 'cuda' && options.parameterSync !== 'step') {
    // The exchange gathers the pieces from each Parameter.data: they must be current after every step.
    throw valueError(OWNER, 'parameterSync', "'step' with a communicator (the pieces are gathered through host memory)", options.parameterSync);
  }
  checkAgreement(communicator.collectives.allGather(describe(entries, groupLr, options, sharded)));
  const layout = new ShardLayout(entries, communicator.size);
  const exchange = allocate(communicator, layout, sharded);
  broadcast(communicator, layout, entries, exchange);
  const segments = sharded
    ? layout.segments(communicator.rank)
    : entries.map((e, i) => ({ entry: i, group: layout.placement[i].group, start: 0, end: e.param.size }));
  const inner = sharded
    ? segments.map((s) => ({ ...entries[s.entry], param: subParameter(entries[s.entry], s) }))
    : entries;
  const states = allocateStates(inner.map((e) => e.param), options.centered, false, options.initialMeanSquare, options.masterWeights);
  const parts = new Parts(options, inner, groupLr, states, new Int32Array(1));
  return { communicator, options, entries, groupLr, layout, sharded, segments, exchange, parts };
}

/** Float32 values of every 16-bit pattern of a dtype (half gradients are reduced in float32). */
const halfTables = new Map<HalfDType, Float32Array>();
function halfTable(dtype: HalfDType): Float32Array {
  let table = halfTables.get(dtype);
  if (!table) {
    table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = fromHalfBits(bits, dtype);
    halfTables.set(dtype, table);
  }
  return table;
}

/**
 * A data-parallel RMSProp (see the file comment). Made by `new RMSProp(params, { communicator })`
 * when the communicator has more than one rank; not constructed directly.
 */
export class DataParallelRMSProp extends RMSProp {
  private readonly setup: Setup;
  private readonly reader: GradientReader;
  private readonly fullPlan: StepPlan;
  /** Sharded: this rank's piece of the mean, per group (the inner step's gradients view it). */
  private readonly pieces: readonly ReduceArray[];
  /** The gradients of the inner step: one view per segment (of `pieces`, or of the shared mean). */
  private readonly innerGradients: readonly ReduceArray[];
  private bufferViews: TensorArray[] | null = null;
  private gathered: { readonly states: ParameterState[]; readonly buffers: StateBuffer[] } | null = null;

  constructor(setup: Setup) {
    super(setup.parts as never);
    this.setup = setup;
    const { entries, layout, communicator, segments, exchange, sharded } = setup;
    this.reader = new GradientReader(entries.map(({ param }) => ({ param, dtype: param.dtype, size: param.size })), () => undefined);
    this.fullPlan = new StepPlan(entries, setup.options);
    const rank = communicator.rank;
    this.pieces = layout.groups.map((g) => new (reduceType(g.dtype))(g.cuts[rank + 1] - g.cuts[rank]));
    this.innerGradients = segments.map((s) => {
      const { offset } = layout.placement[s.entry];
      if (!sharded) return exchange.mean![s.group].subarray(offset, offset + s.end);
      const from = offset + s.start - layout.groups[s.group].cuts[rank];
      return this.pieces[s.group].subarray(from, from + s.end - s.start);
    });
  }

  /** The communicator this optimizer exchanges through. */
  get communicator(): CommunicatorImpl {
    return this.setup.communicator;
  }

  /** Whether each rank keeps only its piece of the state (`shardState`). */
  get shardState(): boolean {
    return this.setup.sharded;
  }

  protected override get wholeEntries(): readonly ParameterEntry[] {
    return this.setup.entries;
  }

  protected override get wholePlan(): StepPlan {
    return this.fullPlan;
  }

  override state(param: AnyParameter): ParameterState {
    if (!this.setup.sharded) return super.state(param);
    throw new Error(
      `For '${OWNER}', 'state' is not available with shardState: each rank holds only its piece of the state; ` +
        'use stateDict() (collective) for all of it.',
    );
  }

  override gradientBuffers(): TensorArray[] {
    if (!this.bufferViews) {
      const mine = this.setup.exchange.slots[this.setup.communicator.rank];
      this.bufferViews = this.setup.entries.map(({ param }, i) => {
        const { group, offset, size } = this.setup.layout.placement[i];
        return isHalf(param.dtype) ? new Uint16Array(size) : mine[group].subarray(offset, offset + size);
      });
    }
    return [...this.bufferViews];
  }

  override step(gradients?: readonly Gradient[]): boolean {
    this.operations.assertIdle('step');
    const collectives = this.setup.communicator.collectives;
    const barrier = () => collectives.barrier();
    this.prepare(gradients);
    barrier();
    if (this.reduce()) barrier();
    if (!this.everyRankFinite()) return this.stepped(false);
    this.apply(this.innerGradients as Gradient[]);
    if (this.setup.sharded) {
      this.writePieces();
      barrier();
      this.readPieces();
    }
    return true;
  }

  override stepAsync(gradients?: readonly Gradient[]): Promise<boolean> {
    return this.operations.enqueue(async () => {
      const collectives = this.setup.communicator.collectives;
      this.prepare(gradients);
      await collectives.barrierAsync();
      if (this.reduce()) await collectives.barrierAsync();
      if (!this.everyRankFinite()) return this.stepped(false);
      await this.applyAsync(this.innerGradients as Gradient[]);
      if (this.setup.sharded) {
        this.writePieces();
        await collectives.barrierAsync();
        this.readPieces();
      }
      return true;
    });
  }

  // Checks the gradients (before any exchange: a bad one is this rank's error alone) and writes
  // them into this rank's gradient buffer.
  private prepare(gradients: readonly Gradient[] | undefined): void {
    const given = gradients === undefined && this.bufferViews ? this.bufferViews : gradients;
    this.reader.check(given);
    this.fullPlan.learningRates(this.globalStep); // a table that has run out: a ValueError here, on every rank alike
    const { entries, layout, exchange, communicator } = this.setup;
    const mine = exchange.slots[communicator.rank];
    entries.forEach(({ param }, i) => {
      const { group, offset, size } = layout.placement[i];
      const grad = this.reader.buffers[i];
      const slot = mine[group];
      if (grad.buffer === slot.buffer && grad.byteOffset === slot.byteOffset + offset * slot.BYTES_PER_ELEMENT) return; // gradientBuffers()
      if (grad instanceof Uint16Array) {
        const table = halfTable(param.dtype as HalfDType);
        for (let j = 0; j < size; j++) slot[offset + j] = table[grad[j]];
      } else {
        slot.set(grad, offset);
      }
    });
  }

  /**
   * After every rank's gradients are in: this rank's piece of the mean (into `pieces`, or the
   * shared mean when not sharded) and its non-finite flag. Returns whether a second barrier must
   * come before the step (for the flags, or for the shared mean).
   */
  private reduce(): boolean {
    const { layout, exchange, communicator, sharded, options } = this.setup;
    const rank = communicator.rank;
    const check = skipsNonFinite(options);
    let finite = true;
    layout.groups.forEach((g, group) => {
      const from = g.cuts[rank];
      const to = g.cuts[rank + 1];
      const out = sharded ? this.pieces[group] : exchange.mean![group];
      const at = sharded ? 0 : from;
      const pieceFinite = binding.reduceMean(out, at, from, to, check, ...exchange.slots.map((slots) => slots[group]));
      finite &&= pieceFinite;
    });
    if (check) Atomics.store(exchange.nonFinite, rank, finite ? 0 : 1);
    return check || !sharded;
  }

  // Whether no rank's piece of the mean held an inf or NaN (after the flags' barrier).
  private everyRankFinite(): boolean {
    return !skipsNonFinite(this.setup.options) || this.setup.exchange.nonFinite.every((flag) => flag === 0);
  }

  // Sharded: this rank's updated piece into the gather buffers.
  private writePieces(): void {
    const { entries, layout, exchange, segments } = this.setup;
    for (const s of segments) {
      const { offset } = layout.placement[s.entry];
      exchange.params[s.group].set(entries[s.entry].param.data.subarray(s.start, s.end) as never, offset + s.start);
    }
  }

  // Sharded: every other rank's piece from the gather buffers.
  private readPieces(): void {
    const { entries, layout, exchange, communicator } = this.setup;
    for (let rank = 0; rank < communicator.size; rank++) {
      if (rank === communicator.rank) continue;
      for (const s of layout.segments(rank)) {
        const { offset } = layout.placement[s.entry];
        entries[s.entry].param.data.set(exchange.params[s.group].subarray(offset + s.start, offset + s.end) as never, s.start);
      }
    }
  }

  /** Collective: rank 0 writes the whole state (as one process would) to `path`; every rank resolves once it is written. */
  override async saveState(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw typeError(OWNER, 'path', 'a non-empty string', path);
    return this.operations.enqueue(async () => {
      const { communicator } = this.setup;
      const bytes = this.withWholeState((buffers) => (communicator.rank === 0 ? encodeState(buffers, this.globalStep, this.scaleEntries()) : null));
      let failure: string | null = null;
      if (bytes) await writeFileAtomically(path, bytes).catch((e: Error) => (failure = e.message));
      const outcome = communicator.collectives.allGather(failure)[0];
      if (outcome !== null) throw new Error(`For '${OWNER}', rank 0 could not write ${path}: ${outcome}`);
    });
  }

  override share(): SharedRMSProp {
    throw new Error(`For '${OWNER}', 'share' is not available with a communicator: each rank already has its own optimizer.`);
  }

  override deviceBuffers(): DeviceBuffers[] {
    throw new Error(`For '${OWNER}', 'deviceBuffers' is not available with a communicator: gradients are exchanged through host memory.`);
  }

  override stepDeviceGradients(): boolean {
    throw new Error(`For '${OWNER}', 'stepDeviceGradients' is not available with a communicator: gradients are exchanged through host memory.`);
  }

  /**
   * Sharded: every rank writes its piece of the state into shared whole-state buffers; `read`
   * runs on them between barriers (collective). Not sharded: this rank's own state.
   */
  protected override withWholeState<T>(read: (buffers: readonly StateBuffer[]) => T): T {
    if (!this.setup.sharded) return super.withWholeState(read);
    const { segments } = this.setup;
    const { states, buffers } = this.gatheredState();
    const kinds = ['meanSquare', 'moment', 'meanGrad', 'master'] as const;
    segments.forEach((s, j) => {
      const own = super.state(this.innerParameters[j]);
      for (const kind of kinds) {
        const piece = own[kind];
        if (piece) (states[s.entry][kind] as Float32Array).set(piece as Float32Array, s.start);
      }
    });
    const collectives = this.setup.communicator.collectives;
    collectives.barrier();
    const result = read(buffers);
    collectives.barrier(); // nobody writes the shared whole again before every rank has read it
    return result;
  }

  /** Sharded: the shared whole-state buffers (made on first use, collectively). */
  protected override wholeStateBuffers(): readonly StateBuffer[] {
    return this.setup.sharded ? this.gatheredState().buffers : super.wholeStateBuffers();
  }

  /** Sharded: a checked whole state (in `wholeStateBuffers()` order), of which this rank keeps its piece. */
  protected override applyLoaded(loaded: LoadedState, where: string): void {
    super.applyLoaded(this.setup.sharded ? this.pieceOf(loaded) : loaded, where);
  }

  // Shared whole-state buffers (made once, collectively), laid out as one process's.
  private gatheredState(): { readonly states: ParameterState[]; readonly buffers: StateBuffer[] } {
    if (this.gathered) return this.gathered;
    const { entries, options, communicator } = this.setup;
    const params = entries.map((e) => e.param);
    const lengths = allocateStates(params, options.centered, false, 0, options.masterWeights); // lengths only (freed below)
    const kinds = (s: ParameterState) => [s.meanSquare, s.moment, s.meanGrad, s.master];
    const pools = new Map<ArrayBufferLike, { bytes: number; index: number }>();
    lengths.forEach((s) =>
      kinds(s).forEach((v) => {
        if (v && !pools.has(v.buffer)) pools.set(v.buffer, { bytes: v.buffer.byteLength, index: pools.size });
      }),
    );
    const shared = communicator.collectives.sharedBuffers([...pools.values()].map((p) => p.bytes));
    if (!shared) throw new Error(`For '${OWNER}', the '${communicator.backend}' backend has no shared memory (not built yet).`);
    const view = (v: ParameterState['meanSquare'] | undefined) => {
      if (!v) return undefined;
      const Type = v instanceof Float64Array ? Float64Array : Float32Array;
      return new Type(shared[pools.get(v.buffer)!.index] as unknown as ArrayBuffer, v.byteOffset, v.length);
    };
    const states = lengths.map((s) =>
      Object.freeze({
        meanSquare: view(s.meanSquare)!,
        moment: view(s.moment)!,
        ...(s.meanGrad ? { meanGrad: view(s.meanGrad) } : {}),
        ...(s.master ? { master: view(s.master) as Float32Array } : {}),
      }),
    ) as ParameterState[];
    this.gathered = { states, buffers: stateBuffersOf(params, states) };
    return this.gathered;
  }

  private get innerParameters(): readonly AnyParameter[] {
    return this.parts.entries.map((e) => e.param);
  }

  // This rank's piece of a whole state (`loaded`, in the gathered buffers' order), in its own buffers' order.
  private pieceOf(loaded: LoadedState): LoadedState {
    const { segments } = this.setup;
    const whole = this.gatheredState().buffers;
    const byKey = new Map(whole.map((b, i) => [b.key, loaded.sources[i]]));
    // The inner buffers are the segments' pieces under the whole's keys (`<kind>.<name>`; a
    // rank holds at most one piece of a parameter).
    const byName = new Map(segments.map((s) => [this.setup.entries[s.entry].param.name, s]));
    const sources = this.stateBuffers.map((b) => {
      const segment = byName.get(b.key.slice(b.key.indexOf('.') + 1))!;
      return byKey.get(b.key)!.subarray(segment.start, segment.end);
    });
    return { ...loaded, sources };
  }
}

registerParallel({
  wants: (options) =>
    typeof options === 'object' && options !== null && ((options as Record<string, unknown>).communicator !== undefined || (options as Record<string, unknown>).shardState !== undefined),
  create(params, options) {
    const { communicator, shardState, ...rest } = options as Record<string, unknown>;
    if (!isCommunicator(communicator)) throw typeError(OWNER, 'communicator', 'the communicator of await distributed.init()', communicator);
    const sharded = boolean(OWNER, 'shardState', shardState ?? true);
    if (communicator.size === 1) return new RMSProp(params, rest);
    return new DataParallelRMSProp(build(params, rest, communicator, sharded));
  },
});

