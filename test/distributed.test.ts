/**
 * Data-parallel training (lib/distributed/): ranks started by `distributed.launch` in worker
 * threads against one process stepping the mean gradient, bit for bit; broadcast and agreement
 * at construction; overflow on one rank; checkpoints saved on 3 ranks and resumed on 2 and 1;
 * faults (a throw, an exit, a late rank, a bad gradient) ending in errors that name the rank.
 * The ranks run test/distributed/rank.js against the built package (npm test builds it first).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import * as lib from '../lib';
import { distributed, Parameter, RMSProp, ValueError } from '../lib';
import {
  arrays,
  dictArrays,
  expectIdenticalRanks,
  expectOverflowSkippedAlike,
  OVERFLOW_CASE,
  RANK,
  readResults,
  reference,
  scenario,
  tempDir,
  type Config,
  type RankResult,
} from './distributed/common';
import { thrown } from './helpers';

async function run(config: Config, workers: number): Promise<{ results: RankResult[]; error?: Error & { rank?: number }; ms: number }> {
  const dir = tempDir();
  const started = Date.now();
  let error: (Error & { rank?: number }) | undefined;
  try {
    await distributed.launch(RANK, { workers, argv: [JSON.stringify(config), dir] });
  } catch (e) {
    error = e as Error;
  }
  const ms = Date.now() - started;
  return { results: readResults(dir), error, ms };
}

describe('data-parallel workers equal one process stepping the mean gradient, bit for bit', () => {
  const cases: [string, Config, number][] = [
    ['groups, schedule, centralization, centered, momentum, weight decay with loss scale on 1 worker', { preset: 'mixed', steps: 5, stateDict: 'mindspore' }, 1],
    ['the same on 2 workers', { preset: 'mixed', steps: 5, stateDict: 'mindspore' }, 2],
    ['the same on 3 workers', { preset: 'mixed', steps: 5, stateDict: 'mindspore' }, 3],
    ['the same on 4 workers', { preset: 'mixed', steps: 5, stateDict: 'mindspore' }, 4],
    ['the same without sharded state', { preset: 'mixed', steps: 5, stateDict: 'mindspore', shardState: false }, 3],
    ['the same with stepAsync', { preset: 'mixed', steps: 4, stateDict: 'mindspore', async: true }, 3],
    ['the same through gradientBuffers()', { preset: 'mixed', steps: 4, stateDict: 'mindspore', arena: true }, 2],
    ['float64', { preset: 'float64', steps: 4, stateDict: 'mindspore' }, 3],
    ['bfloat16 and float16 with master weights', { preset: 'bf16', steps: 4, stateDict: 'mindspore' }, 3],
    ['bfloat16 with master weights, not sharded, async', { preset: 'bf16', steps: 3, stateDict: 'mindspore', shardState: false, async: true }, 2],
    ["flavor 'pytorch' (its state layout)", { preset: 'flavor', steps: 4, options: { flavor: 'pytorch', centered: true }, stateDict: 'pytorch' }, 3],
    ["flavor 'keras' (decoupled weight decay, its state layout)", { preset: 'flavor', steps: 4, options: { flavor: 'keras' }, stateDict: 'keras' }, 2],
  ];
  test.each(cases)('%s', async (_, config, size) => {
    const { results, error } = await run(config, size);
    expect(error).toBeUndefined();
    expectIdenticalRanks(results, size);
    const ref = reference(config, size);
    const returns = await ref.steps(0, config.steps);
    for (const r of results) {
      expect(r.returns).toEqual(returns);
      expect(r.globalStep).toBe(config.steps);
      expect(r.params).toEqual(arrays(ref.params));
      const format = config.stateDict === 'mindspore' ? undefined : { format: config.stateDict as 'pytorch' };
      expect(r.stateDict).toEqual(dictArrays(ref.opt.stateDict(format as never)));
    }
  });

  test('the exchange forms the mean within float32 rounding of the float64 mean (relative 1e-6 of the sum of |g|)', () => {
    const config: Config = { preset: 'mixed', steps: 1 };
    for (const size of [2, 3, 4]) {
      const mean: Float32Array[] = scenario.meanGradients(config, size, 0);
      const all: Float32Array[][] = Array.from({ length: size }, (_, r) => scenario.gradients(config, r, 0));
      mean.forEach((m, i) =>
        m.forEach((value, j) => {
          let sum = 0;
          let abs = 0;
          for (let r = 0; r < size; r++) {
            sum += all[r][i][j];
            abs += Math.abs(all[r][i][j]);
          }
          expect(Math.abs(value - sum / size)).toBeLessThanOrEqual((1e-6 * abs) / size);
        }),
      );
    }
  });

  test('a second run is bit-identical to the first', async () => {
    const config: Config = { preset: 'mixed', steps: 4 };
    const first = await run(config, 3);
    const second = await run(config, 3);
    expect(second.results.map((r) => r.hashes)).toEqual(first.results.map((r) => r.hashes));
  });

  test('sharded state: each rank holds about 1/N of the state bytes', async () => {
    const sharded = await run({ preset: 'float64', steps: 1 }, 3);
    const full = await run({ preset: 'float64', steps: 1, shardState: false }, 3);
    const whole = full.results[0].stateBytes!;
    const pieces = sharded.results.map((r) => r.stateBytes!);
    for (const bytes of pieces) expect(bytes).toBeLessThan(whole / 2);
    expect(pieces.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual((1048 * 2 * 8) - 1);
    expect(full.results.every((r) => r.stateBytes === whole)).toBe(true);
  });
});

describe('data-parallel overflow and checkpoints', () => {
  test('a NaN on one rank at step 2 skips that step on every rank; the dynamic scale follows alike', async () => {
    const { results, error } = await run(OVERFLOW_CASE, 3);
    expect(error).toBeUndefined();
    const ref = await expectOverflowSkippedAlike(results);
    for (const r of results) {
      expect(r.params).toEqual(arrays(ref.params));
      expect(r.stateDict).toEqual(dictArrays(ref.opt.stateDict()));
    }
  });

  test('saved on 3 workers, resumed on 2 workers and in one process: equal to an uninterrupted run', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.safetensors');
    const base: Config = { preset: 'mixed', steps: 3, save: file, dynamicScale: { initLossScale: 64, scaleWindow: 2 } };
    const saved = await run(base, 3);
    expect(saved.error).toBeUndefined();
    const paramsFile = path.join(dir, 'params.json');
    writeFileSync(paramsFile, JSON.stringify(saved.results[0].params));
    const resumedConfig: Config = { ...base, save: undefined, from: 3, steps: 6, load: file, paramsFrom: paramsFile, stateDict: 'mindspore' };
    const resumed = await run(resumedConfig, 2);
    expect(resumed.error).toBeUndefined();
    // The uninterrupted run: one process, the mean of 3 ranks for steps 0-2, of 2 ranks for 3-5.
    const whole = reference(base, (k) => (k < 3 ? 3 : 2));
    await whole.steps(0, 6);
    for (const r of resumed.results) {
      expect(r.params).toEqual(arrays(whole.params));
      expect(r.stateDict).toEqual(dictArrays(whole.opt.stateDict()));
      expect(r.globalStep).toBe(6);
    }
    // In one plain process: the file is what a one-process optimizer writes.
    const single = reference(base, 2, { file, params: saved.results[0].params });
    await single.steps(3, 6);
    expect(arrays(single.params)).toEqual(arrays(whole.params));
    expect(dictArrays(single.opt.stateDict())).toEqual(dictArrays(whole.opt.stateDict()));
  });
});

test('a state dict gathered on 3 workers, loaded with loadStateDict on 2: equal to an uninterrupted run', async () => {
  const dir = tempDir();
  const base: Config = { preset: 'mixed', steps: 3, stateDict: 'mindspore' };
  const saved = await run(base, 3);
  expect(saved.error).toBeUndefined();
  const dictFile = path.join(dir, 'dict.json');
  writeFileSync(dictFile, JSON.stringify(saved.results[1].stateDict)); // any rank's: they are the same
  const paramsFile = path.join(dir, 'params.json');
  writeFileSync(paramsFile, JSON.stringify(saved.results[1].params));
  const resumed = await run({ ...base, from: 3, steps: 5, loadDict: dictFile, paramsFrom: paramsFile }, 2);
  expect(resumed.error).toBeUndefined();
  const whole = reference(base, (k) => (k < 3 ? 3 : 2));
  await whole.steps(0, 5);
  for (const r of resumed.results) {
    expect(r.params).toEqual(arrays(whole.params));
    expect(r.stateDict).toEqual(dictArrays(whole.opt.stateDict()));
  }
});

describe('data-parallel faults end in errors naming the rank, never a hang', () => {
  test('parameters that differ on one rank: a ValueError on every rank, naming it and the first difference', async () => {
    const { results, error } = await run({ preset: 'mixed', steps: 1, renameOn: 1 }, 3);
    expect(error).toBeUndefined();
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.error?.name).toBe('ValueError');
      expect(r.error?.message).toMatch(/rank 1 has parameter 1 'fc\.weight\.other'.* where rank 0 has parameter 1 'fc\.weight'/);
    }
  });

  test('a rank that throws at step 3: launch rejects naming it; the others stop with an error naming it', async () => {
    const { results, error, ms } = await run({ preset: 'mixed', steps: 6, timeoutMs: 10000, faults: [{ rank: 1, step: 3, kind: 'throw' }] }, 3);
    expect(error?.rank).toBe(1);
    expect(error?.message).toMatch(/^rank 1 failed: rank 1 throws at step 3/);
    expect(ms).toBeLessThan(10000);
    for (const r of results.filter((x) => x.rank !== 1)) {
      expect(r.returns).toHaveLength(3);
      expect(r.error?.message).toMatch(/rank 1 failed with an error; rank \d stops/);
    }
  });

  test('a rank whose thread exits during the others\' stepAsync: they reject naming it, launch rejects', async () => {
    const { results, error } = await run({ preset: 'float64', steps: 5, async: true, faults: [{ rank: 2, step: 2, kind: 'exit', code: 3 }] }, 3);
    expect(error?.rank).toBe(2);
    expect(error?.message).toMatch(/rank 2 failed: its thread exited with code 3/);
    for (const r of results.filter((x) => x.rank !== 2)) expect(r.error?.message).toMatch(/rank 2 exited \(code 3\)/);
  });

  test('a rank that ends its thread normally while the others step: they fail naming it, launch rejects', async () => {
    const { results, error } = await run({ preset: 'mixed', steps: 4, faults: [{ rank: 2, step: 1, kind: 'exit', code: 0 }] }, 3);
    expect(error?.rank).toBe(2);
    for (const r of results.filter((x) => x.rank !== 2)) {
      expect(r.error?.message).toMatch(/rank 2 exited \(code 0\)/);
      expect(r.returns).toHaveLength(1);
    }
  });

  test('a rank later than timeoutMs: the others fail naming it within the timeout', async () => {
    const { results, error } = await run({ preset: 'float64', steps: 3, timeoutMs: 1000, faults: [{ rank: 1, step: 1, kind: 'sleep', ms: 2500 }] }, 3);
    expect(error?.rank).toBe(1);
    for (const r of results.filter((x) => x.rank !== 1)) {
      expect(r.error?.message).toMatch(/rank 1 did not reach a collective within 1000 ms/);
      expect(r.returns).toHaveLength(1);
    }
  });

  test('a bad gradient on one rank: a ValueError there before any exchange, an error naming it elsewhere', async () => {
    const { results, error } = await run({ preset: 'mixed', steps: 3, faults: [{ rank: 1, step: 1, kind: 'short' }] }, 2);
    expect(error?.rank).toBe(1);
    expect(results[1].error?.name).toBe('ValueError');
    expect(results[1].error?.message).toMatch(/gradients\[0\]/);
    expect(results[0].error?.message).toMatch(/rank 1/);
    expect(results[1].hashes).toEqual(results[0].hashes); // nothing changed on the bad rank
  });
});

describe('launchers, module kinds and devices', () => {
  test('an ES module rank: init, broadcast and step as from CommonJS', async () => {
    const dir = tempDir();
    await distributed.launch(path.join(__dirname, 'distributed', 'rank.mjs'), { workers: 2, argv: [dir] });
    const results = [0, 1].map((r) => JSON.parse(readFileSync(path.join(dir, `rank-${r}.json`), 'utf8')));
    expect(results.map((r) => [r.rank, r.size, r.backend])).toEqual([[0, 2, 'workers'], [1, 2, 'workers']]);
    // Rank 0's zeros, stepped with the mean gradient 1.5 (mean square starts at 1): every rank alike.
    const expected = Math.fround(-0.1 * 1.5 / Math.sqrt(Math.fround(0.9 + 0.1 * 2.25) + 1e-10));
    for (const r of results) for (const v of r.w) expect(v).toBeCloseTo(expected, 6);
    expect(results[1].w).toEqual(results[0].w);
  });

  test('npx rmsprop-native-launch -n 3 runs the ranks; a failing rank makes it exit 1 naming it', () => {
    const cli = path.join(__dirname, '..', 'dist', 'distributed', 'cli.js');
    const dir = tempDir();
    const ok = spawnSync(process.execPath, [cli, '-n', '3', RANK, JSON.stringify({ preset: 'float64', steps: 2 }), dir], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['rank-0.json', 'rank-1.json', 'rank-2.json']);
    const bad = spawnSync(process.execPath, [cli, '-n', '2', RANK, JSON.stringify({ preset: 'float64', steps: 3, faults: [{ rank: 1, step: 1, kind: 'throw' }] }), tempDir()], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/rmsprop-native-launch: rank 1 failed: rank 1 throws at step 1/);
    const usage = spawnSync(process.execPath, [cli, RANK], { encoding: 'utf8' });
    expect(usage.status).toBe(1);
    expect(usage.stderr).toMatch(/-n N is required/);
  });

  test("device 'cuda' (host emulator): ranks bit-identical, each stepping its piece on the device, equal to the CPU within float32 rounding", async () => {
    const cudaLibrary = path.join(__dirname, '..', 'build', 'emulator', 'librmsprop_cuda_emulator.so');
    const config: Config = { preset: 'mixed', steps: 4, stateDict: 'mindspore' };
    const device = await run({ ...config, cudaLibrary, options: { device: 'cuda' } }, 3);
    expect(device.error).toBeUndefined();
    expectIdenticalRanks(device.results, 3);
    const cpu = await run(config, 3);
    const flat = (r: RankResult) => r.params!.flat();
    flat(device.results[0]).forEach((v, i) => expect(Math.abs(v - flat(cpu.results[0])[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    const manual = await run({ ...config, cudaLibrary, options: { device: 'cuda', parameterSync: 'manual' } }, 2);
    for (const r of manual.results) expect(r.error?.message).toMatch(/'parameterSync' must be 'step' with a communicator/);
  });
});

describe("the 'single' backend and the arguments", () => {
  test("'single' in a plain process: rank 0 of 1, bit-identical to an optimizer without a communicator", async () => {
    const comm = await distributed.init();
    expect(comm).toMatchObject({ rank: 0, size: 1, backend: 'single' });
    expect(await distributed.init()).toBe(comm);
    const config: Config = { preset: 'mixed', steps: 3 };
    const a = scenario.build(lib, config, 0);
    const b = scenario.build(lib, config, 0);
    const withComm = new RMSProp(a.input, { ...a.options, communicator: comm });
    const without = new RMSProp(b.input, b.options);
    for (let k = 0; k < 3; k++) {
      withComm.step(scenario.gradients(config, 0, k));
      without.step(scenario.gradients(config, 0, k));
    }
    expect(arrays(a.params)).toEqual(arrays(b.params));
    expect(dictArrays(withComm.stateDict())).toEqual(dictArrays(without.stateDict()));
  });

  test('bad arguments name themselves', async () => {
    const p = new Parameter(new Float32Array(4), 'w');
    expect(thrown(() => new RMSProp([p], { communicator: 'all' as never }))).toBeInstanceOf(TypeError);
    expect(thrown(() => new RMSProp([p], { communicator: 'all' as never })).message).toMatch(/'communicator'/);
    const comm = await distributed.init();
    expect(thrown(() => new RMSProp([p], { communicator: comm, shardState: 1 as never })).message).toMatch(/'shardState' must be a boolean/);
    expect(thrown(() => new RMSProp([p], { communicator: comm, bucketBytes: 100 }))).toBeInstanceOf(ValueError);
    expect(thrown(() => new RMSProp([p], { communicator: comm, bucketBytes: 100 })).message).toMatch(/'bucketBytes' must be an integer from 1024 to 2\^30, but got 100/);
    expect(thrown(() => new RMSProp([p], { communicator: comm, bucketBytes: '1M' as never }))).toBeInstanceOf(TypeError);
    expect(thrown(() => new RMSProp([p], { bucketBytes: 1024 })).message).toMatch(/'communicator'/);
    await expect(distributed.init({ backend: 'workers' })).rejects.toThrow(/already joined the 'single' backend/);
    await expect(distributed.init({ bogus: 1 } as never)).rejects.toThrow(TypeError);
    expect(thrown(() => distributed.launch(RANK, { workers: 0 }))).toBeInstanceOf(ValueError);
    expect(thrown(() => distributed.launch(path.join(__dirname, 'nope.js'), { workers: 2 })).message).toMatch(/'file' must be an existing script/);
    expect(thrown(() => distributed.launch(RANK, { workers: 2, argv: [1] as never })).message).toMatch(/'argv'/);
    expect(thrown(() => distributed.launch(RANK, { workers: 2, timeoutMs: -1 })).message).toMatch(/'timeoutMs'/);
  });
});
