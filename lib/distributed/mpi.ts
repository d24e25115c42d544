/**
 * The `'mpi'` backend (docs/ARCHITECTURE.md, "Data-parallel", "MPI"): processes started by
 * `mpirun` (Open MPI), on one host or many. The MPI plugin (mpi/rmsprop_mpi.c, linked against
 * libmpi.so.40) is loaded only here, when a script joins this backend; one native thread owns
 * every MPI call (binding/core/mpi_channel.cc) and this file turns the optimizer's exchange into
 * a few large collectives: a reduce-scatter of the gradients and an all-gather of the updated
 * parameters (sharded state), or one all-reduce of the gradients (not sharded), in buckets of at
 * most `bucketBytes`.
 */
import fs from 'node:fs';
import path from 'node:path';

import { binding, packageRoot, type MpiArray } from '../native/native';
import type { TensorArray } from '../base/tensor';
import { register, type Collectives, type CommunicatorImpl, type ReduceArray } from './communicator';
import { reduceType, storageType, type Exchange, type ExchangeSetup } from './exchange';

/** The plugin's file name. */
export const MPI_PLUGIN_FILE = 'librmsprop_mpi.so';

/** What to install for the MPI backend (Debian's packages). */
export const MPI_INSTALL_HINT = 'install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)';

/** Whether this process was started by Open MPI's `mpirun` (its OMPI_COMM_WORLD_* variables). */
export function startedByMpirun(): boolean {
  return process.env.OMPI_COMM_WORLD_SIZE !== undefined && process.env.OMPI_COMM_WORLD_RANK !== undefined;
}

/** Where the plugin is looked for: `RMSPROP_MPI_LIBRARY` alone when set, else next to the addon's builds. */
export function mpiPluginCandidates(): string[] {
  const forced = process.env.RMSPROP_MPI_LIBRARY;
  if (forced) return [path.resolve(forced)];
  return [
    path.join(packageRoot, 'build', 'Release', MPI_PLUGIN_FILE),
    path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, MPI_PLUGIN_FILE),
  ];
}

const OWNER = 'distributed.init';

// The plugin loaded and MPI started, or an Error that says what to install or build.
function start(timeoutMs: number): { rank: number; size: number } {
  if (process.platform !== 'linux') throw new Error(`For '${OWNER}', backend 'mpi' is built for Linux only (this is ${process.platform}).`);
  const places = mpiPluginCandidates();
  const plugin = places.find((p) => fs.existsSync(p));
  if (!plugin) {
    throw new Error(
      `For '${OWNER}', backend 'mpi' needs the MPI plugin, which this installation lacks (looked for ${places.join(', ')}): ` +
        `${MPI_INSTALL_HINT}, then build it with 'npx rmsprop-native-build'.`,
    );
  }
  try {
    return binding.mpiStart(plugin, timeoutMs);
  } catch (error) {
    const message = (error as Error).message;
    if (/libmpi[^ ]*\.so/.test(message)) {
      throw new Error(`For '${OWNER}', backend 'mpi' needs Open MPI's library libmpi.so.40, which is not installed: ${MPI_INSTALL_HINT}. (${message})`);
    }
    throw new Error(`For '${OWNER}', MPI did not start: ${message}`);
  }
}

/**
 * The exchange by messages: this rank's gradients, the mean and the parameters in its own
 * memory. Each rank's gradients are written × 1/size (in double, rounded once: exact for a
 * power of two), so MPI's sum is the mean (as PyTorch DDP divides before its all-reduce): one
 * reduce-scatter gives each rank its piece of it, one all-gather (in place) gives every rank
 * every updated piece; not sharded, one all-reduce gives every rank the whole mean.
 */
class MpiExchange implements Exchange {
  readonly send: readonly ReduceArray[];
  readonly scale: number;
  readonly params: readonly TensorArray[];
  readonly mean: readonly ReduceArray[] | null;
  private readonly cuts: number[][];

