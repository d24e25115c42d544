/**
 * Where an optimizer's steps run: the CPU (the native multi-tensor step) or a CUDA GPU (the
 * device step, with the host arrays as mirrors). The facade (`RMSProp`) keeps the meaning
 * (options, groups, learning rates, the global step) and asks its backend only for these hops.
 */
import { cudaInfo } from './cuda';
import { binding, type NativeOptimizer } from './native';
import type { ResolvedOptions } from '../config/options';
import type { DType, FloatArray, TensorArray } from '../base/tensor';

/** Device addresses of one parameter's buffers on the GPU (`BigInt`s; `0n` where none). */
export interface DeviceBuffers {
  /** The parameter's name. */
  readonly name: string;
  readonly dtype: DType;
  /** Elements in each buffer. */
  readonly length: number;
  readonly param: bigint;
  readonly meanSquare: bigint;
  readonly moment: bigint;
  /** `0n` unless centered. */
  readonly meanGrad: bigint;
  /** Where `stepDeviceGradients()` reads this parameter's gradient (of the parameter's dtype). */
  readonly grad: bigint;
  /** The float32 master copy of a half-precision parameter with `masterWeights`; else `0n`. */
  readonly master: bigint;
}


/** The calls a step makes: the binding's, with the step-index contract of docs/semantics.md §8. */
export type StepCalls = Pick<NativeOptimizer, 'step' | 'stepAsync'>;
/** Where new gradient arrays are handed over before a step (lib/step/gradients.ts). */
export type GradientSink = Pick<NativeOptimizer, 'readGradients'>;

export interface Backend extends StepCalls, GradientSink {
  readonly device: 'cpu' | 'cuda';
  /** The device addresses of every parameter's buffers (an Error on the CPU). */
  deviceBuffers(): ReturnType<NativeOptimizer['deviceBuffers']>;
  /** Right before a step, after validation (the device: sends state the host holds ahead). */
  beforeStep(): void;
  /** Before the host reads the state (the device: fetches it when the GPU's is newer). */
  pullState(): void;
  /** The host's state is now ahead (loaded, or views handed out): the next step sends it. */
  stateWritten(): void;
  /** Parameters device -> host and host -> device (the CPU: nothing to do). */
  downloadParameters(): void;
  uploadParameters(): void;
  /** Frees what the garbage collector does not see (the device: GPU memory). */
  dispose(): void;
}

/** The host buffers of every parameter, in update order (meanGrad null unless centered). */
export interface HostBuffers {
  params: TensorArray[];
  /** Each parameter's dtype. */
  dtypes: DType[];
  /** Per parameter its float32 master copy (half precision with masterWeights), else null. */
  master: (Float32Array | null)[];
  meanSquare: FloatArray[];
  moment: FloatArray[];
  meanGrad: FloatArray[] | null;
}

/**
 * The backend that `options.device` asks for, over `buffers`, reading `plan` at every step and
 * sharing the global step `counter`. `assertStateAttached` throws when a host state buffer was
 * transferred (checked before any copy). An `Error` when CUDA is asked for and not available.
 */
export function createBackend(
  buffers: HostBuffers,
  plan: Float64Array,
  options: ResolvedOptions,
  counter: Int32Array,
  assertStateAttached: () => void,
): Backend {
  const { params, meanSquare, moment, meanGrad, dtypes, master } = buffers;
  const locking = options.useLocking;
  if (options.device === 'cpu') {
    return new CpuBackend(new binding.Optimizer(null, params, meanSquare, moment, meanGrad, plan, locking, false, counter, dtypes, master));
  }
  const cuda = cudaInfo();
  if (!cuda.available) {
    throw new Error(
      `For 'RMSProp', the 'device' 'cuda' is not available (cudaAvailable() is false): ${cuda.reason}. ` +
        "Use device: 'cpu'.",
    );
  }
  // Parameters and state move to the GPU; the host arrays are the host side of every transfer.
  const sync = options.parameterSync === 'step';
  const native = new binding.Optimizer(cuda.library as string, params, meanSquare, moment, meanGrad, plan, locking, sync, counter, dtypes, master);
  return new CudaBackend(native, meanGrad !== null, master.some((m) => m !== null), assertStateAttached);
}

/** What every backend passes straight to the binding's optimizer. */
abstract class NativeBackend {
  constructor(protected readonly native: NativeOptimizer) {}
  step(...args: Parameters<NativeOptimizer['step']>): ReturnType<NativeOptimizer['step']> {
    return this.native.step(...args);
  }
  stepAsync(...args: Parameters<NativeOptimizer['stepAsync']>): ReturnType<NativeOptimizer['stepAsync']> {
    return this.native.stepAsync(...args);
  }
  readGradients(...grads: TensorArray[]): void {
    this.native.readGradients(...grads);
  }
  deviceBuffers(): ReturnType<NativeOptimizer['deviceBuffers']> {
    return this.native.deviceBuffers();
  }
}

/** The CPU: the state lives in the host arrays, nothing to transfer. */
class CpuBackend extends NativeBackend implements Backend {
  readonly device = 'cpu' as const;
  beforeStep(): void {}
  pullState(): void {}
  stateWritten(): void {}
  downloadParameters(): void {}
  uploadParameters(): void {}
  dispose(): void {}
}

/**
 * Which copy of the state is current: both ('synced'), the GPU's ('stale' host mirrors, after a
 * step), or the host's ('ahead': views were handed out or a checkpoint was loaded into them).
 */
type HostState = 'synced' | 'stale' | 'ahead';

/** A CUDA GPU: parameters and state in device memory, the host arrays their mirrors. */
class CudaBackend extends NativeBackend implements Backend {
  readonly device = 'cuda' as const;
  private hostState: HostState = 'synced';
  private disposed = false;
  private readonly kinds: ('meanSquare' | 'moment' | 'meanGrad' | 'master')[];

  constructor(
    native: NativeOptimizer,
    centered: boolean,
    masters: boolean,
    private readonly assertStateAttached: () => void,
  ) {
    super(native);
    this.kinds = ['meanSquare', 'moment'];
    if (centered) this.kinds.push('meanGrad');
    if (masters) this.kinds.push('master'); // master weights are state: they travel with it
  }

  beforeStep(): void {
    if (this.disposed) throw new Error("For 'RMSProp', this optimizer was disposed: its device memory is released.");
    if (this.hostState === 'ahead') {
      this.assertStateAttached();
      for (const kind of this.kinds) this.native.upload(kind);
    }
    this.hostState = 'stale';
  }

  pullState(): void {
    if (this.hostState !== 'stale') return;
    this.assertStateAttached();
    for (const kind of this.kinds) this.native.download(kind);
    this.hostState = 'synced';
  }

  stateWritten(): void {
    this.hostState = 'ahead';
  }

  downloadParameters(): void {
    this.native.download('param');
  }

  uploadParameters(): void {
    this.native.upload('param');
  }

  dispose(): void {
    this.native.dispose();
    this.disposed = true;
  }
}
