/**
 * How gradients reach the binding: the same arrays every step (read once), new arrays every step
 * (read as the arguments of one call, or from an array past MAX_ARGUMENT_GRADIENTS tensors), and
 * the zero-copy arena of `gradientBuffers()` with `step()` taking no argument. Every path must
 * give bit-identical results.
 */
import { Parameter, RMSProp } from '../lib';
import type { FloatArray } from '../lib/base/tensor';
import { eachLevel } from './helpers';

function filled(dtype: 'float32' | 'float64', n: number, f: (j: number) => number): FloatArray {
  const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let j = 0; j < n; j++) a[j] = f(j);
  return a;
}

type Maker = () => { params: Parameter[]; opt: RMSProp };

function model(sizes: number[], dtypes: ('float32' | 'float64')[], centered = false): Maker {
  return () => {
    const params = sizes.map((n, i) => {
      return new Parameter(filled(dtypes[i % dtypes.length], n, (j) => Math.sin(i * 7 + j)), `p${i}`);
    });
    return { params, opt: new RMSProp(params, { learningRate: 0.01, momentum: 0.9, centered }) };
  };
}

function gradientsFor(params: Parameter[], step: number): FloatArray[] {
  return params.map((p, i) => {
    return filled(p.dtype as 'float32' | 'float64', p.size, (j) => Math.cos(step * 3 + i + j * 0.1));
  });
}

function snapshot(params: Parameter[], opt: RMSProp): number[][] {
  return params.flatMap((p) => {
    const s = opt.state(p);
    return [Array.from(p.data), Array.from(s.meanSquare), Array.from(s.moment), ...(s.meanGrad ? [Array.from(s.meanGrad)] : [])];
  });
}

const STEPS = 4;

// Reference: new arrays every step, copied from the same values (so only the hand-over differs).
function run(make: Maker, feed: (params: Parameter[], opt: RMSProp, step: number) => void): number[][] {
  const { params, opt } = make();
  for (let k = 0; k < STEPS; k++) feed(params, opt, k);
  expect(opt.globalStep).toBe(STEPS);
  return snapshot(params, opt);
}

// Every SIMD level (the finite checks, the kernels and the state views are per level).
eachLevel(() => {
  describe('gradient hand-over', () => {
    for (const centered of [false, true]) {
      const make = model([33, 1, 500, 17, 4096 + 3], ['float32', 'float64'], centered);
      // Made in the first test that asks (at the level under test, not at collection time).
      let reference: number[][] | undefined;
      const fresh = () => (reference ??= run(make, (params, opt, k) => opt.step(gradientsFor(params, k))));

      it(`new arrays every step equal the same arrays refilled every step (${centered ? 'centered' : 'plain'})`, () => {
        const reused = run(make, (params, opt, k) => {
          const g = (opt as unknown as { held?: FloatArray[] }).held ?? gradientsFor(params, 0);
          (opt as unknown as { held?: FloatArray[] }).held = g;
          gradientsFor(params, k).forEach((src, i) => g[i].set(src));
          opt.step(g);
        });
        expect(reused).toEqual(fresh());
      });

      it(`the arena of gradientBuffers() with step() equals passing arrays (${centered ? 'centered' : 'plain'})`, () => {
        const viaArena = run(make, (params, opt, k) => {
          const views = opt.gradientBuffers();
          gradientsFor(params, k).forEach((src, i) => views[i].set(src));
          opt.step();
        });
        expect(viaArena).toEqual(fresh());
      });

      it(`stepAsync() with the arena equals step (${centered ? 'centered' : 'plain'})`, async () => {
        const { params, opt } = make();
        for (let k = 0; k < STEPS; k++) {
          const views = opt.gradientBuffers();
          gradientsFor(params, k).forEach((src, i) => views[i].set(src));
          await opt.stepAsync();
        }
        expect(snapshot(params, opt)).toEqual(fresh());
      });
    }

    it('gives one view per parameter, of its dtype and length, on one buffer, 64-byte aligned, the same each call', () => {
      const { params, opt } = model([3, 5, 1, 100], ['float32', 'float64'])();
      const views = opt.gradientBuffers();
      expect(views.map((v) => v.constructor)).toEqual(params.map((p) => p.data.constructor));
      expect(views.map((v) => v.length)).toEqual(params.map((p) => p.size));
      for (const v of views) {
        expect(v.buffer).toBe(views[0].buffer);
        expect(v.byteOffset % 64).toBe(0);
        expect(Array.from(v)).toEqual(new Array(v.length).fill(0));
      }
      for (let i = 1; i < views.length; i++) expect(views[i].byteOffset).toBeGreaterThanOrEqual(views[i - 1].byteOffset + views[i - 1].byteLength);
      const again = opt.gradientBuffers();
      again.forEach((v, i) => expect(v).toBe(views[i]));
    });

    it('step() without gradientBuffers() is a TypeError naming gradients, and changes nothing', async () => {
      const { params, opt } = model([4, 6], ['float32'])();
      const before = snapshot(params, opt);
      expect(() => opt.step()).toThrow(TypeError);
      expect(() => opt.step()).toThrow(/'gradients'.*gradientBuffers\(\)/);
      await expect(opt.stepAsync()).rejects.toThrow(TypeError);
      expect(opt.globalStep).toBe(0);
      expect(snapshot(params, opt)).toEqual(before);
    });

    it('after a rejected step with new arrays, the next step reads its own arrays', () => {
      const make = model([8, 9], ['float32']);
      const expected = run(make, (params, opt, k) => opt.step(gradientsFor(params, k)));
      const { params, opt } = make();
      for (let k = 0; k < STEPS; k++) {
        const g = gradientsFor(params, k);
        expect(() => opt.step([g[0], new Float32Array(3)])).toThrow(/gradients\[1\]/);
        opt.step(g);
      }
      expect(snapshot(params, opt)).toEqual(expected);
    });

    it('more tensors than a call takes as arguments (8193) go as an array, with the same results', () => {
      const sizes = new Array(8193).fill(0).map((_, i) => 1 + (i % 3));
      const make = model(sizes, ['float32']);
      // Made in the first test that asks (at the level under test, not at collection time).
      let reference: number[][] | undefined;
      const fresh = () => (reference ??= run(make, (params, opt, k) => opt.step(gradientsFor(params, k))));
      const viaArena = run(make, (params, opt, k) => {
        const views = opt.gradientBuffers();
        gradientsFor(params, k).forEach((src, i) => views[i].set(src));
        opt.step();
      });
      expect(viaArena).toEqual(fresh());
      // And against one parameter per dtype-run: the element values must be those of the same
      // arithmetic, wherever an element sits.
      const { params, opt } = model([sizes.reduce((a, b) => a + b, 0)], ['float32'])();
      const whole = make().params;
      const offsets: number[] = [];
      sizes.reduce((at, n) => (offsets.push(at), at + n), 0);
      params[0].data.set(whole.flatMap((p) => Array.from(p.data)));
      for (let k = 0; k < STEPS; k++) {
        const parts = gradientsFor(whole, k);
        const joined = new Float32Array(params[0].size);
        parts.forEach((g, i) => joined.set(g, offsets[i]));
        opt.step([joined]);
      }
      expect(Array.from(params[0].data)).toEqual(fresh().filter((_, i) => i % 3 === 0).flat());
    });
  });
});
