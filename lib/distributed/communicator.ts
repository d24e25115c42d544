/**
 * The communicator: which rank this script is, how many there are, and the handful of
 * collectives the data-parallel optimizer needs (docs/ARCHITECTURE.md, "Data-parallel"). One
 * interface for every backend: `'single'` (a plain process, rank 0 of 1), `'workers'` (worker
 * threads of one process, lib/distributed/workers.ts) and `'mpi'` (processes started by
 * `mpirun`, lib/distributed/mpi.ts). The optimizer never
 * asks which backend it has.
 */

import { sharedExchange, type Exchange, type ExchangeSetup } from './exchange';

/** How the ranks reach each other. */
export type Backend = 'single' | 'workers' | 'mpi';

/** A float array the exchange reduces (half-precision gradients are reduced in float32). */
export type ReduceArray = Float32Array | Float64Array;

/**
 * The collectives. Every rank calls each one, in the same order (as in MPI); a rank that fails,
 * exits or stays away longer than `timeoutMs` makes every other rank's pending call throw an
 * `Error` that names it.
 */
export interface Collectives {
  /** Every rank's `value` (structured-clonable), in rank order. */
  allGather<T>(value: T): T[];
  /**
   * Buffers every rank sees the same memory of, made by rank 0 with the given byte lengths.
   * Only backends with shared memory have them (`'workers'`); `null` elsewhere.
   */
  sharedBuffers(bytes: readonly number[]): SharedArrayBuffer[] | null;
  /** Returns once every rank has called it. */
  barrier(): void;
  /** The same, without blocking the event loop. */
  barrierAsync(): Promise<void>;
  /** The data-parallel exchange of one optimizer (collective: every rank makes it alike). */
  exchange(setup: ExchangeSetup): Exchange;
}

/**
 * What `distributed.init()` returns: this script's rank among `size`, and the backend that
 * connects them. Pass it to `new RMSProp(params, { communicator })`.
 */
export interface Communicator {
  /** This script's rank: 0 … size − 1. */
  readonly rank: number;
  /** How many ranks run the script. */
  readonly size: number;
  /** How the ranks reach each other. */
  readonly backend: Backend;
  /** How long a collective waits for the other ranks before it throws, in milliseconds. */
  readonly timeoutMs: number;
}

/** A communicator together with its collectives (what the optimizer uses; not exported). */
export interface CommunicatorImpl extends Communicator {
  readonly collectives: Collectives;
}

const registry = new WeakSet<object>();

/** Marks `communicator` as made by `init()` (what the `communicator` option accepts). */
export function register<T extends CommunicatorImpl>(communicator: T): T {
  registry.add(communicator);
  return Object.freeze(communicator);
}

/** Whether `value` is a communicator made by `distributed.init()`. */
export function isCommunicator(value: unknown): value is CommunicatorImpl {
  return typeof value === 'object' && value !== null && registry.has(value);
}

/** The communicator of a plain process: rank 0 of 1; every collective returns at once. */
export function singleCommunicator(timeoutMs: number): CommunicatorImpl {
  const collectives: Collectives = {
    allGather: (value) => [value],
    sharedBuffers: (bytes) => bytes.map((n) => new SharedArrayBuffer(n)),
    barrier: () => undefined,
    barrierAsync: () => Promise.resolve(),
    exchange: (setup) => sharedExchange(collectives, setup),
  };
  return register({ rank: 0, size: 1, backend: 'single', timeoutMs, collectives });
}
