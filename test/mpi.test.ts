/**
 * The 'mpi' backend (lib/distributed/mpi.ts, binding/core/mpi_channel.cc, mpi/): real ranks, as
 * separate processes started by Open MPI's `mpirun` (never jest inside a rank: MPI forbids fork
 * there), running test/distributed/rank.js against the built package, as the 'workers' suite
 * does. Equal to one process stepping the mean gradient (bit for bit on 2 ranks, where a float32
 * sum of two values has one rounding whatever MPI's order; within float32 rounding of the sum on
 * 3 and 4), ranks bit-identical, over shared memory and over TCP; overflow, checkpoints
 * resharded from 3 ranks to 2 and to one process; faults end the job within a bound, naming the
 * rank. Where `mpirun` is not installed every test here is reported as skipped, with the reason;
 * where it is but the plugin was not built, the suite fails (a broken build, not a missing tool).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { mpiPluginCandidates } from '../lib/distributed/mpi';
import {
  arrays,
  dictArrays,
  expectIdenticalRanks,
  expectOverflowSkippedAlike,
  OVERFLOW_CASE,
  RANK,
  readResults,
  reference,
  tempDir,
  type Config,
  type RankResult,
} from './distributed/common';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { onPath } = require('../scripts/on-path');

const mpirun: boolean = onPath('mpirun');
const plugin = mpiPluginCandidates().find((p) => existsSync(p));
const ROOT = path.join(__dirname, '..');

interface MpiRun {
  results: RankResult[];
  status: number | null;
  stderr: string;
  ms: number;
  dir: string;
}

/** `mpirun -np <ranks> node rank.js <config> <dir>`, over shared memory or (tcp) TCP on loopback; killed after 60 s. */
function runMpi(config: Config, ranks: number, options: { tcp?: boolean; env?: Record<string, string> } = {}): Promise<MpiRun> {
  const dir = tempDir();
  const args = ['--allow-run-as-root', '--oversubscribe', '-np', String(ranks)];
  if (options.tcp) args.push('--mca', 'btl', 'self,tcp');
  args.push(process.execPath, RANK, JSON.stringify(config), dir);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('mpirun', args, {
      cwd: ROOT,
      env: { ...process.env, OMPI_MCA_btl_vader_single_copy_mechanism: 'none', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', () => undefined);
    const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ results: readResults(dir), status, stderr, ms: Date.now() - started, dir });
    });
  });
}

/** Within float32 rounding of the sum: |a − b| ≤ tolerance · max(1, |b|), element by element. */
function expectClose(actual: number[][], expected: number[][], tolerance = 2e-5): void {
  expect(actual.map((a) => a.length)).toEqual(expected.map((e) => e.length));
  let worst = 0;
  actual.forEach((a, i) => a.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected[i][j]) / Math.max(1, Math.abs(expected[i][j]))))));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

// Every array of numbers in a state dict (any format, nested or not), in key order.
function flatDict(dict: unknown): number[][] {
  const out: number[][] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) out.push(v as number[]);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.keys(v).sort().forEach((k) => visit((v as Record<string, unknown>)[k]));
  };
  visit(dictArrays(dict as Record<string, unknown>));
  return out;
}

// The processes of a run still alive (their command line names the run's folder), from /proc.
function survivors(dir: string): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false; // gone meanwhile
      }
    });
}

const reason = !mpirun ? 'not run: install openmpi-bin (mpirun is not on PATH)' : '';

