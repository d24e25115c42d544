/**
 * The global step and how a step claims its index (docs/semantics.md §8): the values of index k
 * are evaluated into the plan first, outside any lock (a schedule may run any code, even step
 * another optimizer over the same parameters); then k is claimed by a compare-and-swap k -> k + 1,
 * by the facade, or by the binding under the parameters' locks (useLocking) or after its check for
 * non-finite gradients (skipNonFinite) (StepCounter in binding/napi/step_counter.h). Another thread
 * having taken k, the next index is tried.
 */
import type { StepCalls } from '../native/backend';
import { StepOutcome } from '../native/native';
import type { StepPlan } from './plan';
import type { TensorArray } from '../base/tensor';

export class StepIndex {
  /**
   * @param counter the global step (Int32, on a SharedArrayBuffer when the optimizer can be shared).
   * @param plan where the values of the claimed index are written.
   * @param nativeClaims the binding claims the index: under the locks (useLocking), or after the
   *   non-finite check (a skipped step must claim nothing).
   */
  constructor(
    readonly counter: Int32Array,
    private readonly plan: StepPlan,
    private readonly nativeClaims: boolean,
  ) {}

  /** The number of completed (claimed) steps. */
  get value(): number {
    return Atomics.load(this.counter, 0);
  }

  set value(k: number) {
    Atomics.store(this.counter, 0, k);
  }

  /**
   * Claims an index and runs the native step with its values (`grads` null: device gradients).
   * @returns whether it applied (false: skipped for a non-finite gradient, no index claimed).
   */
  step(native: StepCalls, grads: TensorArray[] | null, same: boolean): boolean {
    if (!this.nativeClaims) {
      this.claim();
      return native.step(grads, same) === StepOutcome.Applied;
    }
    for (;;) {
      const k = this.value;
      this.plan.write(k);
      const outcome = native.step(grads, same, k);
      if (outcome !== StepOutcome.Taken) return outcome === StepOutcome.Applied;
    }
  }

  /** The same, with the native step on a libuv thread. */
  async stepAsync(native: StepCalls, grads: TensorArray[], same: boolean): Promise<boolean> {
    if (!this.nativeClaims) {
      this.claim();
      return (await native.stepAsync(grads, same)) === StepOutcome.Applied;
    }
    for (;;) {
      const k = this.value;
      this.plan.write(k);
      const outcome = await native.stepAsync(grads, same, k);
      if (outcome !== StepOutcome.Taken) return outcome === StepOutcome.Applied;
    }
  }

  // Evaluates the values of the current index into the plan (a table that has run out throws,
  // claiming nothing), then advances the counter atomically, so threads sharing it each get
  // their own index.
  private claim(): void {
    for (;;) {
      const k = this.value;
      this.plan.write(k);
      if (Atomics.compareExchange(this.counter, 0, k, k + 1) === k) return;
    }
  }
}
