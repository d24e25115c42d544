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
import { encodeState, stateBuffersOf, writeFileAtomically, type LoadedState, type StateBuffer } from '../state/checkpoint';
import { boolean } from '../base/checks';
import { typeError, valueError, ValueError } from '../base/errors';
import { GradientReader } from '../step/gradients';
import { binding } from '../native/native';
import { readParams, type ParameterEntry, type ParamsInput } from '../config/groups';
import { fromHalfBits } from '../base/half';
import { readOptions, skipsNonFinite, type ResolvedOptions } from '../config/options';
import { Parts, registerParallel } from '../parts';
import { StepPlan } from '../step/plan';
import { RMSProp, type Gradient, type SharedRMSProp, type DeviceBuffers } from '../rmsprop';
import { allocateStates, type ParameterState } from '../state/state';
import { isHalf, Parameter, type AnyParameter, type HalfDType, type TensorArray } from '../base/tensor';
import { isCommunicator, type CommunicatorImpl, type ReduceArray } from './communicator';
import { reduceType, type Exchange } from './exchange';
import { ShardLayout, type Segment } from './layout';

const OWNER = 'RMSProp';

/** The whole state of a sharded optimizer, laid out as one process's (checkpoints read it). */
interface WholeState {
  readonly states: ParameterState[];
  readonly buffers: StateBuffer[];
  /** Whether every rank sees the same memory (else each gathers the pieces by messages). */
  readonly shared: boolean;
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

// What every rank must agree on, one line per fact (the first line that differs is the error).
function describe(entries: readonly ParameterEntry[], groupLr: boolean, options: ResolvedOptions, sharded: boolean, bucketBytes: number): string[] {
  const value = (v: unknown): string =>
    JSON.stringify(v, (_, x: unknown) =>
      typeof x === 'function' ? `function ${x.name || '(anonymous)'}` : x instanceof Object && !Array.isArray(x) && x.constructor !== Object ? { [x.constructor.name]: { ...x } } : x,
    );
  const { learningRate, weightDecay, ...rest } = options;
  const step = (v: ParameterEntry['lr'] | null) => (v === null ? 'none' : v.kind === 'function' ? value(v.source) : value(v));
  return [
    `shardState ${sharded}, bucketBytes ${bucketBytes}`,
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

// Rank 0's parameters to every rank, through the exchange's parameter buffers.
function broadcast(communicator: CommunicatorImpl, layout: ShardLayout, entries: readonly ParameterEntry[], exchange: Exchange): void {
  const shared = (i: number) => {
    const { group, offset, size } = layout.placement[i];
    return exchange.params[group].subarray(offset, offset + size);
  };
  if (communicator.rank === 0) entries.forEach((e, i) => shared(i).set(e.param.data as never));
  exchange.broadcast();
  if (communicator.rank !== 0) entries.forEach((e, i) => e.param.data.set(shared(i) as never));
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

function build(params: ParamsInput, given: Record<string, unknown>, communicator: CommunicatorImpl, sharded: boolean, bucketBytes: number): Setup {
  const options = readOptions(OWNER, given);
  const { entries, groupLr } = readParams(OWNER, params, options);
  if (options.device === 'cuda' && options.parameterSync !== 'step') {
    // The exchange gathers the pieces from each Parameter.data: they must be current after every step.
    throw valueError(OWNER, 'parameterSync', "'step' with a communicator (the pieces are gathered through host memory)", options.parameterSync);
  }
  checkAgreement(communicator.collectives.allGather(describe(entries, groupLr, options, sharded, bucketBytes)));
  const layout = new ShardLayout(entries, communicator.size);
  const { rank, size } = communicator;
  const exchange = communicator.collectives.exchange({ layout, rank, size, sharded, bucketBytes });
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
  private gathered: WholeState | null = null;

  constructor(setup: Setup) {
    super(setup.parts);
    this.setup = setup;
    const { entries, layout, communicator, segments, exchange, sharded } = setup;
    this.reader = new GradientReader(entries.map(({ param }) => ({ param, dtype: param.dtype, size: param.size })), () => undefined);
    this.fullPlan = new StepPlan(entries, setup.options);
    const rank = communicator.rank;
    this.pieces = sharded ? layout.groups.map((g) => new (reduceType(g.dtype))(g.cuts[rank + 1] - g.cuts[rank])) : [];
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
      const mine = this.setup.exchange.send;
      this.bufferViews = this.setup.entries.map(({ param }, i) => {
        const { group, offset, size } = this.setup.layout.placement[i];
        // Views of the exchange where it takes the gradients as they are (else they are scaled in).
        if (isHalf(param.dtype)) return new Uint16Array(size);
        return this.setup.exchange.scale === 1 ? mine[group].subarray(offset, offset + size) : new (reduceType(param.dtype))(size);
      });
    }
    return [...this.bufferViews];
  }

  override step(gradients?: readonly Gradient[]): boolean {
    this.operations.assertIdle('step');
    const { exchange, sharded } = this.setup;
    this.prepare(gradients);
    if (!exchange.reduce(this.pieces, this.checks)) return this.stepped(false);
    this.apply(this.innerGradients as Gradient[]);
    if (sharded) {
      this.writePieces();
      exchange.gather();
      this.readPieces();
    }
    return true;
  }

  override stepAsync(gradients?: readonly Gradient[]): Promise<boolean> {
    return this.operations.enqueue(async () => {
      const { exchange, sharded } = this.setup;
      this.prepare(gradients);
      if (!(await exchange.reduceAsync(this.pieces, this.checks))) return this.stepped(false);
      await this.applyAsync(this.innerGradients as Gradient[]);
      if (sharded) {
        this.writePieces();
        await exchange.gatherAsync();
        this.readPieces();
      }
      return true;
    });
  }

  // Whether the exchange checks the mean for inf/NaN (skipNonFinite, or a loss scale).
  private get checks(): boolean {
    return skipsNonFinite(this.setup.options);
  }

  // Checks the gradients (before any exchange: a bad one is this rank's error alone) and writes
  // them into this rank's gradient buffer.
  private prepare(gradients: readonly Gradient[] | undefined): void {
    const given = gradients === undefined && this.bufferViews ? this.bufferViews : gradients;
    this.reader.check(given);
    this.fullPlan.learningRates(this.globalStep); // a table that has run out: a ValueError here, on every rank alike
    const { entries, layout, exchange } = this.setup;
    const mine = exchange.send;
    const { scale } = exchange;
    entries.forEach(({ param }, i) => {
      const { group, offset, size } = layout.placement[i];
      const grad = this.reader.buffers[i];
      const slot = mine[group];
      if (grad.buffer === slot.buffer && grad.byteOffset === slot.byteOffset + offset * slot.BYTES_PER_ELEMENT) return; // gradientBuffers()
      if (grad instanceof Uint16Array) {
        const table = halfTable(param.dtype as HalfDType);
        if (scale === 1) for (let j = 0; j < size; j++) slot[offset + j] = table[grad[j]];
        else for (let j = 0; j < size; j++) slot[offset + j] = table[grad[j]] * scale; // one rounding, from double
      } else if (scale === 1) {
        slot.set(grad, offset);
      } else {
        binding.scaleInto(slot, offset, grad as ReduceArray, scale);
      }
    });
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
      const bytes = this.withWholeState((buffers) => (communicator.rank === 0 ? encodeState(buffers, this.globalStep, this.scaling.entries()) : null));
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
   * Sharded: every rank writes its piece of the state into whole-state buffers (shared memory:
   * between barriers; messages: every rank's pieces all-gathered); `read` runs on the whole
   * (collective). Not sharded: this rank's own state.
   */
  protected override withWholeState<T>(read: (buffers: readonly StateBuffer[]) => T): T {
    if (!this.setup.sharded) return super.withWholeState(read);
    const { segments } = this.setup;
    const { states, buffers, shared } = this.gatheredState();
    const kinds = ['meanSquare', 'moment', 'meanGrad', 'master'] as const;
    const mine = segments.map((s, j) => {
      const own = super.state(this.innerParameters[j]);
      return { entry: s.entry, start: s.start, pieces: kinds.map((kind) => own[kind] ?? null) };
    });
    const fill = (from: typeof mine) =>
      from.forEach(({ entry, start, pieces }) =>
        kinds.forEach((kind, k) => pieces[k] && (states[entry][kind] as Float32Array).set(pieces[k] as Float32Array, start)),
      );
    const collectives = this.setup.communicator.collectives;
    if (!shared) {
      collectives.allGather(mine).forEach(fill);
      return read(buffers);
    }
    fill(mine);
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

  // Whole-state buffers laid out as one process's (made once, collectively): shared memory where
  // the backend has it, else this rank's own.
  private gatheredState(): WholeState {
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
    const bytes = [...pools.values()].map((p) => p.bytes);
    const shared = communicator.collectives.sharedBuffers(bytes);
    const memory: ArrayBufferLike[] = shared ?? bytes.map((n) => new ArrayBuffer(n));
    const view = (v: ParameterState['meanSquare'] | undefined) => {
      if (!v) return undefined;
      const Type = v instanceof Float64Array ? Float64Array : Float32Array;
      return new Type(memory[pools.get(v.buffer)!.index] as ArrayBuffer, v.byteOffset, v.length);
    };
    const states = lengths.map((s) =>
      Object.freeze({
        meanSquare: view(s.meanSquare)!,
        moment: view(s.moment)!,
        ...(s.meanGrad ? { meanGrad: view(s.meanGrad) } : {}),
        ...(s.master ? { master: view(s.master) as Float32Array } : {}),
      }),
    ) as ParameterState[];
    this.gathered = { states, buffers: stateBuffersOf(params, states), shared: shared !== null };
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

/** The default `bucketBytes`: the most bytes one MPI call of the exchange carries. */
export const DEFAULT_BUCKET_BYTES = 64 << 20;

registerParallel({
  wants: (options) =>
    typeof options === 'object' && options !== null && ['communicator', 'shardState', 'bucketBytes'].some((key) => (options as Record<string, unknown>)[key] !== undefined),
  create(params, options) {
    const { communicator, shardState, bucketBytes, ...rest } = options as Record<string, unknown>;
    if (!isCommunicator(communicator)) throw typeError(OWNER, 'communicator', 'the communicator of await distributed.init()', communicator);
    const sharded = boolean(OWNER, 'shardState', shardState ?? true);
    const bucket = bucketBytes ?? DEFAULT_BUCKET_BYTES;
    if (typeof bucket !== 'number' || !Number.isInteger(bucket) || bucket < 1024 || bucket > 2 ** 30) {
      throw (typeof bucket === 'number' ? valueError : typeError)(OWNER, 'bucketBytes', 'an integer from 1024 to 2^30', bucket);
    }
    if (communicator.size === 1) return new RMSProp(params, rest);
    return new DataParallelRMSProp(build(params, rest, communicator, sharded, bucket));
  },
});

