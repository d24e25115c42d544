/**
 * Overflow handling: `skipNonFinite` with a fixed scale and `DynamicLossScaler` (MindSpore's
 * DynamicLossScaleManager). A step that meets an inf/NaN gradient changes nothing (bit for bit)
 * and returns false; the scale follows MindSpore's update_loss_scale over a scripted sequence.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DynamicLossScaler, Parameter, RMSProp, ValueError, type RMSPropOptions } from '../lib';
import { binding } from '../lib/native/native';
import { eachLevel } from './helpers';

function setup(options: RMSPropOptions, dtypes: ('float32' | 'float64')[] = ['float32', 'float64']) {
  const params = dtypes.map((dtype, i) => {
    const n = 150_000 + i * 1001; // large enough to run on several threads
    const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let j = 0; j < n; j++) a[j] = Math.sin(j + i);
    return new Parameter(a, `p${i}`);
  });
  const opt = new RMSProp(params, { learningRate: 0.01, momentum: 0.9, centered: true, ...options });
  return { params, opt };
}

function grads(params: Parameter[], k: number, scale = 1) {
  return params.map((p, i) => {
    const a = p.dtype === 'float32' ? new Float32Array(p.size) : new Float64Array(p.size);
    for (let j = 0; j < a.length; j++) a[j] = Math.cos(j * 0.01 + k + i) * scale;
    return a;
  });
}

// Every byte of the parameters and their state, as one hex digest (a bit-for-bit comparison that
// jest compares in one go).
function bytes(params: Parameter[], opt: RMSProp, withParams = true): string {
  const hash = createHash('sha256');
  for (const p of params) {
    const s = opt.state(p);
    for (const a of [...(withParams ? [p.data] : []), s.meanSquare, s.moment, s.meanGrad!]) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return hash.digest('hex');
}

// MindSpore's DynamicLossScaleManager.update_loss_scale, transcribed (mindspore/train/loss_scale_manager.py).
function mindsporeScales(init: number, factor: number, window: number, overflows: boolean[]): number[] {
  let scale = init;
  let curIter = 1;
  let lastOverflowIter = 0;
  const out: number[] = [];
  for (const overflow of overflows) {
    if (overflow) {
      scale = Math.max(scale * (1 / factor), 1);
      lastOverflowIter = curIter;
    } else if ((curIter - lastOverflowIter) % window === 0) {
      scale *= factor;
    }
    curIter += 1;
    out.push(scale);
  }
  return out;
}

// Every SIMD level (the finite checks, the kernels and the state views are per level).
eachLevel(() => {
  describe('skipNonFinite', () => {
    const poisons: [string, number][] = [['+inf', Infinity], ['-inf', -Infinity], ['NaN', NaN]];
    for (const [label, value] of poisons) {
      for (const where of ['first element of the first tensor', 'last element of the last tensor', 'middle of the second tensor']) {
        it(`skips a step with ${label} at the ${where}: bit-identical state, globalStep kept, step() false`, () => {
          const { params, opt } = setup({ skipNonFinite: true });
          opt.step(grads(params, 0));
          const before = bytes(params, opt);
          const g = grads(params, 1);
          if (where.startsWith('first')) g[0][0] = value;
          else if (where.startsWith('last')) g[g.length - 1][g[g.length - 1].length - 1] = value;
          else g[1][Math.floor(g[1].length / 2)] = value;
          expect(opt.step(g)).toBe(false);
          expect(opt.globalStep).toBe(1);
          expect(bytes(params, opt)).toEqual(before);
        });
      }
    }

    it('applies finite steps exactly as without the option (and returns true)', async () => {
      const a = setup({ skipNonFinite: true, lossScale: 8 });
      const b = setup({ lossScale: 8 });
      for (let k = 0; k < 3; k++) {
        expect(a.opt.step(grads(a.params, k, 8))).toBe(true);
        expect(b.opt.step(grads(b.params, k, 8))).toBe(true);
      }
      expect(await a.opt.stepAsync(grads(a.params, 3, 8))).toBe(true);
      await b.opt.stepAsync(grads(b.params, 3, 8));
      expect(bytes(a.params, a.opt)).toEqual(bytes(b.params, b.opt));
      expect(a.opt.globalStep).toBe(4);
    });

    it('stepAsync resolves false on a skipped step, on every thread count, and the next finite step applies', async () => {
      for (const threads of [1, 2, 3]) {
        const saved = binding.numThreads();
        binding.setNumThreads(threads);
        try {
          const { params, opt } = setup({ skipNonFinite: true });
          const g = grads(params, 0);
          g[0][12345] = NaN;
          const before = bytes(params, opt);
          expect(await opt.stepAsync(g)).toBe(false);
          expect(bytes(params, opt)).toEqual(before);
          expect(await opt.stepAsync(grads(params, 0))).toBe(true);
          expect(opt.globalStep).toBe(1);
        } finally {
          binding.setNumThreads(saved);
        }
      }
    });

    it('without the option a non-finite gradient is applied as before (NaN reaches the parameter)', () => {
      const { params, opt } = setup({ centered: false });
      const g = grads(params, 0);
      g[0][7] = Infinity;
      expect(opt.step(g)).toBe(true);
      expect(opt.globalStep).toBe(1);
      expect(Number.isNaN(params[0].data[7])).toBe(true);
    });

    it('with useLocking the skipped step claims no index either', () => {
      const { params, opt } = setup({ skipNonFinite: true, useLocking: true });
      const g = grads(params, 0);
      g[1][0] = NaN;
      expect(opt.step(g)).toBe(false);
      expect(opt.globalStep).toBe(0);
      expect(opt.step(grads(params, 0))).toBe(true);
      expect(opt.globalStep).toBe(1);
    });

    it('is validated: a non-boolean is a TypeError', () => {
      const p = new Parameter(new Float32Array(4), 'w');
      expect(() => new RMSProp([p], { skipNonFinite: 1 as never })).toThrow(TypeError);
      expect(() => new RMSProp([p], { skipNonFinite: 1 as never })).toThrow(/'skipNonFinite'/);
    });
  });

  describe('DynamicLossScaler', () => {
    it("has MindSpore's defaults and validates its options", () => {
      const s = new DynamicLossScaler();
      expect([s.initLossScale, s.scaleFactor, s.scaleWindow]).toEqual([2 ** 24, 2, 2000]);
      expect(() => new DynamicLossScaler({ initLossScale: 0.5 })).toThrow(ValueError);
      expect(() => new DynamicLossScaler({ initLossScale: 0.5 })).toThrow(/'initLossScale' must be >= 1/);
      expect(() => new DynamicLossScaler({ scaleFactor: '2' as never })).toThrow(TypeError);
      expect(() => new DynamicLossScaler({ scaleWindow: 1.5 })).toThrow(/'scaleWindow'/);
      expect(() => new DynamicLossScaler({ scaleWindow: 0 })).toThrow(ValueError);
      expect(() => new DynamicLossScaler({ scale_window: 3 } as never)).toThrow(/Did you mean 'scaleWindow'/);
      expect(() => new DynamicLossScaler(null as never)).toThrow(TypeError);
      expect(() => new RMSProp([new Parameter(new Float32Array(2), 'w')], { lossScale: {} as never })).toThrow(/'lossScale' must be a number > 0 or a DynamicLossScaler/);
      expect(() => new RMSProp([new Parameter(new Float32Array(2), 'w')], { lossScale: s, skipNonFinite: false })).toThrow(/'skipNonFinite'/);
    });

    it("follows MindSpore's update_loss_scale over a scripted run of good and bad steps, skipping the bad ones", () => {
      const script = [false, false, true, false, false, false, false, true, true, false, false, false, false, false, false, false,
        true, true, true, true, true, true, false, false, false];
      const expected = mindsporeScales(16, 2, 3, script);
      const { params, opt } = setup({ lossScale: new DynamicLossScaler({ initLossScale: 16, scaleWindow: 3 }) });
      const reference = setup({ lossScale: 16 }); // applies only the good steps, each with its scale
      const seen: number[] = [];
      let applied = 0;
      script.forEach((bad, k) => {
        const scale = opt.lossScale;
        const g = grads(params, k, scale);
        if (bad) g[0][k] = Infinity;
        const before = bad ? bytes(params, opt) : null;
        expect(opt.step(g)).toBe(!bad);
        if (bad) {
          expect(bytes(params, opt)).toEqual(before);
        } else {
          // The same update with a fixed scale equal to this step's.
          const ref = new RMSProp(reference.params, { learningRate: 0.01, momentum: 0.9, centered: true, lossScale: scale });
          ref.loadStateDict({ ...reference.opt.stateDict(), global_step: applied });
          ref.step(grads(reference.params, k, scale));
          reference.opt.loadStateDict(ref.stateDict());
          applied += 1;
        }
        expect(opt.globalStep).toBe(applied);
        seen.push(opt.lossScale);
      });
      expect(seen).toEqual(expected);
      expect(Math.min(...seen)).toBe(1); // the floor of max(scale / factor, 1) was reached
      expect(bytes(params, opt)).toEqual(bytes(reference.params, reference.opt));
    });

    it('keeps its scale and counters in stateDict, loadStateDict and checkpoints; a wrong counter is a ValueError', async () => {
      const make = () => setup({ lossScale: new DynamicLossScaler({ initLossScale: 1024, scaleWindow: 2 }) }, ['float32']);
      const { params, opt } = make();
      const g = grads(params, 0);
      g[0][0] = NaN;
      opt.step(g); // 512, overflow at iteration 1
      opt.step(grads(params, 1, 512));
      const dict = opt.stateDict();
      expect(dict.loss_scale).toBe(512);
      expect(dict.loss_scale_iteration).toBe(3);
      expect(dict.loss_scale_last_overflow).toBe(1);
      const other = make();
      other.opt.loadStateDict(dict);
      expect(other.opt.lossScale).toBe(512);
      expect(other.opt.globalStep).toBe(1);
      const bad = make();
      const before = bytes(bad.params, bad.opt);
      expect(() => bad.opt.loadStateDict({ ...dict, loss_scale_last_overflow: 3 })).toThrow(ValueError);
      expect(() => bad.opt.loadStateDict({ ...dict, loss_scale: 0.5 })).toThrow(/'loss_scale' must be >= 1/);
      const { loss_scale: _dropped, ...missing } = dict;
      expect(() => bad.opt.loadStateDict(missing)).toThrow(/missing 'loss_scale'/);
      expect(bad.opt.lossScale).toBe(1024);
      expect(bad.opt.globalStep).toBe(0);
      expect(bytes(bad.params, bad.opt)).toEqual(before);

      const dir = mkdtempSync(path.join(os.tmpdir(), 'rmsprop-scale-'));
      try {
        const file = path.join(dir, 'state.safetensors');
        await opt.saveState(file);
        const restored = make();
        await restored.opt.loadState(file);
        expect(restored.opt.lossScale).toBe(512);
        expect(bytes(restored.params, restored.opt, false)).toBe(bytes(params, opt, false));
        restored.params.forEach((p, i) => p.data.set(params[i].data));
        expect(restored.opt.globalStep).toBe(opt.globalStep);
        // The next steps of both follow the same rule.
        for (let k = 2; k < 5; k++) {
          expect(restored.opt.step(grads(restored.params, k))).toBe(opt.step(grads(params, k)));
          expect(restored.opt.lossScale).toBe(opt.lossScale);
        }
        // A checkpoint of an optimizer without the scaler lacks its counters.
        const plain = setup({}, ['float32']);
        await expect(plain.opt.loadState(file)).rejects.toThrow(/unexpected 'loss_scale'/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a foreign format keeps the counters; share() refuses a dynamic scaler', () => {
      const { params, opt } = setup({ lossScale: new DynamicLossScaler({ initLossScale: 64 }) }, ['float32']);
      const g = grads(params, 0);
      g[0][1] = -Infinity;
      opt.step(g);
      opt.loadStateDict(opt.stateDict({ format: 'pytorch' }));
      expect(opt.lossScale).toBe(32);
      const shared = new Parameter(new Float32Array(new SharedArrayBuffer(16)), 'w');
      expect(() => new RMSProp([shared], { lossScale: new DynamicLossScaler() }).share()).toThrow(/'lossScale'/);
    });
  });
});
