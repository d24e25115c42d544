/**
 * The `'workers'` backend, as one rank sees it: a worker thread started by `distributed.launch`
 * (lib/distributed/launch.ts) with a control block and a message port to the launcher in its
 * `workerData`. Barriers wait on the control block with `Atomics`; `allGather` posts its value to
 * the launcher, which answers every rank once all have posted; buffers are SharedArrayBuffers made
 * by rank 0 and passed through `allGather`. Every wait is cut in slices that look for a fault, a
 * departed rank and the timeout, so no rank waits forever.
 */
import os from 'node:os';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

import { setNumThreads } from '../config/settings';

import { register, type Collectives, type CommunicatorImpl } from './communicator';
import { Control, FaultKind, faultMessage } from './control';
import { sharedExchange, type Exchange, type ExchangeSetup } from './exchange';

/** The key of the launcher's entry in a rank's `workerData`. */
export const WORKER_DATA_KEY = 'rmsprop-native/distributed';

/** What the launcher gives each rank. */
export interface WorkerSetup {
  readonly rank: number;
  readonly size: number;
  readonly control: SharedArrayBuffer;
  readonly port: MessagePort;
  readonly timeoutMs: number;
}

/** The launcher's answer to one `allGather`. */
export interface GatherReply {
  readonly seq: number;
  readonly values: unknown[];
}

/** How long one wait lasts before it looks again for faults and the deadline. */
const SLICE_MS = 50;

/**
 * How long a synchronous barrier spins before it sleeps: the ranks of one step arrive within
 * microseconds of each other, and a futex sleep and wake costs tens of microseconds on a VM (as
 * the kernel thread pool, binding/core/thread_pool.cc, spins before it sleeps).
 */
const SPIN_NS = 100_000n;

// Spins until words[index] is no longer `value` or SPIN_NS has passed; true when it moved.
function spinUntilMoved(words: Int32Array, index: number, value: number): boolean {
  const until = process.hrtime.bigint() + SPIN_NS;
  for (let i = 1; ; i++) {
    if (Atomics.load(words, index) !== value) return true;
    if ((i & 255) === 0 && process.hrtime.bigint() > until) return false;
  }
}

class WorkerCollectives implements Collectives {
  /** How many collectives this rank has entered (the control block's `arrived` slot mirrors it). */
  private entered = 0;
  private received = 0;

  constructor(
    private readonly control: Control,
    private readonly rank: number,
    private readonly port: MessagePort,
    private readonly timeoutMs: number,
  ) {}

  allGather<T>(value: T): T[] {
    this.enter();
    const seq = this.entered;
    this.port.postMessage({ seq, value });
    const index = this.control.mailIndex(this.rank);
    const target = ++this.received;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const mail = Atomics.load(this.control.words, index);
      if (mail >= target) break;
      this.check(deadline);
      Atomics.wait(this.control.words, index, mail, SLICE_MS);
    }
    const reply = receiveMessageOnPort(this.port)?.message as GatherReply | undefined;
    if (!reply || reply.seq !== seq) throw new Error(`For 'distributed', rank ${this.rank} lost the launcher's reply to collective ${seq}.`);
    return reply.values as T[];
  }

  sharedBuffers(bytes: readonly number[]): SharedArrayBuffer[] {
    const made = this.rank === 0 ? bytes.map((n) => new SharedArrayBuffer(n)) : null;
    return this.allGather(made)[0] as SharedArrayBuffer[];
  }

  exchange(setup: ExchangeSetup): Exchange {
    return sharedExchange(this, setup);
  }

  barrier(): void {
    const generation = this.arrive();
    if (generation === null) return;
    const words = this.control.words;
    if (spinUntilMoved(words, this.control.generationIndex, generation)) return;
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(words, this.control.generationIndex) === generation) {
      this.check(deadline);
      Atomics.wait(words, this.control.generationIndex, generation, SLICE_MS);
    }
  }

  async barrierAsync(): Promise<void> {
    const generation = this.arrive();
    if (generation === null) return;
    const words = this.control.words;
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(words, this.control.generationIndex) === generation) {
      this.check(deadline);
      await waitAsync(words, this.control.generationIndex, generation, SLICE_MS);
    }
  }

  // Counts this rank into the barrier; null when it was the last (the generation moved on).
  private arrive(): number | null {
    this.enter();
    const words = this.control.words;
    const generation = Atomics.load(words, this.control.generationIndex);
    if (Atomics.add(words, this.control.countIndex, 1) === this.control.size - 1) {
      Atomics.store(words, this.control.countIndex, 0);
      Atomics.add(words, this.control.generationIndex, 1);
      Atomics.notify(words, this.control.generationIndex);
      return null;
    }
    return generation;
  }

  private enter(): void {
    this.check(Infinity);
    this.entered++;
    Atomics.add(this.control.words, this.control.arrivedIndex(this.rank), 1);
  }

  // Throws when the job has a fault, a rank that left will never come, or the deadline passed.
  private check(deadline: number): void {
    const { control } = this;
    let fault = control.faulted();
    if (!fault) {
      const late: number[] = [];
      for (let r = 0; r < control.size; r++) {
        if (Atomics.load(control.words, control.arrivedIndex(r)) < this.entered) late.push(r);
      }
      const gone = late.find((r) => control.departed(r));
      if (gone !== undefined) control.fault(FaultKind.Exited, gone, 0);
      else if (Date.now() > deadline) control.fault(late.length > 0 ? FaultKind.TimedOut : FaultKind.Diverged, late[0] ?? this.rank);
      fault = control.faulted();
    }
    if (fault) {
      const error = new Error(`For 'distributed', ${faultMessage(fault, this.timeoutMs)}; rank ${this.rank} stops.`);
      (error as Error & { rank?: number }).rank = fault.rank;
      throw error;
    }
  }
}

type WaitAsync = (words: Int32Array, index: number, value: number, ms: number) => { async: boolean; value: Promise<string> | string };

// Atomics.waitAsync does not keep the event loop alive: a timer does, for the slice.
async function waitAsync(words: Int32Array, index: number, value: number, ms: number): Promise<void> {
  // Node ≥ 16 has Atomics.waitAsync; the ES2022 lib this package compiles against does not declare it.
  const result = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(words, index, value, ms);
  if (!result.async) return;
  const keepAlive = setTimeout(() => undefined, ms + 5);
  try {
    await result.value;
  } finally {
    clearTimeout(keepAlive);
  }
}

/**
 * The communicator of a rank started by `distributed.launch`. The ranks are threads of one
 * process and share its kernel thread pool: it is sized to ⌊cores / ranks⌋ (at least 1), since
 * the ranks already keep the cores busy (pool threads beyond that would only take turns with the
 * ranks); `setNumThreads` after `init()` overrides it.
 */
export function workerCommunicator(setup: WorkerSetup, timeoutMs: number): CommunicatorImpl {
  setNumThreads(Math.max(1, Math.floor(os.availableParallelism() / setup.size)));
  const control = new Control(setup.control, setup.size);
  setup.port.unref();
  const collectives = new WorkerCollectives(control, setup.rank, setup.port, timeoutMs);
  return register({ rank: setup.rank, size: setup.size, backend: 'workers', timeoutMs, collectives });
}