  constructor(
    private readonly setup: ExchangeSetup,
    private readonly timeoutMs: number,
  ) {
    const { layout, sharded } = setup;
    this.cuts = layout.groups.map((g) => [...g.cuts]);
    this.send = layout.groups.map((g) => new (reduceType(g.dtype))(g.total));
    this.scale = 1 / setup.size;
    this.params = layout.groups.map((g) => new (storageType(g.dtype))(g.total));
    this.mean = sharded ? null : layout.groups.map((g) => new (reduceType(g.dtype))(g.total));
  }

  broadcast(): void {
    // An all-gather in which rank 0 holds everything: MPI_Allgatherv with counts [total, 0, …].
    const cuts = this.cuts.map((c) => c.map((_, r) => (r === 0 ? 0 : c[c.length - 1])));
    binding.mpiGather(this.params as MpiArray[], cuts, this.setup.bucketBytes, this.timeoutMs, false);
  }

  // Sharded: a reduce-scatter into this rank's pieces. Not sharded: an all-reduce into the mean.
  reduce(pieces: readonly ReduceArray[], check: boolean): boolean {
    const { bucketBytes } = this.setup;
    const send = this.send as MpiArray[];
    if (this.mean) return binding.mpiAllReduceMean(send, this.mean as MpiArray[], this.cuts, bucketBytes, check, this.timeoutMs, false);
    return binding.mpiReduceMean(send, pieces as MpiArray[], this.cuts, bucketBytes, check, this.timeoutMs, false);
  }

  reduceAsync(pieces: readonly ReduceArray[], check: boolean): Promise<boolean> {
    const { bucketBytes } = this.setup;
    const send = this.send as MpiArray[];
    if (this.mean) return binding.mpiAllReduceMean(send, this.mean as MpiArray[], this.cuts, bucketBytes, check, this.timeoutMs, true);
    return binding.mpiReduceMean(send, pieces as MpiArray[], this.cuts, bucketBytes, check, this.timeoutMs, true);
  }

  gather(): void {
    binding.mpiGather(this.params as MpiArray[], this.cuts, this.setup.bucketBytes, this.timeoutMs, false);
  }

  gatherAsync(): Promise<void> {
    return binding.mpiGather(this.params as MpiArray[], this.cuts, this.setup.bucketBytes, this.timeoutMs, true);
  }
}

/**
 * Joins the MPI job this process was started in (`mpirun -np N node script.js`): loads the
 * plugin, runs MPI_Init on the MPI thread and, at this process's exit, MPI_Finalize (exit code
 * 0) or MPI_Abort (any other code, or a collective that timed out), so that a failing rank ends
 * the whole job instead of leaving the others waiting.
 */
export function mpiCommunicator(timeoutMs: number): CommunicatorImpl {
  const { rank, size } = start(timeoutMs);
  // The code is told here; the finalize or abort runs at the C runtime's exit, after Node has
  // printed an uncaught error (the 'exit' event comes before it).
  process.on('exit', (code) => binding.mpiExit(typeof code === 'number' ? code : Number(process.exitCode ?? 0), timeoutMs));
  // node:v8 loaded here, not at the module's top: runtimes without it (Bun, Deno) still load the package.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const v8 = require('node:v8') as typeof import('node:v8');
  const collectives: Collectives = {
    allGather: <T>(value: T): T[] =>
      binding.mpiAllGatherBytes(new Uint8Array(v8.serialize(value)), timeoutMs).map((bytes) => v8.deserialize(bytes) as T),
    sharedBuffers: () => null,
    barrier: () => binding.mpiBarrier(timeoutMs, false),
    barrierAsync: () => binding.mpiBarrier(timeoutMs, true),
    exchange: (setup) => new MpiExchange(setup, timeoutMs),
  };
  return register({ rank, size, backend: 'mpi', timeoutMs, collectives });
}
