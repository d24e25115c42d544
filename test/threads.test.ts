/** The thread pool and stepAsync: bit-identical results for every thread count, sync or async, in call order. */
import { Parameter, RMSProp, ValueError, numThreads, setNumThreads } from '../lib';
import { binding } from '../lib/native/native';
import { random, uniform, type Dtype } from './reference';

const initialThreads = numThreads();
const initialGrain = binding.testing.setGrainElements();
afterEach(() => {
  setNumThreads(initialThreads);
  binding.testing.setGrainElements(initialGrain);
});

/** A model with a large tensor, a centralized convolution, and many small tensors. */
function model(dtype: Dtype) {
  const rand = random(42);
  const big = new Parameter(uniform(dtype, 300_001, rand, -1, 1), 'big');
  const conv = new Parameter(uniform(dtype, 64 * 3 * 5 * 5, rand, -1, 1), 'conv', { shape: [64, 3, 5, 5] });
  const small = Array.from({ length: 40 }, (_, i) => new Parameter(uniform(dtype, 1 + i * 7, rand, -1, 1), `small${i}`));
  return [big, conv, ...small];
}

function optimizer(params: Parameter[], centered: boolean) {
  return new RMSProp(
    [{ params: params.slice(0, 2), gradCentralization: true, weightDecay: 0.01 }, { params: params.slice(2), lr: 0.05 }],
    { centered, momentum: 0.9, lossScale: 4 },
  );
}

function gradients(params: readonly Parameter[], step: number) {
  const rand = random(1000 + step);
  return params.map((p) => uniform(p.dtype as Dtype, p.size, rand, -4, 4));
}

function fingerprint(params: Parameter[], opt: RMSProp): Buffer {
  return Buffer.concat(
    params.flatMap((p) => {
      const s = opt.state(p);
      return [p.data, s.meanSquare, s.moment, ...(s.meanGrad ? [s.meanGrad] : [])].map((a) =>
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      );
    }),
  );
}

async function train(dtype: Dtype, centered: boolean, threads: number, mode: 'sync' | 'async', grain?: number) {
  setNumThreads(threads);
  if (grain) binding.testing.setGrainElements(grain);
  const params = model(dtype);
  const opt = optimizer(params, centered);
  for (let k = 0; k < 3; k++) {
    if (mode === 'sync') opt.step(gradients(params, k));
    else await opt.stepAsync(gradients(params, k));
  }
  return fingerprint(params, opt);
}

describe.each([
  ['float32', false],
  ['float32', true],
  ['float64', false],
  ['float64', true],
] as [Dtype, boolean][])('%s centered=%s', (dtype, centered) => {
  it('gives bit-identical results for 1, 2, 3 and 8 threads, sync and async, and any chunk size', async () => {
    const reference = await train(dtype, centered, 1, 'sync');
    for (const threads of [2, 3, 8]) {
      expect((await train(dtype, centered, threads, 'sync')).equals(reference)).toBe(true);
      expect((await train(dtype, centered, threads, 'async')).equals(reference)).toBe(true);
    }
    expect((await train(dtype, centered, 4, 'sync', 5000)).equals(reference)).toBe(true);
    expect((await train(dtype, centered, 2, 'async', 100)).equals(reference)).toBe(true);
  });
});

describe('setNumThreads', () => {
  it('changes numThreads()', () => {
    setNumThreads(3);
    expect(numThreads()).toBe(3);
    setNumThreads(1);
    expect(numThreads()).toBe(1);
  });

  it('steps right after every resize (a new worker must join the very next job)', () => {
    const p = new Parameter(new Float32Array(200_000), 'w');
    const opt = new RMSProp([p]);
    const g = new Float32Array(200_000).fill(0.1);
    for (let i = 0; i < 300; i++) {
      setNumThreads(1 + (i % 3));
      opt.step([g]);
    }
    expect(opt.globalStep).toBe(300);
  });

  it('rejects a non-integer or out-of-range count', () => {
    expect(() => setNumThreads(0)).toThrow(ValueError);
    expect(() => setNumThreads(2.5)).toThrow(ValueError);
    expect(() => setNumThreads('2' as never)).toThrow(TypeError);
    expect(numThreads()).toBe(initialThreads);
  });
});

describe('stepAsync', () => {
  const make = () => {
    const p = new Parameter(new Float32Array([1, 2, 3]), 'w');
    return { p, opt: new RMSProp([p], { learningRate: [0.1, 0.2, 0.3, 0.4] }) };
  };
  const grad = () => new Float32Array([0.1, -0.2, 0.3]);

  it('bad input rejects at once and is not queued: a step() right after runs', async () => {
    const a = make();
    const b = make();
    const rejected = a.opt.stepAsync([new Float32Array(2)]);
    expect(a.opt.step([grad()])).toBe(true);
    await expect(rejected).rejects.toThrow(/'gradients\[0\]'/);
    b.opt.step([grad()]);
    expect(Array.from(a.p.data)).toEqual(Array.from(b.p.data));
  });

  it('resolves to true and matches step()', async () => {
    const a = make();
    const b = make();
    await expect(a.opt.stepAsync([grad()])).resolves.toBe(true);
    b.opt.step([grad()]);
    expect(Array.from(a.p.data)).toEqual(Array.from(b.p.data));
    expect(a.opt.globalStep).toBe(1);
  });

  it('applies calls in call order, each with its own learning rate', async () => {
    const a = make();
    const b = make();
    const promises = [0, 1, 2].map(() => a.opt.stepAsync([grad()]));
    await Promise.all(promises);
    for (let k = 0; k < 3; k++) b.opt.step([grad()]);
    expect(Array.from(a.p.data)).toEqual(Array.from(b.p.data));
    expect(a.opt.globalStep).toBe(3);
  });

  it('rejects a bad call, changing nothing, and later calls still run', async () => {
    const a = make();
    await a.opt.stepAsync([grad()]);
    const before = Array.from(a.p.data);
    await expect(a.opt.stepAsync([new Float64Array(3)] as never)).rejects.toThrow(TypeError);
    await expect(a.opt.stepAsync([grad(), grad()])).rejects.toThrow(ValueError);
    expect(Array.from(a.p.data)).toEqual(before);
    expect(a.opt.globalStep).toBe(1);
    await expect(a.opt.stepAsync([grad()])).resolves.toBe(true);
    expect(a.opt.globalStep).toBe(2);
  });

  it('rejects when a learning-rate table runs out', async () => {
    const a = make();
    for (let k = 0; k < 4; k++) await a.opt.stepAsync([grad()]);
    await expect(a.opt.stepAsync([grad()])).rejects.toThrow(ValueError);
    expect(a.opt.globalStep).toBe(4);
  });

  it('refuses synchronous state access while an operation is pending', async () => {
    const a = make();
    const pending = a.opt.stepAsync([grad()]);
    expect(() => a.opt.step([grad()])).toThrow(/asynchronous/);
    expect(() => a.opt.stateDict()).toThrow(/asynchronous/);
    await pending;
    expect(() => a.opt.step([grad()])).not.toThrow();
  });

  it('keeps the event loop running during a large step', async () => {
    const n = 1 << 24;
    const p = new Parameter(new Float32Array(n), 'w');
    const opt = new RMSProp([p], { centered: true });
    const g = new Float32Array(n).fill(0.5);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      // several steps in a row: long enough for a 1 ms timer to fire on any machine
      for (let k = 0; k < 8; k++) await opt.stepAsync([g]);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
    expect(opt.globalStep).toBe(8);
  });
});
