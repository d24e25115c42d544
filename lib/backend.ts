/**
 * Where an optimizer's steps run: the CPU (the native multi-tensor step) or a CUDA GPU (the
 * device step, with the host arrays as mirrors). The facade (`RMSProp`) keeps the meaning
 * (options, groups, learning rates, the global step) and asks its backend only for these hops.
 */
import type { CudaNativeOptimizer, NativeOptimizer } from './native';

export interface Backend {
  readonly device: 'cpu' | 'cuda';
  /** The native optimizer: `step` / `stepAsync` with the step-index contract of docs/semantics.md §8. */
  readonly native: NativeOptimizer | CudaNativeOptimizer;
  /** Right before a step, after validation (the device: sends state the host holds ahead). */
  beforeStep(): void;
  /** Before the host reads the state (the device: fetches it when the GPU's is newer). */
  pullState(): void;
  /** The host's state is now ahead (loaded, or views handed out): the next step sends it. */
  stateWritten(): void;
  /** Frees what the garbage collector does not see (the device: GPU memory). */
  dispose(): void;
}

/** The CPU: the state lives in the host arrays, nothing to transfer. */
export class CpuBackend implements Backend {
  readonly device = 'cpu' as const;
  constructor(readonly native: NativeOptimizer) {}
  beforeStep(): void {}
  pullState(): void {}
  stateWritten(): void {}
  dispose(): void {}
}

/**
 * Which copy of the state is current: both ('synced'), the GPU's ('stale' host mirrors, after a
 * step), or the host's ('ahead': views were handed out or a checkpoint was loaded into them).
 */
type HostState = 'synced' | 'stale' | 'ahead';

/** A CUDA GPU: parameters and state in device memory, the host arrays their mirrors. */
export class CudaBackend implements Backend {
  readonly device = 'cuda' as const;
  private hostState: HostState = 'synced';
  private disposed = false;
  private readonly kinds: ('meanSquare' | 'moment' | 'meanGrad')[];

  /**
   * @param native the device optimizer.
   * @param centered whether mean_grad is part of the state.
   * @param assertStateAttached throws when a host state buffer was transferred (before any copy).
   */
  constructor(
    readonly native: CudaNativeOptimizer,
    centered: boolean,
    private readonly assertStateAttached: () => void,
  ) {
    this.kinds = centered ? ['meanSquare', 'moment', 'meanGrad'] : ['meanSquare', 'moment'];
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

  dispose(): void {
    this.native.dispose();
    this.disposed = true;
  }
}
