/**
 * The tests of `device: 'cuda'` through the public API, run against whichever device plugin the
 * calling test file set up: the host emulator (cuda-emulated.test.ts, everywhere) or the CUDA
 * plugin on a GPU (cuda-gpu.test.ts, skipped without one). Numbers are judged against the
 * float64 reference (docs/semantics.md §2) and the CPU optimizer; the memory model (parameter sync,
 * state views, checkpoints, device buffers) against what the CPU does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DynamicLossScaler, ExponentialDecayLR, Parameter, RMSProp, ValueError, type ParamsInput, type RMSPropOptions } from '../lib';
import { toHalfBits } from '../lib/base/half';
import { thrown } from './helpers';
import { mismatches, random, referenceStep, uniform, type Dtype, type FloatArray, type Hyper } from './reference';

const BASE: RMSPropOptions = { learningRate: 0.01, decay: 0.9, momentum: 0.5, epsilon: 1e-6, lossScale: 4 };

/** A small network's parameters: a convolution kernel, a dense matrix, a bias, odd and chunk-crossing sizes. */
function makeParams(dtype: Dtype, seed = 3): Parameter[] {
  const rand = random(seed);
  const specs: [string, number[]][] = [
    ['conv.weight', [6, 1, 5, 5]],
    ['fc.weight', [120, 400]],
    ['fc.bias', [17]],
    ['odd', [3]],
    ['big', [70001]],
  ];
  return specs.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return new Parameter(uniform(dtype, size, rand, -1, 1), name, { shape });
  });
}

/** Groups as in the MindSpore example: conv with weight decay and centralization, fc with its own lr. */
function groups(params: Parameter<Float32Array | Float64Array | Uint16Array>[]): ParamsInput {
  return [
    { params: [params[0]], weightDecay: 0.01, gradCentralization: true },
    { params: [params[1], params[2]], lr: 0.02 },
    { params: params.slice(3) },
  ];
}

function hyperOf(name: string, centered: boolean): Hyper {
  const h: Hyper = {
    lr: name.startsWith('fc.') ? 0.02 : 0.01,
    decay: 0.9,
    momentum: 0.5,
    epsilon: 1e-6,
    lossScale: 4,
    weightDecay: name === 'conv.weight' ? 0.01 : null,
    centered,
  };
  if (name === 'conv.weight') h.centralizeSlices = 6;
  return h;
}

function gradients(opt: RMSProp, seed: number): FloatArray[] {
  const rand = random(seed);
  return opt.parameters.map((p) => uniform(p.dtype as Dtype, p.size, rand, -2, 2));
}

function copyParams(params: readonly Parameter[]): Parameter[] {
  return params.map((p) => new Parameter(p.data.slice(), p.name, { shape: p.shape }));
}

function expectBitsEqual(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const bad: number[] = [];
  for (let i = 0; i < a.length && bad.length < 5; i++) if (!Object.is(a[i], b[i])) bad.push(i);
  expect({ what, bad }).toEqual({ what, bad: [] });
  expect(a.length).toBe(b.length);
}

/** Both optimizers' parameters and full state, bit for bit. */
function expectSameOptimizers(a: RMSProp, b: RMSProp): void {
  a.syncParameters();
  b.syncParameters();
  a.parameters.forEach((p, i) => expectBitsEqual(p.data, b.parameters[i].data, p.name));
  const da = a.stateDict();
  const db = b.stateDict();
  expect(Object.keys(da).sort()).toEqual(Object.keys(db).sort());
  for (const key of Object.keys(da)) {
    const va = da[key];
    const vb = db[key];
    if (typeof va === 'number') expect(vb).toBe(va);
    else expectBitsEqual(va.data, (vb as typeof va).data, key);
  }
}