if (!mpirun) {
  test.skip(`MPI tests ${reason}`, () => undefined);
  // eslint-disable-next-line no-console
  console.warn(`MPI tests ${reason}`);
} else {
  test('the MPI plugin is built where Open MPI is installed', () => {
    expect(plugin).toBeDefined();
  });

  describe('mpirun ranks equal one process stepping the mean gradient', () => {
    const exact: [string, Config, number, { tcp?: boolean }][] = [
      ['groups, schedule, centralization, centered, momentum, weight decay with loss scale on 2 ranks', { preset: 'mixed', steps: 5, stateDict: 'mindspore' }, 2, {}],
      ['the same over TCP (btl self,tcp)', { preset: 'mixed', steps: 4, stateDict: 'mindspore' }, 2, { tcp: true }],
      ['the same in buckets of 1 KiB (many MPI calls a step)', { preset: 'mixed', steps: 3, stateDict: 'mindspore', bucketBytes: 1024 }, 2, {}],
      ['the same through gradientBuffers()', { preset: 'mixed', steps: 3, stateDict: 'mindspore', arena: true }, 2, {}],
      ["flavor 'keras' (decoupled weight decay, its state layout)", { preset: 'flavor', steps: 4, options: { flavor: 'keras' }, stateDict: 'keras' }, 2, {}],
      ['bfloat16 with master weights, not sharded, async', { preset: 'bf16', steps: 3, stateDict: 'mindspore', shardState: false, async: true }, 2, {}],
    ];
    test.each(exact)('%s: bit for bit', async (_, config, size, options) => {
      const { results, status, stderr } = await runMpi(config, size, options);
      expect({ status, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, stderr: '' });
      expectIdenticalRanks(results, size);
      expect(results.map((r) => r.backend)).toEqual(Array(size).fill('mpi'));
      const ref = reference(config, size);
      const returns = await ref.steps(0, config.steps);
      const format = config.stateDict === 'mindspore' ? undefined : { format: config.stateDict as 'keras' };
      for (const r of results) {
        expect(r.returns).toEqual(returns);
        expect(r.globalStep).toBe(config.steps);
        expect(r.params).toEqual(arrays(ref.params));
        expect(r.stateDict).toEqual(dictArrays(ref.opt.stateDict(format as never)));
      }
    });

    const rounded: [string, Config, number, { tcp?: boolean }][] = [
      ['the mixed preset on 3 ranks', { preset: 'mixed', steps: 5, stateDict: 'mindspore' }, 3, {}],
      ['the same on 4 ranks over TCP', { preset: 'mixed', steps: 4, stateDict: 'mindspore' }, 4, { tcp: true }],
      ['the same without sharded state', { preset: 'mixed', steps: 4, stateDict: 'mindspore', shardState: false }, 3, {}],
      ['the same with stepAsync', { preset: 'mixed', steps: 4, stateDict: 'mindspore', async: true }, 3, {}],
      ['float64', { preset: 'float64', steps: 4, stateDict: 'mindspore' }, 3, {}],
      ['bfloat16 and float16 with master weights', { preset: 'bf16', steps: 3, stateDict: 'mindspore' }, 3, {}],
      ["flavor 'pytorch' (its state layout)", { preset: 'flavor', steps: 4, options: { flavor: 'pytorch', centered: true }, stateDict: 'pytorch' }, 3, {}],
    ];
    test.each(rounded)('%s: ranks bit-identical, within float32 rounding of the sum', async (_, config, size, options) => {
      const { results, status, stderr } = await runMpi(config, size, options);
      expect({ status, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, stderr: '' });
      expectIdenticalRanks(results, size);
      const ref = reference(config, size);
      const returns = await ref.steps(0, config.steps);
      const format = config.stateDict === 'mindspore' ? undefined : { format: config.stateDict as 'pytorch' };
      for (const r of results) {
        expect(r.returns).toEqual(returns);
        expect(r.stateDict).toEqual(results[0].stateDict);
      }
      // bfloat16 parameters hold 8 bits: a one-ulp difference in a mean gradient may flip the last bit.
      const tolerance = config.preset === 'bf16' ? 2 ** -7 : 2e-5;
      expectClose(results[0].params!, arrays(ref.params), tolerance);
      expectClose(flatDict(results[0].stateDict!), flatDict(ref.opt.stateDict(format as never)), 1e-4);
    });
  });

  describe('mpirun overflow and checkpoints', () => {
    test('a NaN on one rank at step 2 skips that step on every rank; the dynamic scale follows alike', async () => {
      const { results, status } = await runMpi(OVERFLOW_CASE, 3);
      expect(status).toBe(0);
      const ref = await expectOverflowSkippedAlike(results);
      expectClose(results[0].params!, arrays(ref.params));
    });

    test('saved under mpirun -np 3, resumed under -np 2 and in one plain process', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'state.safetensors');
      const base: Config = { preset: 'mixed', steps: 3, save: file, stateDict: 'mindspore', dynamicScale: { initLossScale: 64, scaleWindow: 2 } };
      const saved = await runMpi(base, 3);
      expect(saved.status).toBe(0);
      expect(existsSync(file)).toBe(true);
      const paramsFile = path.join(dir, 'params.json');
      writeFileSync(paramsFile, JSON.stringify(saved.results[0].params));
      // The file holds what the ranks hold: loaded in one process, its state dict is theirs.
      const loaded = reference(base, 3, { file, params: saved.results[0].params });
      await loaded.steps(3, 3);
      expect(dictArrays(loaded.opt.stateDict())).toEqual(saved.results[0].stateDict);
      // Resumed on 2 ranks: bit for bit what one process does from the same file with the mean of 2.
      const resumed = await runMpi({ ...base, save: undefined, from: 3, steps: 6, load: file, paramsFrom: paramsFile }, 2);
      expect(resumed.status).toBe(0);
      expectIdenticalRanks(resumed.results, 2);
      const single = reference(base, 2, { file, params: saved.results[0].params });
      await single.steps(3, 6);
      for (const r of resumed.results) {
        expect(r.params).toEqual(arrays(single.params));
        expect(r.stateDict).toEqual(dictArrays(single.opt.stateDict()));
        expect(r.globalStep).toBe(6);
      }
      // And the whole run against one uninterrupted process (3 ranks' mean, then 2 ranks').
      const whole = reference(base, (k) => (k < 3 ? 3 : 2));
      await whole.steps(0, 6);
      expectClose(resumed.results[0].params!, arrays(whole.params));
    });
  });

  describe('mpirun faults end the job within a bound, naming the rank', () => {
    test('parameters that differ on one rank: a ValueError on every rank, naming it, before any exchange of gradients', async () => {
      const { results, status } = await runMpi({ preset: 'mixed', steps: 1, renameOn: 1 }, 3);
      expect(status).toBe(0);
      expect(results).toHaveLength(3);
      for (const r of results) {
        expect(r.error?.name).toBe('ValueError');
        expect(r.error?.message).toMatch(/rank 1 has parameter 1 'fc\.weight\.other'.* where rank 0 has parameter 1 'fc\.weight'/);
        expect(r.returns).toEqual([]);
      }
    });

    test('a rank that exits with code 1 at step 3: mpirun ends non-zero within 30 s and no rank is left', async () => {
      const { results, status, ms, dir, stderr } = await runMpi({ preset: 'mixed', steps: 8, faults: [{ rank: 1, step: 3, kind: 'exit', code: 1 }] }, 3);
      expect(status).not.toBe(0);
      expect(ms).toBeLessThan(30000);
      expect(stderr).toMatch(/rmsprop-native: MPI rank 1 of 3 exits with code 1: ending the MPI job/);
      expect(results.every((r) => r.returns === undefined || r.returns.length < 8)).toBe(true);
      expect(survivors(dir)).toEqual([]);
    });

    test('a rank killed (SIGKILL) at step 2: mpirun ends non-zero within 30 s and no rank is left', async () => {
      const { status, ms, dir } = await runMpi({ preset: 'mixed', steps: 8, faults: [{ rank: 2, step: 2, kind: 'kill' }] }, 3);
      expect(status).not.toBe(0);
      expect(ms).toBeLessThan(30000);
      expect(survivors(dir)).toEqual([]);
    });

    test('a rank that throws at step 2: its error is printed, mpirun ends non-zero, no rank is left', async () => {
      const { status, stderr, ms, dir } = await runMpi({ preset: 'float64', steps: 6, async: true, faults: [{ rank: 2, step: 2, kind: 'throw' }] }, 3);
      expect(status).not.toBe(0);
      expect(ms).toBeLessThan(30000);
      expect(stderr).toMatch(/rank 2 throws at step 2 on purpose/);
      expect(stderr).toMatch(/MPI rank 2 of 3 exits with code 1/);
      expect(survivors(dir)).toEqual([]);
    });

    test('a rank later than timeoutMs: the others fail naming the collective within the timeout; the job ends', async () => {
      const { results, status, ms, dir } = await runMpi({ preset: 'float64', steps: 3, timeoutMs: 1000, faults: [{ rank: 1, step: 1, kind: 'sleep', ms: 20000 }] }, 3);
      expect(status).not.toBe(0);
      expect(ms).toBeLessThan(15000);
      const others = results.filter((r) => r.rank !== 1);
      expect(others.length).toBeGreaterThan(0);
      for (const r of others) {
        expect(r.error?.message).toMatch(/the MPI collective '.*' did not complete within 1000 ms/);
        expect(r.returns).toHaveLength(1);
      }
      expect(survivors(dir)).toEqual([]);
    });

    test('a bad gradient on one rank: a ValueError there before any exchange; the job ends', async () => {
      const { results, status } = await runMpi({ preset: 'mixed', steps: 3, timeoutMs: 5000, faults: [{ rank: 1, step: 1, kind: 'short' }] }, 2);
      expect(status).not.toBe(0);
      const bad = results.find((r) => r.rank === 1);
      expect(bad?.error?.name).toBe('ValueError');
      expect(bad?.error?.message).toMatch(/gradients\[0\]/);
      expect(bad?.hashes).toHaveLength(1);
    });
  });

  describe('devices and installation', () => {
    test("device 'cuda' (host emulator) under mpirun: ranks bit-identical, equal to the CPU within float32 rounding", async () => {
      const cudaLibrary = path.join(ROOT, 'build', 'emulator', 'librmsprop_cuda_emulator.so');
      const config: Config = { preset: 'mixed', steps: 3, stateDict: 'mindspore' };
      const device = await runMpi({ ...config, cudaLibrary, options: { device: 'cuda' } }, 2);
      expect(device.status).toBe(0);
      expectIdenticalRanks(device.results, 2);
      const ref = reference(config, 2);
      await ref.steps(0, config.steps);
      expectClose(device.results[0].params!, arrays(ref.params));
    });
  });
}

