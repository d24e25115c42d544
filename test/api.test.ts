/** The public surface: exports, Tensor, Parameter, optimizer properties, state views, lr and wd forms. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

import * as lib from '../lib';
import { LearningRateSchedule, Parameter, RMSProp, Tensor, ValueError, cudaAvailable, simdLevel } from '../lib';
import { binding } from '../lib/native/native';

const root = path.join(__dirname, '..');

// Every export of the contract.
const EXPORTS = [
  'Tensor', 'Parameter', 'RMSProp', 'LearningRateSchedule', 'ValueError', 'simdLevel', 'cudaAvailable',
  'ExponentialDecayLR', 'NaturalExpDecayLR', 'InverseDecayLR', 'CosineDecayLR', 'PolynomialDecayLR', 'WarmUpLR',
  'piecewiseConstantLr', 'exponentialDecayLr', 'naturalExpDecayLr', 'inverseDecayLr', 'cosineDecayLr',
  'polynomialDecayLr', 'warmupLr', 'numThreads', 'setNumThreads', 'DynamicLossScaler',
];

describe('package', () => {
  it('the checkout root (dist/) gives every export', () => {
    const pkg = require(root);
    for (const name of EXPORTS) expect(typeof pkg[name]).toBe('function');
  });

  it('the TypeScript entry exports exactly the contract names', () => {
    expect(Object.keys(lib).sort()).toEqual([...EXPORTS, 'distributed'].sort());
  });

  it("the 'distributed' namespace: init, launch and launched, from the checkout root too", () => {
    const pkg = require(root);
    expect(Object.keys(pkg.distributed).sort()).toEqual(['init', 'launch', 'launched']);
    expect(typeof pkg.distributed.init).toBe('function');
    expect(typeof pkg.distributed.launch).toBe('function');
    expect(pkg.distributed.launched).toBe(false);
  });
});

test('stateBytes: the bytes of state an optimizer holds', () => {
  const plain = new RMSProp([new Parameter(new Float32Array(10), 'a'), new Parameter(new Float64Array(3), 'b')]);
  expect(plain.stateBytes).toBe(2 * (10 * 4 + 3 * 8)); // meanSquare and moment
  const centered = new RMSProp([new Parameter(new Float32Array(17), 'a')], { centered: true });
  expect(centered.stateBytes).toBe(3 * 17 * 4); // and meanGrad
});

describe('Tensor', () => {
  it('keeps a typed array by reference', () => {
    const data = new Float64Array([1, 2, 3, 4, 5, 6]);
    const t = new Tensor(data, [2, 3]);
    expect(t.data).toBe(data);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float64');
    expect(t.size).toBe(6);
  });

  it('turns a number array into float32 and a number into a 0-D tensor', () => {
    const t = new Tensor([1, 2.5]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.shape).toEqual([2]);
    expect(t.dtype).toBe('float32');
    const s = new Tensor(0.5);
    expect(s.shape).toEqual([]);
    expect(s.size).toBe(1);
    expect(s.data[0]).toBe(0.5);
  });

  it('has a frozen shape', () => {
    expect(Object.isFrozen(new Tensor([1]).shape)).toBe(true);
  });
});

describe('Parameter', () => {
  it('is a named Tensor with requiresGrad defaulting to true', () => {
    const p = new Parameter(new Float32Array(6), 'conv.weight', { shape: [1, 2, 3] });
    expect(p).toBeInstanceOf(Tensor);
    expect(p.name).toBe('conv.weight');
    expect(p.shape).toEqual([1, 2, 3]);
    expect(p.requiresGrad).toBe(true);
    expect(new Parameter([1], 'x', { requiresGrad: false }).requiresGrad).toBe(false);
  });
});

describe('RMSProp', () => {
  it('updates parameters in place and counts steps', () => {
    const data = new Float32Array([1, 2]);
    const p = new Parameter(data, 'w');
    const opt = new RMSProp([p]);
    expect(opt.globalStep).toBe(0);
    expect(opt.step([new Float32Array([0.1, 0.2])])).toBe(true);
    expect(p.data).toBe(data);
    expect(data[0]).toBeCloseTo(0.98946494, 6);
    expect(opt.globalStep).toBe(1);
  });

  it('lists parameters in the order given', () => {
    const a = new Parameter([1], 'a');
    const b = new Parameter([2], 'b');
    expect(new RMSProp([b, a]).parameters).toEqual([b, a]);
  });

  it('starts state at meanSquare 1, moment 0, meanGrad 0 (centered only), as live views', () => {
    const p = new Parameter(new Float64Array([1, 2, 3]), 'w');
    const plain = new RMSProp([p]).state(p);
    expect(Array.from(plain.meanSquare)).toEqual([1, 1, 1]);
    expect(Array.from(plain.moment)).toEqual([0, 0, 0]);
    expect(plain.meanGrad).toBeUndefined();
    expect(plain.meanSquare).toBeInstanceOf(Float64Array);

    const opt = new RMSProp([p], { centered: true });
    const s = opt.state(p);
    expect(Array.from(s.meanGrad!)).toEqual([0, 0, 0]);
    s.meanSquare.fill(4); // a write through the view is what the next step uses
    opt.step([new Float64Array([0, 0, 0])]);
    expect(Array.from(s.meanSquare)).toEqual([3.6, 3.6, 3.6].map((x) => 0.9 * 4 + 0 * x));
    expect(opt.state(p)).toBe(s);
  });

  it('uses the gradients of each call, whether the arrays are reused, swapped, or a call failed', () => {
    const make = () => {
      const a = new Parameter(new Float32Array([1, 2]), 'a');
      const b = new Parameter(new Float32Array([3, 4, 5]), 'b');
      return { a, b, opt: new RMSProp([a, b], { momentum: 0.5 }) };
    };
    const A = [new Float32Array([0.1, 0.2]), new Float32Array([0.3, 0.4, 0.5])];
    const B0 = new Float32Array([-0.7, 0.9]);
    const x = make();
    const y = make();
    x.opt.step(A);
    x.opt.step(A); // the same arrays again
    A[0][0] = 0.15; // same array object, new contents: must be read again
    x.opt.step(A);
    expect(() => x.opt.step([B0, new Float32Array(2)])).toThrow(ValueError); // fails after entry 0
    x.opt.step([B0, A[1]]);
    for (const g of [
      [new Float32Array([0.1, 0.2]), new Float32Array([0.3, 0.4, 0.5])],
      [new Float32Array([0.1, 0.2]), new Float32Array([0.3, 0.4, 0.5])],
      [new Float32Array([0.15, 0.2]), new Float32Array([0.3, 0.4, 0.5])],
      [new Float32Array([-0.7, 0.9]), new Float32Array([0.3, 0.4, 0.5])],
    ]) {
      y.opt.step(g);
    }
    expect(Array.from(x.a.data)).toEqual(Array.from(y.a.data));
    expect(Array.from(x.b.data)).toEqual(Array.from(y.b.data));
  });

  it('rejects state() of a foreign parameter or a non-Parameter', () => {
    const opt = new RMSProp([new Parameter([1], 'w')]);
    expect(() => opt.state(new Parameter([1], 'other'))).toThrow(ValueError);
    expect(() => opt.state({} as never)).toThrow(TypeError);
  });

  it('accepts Tensor gradients and mixes float32 and float64 parameters', () => {
    const a = new Parameter(new Float32Array([1, 2]), 'a');
    const b = new Parameter(new Float64Array([1, 2]), 'b');
    const opt = new RMSProp([a, b]);
    opt.step([new Tensor(new Float32Array([0.1, 0.2])), new Tensor(new Float64Array([0.1, 0.2]))]);
    expect(a.data[0]).toBeCloseTo(0.98946494, 6);
    expect(b.data[0]).toBeCloseTo(0.98946494, 7);
    expect(b.data[0]).not.toBe(a.data[0]); // float64 is computed in float64
  });

  it('applies weight decay except to names containing beta or gamma', () => {
    const names = ['layer.weight', 'bn.beta', 'bn.gamma', 'Beta'];
    const params = names.map((n) => new Parameter(new Float64Array([1]), n));
    const opt = new RMSProp(params, { weightDecay: 0.5, learningRate: 0.1, decay: 0 });
    opt.step(params.map(() => new Float64Array([0])));
    // with g = 0 only weight decay moves a parameter
    expect(params.map((p) => p.data[0] !== 1)).toEqual([true, false, false, true]);
  });

  it('evaluates a dynamic weight decay (function or object with at) at the step, times the loss scale', () => {
    for (const weightDecay of [(k: number) => 0.1 * (k + 1), { at: (k: number) => 0.1 * (k + 1) }]) {
      const p = new Parameter(new Float64Array([1]), 'w');
      const opt = new RMSProp([p], { weightDecay, lossScale: 2, decay: 0, learningRate: 1, epsilon: 1e-30 });
      opt.step([new Float64Array([0])]);
      // g = (0 + 0.1·2·1)/2 = 0.1; s = g²; m = g/√s = 1 (sign of g); w = 0
      expect(p.data[0]).toBeCloseTo(0, 12);
      expect(opt.state(p).meanSquare[0]).toBeCloseTo(0.01, 12);
      opt.step([new Float64Array([0])]);
      // step 1: g = 0.2·2·0/2 = 0 → m = 0
      expect(opt.state(p).meanSquare[0]).toBeCloseTo(0, 12);
    }
  });
});

describe('learning rates', () => {
  const grad = () => new Float64Array([1]);
  function lrSequence(learningRate: unknown, steps: number): number[] {
    const p = new Parameter(new Float64Array([0]), 'w');
    const opt = new RMSProp([p], { learningRate: learningRate as never });
    const seen: number[] = [];
    for (let k = 0; k < steps; k++) {
      seen.push(opt.getLr() as number);
      opt.step([grad()]);
    }
    return seen;
  }

  it('a number is fixed', () => expect(lrSequence(0.25, 3)).toEqual([0.25, 0.25, 0.25]));
  it('a 0-D Tensor is fixed', () => expect(lrSequence(new Tensor(0.5), 2)).toEqual([0.5, 0.5]));
  it('a 1-D Tensor is a table', () => expect(lrSequence(new Tensor(new Float64Array([0.3, 0.2])), 2)).toEqual([0.3, 0.2]));
  it('a typed array is a table', () => expect(lrSequence(new Float64Array([0.3, 0.2, 0.1]), 3)).toEqual([0.3, 0.2, 0.1]));
  it('any iterable is a table', () => {
    function* gen() {
      yield 0.4;
      yield 0.3;
    }
    expect(lrSequence(gen(), 2)).toEqual([0.4, 0.3]);
    expect(lrSequence(new Set([0.2, 0.1]), 2)).toEqual([0.2, 0.1]);
  });
  it('a function of the global step', () => expect(lrSequence((k: number) => 1 / (k + 1), 3)).toEqual([1, 0.5, 1 / 3]));
  it('a LearningRateSchedule subclass', () => {
    class Halving extends LearningRateSchedule {
      at(step: number): number {
        return 0.8 / 2 ** step;
      }
    }
    expect(lrSequence(new Halving(), 3)).toEqual([0.8, 0.4, 0.2]);
  });
  it('table values are used as given, without range checks', () => {
    expect(lrSequence([-0.1], 1)).toEqual([-0.1]);
  });
  it('getLr throws a ValueError once a table has run out', () => {
    const opt = new RMSProp([new Parameter([1], 'w')], { learningRate: [0.1] });
    opt.step([new Float32Array([1])]);
    expect(() => opt.getLr()).toThrow(ValueError);
  });
});

describe('SIMD level and devices', () => {
  it('reports a known level that the binding supports', () => {
    expect(['avx512', 'avx2', 'sse2', 'neon', 'scalar']).toContain(simdLevel());
    expect(binding.supportedSimdLevels()).toContain(simdLevel());
    expect(binding.supportedSimdLevels()).toContain('scalar');
  });

  it('cudaAvailable() follows the plugin found: true with a working plugin (the host emulator), false with none', () => {
    expect(typeof cudaAvailable()).toBe('boolean');
    const script = `process.stdout.write(String(require(${JSON.stringify(root)}).cudaAvailable()))`;
    const inChild = (library: string) =>
      execFileSync(process.execPath, ['-e', script], { env: { ...process.env, RMSPROP_CUDA_LIBRARY: library }, encoding: 'utf8' });
    expect(inChild(path.join(root, 'build', 'emulator', 'librmsprop_cuda_emulator.so'))).toBe('true');
    expect(inChild(path.join(root, 'no-such-folder', 'librmsprop_cuda.so'))).toBe('false');
  });

  function threadsInChild(env: Record<string, string>): { threads: number; warnings: string } {
    const script =
      `const m = require(${JSON.stringify(root)}); let w = ''; process.on('warning', (e) => (w += e.message));` +
      `setImmediate(() => process.stdout.write(JSON.stringify({ threads: m.numThreads(), warnings: w })));`;
    const env2: Record<string, string | undefined> = { ...process.env, ...env };
    if (!('RMSPROP_THREADS' in env)) delete env2.RMSPROP_THREADS;
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: env2, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  }

  it('RMSPROP_THREADS sets the pool size of a new process; a bad value is ignored with a warning', () => {
    const hardware = threadsInChild({});
    expect(hardware.warnings).toBe('');
    for (const n of [1, 3]) expect(threadsInChild({ RMSPROP_THREADS: String(n) })).toEqual({ threads: n, warnings: '' });
    for (const bad of ['0', 'two', '2000', '3.5']) {
      const got = threadsInChild({ RMSPROP_THREADS: bad });
      expect(got.threads).toBe(hardware.threads);
      expect(got.warnings).toContain(`RMSPROP_THREADS=${bad} is not an integer from 1 to 1024`);
    }
  });

  function levelInChild(env: Record<string, string>): string {
    const script = `process.stdout.write(require(${JSON.stringify(root)}).simdLevel())`;
    return execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  }

  it.each(binding.supportedSimdLevels())('RMSPROP_SIMD=%s forces that level in a new process', (level) => {
    expect(levelInChild({ RMSPROP_SIMD: level })).toBe(level);
  });

  it('an unsupported RMSPROP_SIMD falls back to the best level with a warning', () => {
    const script = `const m = require(${JSON.stringify(root)}); process.on('warning', (w) => process.stdout.write('W:' + w.message + '|')); setImmediate(() => process.stdout.write(m.simdLevel()));`;
    const out = execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, RMSPROP_SIMD: 'quantum' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(out).toContain('RMSPROP_SIMD=quantum');
    expect(out.endsWith(binding.supportedSimdLevels()[0])).toBe(true);
  });
});
