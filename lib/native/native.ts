/**
 * Loads the native addon (a prebuild or a local build) and describes its internal surface.
 * Nothing here is public API: the facade in `rmsprop.ts` is the only user.
 */
import path from 'node:path';

import type { DType, FloatArray, TensorArray } from '../base/tensor';

/** The CPU kernel levels, best first. */
export type SimdLevel = 'avx512' | 'avx2' | 'sse2' | 'neon' | 'scalar';

/**
 * A knob of the per-element update (a row of include/variants.h): its bit in a tensor's plan
 * flags is set where the option `option` has the value `value` (and, when `weighted`, the tensor
 * has a weight decay).
 */
export interface VariantKnob {
  name: string;
  bit: number;
  option: string;
  value: string | boolean;
  weighted: boolean;
}

/** Indices into the step plan (a Float64Array) and its flag bits; defined once, in binding/core/plan.h. */
export interface PlanLayout {
  decay: number;
  momentum: number;
  epsilon: number;
  invLossScale: number;
  checkFinite: number;
  complementInDouble: number;
  headerSize: number;
  lr: number;
  weightDecay: number;
  flags: number;
  slices: number;
  tensorStride: number;
  /** The flag of gradient centralization (above the variant bits). */
  centralize: number;
  variants: readonly VariantKnob[];
}

/** A buffer kind of every tensor, for transfers between host and device. */
export type DeviceBufferKind = 'param' | 'meanSquare' | 'moment' | 'meanGrad' | 'grad' | 'master';

/** What a native step did (StepOutcome in binding/napi/step_counter.h). */
export const StepOutcome = {
  /** The expected index was claimed by another step: nothing changed. */
  Taken: 0,
  Applied: 1,
  /** A gradient held an inf or NaN (the plan's checkFinite on): nothing changed, no index claimed. */
  Skipped: 2,
} as const;
export type StepOutcome = (typeof StepOutcome)[keyof typeof StepOutcome];

/**
 * The binding's optimizer (binding/napi/optimizer.cc): registered buffers, one `step` call per
 * optimizer step, on the CPU or on a device. `same`: the very array objects of the previous
 * call, none detached (pointers reusable). `expected`: the step index whose values are in the
 * plan; the binding claims it (under the parameters' locks with useLocking) and returns Taken,
 * changing nothing, when another step took it (the contract is stated once, at StepCounter in
 * binding/napi/step_counter.h). With the plan's checkFinite, Skipped when a gradient is not finite.
 */
export interface NativeOptimizer {
  readonly size: number;
  readonly device: 'cpu' | 'cuda';
  /** `grads` null (a device only): the device gradient buffers already hold the gradients. */
  step(grads: TensorArray[] | null, same?: boolean, expected?: number): StepOutcome;
  /** Reads one gradient per tensor from the arguments for the next step called with `same` true. */
  readGradients(...grads: TensorArray[]): void;
  stepAsync(grads: TensorArray[] | null, same?: boolean, expected?: number): Promise<StepOutcome>;
  /** The device methods: an Error on the CPU. */
  upload(buffer: DeviceBufferKind, grads?: TensorArray[]): void;
  download(buffer: Exclude<DeviceBufferKind, 'grad'>): void;
  deviceBuffers(): Record<DeviceBufferKind, bigint>[];
  dispose(): void;
}

/** What loading a device plugin found. */
export interface CudaLoadResult {
  ok: boolean;
  devices: number;
  name: string;
  error: string;
}