export function defineDeviceSuite(): void {
  const device = { device: 'cuda' } as const;

  test.each(['tf1', 'pytorch', 'keras', 'tfjs', 'optax'] as const)('flavor %s: each variant steps on the device as on the CPU', (flavor) => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const centered of [false, true]) {
        const options: RMSPropOptions = { flavor, learningRate: 0.01, momentum: 0.9, centered, weightDecay: 0.01, maximize: flavor === 'pytorch', nesterov: flavor === 'optax' };
        const params = makeParams(dtype).slice(0, 4);
        const cpuParams = copyParams(params);
        const opt = new RMSProp(params, { ...options, ...device });
        const cpu = new RMSProp(cpuParams, options);
        for (let step = 0; step < 3; step++) {
          const grads = gradients(opt, 40 + step);
          opt.step(grads);
          cpu.step(grads);
        }
        const rel = dtype === 'float32' ? 2e-5 : 1e-11;
        opt.parameters.forEach((p, i) => {
          const q = cpu.parameters[i];
          let worst = 0;
          for (let k = 0; k < p.size; k++) worst = Math.max(worst, Math.abs(p.data[k] - q.data[k]) / (1 + Math.abs(q.data[k])));
          expect({ flavor, dtype, centered, p: p.name, close: worst <= rel }).toEqual({ flavor, dtype, centered, p: p.name, close: true });
        });
        opt.dispose();
      }
    }
  });

  test('centralization of one slice (shape[0] 1) and of one element per slice, as on the CPU', () => {
    // Both gradients centre to 0 (docs/semantics.md §4 step 2), so nothing moves.
    const one = new Parameter(new Float64Array(12).fill(1), 'one', { shape: [1, 2, 2, 3] });
    const each = new Parameter(new Float32Array(4).fill(1), 'each', { shape: [4, 1, 1] });
    const opt = new RMSProp([{ params: [one, each], gradCentralization: true }], { momentum: 0, ...device });
    opt.step([new Float64Array(12).fill(0.7), new Float32Array([0.3, -1, 2, 5])]);
    opt.dispose();
    expect(Array.from(one.data)).toEqual(new Array(12).fill(1));
    expect(Array.from(each.data)).toEqual(new Array(4).fill(1));
  });

  for (const dtype of ['float32', 'float64'] as const) {
    for (const centered of [false, true]) {
      const variant = `${dtype} ${centered ? 'centered' : 'plain'}`;

      test(`${variant}: every step matches the float64 reference, and the CPU optimizer within tolerance`, () => {
        const params = makeParams(dtype);
        const opt = new RMSProp(groups(params), { ...BASE, centered, ...device });
        const cpuParams = copyParams(params);
        const cpu = new RMSProp(groups(cpuParams), { ...BASE, centered });
        for (let step = 0; step < 3; step++) {
          const grads = gradients(opt, 10 + step);
          const expected = opt.parameters.map((p) => {
            const s = opt.state(p); // downloads the device state into these views
            return referenceStep(dtype, hyperOf(p.name, centered), {
              param: p.data.slice(),
              meanSquare: s.meanSquare.slice(),
              moment: s.moment.slice(),
              meanGrad: s.meanGrad?.slice(),
            }, grads[opt.parameters.indexOf(p)]);
          });
          opt.step(grads);
          cpu.step(grads);
          opt.parameters.forEach((p, i) => {
            const s = opt.state(p);
            const e = expected[i];
            expect({ p: p.name, step, bad: mismatches(p.data, e.param, e.tol.param).slice(0, 5) }).toEqual({ p: p.name, step, bad: [] });
            expect(mismatches(s.meanSquare, e.meanSquare, e.tol.meanSquare)).toEqual([]);
            expect(mismatches(s.moment, e.moment, e.tol.moment)).toEqual([]);
            if (centered) expect(mismatches(s.meanGrad as FloatArray, e.meanGrad as Float64Array, e.tol.meanGrad as Float64Array)).toEqual([]);
          });
        }
        // Against the CPU after 3 steps: within a few times the one-step tolerance.
        const rel = dtype === 'float32' ? 2e-5 : 1e-11;
        opt.parameters.forEach((p, i) => {
          const q = cpu.parameters[i];
          let worst = 0;
          for (let k = 0; k < p.size; k++) worst = Math.max(worst, Math.abs(p.data[k] - q.data[k]) / (1 + Math.abs(q.data[k])));
          expect({ p: p.name, close: worst <= rel }).toEqual({ p: p.name, close: true });
        });
        expect(opt.globalStep).toBe(3);
        opt.dispose();
      });
    }
  }

  test('float32 and float64 parameters in one optimizer, with a schedule and useLocking', () => {
    const rand = random(8);
    const a = new Parameter(uniform('float32', 1000, rand, -1, 1), 'a');
    const b = new Parameter(uniform('float64', 999, rand, -1, 1), 'b');
    const lr = new ExponentialDecayLR(0.05, 0.5, 1);
    const opt = new RMSProp([a, b], { learningRate: lr, useLocking: true, ...device });
    const cpu = new RMSProp(copyParams([a, b]), { learningRate: new ExponentialDecayLR(0.05, 0.5, 1), useLocking: true });
    for (let step = 0; step < 3; step++) {
      const grads = gradients(opt, 30 + step);
      opt.step(grads);
      cpu.step(grads);
    }
    expect(opt.globalStep).toBe(3);
    opt.parameters.forEach((p, i) => {
      const q = cpu.parameters[i].data;
      const tol = p.dtype === 'float32' ? 1e-5 : 1e-12;
      for (let k = 0; k < p.size; k += 97) expect(Math.abs(p.data[k] - q[k])).toBeLessThanOrEqual(tol * (1 + Math.abs(q[k])));
    });
  });

  test("parameterSync 'manual' keeps parameters on the device until syncParameters()", () => {
    const params = makeParams('float32');
    const before = params.map((p) => p.data.slice());
    const manual = new RMSProp(groups(params), { ...BASE, parameterSync: 'manual', ...device });
    const stepped = new RMSProp(groups(copyParams(params)), { ...BASE, ...device });
    for (let step = 0; step < 2; step++) {
      const grads = gradients(manual, 40 + step);
      manual.step(grads);
      stepped.step(grads);
    }
    params.forEach((p, i) => expectBitsEqual(p.data, before[i], `${p.name} untouched on the host`));
    manual.syncParameters();
    expectSameOptimizers(manual, stepped);
    // Host writes reach the device through uploadParameters() (as 'step' mode sends them every step).
    for (const opt of [manual, stepped]) opt.parameters[2].data.fill(0.25);
    manual.uploadParameters();
    const grads = gradients(manual, 50);
    manual.step(grads);
    stepped.step(grads);
    expectSameOptimizers(manual, stepped);
  });

  test("parameterSync 'step': host writes to Parameter.data between steps are used, as on the CPU", () => {
    const params = makeParams('float64');
    const opt = new RMSProp(groups(params), { ...BASE, ...device });
    const cpu = new RMSProp(groups(copyParams(params)), { ...BASE });
    for (let step = 0; step < 3; step++) {
      for (const o of [opt, cpu]) o.parameters[1].data[step] = 3 + step; // e.g. loading weights
      const grads = gradients(opt, 60 + step);
      opt.step(grads);
      cpu.step(grads);
    }
    opt.parameters.forEach((p, i) => {
      const q = cpu.parameters[i].data;
      for (let k = 0; k < p.size; k++) {
        if (!(Math.abs(p.data[k] - q[k]) <= 1e-12 * (1 + Math.abs(q[k])))) throw new Error(`${p.name}[${k}]: ${p.data[k]} vs ${q[k]}`);
      }
    });
  });

  test('writes to the views of state() take effect in the next step, as on the CPU', () => {
    const params = makeParams('float64');
    const opt = new RMSProp(groups(params), { ...BASE, centered: true, ...device });
    const cpu = new RMSProp(groups(copyParams(params)), { ...BASE, centered: true });
    opt.step(gradients(opt, 70));
    cpu.step(gradients(cpu, 70));
    for (const o of [opt, cpu]) {
      const s = o.state(o.parameters[0]);
      s.moment.fill(0.125);
      (s.meanGrad as FloatArray).fill(-0.5);
    }
    opt.step(gradients(opt, 71));
    cpu.step(gradients(cpu, 71));
    const a = opt.stateDict();
    const b = cpu.stateDict();
    for (const key of Object.keys(b)) {
      if (typeof b[key] === 'number') {
        expect(a[key]).toBe(b[key]);
        continue;
      }
      const x = (a[key] as { data: FloatArray }).data;
      const y = (b[key] as { data: FloatArray }).data;
      for (let k = 0; k < y.length; k++) {
        if (!(Math.abs(x[k] - y[k]) <= 1e-12 * (1 + Math.abs(y[k])))) throw new Error(`${key}[${k}]: ${x[k]} vs ${y[k]}`);
      }
    }
  });

  test('stateDict / loadStateDict and saveState / loadState resume exactly', async () => {
    const params = makeParams('float32');
    const run = new RMSProp(groups(params), { ...BASE, centered: true, ...device });
    const resumedParams = copyParams(params);
    const viaDict = new RMSProp(groups(resumedParams), { ...BASE, centered: true, ...device });
    const fileParams = copyParams(params);
    const viaFile = new RMSProp(groups(fileParams), { ...BASE, centered: true, ...device });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-cuda-'));
    try {
      for (let step = 0; step < 2; step++) run.step(gradients(run, 80 + step));
      const file = path.join(dir, 'state.safetensors');
      await run.saveState(file);
      viaDict.loadStateDict(run.stateDict());
      await viaFile.loadState(file);
      expect(viaDict.globalStep).toBe(2);
      expect(viaFile.globalStep).toBe(2);
      run.parameters.forEach((p, i) => {
        resumedParams[i].data.set(p.data);
        fileParams[i].data.set(p.data);
      });
      for (let step = 2; step < 4; step++) {
        const grads = gradients(run, 80 + step);
        run.step(grads);
        viaDict.step(grads);
        viaFile.step(grads);
      }
      expectSameOptimizers(viaDict, run);
      expectSameOptimizers(viaFile, run);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stepAsync gives the same result as step', async () => {
    const a = new RMSProp(groups(makeParams('float32')), { ...BASE, ...device });
    const b = new RMSProp(groups(makeParams('float32')), { ...BASE, ...device });
    for (let step = 0; step < 3; step++) {
      const grads = gradients(a, 90 + step);
      a.step(grads);
      await b.stepAsync(grads);
    }
    await Promise.all([b.stepAsync(gradients(b, 95)), b.stepAsync(gradients(b, 96))]);
    a.step(gradients(a, 95));
    a.step(gradients(a, 96));
    expect(b.globalStep).toBe(5);
    expectSameOptimizers(a, b);
  });

  test('bad gradients throw before anything changes, on the device too', () => {
    const opt = new RMSProp(groups(makeParams('float32')), { ...BASE, centered: true, ...device });
    opt.step(gradients(opt, 100));
    const twin = new RMSProp(groups(copyParams(opt.parameters as readonly Parameter[])), { ...BASE, centered: true, ...device });
    twin.loadStateDict(opt.stateDict());
    const good = gradients(opt, 101);
    const short = good.map((g, i) => (i === 1 ? g.subarray(1) : g));
    expect(thrown(() => opt.step(short))).toBeInstanceOf(ValueError);
    const wrongType = good.map((g, i) => (i === 2 ? new Float64Array(g.length) : g));
    expect(thrown(() => opt.step(wrongType))).toBeInstanceOf(TypeError);
    expect(thrown(() => opt.step(good.slice(1)))).toBeInstanceOf(ValueError);
    expect(opt.globalStep).toBe(1);
    expectSameOptimizers(opt, twin);
  });

  test('deviceBuffers() and stepDeviceGradients(): gradients already on the device', () => {
    const params = makeParams('float32');
    const a = new RMSProp(groups(params), { ...BASE, ...device });
    const b = new RMSProp(groups(copyParams(params)), { ...BASE, centered: false, ...device });
    const buffers = a.deviceBuffers();
    expect(buffers.map((d) => [d.name, d.dtype, d.length])).toEqual(a.parameters.map((p) => [p.name, p.dtype, p.size]));
    const addresses = buffers.flatMap((d) => [d.param, d.meanSquare, d.moment, d.grad]);
    expect(addresses.every((x) => typeof x === 'bigint' && x > 0n)).toBe(true);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(buffers.every((d) => d.meanGrad === 0n)).toBe(true);
    // Stand-in for native code writing gradients on the device: the internal upload.
    const grads = gradients(a, 110);
    (a as unknown as { backend: { native: { upload(kind: string, g: FloatArray[]): void } } }).backend.native.upload('grad', grads);
    expect(a.stepDeviceGradients()).toBe(true);
    b.step(grads);
    expect(a.globalStep).toBe(1);
    expectSameOptimizers(a, b);
  });

  test('dispose() frees the device memory; later use throws an Error', () => {
    const opt = new RMSProp(groups(makeParams('float32')), { ...BASE, ...device });
    opt.step(gradients(opt, 120));
    opt.dispose();
    expect(thrown(() => opt.step(gradients(opt, 121))).message).toMatch(/disposed|released/);
    expect(thrown(() => opt.syncParameters()).message).toMatch(/disposed|released/);
    expect(opt.globalStep).toBe(1);
    opt.dispose(); // twice is fine
  });

  test('a transferred state or parameter buffer is a ValueError before any transfer to or from the device', () => {
    const detach = (array: ArrayBufferView) => structuredClone(array.buffer, { transfer: [array.buffer as ArrayBuffer] });
    const params = makeParams('float32');
    const opt = new RMSProp(groups(params), { ...BASE, centered: true, ...device });
    opt.step(gradients(opt, 130));
    detach(opt.parameters[3].data);
    expect(thrown(() => opt.syncParameters())).toBeInstanceOf(ValueError);
    expect(thrown(() => opt.uploadParameters())).toBeInstanceOf(ValueError);
    expect(thrown(() => opt.step(gradients(opt, 131)))).toBeInstanceOf(ValueError);
    const other = new RMSProp(groups(makeParams('float32')), { ...BASE, centered: true, ...device });
    other.step(gradients(other, 132));
    detach((other as unknown as { stateBuffers: { array: FloatArray }[] }).stateBuffers[0].array);
    expect(thrown(() => other.stateDict())).toBeInstanceOf(ValueError);
    expect(thrown(() => other.state(other.parameters[0]))).toBeInstanceOf(ValueError);
    expect(thrown(() => other.step(gradients(other, 133)))).toBeInstanceOf(ValueError);
    expect([opt.globalStep, other.globalStep]).toEqual([1, 1]);
  });

  test('a learning-rate table that runs out under useLocking is a ValueError and changes nothing', () => {
    const p = new Parameter(new Float32Array([1, 2, 3]), 'w');
    const opt = new RMSProp([p], { learningRate: [0.1], useLocking: true, ...device });
    opt.step([new Float32Array([0.5, 0.5, 0.5])]);
    const after = p.data.slice();
    expect(thrown(() => opt.step([new Float32Array([0.5, 0.5, 0.5])]))).toBeInstanceOf(ValueError);
    opt.syncParameters();
    expect(p.data).toEqual(after);
    expect(opt.globalStep).toBe(1);
  });

  // Half precision (docs/semantics.md §11): the device's float32 math (a / √x, fused multiply-adds)
  // may differ from the CPU's in the last float32 bit, so a rounded parameter may sit one ulp of
  // its dtype away where the float32 value lies at a rounding boundary: counted, and rare.
  const halfCases: { dtype: 'float16' | 'bfloat16'; centered: boolean; master: boolean; gradType: 'half' | 'float32' }[] = [];
  for (const dtype of ['float16', 'bfloat16'] as const) {
    for (const centered of [false, true]) {
      halfCases.push({ dtype, centered, master: false, gradType: 'half' }, { dtype, centered, master: true, gradType: 'float32' });
    }
  }
  test.each(halfCases)('half precision steps on the device as on the CPU: %o', ({ dtype, centered, master, gradType }) => {
    const toHalf = (values: ArrayLike<number>) => new Parameter(Array.from(values), 'tmp', { dtype }).data as unknown as Uint16Array;
    const make = () =>
      makeParams('float32').map((p) => new Parameter(toHalf(p.data), p.name, { shape: p.shape, dtype }));
    const options: RMSPropOptions = { ...BASE, centered, masterWeights: master };
    const opt = new RMSProp(groups(make()), { ...options, ...device });
    const cpu = new RMSProp(groups(make()), options);
    for (let step = 0; step < 3; step++) {
      const rand = random(140 + step);
      const grads = opt.parameters.map((p) => {
        const g = uniform('float32', p.size, rand, -2, 2) as Float32Array;
        return gradType === 'half' ? toHalf(g) : g;
      });
      expect(opt.step(grads)).toBe(true);
      cpu.step(grads);
    }
    opt.syncParameters();
    const value = (bits: number) => new Parameter(new Uint16Array([bits]), 'v', { dtype }).data[0];
    let apart = 0;
    let total = 0;
    opt.parameters.forEach((p, i) => {
      const q = cpu.parameters[i];
      for (let k = 0; k < p.size; k++, total++) {
        if (p.data[k] === q.data[k]) continue;
        apart++;
        // One ulp of the dtype at most: adjacent patterns of the same sign.
        expect({ p: p.name, k, adjacent: Math.abs(p.data[k] - q.data[k]) === 1 && value(p.data[k] & 0x8000) === value(q.data[k] & 0x8000) })
          .toEqual({ p: p.name, k, adjacent: true });
      }
      const a = opt.state(p);
      const b = cpu.state(q);
      const kinds = ['meanSquare', 'moment', ...(centered ? ['meanGrad'] : []), ...(master ? ['master'] : [])] as const;
      for (const kind of kinds) {
        const x = a[kind as keyof typeof a] as Float32Array;
        const y = b[kind as keyof typeof b] as Float32Array;
        expect(x).toBeInstanceOf(Float32Array);
        let worst = 0;
        for (let k = 0; k < x.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]) / (1 + Math.abs(y[k])));
        expect({ p: p.name, kind, close: worst <= 2e-5 }).toEqual({ p: p.name, kind, close: true });
      }
    });
    expect(apart / total).toBeLessThan(0.01);
    expect(Object.keys(opt.stateDict()).sort()).toEqual(Object.keys(cpu.stateDict()).sort());
    opt.dispose();
  });

  test('half precision with master weights: state views, checkpoints and device buffers carry the master copy', async () => {
    const make = () => [new Parameter(new Uint16Array(1000).fill(0x3f80), 'w', { dtype: 'bfloat16' }), new Parameter(new Float32Array(10).fill(1), 'f')]; // bfloat16 1.0
    const params = make();
    const opt = new RMSProp(params, { learningRate: 1e-3, masterWeights: true, ...device });
    const buffers = opt.deviceBuffers();
    expect(buffers[0].master > 0n && buffers[1].master === 0n).toBe(true);
    expect(buffers[0].dtype).toBe('bfloat16');
    // Updates under half an ulp of bfloat16 (1e-3 against 2^-8 at 1) accumulate in the master copy.
    for (let k = 0; k < 20; k++) opt.step([new Float32Array(1000).fill(0.5), new Float32Array(10).fill(0.5)]);
    const master = opt.state(params[0]).master!;
    // 20 steps of about 5e-4 each (float64: 0.98745…); each alone is under half a bfloat16 ulp at 1.
    expect(master[0]).toBeGreaterThan(0.985);
    expect(master[0]).toBeLessThan(0.99);
    expect(params[0].data[0]).toBe(toHalfBits(master[0], 'bfloat16'));
    // Writing the master copy through the view changes what the next step starts from.
    master.fill(2);
    opt.step([new Float32Array(1000), new Float32Array(10)]);
    const after = opt.state(params[0]).master!;
    expect(Math.abs(after[0] - 2)).toBeLessThan(1e-3);
    expect(params[0].data[0]).toBe(toHalfBits(after[0], 'bfloat16'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-half-'));
    try {
      await opt.saveState(path.join(dir, 's.safetensors'));
      // The parameters come back by the user's own means (a checkpoint holds optimizer state).
      const restored = make();
      restored[0].data.set(params[0].data);
      restored[1].data.set(params[1].data);
      const twin = new RMSProp(restored, { learningRate: 1e-3, masterWeights: true, ...device });
      await twin.loadState(path.join(dir, 's.safetensors'));
      const grads = () => [new Float32Array(1000).fill(-0.25), new Float32Array(10).fill(0.25)];
      opt.step(grads());
      twin.step(grads());
      expectSameOptimizers(opt, twin);
      twin.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    opt.dispose();
  });

  // skipNonFinite / DynamicLossScaler on the device: the gradients are checked there (one launch
  // per dtype, one flag read back) before the step index is claimed.
  test.each(['float32', 'float64', 'bfloat16'] as const)('a non-finite gradient skips the step on the device: %s', (dtype) => {
    const make = () =>
      makeParams('float32').map((p) =>
        dtype === 'float32'
          ? p
          : dtype === 'float64'
            ? new Parameter(Float64Array.from(p.data), p.name, { shape: p.shape })
            : new Parameter(Array.from(p.data), p.name, { shape: p.shape, dtype }),
      );
    const grads = (opt: RMSProp, seed: number) => {
      const rand = random(seed);
      return opt.parameters.map((p) => {
        const g = uniform(p.dtype === 'float64' ? 'float64' : 'float32', p.size, rand, -2, 2);
        return p.dtype === 'bfloat16' ? new Parameter(Array.from(g), 'g', { dtype }).data : g;
      }) as (Float32Array | Float64Array | Uint16Array)[];
    };
    const options: RMSPropOptions = { ...BASE, centered: true, lossScale: new DynamicLossScaler({ initLossScale: 1024, scaleWindow: 2 }), masterWeights: dtype === 'bfloat16' };
    const opt = new RMSProp(groups(make()), { ...options, ...device });
    const cpu = new RMSProp(groups(make()), options);
    const run = (g: (Float32Array | Float64Array | Uint16Array)[]) => [opt.step(g), cpu.step(g)];
    expect(run(grads(opt, 150))).toEqual([true, true]);
    for (const [tensor, at, bad] of [[4, 70000, Infinity], [0, 0, NaN], [2, 16, -Infinity]] as const) {
      const g = grads(opt, 151);
      const p = opt.parameters[tensor];
      g[tensor][at] = p.dtype === 'bfloat16' ? new Parameter([bad], 'b', { dtype }).data[0] : bad;
      const before = opt.stateDict();
      expect(run(g)).toEqual([false, false]);
      expect(opt.globalStep).toBe(1);
      const after = opt.stateDict();
      for (const key of Object.keys(before)) {
        if (typeof before[key] === 'number') continue; // the scale's counters move on a skip
        expectBitsEqual((after[key] as { data: ArrayLike<number> }).data, (before[key] as { data: ArrayLike<number> }).data, key);
      }
    }
    expect(opt.lossScale).toBe(128);
    expect(run(grads(opt, 152))).toEqual([true, true]);
    expect(run(grads(opt, 153))).toEqual([true, true]);
    expect([opt.lossScale, opt.globalStep]).toEqual([cpu.lossScale, 3]);
    expect(opt.lossScale).toBe(256);
    // Device gradients are checked where they are.
    const native = (opt as unknown as { backend: { native: { upload(kind: string, g: unknown[]): void } } }).backend.native;
    const g = grads(opt, 154);
    g[1][5] = dtype === 'bfloat16' ? 0x7fc0 : NaN;
    native.upload('grad', g);
    expect(opt.stepDeviceGradients()).toBe(false);
    g[1][5] = 0;
    native.upload('grad', g);
    expect(opt.stepDeviceGradients()).toBe(true);
    expect(opt.globalStep).toBe(4);
    opt.dispose();
  });

  test('share() is refused with device cuda', () => {
    const opt = new RMSProp(makeParams('float32'), { ...device });
    expect(thrown(() => opt.share())).toBeInstanceOf(ValueError);
    expect(opt.device).toBe('cuda');
  });
}
