/**
 * The shard layout of a data-parallel optimizer (docs/ARCHITECTURE.md, "Data-parallel"): the
 * parameters of each dtype laid end to end in update order as one flat range, cut into `size`
 * contiguous pieces of nearly equal length, one per rank. A parameter may straddle two pieces;
 * each rank steps its piece as a list of segments (parameter, start, end). Cuts fall on multiples
 * of 16 elements (64 bytes of float32: two ranks never write one cache line) and, inside a
 * parameter whose gradients are centralized, on a slice boundary (the slice mean needs the
 * whole slice).
 */
import type { ParameterEntry } from '../config/groups';
import type { DType } from '../base/tensor';

/** The parameters of one dtype, end to end. */
export interface FlatGroup {
  readonly dtype: DType;
  /** Elements in all. */
  readonly total: number;
  /** Indices (into the optimizer's entries) of the group's parameters, in update order. */
  readonly entries: readonly number[];
  /** Where each rank's piece starts, and the end: `size + 1` offsets. */
  readonly cuts: readonly number[];
}

/** A piece of one parameter: elements [start, end) of entry `entry`. */
export interface Segment {
  readonly entry: number;
  readonly group: number;
  readonly start: number;
  readonly end: number;
}

const ALIGN = 16;

/** Elements per slice of a centralized parameter (1 where any cut will do). */
function sliceOf(entry: ParameterEntry): number {
  const { param } = entry;
  return entry.gradCentralization && param.rank >= 3 ? param.size / param.shape[0] : 1;
}

export class ShardLayout {
  readonly groups: readonly FlatGroup[];
  /** Each entry's group and its offset in the group's flat range. */
  readonly placement: readonly { readonly group: number; readonly offset: number; readonly size: number }[];

  constructor(
    entries: readonly ParameterEntry[],
    readonly size: number,
  ) {
    const groups: { dtype: DType; total: number; entries: number[] }[] = [];
    this.placement = entries.map((e, i) => {
      let group = groups.findIndex((g) => g.dtype === e.param.dtype);
      if (group < 0) group = groups.push({ dtype: e.param.dtype, total: 0, entries: [] }) - 1;
      const offset = groups[group].total;
      groups[group].total += e.param.size;
      groups[group].entries.push(i);
      return { group, offset, size: e.param.size };
    });
    this.groups = groups.map((g) => ({ ...g, cuts: this.cut(entries, g.entries, g.total) }));
  }

  /** The segments of `rank`'s pieces, group by group, in update order. */
  segments(rank: number): Segment[] {
    return this.groups.flatMap((g, group) => {
      const from = g.cuts[rank];
      const to = g.cuts[rank + 1];
      return g.entries.flatMap((entry) => {
        const { offset, size } = this.placement[entry];
        const start = Math.max(from, offset);
        const end = Math.min(to, offset + size);
        return start < end ? [{ entry, group, start: start - offset, end: end - offset }] : [];
      });
    });
  }

  // size + 1 non-decreasing offsets from 0 to total.
  private cut(entries: readonly ParameterEntry[], members: readonly number[], total: number): number[] {
    const cuts = [0];
    for (let r = 1; r < this.size; r++) {
      let at = Math.min(total, Math.round((r * total) / this.size / ALIGN) * ALIGN);
      const inside = members.find((i) => this.placement[i].offset < at && at < this.placement[i].offset + this.placement[i].size);
      if (inside !== undefined) {
        const slice = sliceOf(entries[inside]);
        const offset = this.placement[inside].offset;
        at = offset + Math.round((at - offset) / slice) * slice;
      }
      cuts.push(Math.max(at, cuts[r - 1]));
    }
    cuts.push(total);
    return cuts;
  }
}
