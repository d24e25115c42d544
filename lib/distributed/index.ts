/**
 * The `distributed` export: data-parallel training with one script on every rank. `init()` says
 * which rank this script is; `launch()` starts ranks as worker threads of this process. Pass the
 * communicator to `new RMSProp(params, { communicator })` (lib/distributed/optimizer.ts).
 */
import { isMainThread, workerData } from 'node:worker_threads';

import { typeError } from '../base/errors';
import { singleCommunicator, type Backend, type Communicator } from './communicator';
import { readTimeout } from './launch';
import { mpiCommunicator, startedByMpirun } from './mpi';
import { WORKER_DATA_KEY, workerCommunicator, type WorkerSetup } from './workers';

export type { Backend, Communicator } from './communicator';
export { launch, type LaunchOptions, type RankError } from './launch';

/** Options of `distributed.init(options)`. */
export interface InitOptions {
  /**
   * Which backend to join: by default `'workers'` inside a rank started by `launch` (or
   * `npx rmsprop-native-launch`), `'mpi'` in a process started by Open MPI's `mpirun`, else
   * `'single'`. `'mpi'` needs Open MPI (Debian: openmpi-bin) and the MPI plugin (shipped in the
   * linux-x64 prebuild; `npx rmsprop-native-build` builds it where Open MPI is installed).
   */
  backend?: Backend;
  /** How long a collective waits for the other ranks before it throws, in ms. Default: the launcher's, else 30000. */
  timeoutMs?: number;
}

let joined: Communicator | null = null;

function launchedSetup(): WorkerSetup | null {
  if (isMainThread || workerData === null || typeof workerData !== 'object') return null;
  return ((workerData as Record<string, unknown>)[WORKER_DATA_KEY] as WorkerSetup | undefined) ?? null;
}

/**
 * Whether this thread is a rank started by `launch` (then `init()` joins the `'workers'`
 * backend). A script that launches itself uses it to tell its first run from its ranks.
 */
export const launched: boolean = launchedSetup() !== null;

/**
 * Joins the ranks this script runs among and returns its communicator `{ rank, size, backend }`:
 * `'workers'` in a worker thread started by `launch`, `'mpi'` in a process started by `mpirun`,
 * `'single'` (rank 0 of 1) in a plain process, so the same script runs unchanged each way. Later calls return the same
 * communicator.
 */
export async function init(options: InitOptions = {}): Promise<Communicator> {
  if (options === null || typeof options !== 'object') throw typeError('distributed.init', 'options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (key !== 'backend' && key !== 'timeoutMs') {
      throw new TypeError(`For 'distributed.init', '${key}' is not a known option. The options are: backend, timeoutMs.`);
    }
  }
  const setup = launchedSetup();
  const backend = options.backend ?? (setup ? 'workers' : startedByMpirun() ? 'mpi' : 'single');
  if (joined) {
    if (joined.backend !== backend) {
      throw new Error(`For 'distributed.init', this script already joined the '${joined.backend}' backend; it cannot join '${backend}' too.`);
    }
    return joined;
  }
  switch (backend) {
    case 'single':
      joined = singleCommunicator(readTimeout('distributed.init', options.timeoutMs));
      break;
    case 'workers':
      if (!setup) {
        throw new Error(
          "For 'distributed.init', backend 'workers' needs a rank started by distributed.launch(file, { workers }) " +
            'or npx rmsprop-native-launch -n N file; this script was not.',
        );
      }
      joined = workerCommunicator(setup, options.timeoutMs === undefined ? setup.timeoutMs : readTimeout('distributed.init', options.timeoutMs));
      break;
    case 'mpi':
      joined = mpiCommunicator(readTimeout('distributed.init', options.timeoutMs));
      break;
    default:
      throw typeError('distributed.init', 'backend', "'single', 'workers' or 'mpi'", backend);
  }
  return joined;
}