export interface NativeBinding {
  /**
   * `pluginPath`: the device plugin to step on, or null for the CPU (`syncParams`: device only).
   * `dtypes`: each parameter's dtype (needed for float16 / bfloat16, whose arrays are
   * Uint16Arrays); `master`: per parameter its float32 master copy or null.
   */
  Optimizer: new (
    pluginPath: string | null,
    params: TensorArray[],
    meanSquare: FloatArray[],
    moment: FloatArray[],
    meanGrad: FloatArray[] | null,
    plan: Float64Array,
    useLocking: boolean,
    syncParams: boolean,
    counter: Int32Array,
    dtypes?: DType[],
    master?: (Float32Array | null)[] | null,
  ) => NativeOptimizer;
  simdLevel(): SimdLevel;
  supportedSimdLevels(): SimdLevel[];
  setSimdLevel(level: string): boolean;
  numThreads(): number;
  setNumThreads(threads: number): void;
  /** Hooks for tests and benchmarks only (not used by the facade). */
  testing: {
    /** The chunk size in elements of the multi-tensor step; returns the grain in use (none given: reads it). */
    setGrainElements(elements?: number): number;
  };
  planLayout: PlanLayout;
  /** Loads the device plugin at `path` (once per process); never throws. */
  cudaLoad(path: string): CudaLoadResult;
  /**
   * The data-parallel reduce (lib/distributed/optimizer.ts): out[at + j] = the mean over `inputs`
   * of input[from + j], j < to − from, summed in input order in float64 and rounded once. Returns
   * whether those values of `out` are all finite (with `check`; else true).
   */
  reduceMean(out: Float32Array | Float64Array, at: number, from: number, to: number, check: boolean, ...inputs: (Float32Array | Float64Array)[]): boolean;
  /** out[at + j] = input[j] · factor, rounded once to the dtype (both float32 or both float64; in place allowed). */
  scaleInto(out: Float32Array | Float64Array, at: number, input: Float32Array | Float64Array, factor: number): void;
  /**
   * The MPI backend (binding/napi/mpi.cc; lib/distributed/mpi.ts): loads the MPI plugin at
   * `plugin` and runs MPI_Init on the MPI owner thread (once per process). Throws the loader's or
   * MPI's message.
   */
  mpiStart(plugin: string, timeoutMs: number): { rank: number; size: number; threadLevel: number };
  mpiBarrier(timeoutMs: number, async: false): void;
  mpiBarrier(timeoutMs: number, async: true): Promise<void>;
  /** Every rank's bytes, in rank order. */
  mpiAllGatherBytes(bytes: Uint8Array, timeoutMs: number): Uint8Array[];
  /**
   * The mean over the ranks of `send[g]` into this rank's piece `pieces[g]` (rank r's piece of
   * group g is [cuts[g][r], cuts[g][r + 1])), in buckets of at most `bucketBytes`; whether every
   * rank's piece is finite (with `check`; else true).
   */
  mpiReduceMean(send: MpiArray[], pieces: MpiArray[], cuts: number[][], bucketBytes: number, check: boolean, timeoutMs: number, async: false): boolean;
  mpiReduceMean(send: MpiArray[], pieces: MpiArray[], cuts: number[][], bucketBytes: number, check: boolean, timeoutMs: number, async: true): Promise<boolean>;
  /** Not sharded: the mean of the whole `send[g]` into the whole `means[g]` on every rank (the same bits); whether it is finite. */
  mpiAllReduceMean(send: MpiArray[], means: MpiArray[], cuts: number[][], bucketBytes: number, check: boolean, timeoutMs: number, async: false): boolean;
  mpiAllReduceMean(send: MpiArray[], means: MpiArray[], cuts: number[][], bucketBytes: number, check: boolean, timeoutMs: number, async: true): Promise<boolean>;
  /** Every rank's piece of each full-length `buffers[g]` (own piece in place) to every rank. */
  mpiGather(buffers: MpiArray[], cuts: number[][], bucketBytes: number, timeoutMs: number, async: false): void;
  mpiGather(buffers: MpiArray[], cuts: number[][], bucketBytes: number, timeoutMs: number, async: true): Promise<void>;
  /** The exit code, for the C runtime's exit: MPI_Finalize when healthy and `code` is 0, else MPI_Abort. */
  mpiExit(code: number, timeoutMs: number): void;
}

/** What the MPI collectives exchange: floats, or 16-bit patterns of half-precision parameters. */
export type MpiArray = Float32Array | Float64Array | Uint16Array;

/** The package's root directory (where prebuilds/ and build/ are). */
export const packageRoot = path.join(__dirname, '..', '..');

function load(): NativeBinding {
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(packageRoot) as NativeBinding;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      `rmsprop-native: no usable native addon for ${process.platform}-${process.arch} ` +
        `(Node ${process.version}, Node-API 8): prebuilds ship for linux-x64 and linux-arm64 (glibc). ` +
        `Build it from source with 'npx rmsprop-native-build' (in a checkout: 'npm run build:native'); ` +
        `it needs CMake >= 3.18 and a C++17 compiler. Cause: ${reason}`,
    );
  }
}

export const binding: NativeBinding = load();

const threads = process.env.RMSPROP_THREADS;
// The pool reads it (binding/core/thread_pool.cc) as strtol does: a whole base-10 integer, 1 to 1024.
if (threads !== undefined && !(/^\s*[+-]?\d+$/.test(threads) && Number(threads) >= 1 && Number(threads) <= 1024)) {
  process.emitWarning(
    `RMSPROP_THREADS=${threads} is not an integer from 1 to 1024; using ${binding.numThreads()} threads ` +
      '(one per hardware thread).',
    'RMSPropWarning',
  );
}

const forced = process.env.RMSPROP_SIMD;
if (forced && forced !== binding.simdLevel()) {
  process.emitWarning(
    `RMSPROP_SIMD=${forced} is not a level this CPU supports ` +
      `(${binding.supportedSimdLevels().join(', ')}); using ${binding.simdLevel()}.`,
    'RMSPropWarning',
  );
}