test("without the plugin, distributed.init({ backend: 'mpi' }) says what to install and build", () => {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'none'));
  const script = "require('./').distributed.init({ backend: 'mpi' }).then(() => console.log('joined'), (e) => console.log(e.message))";
  const run = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, RMSPROP_MPI_LIBRARY: path.join(dir, 'none', 'librmsprop_mpi.so') },
  });
  expect(run.stdout).toMatch(/backend 'mpi' needs the MPI plugin, which this installation lacks/);
  expect(run.stdout).toMatch(/apt-get install openmpi-bin libopenmpi-dev.*npx rmsprop-native-build/);
  expect(run.status).toBe(0);
});

test('a plugin whose libmpi cannot be loaded: the error names the library and what to install', () => {
  if (!onPath('cc')) return void console.warn('not run: no C compiler to build the stand-in plugin');
  const dir = tempDir();
  // A stand-in plugin linked against a libmpi (soname libmpi.so.999, so that no installed Open
  // MPI satisfies it) that is then removed: what a machine without Open MPI meets.
  writeFileSync(path.join(dir, 'mpi.c'), 'int standin(void) { return 0; }\n');
  writeFileSync(path.join(dir, 'plugin.c'), 'int standin(void);\nint rmsprop_mpi_abi_version(void) { return standin(); }\n');
  const cc = (args: string[]) => expect(spawnSync('cc', args, { encoding: 'utf8' }).status).toBe(0);
  cc(['-shared', '-fPIC', '-Wl,-soname,libmpi.so.999', '-o', path.join(dir, 'libmpi.so.999'), path.join(dir, 'mpi.c')]);
  cc(['-shared', '-fPIC', '-o', path.join(dir, 'librmsprop_mpi.so'), path.join(dir, 'plugin.c'), path.join(dir, 'libmpi.so.999')]);
  rmSync(path.join(dir, 'libmpi.so.999'));
  const script = "require('./').distributed.init({ backend: 'mpi' }).then(() => console.log('joined'), (e) => console.log(e.message))";
  const run = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, RMSPROP_MPI_LIBRARY: path.join(dir, 'librmsprop_mpi.so') },
  });
  expect(run.stdout).toMatch(/backend 'mpi' needs Open MPI's library libmpi\.so\.40, which is not installed: install Open MPI \(Debian\/Ubuntu: apt-get install openmpi-bin/);
  expect(run.stdout).toMatch(/libmpi\.so\.999: cannot open shared object file/);
});
