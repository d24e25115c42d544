/**
 * The loss scale L of an optimizer's next steps, kept in its plan (1/L, and wd·L for a coupled
 * weight decay): the `lossScale` option's number, or a `DynamicLossScaler`'s rule applied to this
 * optimizer's own scale and counters after every step (docs/semantics.md §10), which state dicts
 * and checkpoints save beside the global step.
 */
import { DynamicLossScaler, LOSS_SCALE_KEYS, lossScaleEntries, lossScaleFromEntries, type LossScaleState } from '../schedules/loss-scale';
import type { StepPlan } from './plan';

export class LossScaling {
  private readonly scaler: DynamicLossScaler | null;
  private state: LossScaleState | null;

  constructor(
    private readonly option: number | DynamicLossScaler,
    private readonly plan: StepPlan,
  ) {
    this.scaler = option instanceof DynamicLossScaler ? option : null;
    this.state = this.scaler?.initialState() ?? null;
  }

  /** The scale of the next step. */
  get scale(): number {
    return this.state ? this.state.scale : (this.option as number);
  }

  /** After a step (applied, or skipped for a non-finite gradient): the dynamic scale's rule. */
  stepped(applied: boolean): void {
    if (!this.scaler || !this.state) return;
    this.state = this.scaler.next(this.state, !applied);
    this.plan.setLossScale(this.state.scale);
  }

  /** The counters saved beside the global step (none without a dynamic scaler). */
  entries(): Record<string, number> {
    return this.state ? lossScaleEntries(this.state) : {};
  }

  /** The names of those counters. */
  keys(): readonly string[] {
    return this.state ? LOSS_SCALE_KEYS : [];
  }

  /**
   * Checks the counters of a loaded state (a `ValueError` naming `where` if they are bad) and
   * returns what applies them, so that every check runs before anything changes.
   */
  load(extras: Readonly<Record<string, number>>, where: string): () => void {
    if (!this.state) return () => undefined;
    const state = lossScaleFromEntries(extras, where);
    return () => {
      this.state = state;
      this.plan.setLossScale(state.scale);
    };
  }
}
