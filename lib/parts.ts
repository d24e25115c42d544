/**
 * What an optimizer is made of before its constructor wires it up: the options, the parameters
 * with their groups' values, the state and the global step, read from the user's arguments or
 * (by `RMSProp.fromShared`) from a shared handle. Not exported by the package.
 */
import { readParams, type ParamsInput } from './config/groups';
import { readOptions, type RMSPropOptions } from './config/options';
import { isShared, type OptimizerParts } from './state/sharing';
import type { FloatArray } from './base/tensor';
import type { HostBuffers } from './native/backend';
import { allocateStates, type ParameterState } from './state/state';

const OWNER = 'RMSProp';

/**
 * The constructor takes a `Parts` as its `params` (only `fromShared` makes one: the package does
 * not export this module), else reads them from the user's arguments.
 */
export class Parts implements OptimizerParts {
  constructor(
    readonly options: OptimizerParts['options'],
    readonly entries: OptimizerParts['entries'],
    readonly groupLr: boolean,
    readonly states: readonly ParameterState[],
    readonly counter: Int32Array,
  ) {}

  static read(params: ParamsInput, options: RMSPropOptions | undefined): Parts {
    const resolved = readOptions(OWNER, options);
    const { entries, groupLr } = readParams(OWNER, params, resolved);
    // On SharedArrayBuffers when every parameter is, so that share() can hand them to workers.
    const shared = entries.every((e) => isShared(e.param.data));
    const states = allocateStates(entries.map((e) => e.param), resolved.centered, shared, resolved.initialMeanSquare, resolved.masterWeights);
    const counter = new Int32Array(shared ? (new SharedArrayBuffer(4) as unknown as ArrayBuffer) : new ArrayBuffer(4));
    return new Parts(resolved, entries, groupLr, states, counter);
  }

  /** The buffers the native optimizer steps, in update order. */
  buffers(): HostBuffers {
    const { entries, states, options } = this;
    return {
      params: entries.map((e) => e.param.data),
      dtypes: entries.map((e) => e.param.dtype),
      master: states.map((s) => s.master ?? null),
      meanSquare: states.map((s) => s.meanSquare),
      moment: states.map((s) => s.moment),
      meanGrad: options.centered ? states.map((s) => s.meanGrad as FloatArray) : null,
    };
  }
}

/**
 * How the constructor hands a data-parallel request (a `communicator` option) to
 * lib/distributed/optimizer.ts, which registers itself here (so the facade does not import it).
 */
export interface ParallelFactory {
  wants(options: unknown): boolean;
  create(params: ParamsInput, options: unknown): object;
}

export const parallel: { factory: ParallelFactory | null } = { factory: null };

/** Registers the data-parallel optimizer's factory (lib/distributed/optimizer.ts). */
export function registerParallel(factory: ParallelFactory): void {
  parallel.factory = factory;
}
