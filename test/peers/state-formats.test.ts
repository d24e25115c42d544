/**
 * State interop: `stateDict({ format })` / `loadStateDict` in PyTorch's, Keras's and tfjs's
 * layouts, so that a checkpoint taken in one framework resumes here on the same trajectory. The
 * framework-side dicts are written by hand in each framework's layout (lib/state/formats.ts says which).
 */
import fs from 'node:fs';
import path from 'node:path';

import { Parameter, RMSProp, Tensor, ValueError } from '../../lib';
import { eachLevel, thrown } from '../helpers';

// Every SIMD level (the finite checks, the kernels and the state views are per level).
eachLevel(() => {
  describe("'pytorch': torch.optim.RMSprop.state_dict()", () => {
    interface Fixture {
      shapes: Record<string, number[]>;
      start: Record<string, number[]>;
      grads: Record<string, number[]>[];
      cases: { dtype: string; config: Record<string, number | boolean>; trajectory: Record<string, Record<string, number[] | null>>[] }[];
    }
    const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'pytorch-rmsprop.json'), 'utf8')) as Fixture;
    const names = Object.keys(fixture.shapes);

    it.each([false, true])('a PyTorch state after 2 steps (centered %p, momentum 0.1) resumes here on PyTorch\'s trajectory for steps 3-5', (centered) => {
      const c = fixture.cases.find((x) => x.dtype === 'float64' && x.config.centered === centered && x.config.momentum === 0.1 && x.config.weight_decay === 0.1 && !x.config.maximize)!;
      const after2 = c.trajectory[1];
      // The state_dict() PyTorch would give after step 2, written by hand.
      const torchState = {
        state: Object.fromEntries(
          names.map((n, i) => [
            i,
            {
              step: new Tensor([2], []),
              square_avg: new Tensor(Float64Array.from(after2[n].square_avg as number[]), fixture.shapes[n]),
              momentum_buffer: new Tensor(Float64Array.from(after2[n].momentum_buffer as number[]), fixture.shapes[n]),
              ...(centered ? { grad_avg: new Tensor(Float64Array.from(after2[n].grad_avg as number[]), fixture.shapes[n]) } : {}),
            },
          ]),
        ),
        param_groups: [{ lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0.1, momentum: 0.1, centered, maximize: false, params: [0, 1] }],
      };
      const params = names.map((n) => new Parameter(Float64Array.from(after2[n].param as number[]), n, { shape: fixture.shapes[n] }));
      const opt = new RMSProp(params, { flavor: 'pytorch', momentum: 0.1, weightDecay: 0.1, centered });
      opt.loadStateDict(torchState); // recognised by its keys
      expect(opt.globalStep).toBe(2);
      for (let step = 2; step < 5; step++) {
        opt.step(names.map((n) => Float64Array.from(fixture.grads[step][n])));
        params.forEach((p, i) => {
          const expected = c.trajectory[step][names[i]].param as number[];
          p.data.forEach((v, k) => expect(Math.abs(v - expected[k])).toBeLessThan(1e-12 * (1 + Math.abs(expected[k]))));
        });
      }
      // And back out in PyTorch's layout, with PyTorch's entries.
      const out = opt.stateDict({ format: 'pytorch' }) as { state: Record<number, Record<string, unknown>>; param_groups: Record<string, unknown>[] };
      expect(Object.keys(out.state[0]).sort()).toEqual(['momentum_buffer', 'square_avg', 'step', ...(centered ? ['grad_avg'] : [])].sort());
      expect(out.state[1].step).toBe(5);
      expect(out.param_groups).toEqual([{ params: [0, 1], lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0.1, momentum: 0.1, centered, maximize: false }]);
    });

    it('an optimizer that has not stepped (empty state) loads as a fresh one; mismatched entries are ValueErrors that change nothing', () => {
      const p = new Parameter(new Float32Array([1, 2]), 'w');
      const opt = new RMSProp([p], { flavor: 'pytorch', momentum: 0.9 });
      opt.step([new Float32Array([0.5, 0.5])]);
      const before = JSON.stringify(opt.stateDict());
      const bad = { state: { 0: { step: 3, square_avg: new Float32Array(2) } }, param_groups: [{}] }; // no momentum_buffer
      expect(thrown(() => opt.loadStateDict(bad))).toBeInstanceOf(ValueError);
      expect(JSON.stringify(opt.stateDict())).toBe(before);
      opt.loadStateDict({ state: {}, param_groups: [{ params: [0] }] });
      expect(opt.globalStep).toBe(0);
      expect(Array.from(opt.state(p).meanSquare)).toEqual([0, 0]);
    });
  });

  describe("'pytorch' with parameter groups: one param group each, PyTorch's numbering", () => {
    // Groups [a, b] (lr 0.01, no weight decay) and [c] (lr 0.05, weight decay 0.1), updated in the
    // order c, a, b: PyTorch numbers a, b, c as 0, 1, 2 (group by group, as listed).
    function grouped(orderParams = true) {
      const a = new Parameter(new Float32Array([1, 2]), 'a');
      const b = new Parameter(new Float32Array([3]), 'b');
      const c = new Parameter(new Float32Array([4, 5, 6]), 'c');
      const groups = [{ params: [a, b], lr: 0.01 }, { params: [c], lr: 0.05, weightDecay: 0.1 }, ...(orderParams ? [{ orderParams: [c, a, b] }] : [])];
      const opt = new RMSProp(groups, { flavor: 'pytorch', momentum: 0.5 });
      return { a, b, c, opt };
    }

    it('writes one param_groups entry per group with its own lr and weight_decay, state under PyTorch\'s indices', () => {
      const { a, b, c, opt } = grouped();
      expect(opt.parameters).toEqual([c, a, b]);
      opt.step([new Float32Array([0.1, 0.2, 0.3]), new Float32Array([0.4, 0.5]), new Float32Array([0.6])]);
      const out = opt.stateDict({ format: 'pytorch' }) as { state: Record<number, Record<string, Tensor>>; param_groups: Record<string, unknown>[] };
      expect(out.param_groups).toEqual([
        { params: [0, 1], lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0, momentum: 0.5, centered: false, maximize: false },
        { params: [2], lr: 0.05, alpha: 0.99, eps: 1e-8, weight_decay: 0.1, momentum: 0.5, centered: false, maximize: false },
      ]);
      expect(Array.from(out.state[0].square_avg.data)).toEqual(Array.from(opt.state(a).meanSquare));
      expect(Array.from(out.state[1].square_avg.data)).toEqual(Array.from(opt.state(b).meanSquare));
      expect(Array.from(out.state[2].square_avg.data)).toEqual(Array.from(opt.state(c).meanSquare));
    });

    it('reads them back into the same groups; another grouping or another model is a ValueError that changes nothing', () => {
      const source = grouped();
      source.opt.step([new Float32Array([0.1, 0.2, 0.3]), new Float32Array([0.4, 0.5]), new Float32Array([0.6])]);
      const dict = source.opt.stateDict({ format: 'pytorch' });
      const target = grouped(false); // the same groups, no orderParams: the same PyTorch numbering
      target.opt.loadStateDict(dict);
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
      expect(plain(target.opt.stateDict())).toEqual(plain(source.opt.stateDict())); // the same entries (updated in another order)

      const flat = new RMSProp([new Parameter(new Float32Array(2), 'a'), new Parameter(new Float32Array(1), 'b'), new Parameter(new Float32Array(3), 'c')], { flavor: 'pytorch', momentum: 0.5 });
      const before = JSON.stringify(flat.stateDict());
      expect(thrown(() => flat.loadStateDict(dict)).message).toBe(
        "For 'RMSProp', the PyTorch 'param_groups' must match this optimizer's parameter groups (1 group: [0, 1, 2]), but got 2 groups: [0, 1], [2].",
      );
      expect(JSON.stringify(flat.stateDict())).toBe(before);
      // A never-stepped PyTorch optimizer of one parameter into one of two: refused, not silently reset.
      const two = new RMSProp([new Parameter(new Float32Array(2), 'x'), new Parameter(new Float32Array(2), 'y')], { flavor: 'pytorch' });
      two.step([new Float32Array([1, 1]), new Float32Array([1, 1])]);
      const twoBefore = JSON.stringify(two.stateDict());
      expect(thrown(() => two.loadStateDict({ state: {}, param_groups: [{ params: [0] }] }))).toBeInstanceOf(ValueError);
      expect(JSON.stringify(two.stateDict())).toBe(twoBefore);
      expect(two.globalStep).toBe(1);
    });
  });

  describe("'keras': Keras 3's optimizer variables", () => {
    it('names: iteration and <path>_velocity / _momentum / _average_gradient, "/" written "_"; a dict written by hand resumes', () => {
      const p = new Parameter(new Float32Array([1, 2, 3]), 'dense/kernel');
      const opt = new RMSProp([p], { flavor: 'keras', momentum: 0.5, centered: true, learningRate: 0.1 });
      opt.step([new Float32Array([0.1, -0.2, 0.3])]);
      const out = opt.stateDict({ format: 'keras' });
      expect(Object.keys(out).sort()).toEqual(['dense_kernel_average_gradient', 'dense_kernel_momentum', 'dense_kernel_velocity', 'iteration']);
      expect(out.iteration).toBe(1);
      // Keras variables after one step, written by hand (velocity = 0.1·g², average_gradient = 0.1·g).
      const g = [0.1, -0.2, 0.3];
      const handmade = {
        iteration: 1,
        dense_kernel_velocity: new Tensor(Float32Array.from(g, (x) => 0.1 * x * x)),
        dense_kernel_average_gradient: new Tensor(Float32Array.from(g, (x) => 0.1 * x)),
        // Keras 3 update_step: momentum = 0·0.5 + lr·g / √(velocity − average² + ε), ε = 1e-7.
        dense_kernel_momentum: new Tensor(Float32Array.from(g, (x) => (0.1 * x) / Math.sqrt(0.1 * x * x - (0.1 * x) ** 2 + 1e-7))),
      };
      const q = new Parameter(p.data.slice(), 'dense/kernel');
      const resumed = new RMSProp([q], { flavor: 'keras', momentum: 0.5, centered: true, learningRate: 0.1 });
      resumed.loadStateDict(handmade, { format: 'keras' });
      const next = new Float32Array([0.05, 0.05, -0.1]);
      opt.step([next]);
      resumed.step([next]);
      q.data.forEach((v, i) => expect(v).toBeCloseTo(p.data[i], 6));
      expect(resumed.globalStep).toBe(2);
    });

    it('without momentum Keras keeps no momentum variable: none is written, none accepted', () => {
      const p = new Parameter(new Float32Array([1]), 'w');
      const opt = new RMSProp([p], { flavor: 'keras' });
      expect(Object.keys(opt.stateDict({ format: 'keras' })).sort()).toEqual(['iteration', 'w_velocity']);
      const error = thrown(() => opt.loadStateDict({ iteration: 1, w_velocity: new Float32Array(1), w_momentum: new Float32Array(1) }));
      expect(error).toBeInstanceOf(ValueError);
      expect(error.message).toMatch(/unexpected 'w_momentum'/);
    });
  });

  describe("'tfjs': tf.train.rmsprop's getWeights()", () => {
    // tfjs-core rmsprop_optimizer_test.ts, 'Save and load weights: centered = false': the weights
    // after one step of f = Σx² from x = [1, 2] (rho 0.95, momentum 0.1, lr 0.1), written by hand as
    // getWeights() names them; a second optimizer that loads them reaches tfjs's next x.
    it('the weights tfjs saves after one step resume here to its next step', () => {
      const x = new Parameter(new Float32Array([0.5527865, 1.5527864]), 'x');
      const opt = new RMSProp([x], { flavor: 'tfjs', learningRate: 0.1, decay: 0.95, momentum: 0.1 });
      opt.loadStateDict({ iter: 1, 'x/rms': new Tensor([0.2, 0.8]), 'x/momentum': new Tensor([0.4472136, 0.4472136]) });
      opt.step([Float32Array.from(x.data, (v) => 2 * v)]);
      expect(Math.abs(x.data[0] - 0.2874418)).toBeLessThan(1e-3);
      expect(Math.abs(x.data[1] - 1.2294267)).toBeLessThan(1e-3);
      expect(opt.globalStep).toBe(2);
      expect(Object.keys(opt.stateDict({ format: 'tfjs' }))).toEqual(['iter', 'x/rms', 'x/momentum']);
    });
  });

  describe('the format option', () => {
    const opt = () => new RMSProp([new Parameter(new Float32Array(2), 'w')]);
    it('an unknown format is a ValueError naming the known ones; a non-string a TypeError; another key a TypeError', () => {
      expect(thrown(() => opt().stateDict({ format: 'onnx' } as never))).toBeInstanceOf(ValueError);
      expect(thrown(() => opt().stateDict({ format: 'onnx' } as never)).message).toMatch(/'mindspore' or 'pytorch' or 'keras' or 'tfjs'/);
      expect(thrown(() => opt().stateDict({ format: 1 } as never))).toBeInstanceOf(TypeError);
      expect(thrown(() => opt().loadStateDict({}, { fmt: 'keras' } as never))).toBeInstanceOf(TypeError);
    });

    it("'mindspore' is the default and round-trips into another optimizer", () => {
      const o = opt();
      o.step([new Float32Array([0.5, -0.25])]);
      const dict = o.stateDict();
      expect(o.stateDict({ format: 'mindspore' })).toEqual(dict);
      const other = opt();
      other.loadStateDict(dict, { format: 'mindspore' });
      expect(other.stateDict()).toEqual(dict);
      expect(other.globalStep).toBe(1);
      const meanSquare = other.state(other.parameters[0]).meanSquare;
      expect(meanSquare[0]).toBeCloseTo(0.9 + 0.1 * 0.25, 6); // the loaded state, not a fresh one (1)
      expect(meanSquare[1]).toBeCloseTo(0.9 + 0.1 * 0.0625, 6);
    });
  });
});
