/**
 * What the data-parallel suites share (test/distributed.test.ts for the 'workers' backend,
 * test/mpi.test.ts for 'mpi'): the rank script's configuration and results, temporary folders,
 * the one-process reference and the comparisons.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as lib from '../../lib';
import { Parameter, RMSProp } from '../../lib';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const scenario = require('./scenario');

/** The rank script: argv = [config JSON, output directory]. */
export const RANK = path.join(__dirname, 'rank.js');

export interface Config {
  preset: 'mixed' | 'float64' | 'bf16' | 'flavor';
  steps: number;
  from?: number;
  options?: Record<string, unknown>;
  shardState?: boolean;
  /** The exchange's bucketBytes option (the ranks only). */
  bucketBytes?: number;
  async?: boolean;
  arena?: boolean;
  stateDict?: string;
  dynamicScale?: Record<string, number>;
  lossScales?: boolean;
  nanAt?: { rank: number; step: number };
  renameOn?: number;
  faults?: { rank: number; step: number; kind: 'throw' | 'exit' | 'sleep' | 'short' | 'kill'; code?: number; ms?: number }[];
  timeoutMs?: number;
  save?: string;
  load?: string;
  paramsFrom?: string;
  loadDict?: string;
  cudaLibrary?: string;
}

export interface RankResult {
  rank: number;
  size: number;
  backend: string;
  returns: boolean[];
  hashes: string[];
  initialHash?: string;
  stateBytes?: number;
  params?: number[][];
  stateDict?: Record<string, unknown>;
  globalStep?: number;
  lossScale?: number;
  scales?: number[];
  error?: { name: string; message: string; rank?: number };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rmsprop-dp-'));
  dirs.push(dir);
  return dir;
}

/** The results the ranks wrote into `dir`, in rank order. */
export function readResults(dir: string): RankResult[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('rank-'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as RankResult)
    .sort((a, b) => a.rank - b.rank);
}

/** One process (no communicator) from rank 0's parameters, stepping the mean of `size` ranks' gradients. */
export function reference(config: Config, size: number | ((step: number) => number), load?: { file?: string; params?: number[][] }) {
  const { params, input, options } = scenario.build(lib, config, 0);
  if (load?.params) params.forEach((p: Parameter, i: number) => p.data.set(load.params![i]));
  const opt = new RMSProp(input, options);
  const returns: boolean[] = [];
  const sizeAt = typeof size === 'number' ? () => size : size;
  return {
    opt,
    params: params as Parameter[],
    async steps(from: number, to: number) {
      if (load?.file) await opt.loadState(load.file);
      for (let k = from; k < to; k++) returns.push(opt.step(scenario.meanGradients(config, sizeAt(k), k)));
      return returns;
    },
  };
}

export const arrays = (params: readonly Parameter[]) => params.map((p) => Array.from(p.data));
export const dictArrays = (dict: Record<string, unknown>) =>
  JSON.parse(JSON.stringify(dict, (_, v) => (v && v.data && v.shape ? Array.from(v.data as ArrayLike<number>) : ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v)));

export function expectIdenticalRanks(results: RankResult[], size: number): void {
  expect(results).toHaveLength(size);
  for (const r of results) {
    expect(r.error).toBeUndefined();
    expect(r.hashes).toEqual(results[0].hashes); // bit-identical parameters after every step
    expect(r.initialHash).toEqual(results[0].initialHash); // rank 0's parameters after construction
  }
}


/** A NaN on rank 1 at step 2 of 5, with a dynamic loss scale, on 3 ranks. */
export const OVERFLOW_CASE: Config = { preset: 'mixed', steps: 5, nanAt: { rank: 1, step: 2 }, dynamicScale: { initLossScale: 1024, scaleWindow: 2 }, lossScales: true, stateDict: 'mindspore' };

/**
 * The ranks of OVERFLOW_CASE skipped step 2 alike (nothing changed, every rank's scale equal to
 * one process's) and stepped the others; returns the one-process reference for the values.
 */
export async function expectOverflowSkippedAlike(results: RankResult[]): Promise<ReturnType<typeof reference>> {
  expectIdenticalRanks(results, 3);
  const ref = reference(OVERFLOW_CASE, 3);
  const returns = await ref.steps(0, OVERFLOW_CASE.steps);
  expect(returns).toEqual([true, true, false, true, true]);
  for (const r of results) {
    expect(r.returns).toEqual(returns);
    expect(r.hashes[2]).toBe(r.hashes[1]); // the skipped step changed nothing
    expect(r.scales).toEqual(results[0].scales);
    expect(r.lossScale).toBe(ref.opt.lossScale);
    expect(r.globalStep).toBe(4);
  }
  return ref;
}
