/**
 * `distributed.launch(file, { workers })`: runs `file` as ranks 0 … n − 1 of the `'workers'`
 * backend, one worker thread each, and serves their `allGather`s (lib/distributed/workers.ts).
 * It watches every rank: the first error or non-zero exit is recorded in the control block (every
 * waiting rank then throws within one wait slice), the other ranks get a grace period to end, and
 * the promise rejects with that first error, naming its rank.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

import { typeError, valueError } from '../base/errors';
import { Control, FaultKind } from './control';
import { WORKER_DATA_KEY, type GatherReply, type WorkerSetup } from './workers';

const OWNER = 'distributed.launch';

/** Options of `distributed.launch(file, options)`. */
export interface LaunchOptions {
  /** How many ranks (worker threads) run `file`: a positive integer. */
  workers: number;
  /** Arguments appended to each rank's `process.argv`. Default none. */
  argv?: readonly string[];
  /** How long a collective waits for the other ranks before it fails, in ms (each rank's `init()` default). Default 30000. */
  timeoutMs?: number;
}

/** The error `launch` rejects with: the first rank's failure. */
export interface RankError extends Error {
  /** The rank that failed first. */
  rank: number;
}

/** How long the other ranks may take to end after the first failure before they are terminated. */
const GRACE_MS = 5000;

function rankError(rank: number, reason: unknown): RankError {
  // A worker's error arrives as an Error of this realm (or, under a test runner's sandbox, of another one).
  const message = typeof (reason as Error | null)?.message === 'string' ? (reason as Error).message : String(reason);
  const error = new Error(`rank ${rank} failed: ${message}`, { cause: reason }) as RankError;
  error.rank = rank;
  return error;
}

/** Reads and checks `launch`'s arguments. */
function readLaunch(file: unknown, options: unknown): { file: string; workers: number; argv: string[]; timeoutMs: number } {
  if (typeof file !== 'string' || file.length === 0) throw typeError(OWNER, 'file', 'a non-empty string (a script path)', file);
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) throw valueError(OWNER, 'file', 'an existing script', file);
  if (options === null || typeof options !== 'object') throw typeError(OWNER, 'options', 'an object { workers, argv?, timeoutMs? }', options);
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!['workers', 'argv', 'timeoutMs'].includes(key)) {
      throw new TypeError(`For '${OWNER}', '${key}' is not a known option. The options are: workers, argv, timeoutMs.`);
    }
  }
  const workers = given.workers;
  if (typeof workers !== 'number') throw typeError(OWNER, 'workers', 'a positive integer', workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 1024) throw valueError(OWNER, 'workers', 'an integer from 1 to 1024', workers);
  const argv = given.argv ?? [];
  if (!Array.isArray(argv) || argv.some((a) => typeof a !== 'string')) throw typeError(OWNER, 'argv', 'an array of strings', argv);
  return { file: resolved, workers, argv: [...argv], timeoutMs: readTimeout(OWNER, given.timeoutMs) };
}

/** A `timeoutMs` option: a number > 0 (default 30000). */
export function readTimeout(owner: string, value: unknown): number {
  if (value === undefined) return 30000;
  if (typeof value !== 'number') throw typeError(owner, 'timeoutMs', 'a number of milliseconds > 0', value);
  if (!(value > 0) || !Number.isFinite(value)) throw valueError(owner, 'timeoutMs', 'a finite number > 0', value);
  return value;
}

/**
 * Runs `file` (CommonJS or ESM) in `workers` worker threads of this process, as ranks 0 … n − 1;
 * in each, `await distributed.init()` returns that rank's `'workers'` communicator. Resolves when
 * every rank has finished; rejects with the first rank's error (`error.rank`, `error.cause`)
 * after stopping the others.
 */
export function launch(file: string, options: LaunchOptions): Promise<void> {
  const { file: script, workers: size, argv, timeoutMs } = readLaunch(file, options);
  const control = Control.create(size);
  const ports: MessagePort[] = [];
  const pending = new Map<number, unknown[]>();
  const arrivals = new Map<number, number>();
  let first: RankError | null = null;
  let running = size;
  const threads: Worker[] = [];

  return new Promise<void>((resolve, reject) => {
    let grace: NodeJS.Timeout | undefined;
    const fail = (rank: number, reason: unknown, kind: FaultKind, code = 0) => {
      // A rank that saw another's fault (a late or departed rank) throws first: the culprit is that one.
      const seen = control.faulted();
      if (!first) first = rankError(seen && seen.kind !== FaultKind.Diverged ? seen.rank : rank, reason);
      control.fault(kind, rank, code);
      grace ??= setTimeout(() => threads.forEach((t) => void t.terminate()), GRACE_MS);
    };
    // Every rank's value of collective `seq` in: the reply to each, then its mailbox counter.
    const gather = (rank: number, message: { seq: number; value: unknown }) => {
      const values = pending.get(message.seq) ?? new Array<unknown>(size);
      values[rank] = message.value;
      pending.set(message.seq, values);
      const count = (arrivals.get(message.seq) ?? 0) + 1;
      arrivals.set(message.seq, count);
      if (count < size) return;
      pending.delete(message.seq);
      arrivals.delete(message.seq);
      for (let r = 0; r < size; r++) {
        ports[r].postMessage({ seq: message.seq, values } satisfies GatherReply);
        Atomics.add(control.words, control.mailIndex(r), 1);
        Atomics.notify(control.words, control.mailIndex(r));
      }
    };
    const exited = (rank: number, code: number) => {
      // The fault (with its exit code) first: a waiting rank that saw the departure first would
      // record the exit itself, without the code.
      if (code !== 0) fail(rank, new Error(`its thread exited with code ${code}`), FaultKind.Exited, code);
      control.depart(rank);
      if (--running > 0) return;
      clearTimeout(grace);
      ports.forEach((p) => p.close());
      if (first) reject(first);
      else resolve();
    };
    for (let rank = 0; rank < size; rank++) {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1);
      port1.on('message', (m: { seq: number; value: unknown }) => gather(rank, m));
      const setup: WorkerSetup = { rank, size, control: control.buffer, port: port2, timeoutMs };
      let thread: Worker;
      try {
        thread = new Worker(script, { argv, workerData: { [WORKER_DATA_KEY]: setup }, transferList: [port2] });
      } catch (e) {
        fail(rank, e, FaultKind.Stopped);
        running -= size - rank;
        threads.forEach((t) => void t.terminate());
        if (running === 0) {
          ports.forEach((p) => p.close());
          reject(first);
        }
        return;
      }
      threads.push(thread);
      thread.on('error', (e) => fail(rank, e, FaultKind.Threw));
      thread.on('exit', (code) => exited(rank, code));
    }
  });
}
