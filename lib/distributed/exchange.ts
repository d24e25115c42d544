/**
 * The data-parallel exchange of one optimizer (docs/ARCHITECTURE.md, "Data-parallel"): where
 * each rank's gradients go, how every rank gets its piece of their mean, and how the updated
 * pieces of the parameters reach every rank. One interface, two transports: shared memory
 * (`'workers'`, and `'single'`; this file) and messages (`'mpi'`, lib/distributed/mpi.ts). The
 * optimizer (lib/distributed/optimizer.ts) never asks which it has.
 */
import { binding } from '../native/native';
import type { TensorArray } from '../base/tensor';
import type { Collectives, ReduceArray } from './communicator';
import type { ShardLayout } from './layout';

/** What an exchange is made for: the layout, this rank, whether state is sharded. */
export interface ExchangeSetup {
  readonly layout: ShardLayout;
  readonly rank: number;
  readonly size: number;
  readonly sharded: boolean;
  /** The most bytes one message carries (the MPI backend's bucket size). */
  readonly bucketBytes: number;
}

/** The exchange; every method but the views is collective. */
export interface Exchange {
  /** This rank's gradients, one full-length array per flat group, in the reduce dtype. */
  readonly send: readonly ReduceArray[];
  /**
   * What each gradient is multiplied by as it is written into `send` (rounded once): 1 where the
   * transport forms the mean itself, 1/size where the ranks' scaled gradients are summed.
   */
  readonly scale: number;
  /** The parameters, one full-length array per flat group in their own dtype: pieces meet here. */
  readonly params: readonly TensorArray[];
  /** Not sharded: the whole mean every rank steps with, per group (else null). */
  readonly mean: readonly ReduceArray[] | null;
  /** Rank 0's `params` to every rank. */
  broadcast(): void;
  /**
   * After every rank filled `send`: this rank's piece of the mean into `pieces` (sharded) or
   * the whole mean into `mean`. With `check`, returns whether every rank's piece of the mean is
   * finite (else true).
   */
  reduce(pieces: readonly ReduceArray[], check: boolean): boolean;
  reduceAsync(pieces: readonly ReduceArray[], check: boolean): Promise<boolean>;
  /** After each rank wrote its piece into `params`: every piece in every rank's `params`. */
  gather(): void;
  gatherAsync(): Promise<void>;
}

export const reduceType = (dtype: string) => (dtype === 'float64' ? Float64Array : Float32Array);
export const storageType = (dtype: string) => (dtype === 'float64' ? Float64Array : dtype === 'float32' ? Float32Array : Uint16Array);
/** Elements per cache line of float32: shared slots start on 64-byte boundaries. */
const PAD = 16;
const padded = (n: number) => Math.ceil(n / PAD) * PAD;

/**
 * Shared memory: every rank's gradient slot, the parameters and the non-finite flags live in
 * SharedArrayBuffers made by rank 0; a barrier orders the writes and reads; the reduce is native
 * (binding.reduceMean: float64 sums in rank order, rounded once).
 */
export class SharedExchange implements Exchange {
  readonly send: readonly ReduceArray[];
  readonly scale = 1;
  readonly params: readonly TensorArray[];
  readonly mean: readonly ReduceArray[] | null;
  /** Each rank's gradients: `slots[rank][group]`. */
  private readonly slots: readonly (readonly ReduceArray[])[];
  /** Per rank: 1 when its piece of the mean held an inf or NaN. */
  private readonly nonFinite: Int32Array;

  constructor(
    private readonly collectives: Collectives,
    private readonly setup: ExchangeSetup,
    buffers: SharedArrayBuffer[],
  ) {
    const { layout, size, sharded } = setup;
    const groups = layout.groups;
    const n = groups.length;
    this.slots = Array.from({ length: size }, (_, rank) =>
      groups.map((g, i) => new (reduceType(g.dtype))(buffers[i] as unknown as ArrayBuffer, rank * padded(g.total) * reduceType(g.dtype).BYTES_PER_ELEMENT, g.total)),
    );
    this.send = this.slots[setup.rank];
    this.params = groups.map((g, i) => new (storageType(g.dtype))(buffers[n + i] as unknown as ArrayBuffer, 0, g.total));
    this.mean = sharded ? null : groups.map((g, i) => new (reduceType(g.dtype))(buffers[2 * n + i] as unknown as ArrayBuffer, 0, g.total));
    this.nonFinite = new Int32Array(buffers[buffers.length - 1]);
  }

  /** The byte lengths of the shared buffers an exchange of `setup` needs (made by rank 0). */
  static bytes(setup: ExchangeSetup): number[] {
    const { layout, size, sharded } = setup;
    const groups = layout.groups;
    return [
      ...groups.map((g) => size * padded(g.total) * reduceType(g.dtype).BYTES_PER_ELEMENT),
      ...groups.map((g) => padded(g.total) * storageType(g.dtype).BYTES_PER_ELEMENT),
      ...(sharded ? [] : groups.map((g) => padded(g.total) * reduceType(g.dtype).BYTES_PER_ELEMENT)),
      4 * size,
    ];
  }

  broadcast(): void {
    // Rank 0 has written `params`; nobody writes them again before every rank has read them.
    this.collectives.barrier();
  }

  reduce(pieces: readonly ReduceArray[], check: boolean): boolean {
    this.collectives.barrier();
    if (this.reducePiece(pieces, check)) this.collectives.barrier();
    return this.everyRankFinite(check);
  }

  async reduceAsync(pieces: readonly ReduceArray[], check: boolean): Promise<boolean> {
    await this.collectives.barrierAsync();
    if (this.reducePiece(pieces, check)) await this.collectives.barrierAsync();
    return this.everyRankFinite(check);
  }

  gather(): void {
    this.collectives.barrier();
  }

  gatherAsync(): Promise<void> {
    return this.collectives.barrierAsync();
  }

  // This rank's piece of the mean and its non-finite flag; whether a second barrier must come
  // before the step (for the flags, or for the shared mean).
  private reducePiece(pieces: readonly ReduceArray[], check: boolean): boolean {
    const { layout, rank, sharded } = this.setup;
    let finite = true;
    layout.groups.forEach((g, group) => {
      const from = g.cuts[rank];
      const to = g.cuts[rank + 1];
      const out = sharded ? pieces[group] : this.mean![group];
      const at = sharded ? 0 : from;
      const pieceFinite = binding.reduceMean(out, at, from, to, check, ...this.slots.map((slots) => slots[group]));
      finite &&= pieceFinite;
    });
    if (check) Atomics.store(this.nonFinite, rank, finite ? 0 : 1);
    return check || !sharded;
  }

  private everyRankFinite(check: boolean): boolean {
    return !check || this.nonFinite.every((flag) => flag === 0);
  }
}

/** The shared-memory exchange of a backend with shared buffers (collective: rank 0 makes them). */
export function sharedExchange(collectives: Collectives, setup: ExchangeSetup): Exchange {
  const buffers = collectives.sharedBuffers(SharedExchange.bytes(setup));
  if (!buffers) throw new Error('this backend has no shared memory');
  return new SharedExchange(collectives, setup, buffers);
}
