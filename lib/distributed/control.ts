/**
 * The `'workers'` backend's control block: one Int32Array on a SharedArrayBuffer that the
 * launcher (lib/distributed/launch.ts) and every rank (lib/distributed/workers.ts) see. It holds
 * the barrier, each rank's mailbox counter, who has left, and the first fault, so that a rank
 * waiting in a collective learns within one wait slice that another rank failed.
 */

/** Why the job stopped (the `FAULT_KIND` slot). */
export const enum FaultKind {
  None = 0,
  /** The rank threw an uncaught error. */
  Threw = 1,
  /** The rank's thread ended with a non-zero exit code (or was terminated). */
  Exited = 2,
  /** The rank did not reach a collective within the timeout (seen by another rank). */
  TimedOut = 3,
  /** The launcher stopped the job (its caller gave up, or a worker could not start). */
  Stopped = 4,
  /**
   * Every rank was waiting, but not in the same collective (the ranks called different
   * sequences of collectives), seen by the rank named when its timeout passed.
   */
  Diverged = 5,
}

// Slots: the fault (kind, rank and exit code packed in one word, so that it is claimed and read
// whole), the barrier (arrivals, generation), then per rank: barriers reached, mailbox counter,
// departed flag.
const FAULT = 0;
const COUNT = 1;
const GENERATION = 2;
const PER_RANK = 3;
const KIND_BITS = 3;
const CODE_BITS = 8;

/** The number of Int32 slots of a control block for `size` ranks. */
export function controlWords(size: number): number {
  return PER_RANK + 3 * size;
}

/** Views of a control block. */
export class Control {
  readonly words: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    readonly size: number,
  ) {
    this.words = new Int32Array(buffer);
  }

  static create(size: number): Control {
    return new Control(new SharedArrayBuffer(4 * controlWords(size)), size);
  }

  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  arrivedIndex(rank: number): number {
    return PER_RANK + rank;
  }

  mailIndex(rank: number): number {
    return PER_RANK + this.size + rank;
  }

  departedIndex(rank: number): number {
    return PER_RANK + 2 * this.size + rank;
  }

  get generationIndex(): number {
    return GENERATION;
  }

  get countIndex(): number {
    return COUNT;
  }

  /** Records the first fault (later ones are ignored) and wakes every waiting rank. */
  fault(kind: FaultKind, rank: number, code = 0): void {
    const word = kind | ((code & 0xff) << KIND_BITS) | (rank << (KIND_BITS + CODE_BITS));
    if (Atomics.compareExchange(this.words, FAULT, 0, word) !== 0) return;
    this.wakeAll();
  }

  /** Marks `rank` as gone (its thread ended) and wakes every waiting rank. */
  depart(rank: number): void {
    Atomics.store(this.words, this.departedIndex(rank), 1);
    this.wakeAll();
  }

  departed(rank: number): boolean {
    return Atomics.load(this.words, this.departedIndex(rank)) !== 0;
  }

  /** The first fault, or null. */
  faulted(): { kind: FaultKind; rank: number; code: number } | null {
    const word = Atomics.load(this.words, FAULT);
    if (word === 0) return null;
    const kind = (word & ((1 << KIND_BITS) - 1)) as FaultKind;
    return { kind, rank: word >>> (KIND_BITS + CODE_BITS), code: (word >>> KIND_BITS) & 0xff };
  }

  private wakeAll(): void {
    Atomics.notify(this.words, GENERATION);
    for (let r = 0; r < this.size; r++) Atomics.notify(this.words, this.mailIndex(r));
  }
}

/** The message of the error a rank throws when another rank's fault ends a collective. */
export function faultMessage(fault: { kind: FaultKind; rank: number; code: number }, timeoutMs: number): string {
  switch (fault.kind) {
    case FaultKind.Threw:
      return `rank ${fault.rank} failed with an error`;
    case FaultKind.Exited:
      return `rank ${fault.rank} exited (code ${fault.code}) before the collective completed`;
    case FaultKind.TimedOut:
      return `rank ${fault.rank} did not reach a collective within ${timeoutMs} ms`;
    case FaultKind.Diverged:
      return `the ranks called different collectives (rank ${fault.rank} waited ${timeoutMs} ms for the others, who were all waiting elsewhere)`;
    default:
      return 'the launcher stopped the job';
  }
}
