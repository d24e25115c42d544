/** Parameter groups, orderParams, per-group lr / weight decay / centralization, against the reference. */
import { ExponentialDecayLR, Parameter, RMSProp, Tensor, ValueError, type ParameterGroup } from '../lib';
import { binding } from '../lib/native/native';
import { mismatches, random, referenceStep, uniform, type Dtype, type FloatArray, type Hyper } from './reference';
import { thrown } from './helpers';


function param(name: string, shape: number[], dtype: Dtype = 'float32', seed = 1): Parameter {
  const size = shape.reduce((a, b) => a * b, 1);
  return new Parameter(uniform(dtype, size, random(seed), -1, 1), name, { shape });
}

/** Steps `opt` once and checks every parameter against the reference with its own hyper-parameters. */
function stepAndCheck(opt: RMSProp, hyperOf: (p: Parameter) => Hyper, seed: number): void {
  const rand = random(seed);
  const grads = opt.parameters.map((p) => uniform(p.dtype as Dtype, p.size, rand, -1, 1));
  const expected = opt.parameters.map((p, i) => {
    const s = opt.state(p);
    return referenceStep(p.dtype as Dtype, hyperOf(p as Parameter), {
      param: p.data.slice(),
      meanSquare: s.meanSquare.slice(),
      moment: s.moment.slice(),
      meanGrad: s.meanGrad?.slice(),
    }, grads[i]);
  });
  opt.step(grads);
  opt.parameters.forEach((p, i) => {
    const e = expected[i];
    const s = opt.state(p);
    for (const [what, actual, want, tol] of [
      ['param', p.data, e.param, e.tol.param],
      ['meanSquare', s.meanSquare, e.meanSquare, e.tol.meanSquare],
      ['moment', s.moment, e.moment, e.tol.moment],
    ] as [string, FloatArray, Float64Array, Float64Array][]) {
      const bad = mismatches(actual, want, tol);
      if (bad.length) throw new Error(`${p.name} ${what}[${bad[0]}]: got ${actual[bad[0]]}, expected ${want[bad[0]]}`);
    }
  });
}

const base = { decay: 0.9, momentum: 0.9, epsilon: 1e-8, lossScale: 1, centered: false };

describe('parameter groups (LeNet-style, as the MindSpore example)', () => {
  function lenet() {
    const conv1 = param('conv1.weight', [6, 1, 5, 5], 'float32', 1);
    const conv2 = param('conv2.weight', [16, 6, 5, 5], 'float32', 2);
    const fc1w = param('fc1.weight', [120, 400], 'float32', 3);
    const fc1b = param('fc1.bias', [120], 'float32', 4);
    const gamma = param('bn.gamma', [16], 'float32', 5);
    return { conv1, conv2, fc1w, fc1b, gamma, network: [conv1, conv2, fc1w, fc1b, gamma] };
  }

  it.each(binding.supportedSimdLevels())('matches the reference on %s', (level) => {
    const initial = binding.simdLevel();
    binding.setSimdLevel(level);
    try {
      const { conv1, conv2, fc1w, fc1b, gamma, network } = lenet();
      const convs = [conv1, conv2];
      const others = [fc1w, fc1b, gamma];
      const opt = new RMSProp(
        [
          { params: convs, weightDecay: 0.01, gradCentralization: true },
          { params: others, lr: 0.01 },
          { orderParams: network },
        ],
        { learningRate: 0.1, weightDecay: 0.0, momentum: 0.9, epsilon: 1e-8, lossScale: 8 },
      );
      expect(opt.parameters).toEqual(network);
      expect(opt.getLr()).toEqual([0.1, 0.1, 0.01, 0.01, 0.01]);
      const hyperOf = (p: Parameter): Hyper => {
        const isConv = convs.includes(p);
        return {
          ...base,
          lossScale: 8,
          lr: isConv ? 0.1 : 0.01,
          weightDecay: isConv ? 0.01 : null, // no beta/gamma filter in groups, but wd 0 here
          centralizeSlices: isConv ? p.shape[0] : undefined,
        };
      };
      for (let k = 0; k < 3; k++) stepAndCheck(opt, hyperOf, 10 + k);
    } finally {
      binding.setSimdLevel(initial);
    }
  });

  it('centres each slice of a rank >= 3 gradient: a gradient constant per slice leaves weights unchanged', () => {
    const conv = new Parameter(new Float64Array(2 * 3 * 2 * 2).fill(1), 'conv', { shape: [2, 3, 2, 2] });
    const opt = new RMSProp([{ params: [conv], gradCentralization: true }], { momentum: 0 });
    const grad = new Float64Array(24);
    grad.fill(0.5, 0, 12);
    grad.fill(-2, 12);
    opt.step([grad]);
    expect(Array.from(conv.data)).toEqual(new Array(24).fill(1));
  });

  it('centres a rank >= 3 gradient with one slice (shape[0] 1) on its whole mean, and one element per slice to 0', () => {
    // Each slice along axis 0 minus its own mean: one slice is the whole tensor; a slice of one
    // element is its own mean. Both gradients below centre to 0, so nothing moves.
    const one = new Parameter(new Float64Array(12).fill(1), 'one', { shape: [1, 2, 2, 3] });
    const each = new Parameter(new Float32Array(4).fill(1), 'each', { shape: [4, 1, 1] });
    const opt = new RMSProp([{ params: [one, each], gradCentralization: true }], { momentum: 0 });
    opt.step([new Float64Array(12).fill(0.7), new Float32Array([0.3, -1, 2, 5])]);
    expect(Array.from(one.data)).toEqual(new Array(12).fill(1));
    expect(Array.from(each.data)).toEqual(new Array(4).fill(1));
  });

  it('leaves rank 1 and 2 gradients uncentred even in a flagged group', () => {
    const dense = new Parameter(new Float64Array(6).fill(1), 'dense', { shape: [2, 3] });
    const bias = new Parameter(new Float64Array(3).fill(1), 'bias');
    const opt = new RMSProp([{ params: [dense, bias], gradCentralization: true }]);
    opt.step([new Float64Array(6).fill(0.5), new Float64Array(3).fill(0.5)]);
    expect(dense.data.every((x) => x < 1)).toBe(true);
    expect(bias.data.every((x) => x < 1)).toBe(true);
  });

  it('applies group weight decay without the beta/gamma name filter', () => {
    const gamma = new Parameter(new Float64Array([1]), 'bn.gamma');
    const opt = new RMSProp([{ params: [gamma], weightDecay: 0.5 }], { decay: 0 });
    opt.step([new Float64Array([0])]);
    expect(gamma.data[0]).not.toBe(1);
  });

  it('applies a dynamic group weight decay, evaluated per step and times the loss scale, to beta/gamma names too', () => {
    const gamma = param('bn.gamma', [16], 'float32', 7);
    const beta = param('bn.beta', [4, 4], 'float64', 8);
    const other = param('fc.weight', [10], 'float32', 9);
    const decay = new ExponentialDecayLR(0.1, 0.5, 2);
    const opt = new RMSProp([{ params: [gamma, beta], weightDecay: decay }, { params: [other], lr: 0.05 }], { ...base, lossScale: 4, learningRate: 0.02 });
    for (let k = 0; k < 4; k++) {
      stepAndCheck(opt, (p) => ({ ...base, lossScale: 4, lr: p === other ? 0.05 : 0.02, weightDecay: p === other ? null : decay.at(k) }), 40 + k);
    }
  });

  it('uses the global weight decay for groups without their own, and none where it is 0', () => {
    const a = new Parameter(new Float64Array([1]), 'a');
    const b = new Parameter(new Float64Array([1]), 'b');
    const opt = new RMSProp([{ params: [a] }, { params: [b], weightDecay: 0 }], { weightDecay: 0.5, decay: 0 });
    opt.step([new Float64Array([0]), new Float64Array([0])]);
    expect(a.data[0]).not.toBe(1);
    expect(b.data[0]).toBe(1);
  });

  it('evaluates a dynamic group lr per step and returns a number from getLr without group lrs', () => {
    const a = new Parameter(new Float64Array([1]), 'a');
    const b = new Parameter(new Float64Array([1]), 'b');
    const opt = new RMSProp([{ params: [a], lr: [0.3, 0.2] }, { params: [b] }], { learningRate: [0.1, 0.05] });
    expect(opt.getLr()).toEqual([0.3, 0.1]);
    opt.step([new Float64Array([1]), new Float64Array([1])]);
    expect(opt.getLr()).toEqual([0.2, 0.05]);
    const plain = new RMSProp([{ params: [new Parameter([1], 'c')] }]);
    expect(plain.getLr()).toBe(0.1);
  });

  it('calls a shared schedule once per step', () => {
    let calls = 0;
    const lr = (k: number) => {
      calls++;
      return 0.1 / (k + 1);
    };
    const params = [1, 2, 3].map((i) => new Parameter([i], `p${i}`));
    const opt = new RMSProp(params, { learningRate: lr });
    opt.step(params.map(() => new Float32Array([1])));
    expect(calls).toBe(1);
  });

  it('gives the same bits whether parameters share one group or are split into groups', () => {
    const make = () => [param('a', [4, 3, 2], 'float32', 7), param('b', [33], 'float32', 8)];
    const one = make();
    const two = make();
    const single = new RMSProp(one, { momentum: 0.5, centered: true });
    const grouped = new RMSProp([{ params: [two[1]] }, { params: [two[0]] }, { orderParams: two }], { momentum: 0.5, centered: true });
    for (let k = 0; k < 3; k++) {
      const rand = random(k);
      const grads = one.map((p) => uniform('float32', p.size, rand, -1, 1));
      single.step(grads);
      grouped.step(grads);
    }
    one.forEach((p, i) => expect(Buffer.from(p.data.buffer).equals(Buffer.from(two[i].data.buffer))).toBe(true));
  });
});

describe('group validation', () => {
  const a = () => new Parameter([1], 'a');
  const b = () => new Parameter([2], 'b');

  it('rejects mixing Parameters and groups with a TypeError', () => {
    expect(thrown(() => new RMSProp([a(), { params: [b()] }] as never))).toBeInstanceOf(TypeError);
    const e = thrown(() => new RMSProp([{ params: [a()] }, b()] as never));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain("'params[1]'");
  });

  it.each([
    ['weight_decay', 'weightDecay'],
    ['grad_centralization', 'gradCentralization'],
    ['order_params', 'orderParams'],
    ['learningRate', 'lr'],
  ])('rejects the unknown group key %s, suggesting %s', (key, suggestion) => {
    const e = thrown(() => new RMSProp([{ params: [a()], [key]: 0.1 }] as never));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain(`'${key}' is not a known group key`);
    expect(e.message).toContain(`Did you mean '${suggestion}'?`);
  });

  it('rejects a group with empty or missing params with a ValueError', () => {
    expect(thrown(() => new RMSProp([{ params: [] }]))).toBeInstanceOf(ValueError);
    expect(thrown(() => new RMSProp([{ lr: 0.1 } as never]))).toBeInstanceOf(ValueError);
  });

  it('rejects a non-Parameter in a group, naming where', () => {
    const e = thrown(() => new RMSProp([{ params: [a(), 5 as never] }]));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain("'params[0].params[1]'");
  });

  it('rejects the same parameter twice across groups, by object or name', () => {
    const p = a();
    expect(thrown(() => new RMSProp([{ params: [p] }, { params: [p] }]))).toBeInstanceOf(ValueError);
    expect(thrown(() => new RMSProp([{ params: [p] }, { params: [a()] }]))).toBeInstanceOf(ValueError);
  });

  it('checks group values like the options', () => {
    const e1 = thrown(() => new RMSProp([{ params: [a()], lr: -1 }]));
    expect(e1).toBeInstanceOf(ValueError);
    expect(e1.message).toContain("'params[0].lr' must be >= 0, but got -1.");
    expect(thrown(() => new RMSProp([{ params: [a()], weightDecay: 'x' as never }]))).toBeInstanceOf(TypeError);
    expect(thrown(() => new RMSProp([{ params: [a()], gradCentralization: 1 as never }]))).toBeInstanceOf(TypeError);
    expect(thrown(() => new RMSProp([{ params: [a()], lr: new Tensor([1, 2, 3, 4], [2, 2]) }]))).toBeInstanceOf(ValueError);
  });

  it('rejects learning-rate tables of different lengths, the global table included', () => {
    const e = thrown(() => new RMSProp([{ params: [a()], lr: [0.1, 0.2] }, { params: [b()], lr: [0.1] }]));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toContain('same length');
    expect(thrown(() => new RMSProp([{ params: [a()], lr: [0.1, 0.2] }], { learningRate: [0.1] }))).toBeInstanceOf(ValueError);
    expect(() => new RMSProp([{ params: [a()], lr: [0.1, 0.2] }, { params: [b()], lr: (k: number) => k }])).not.toThrow();
  });

  describe('orderParams', () => {
    it('must be a permutation of the grouped parameters', () => {
      const p = a();
      const q = b();
      const groups = (order: Parameter[]): ParameterGroup[] => [{ params: [p, q] }, { orderParams: order } as never];
      expect(new RMSProp(groups([q, p])).parameters).toEqual([q, p]);
      for (const order of [[p], [p, q, a()], [p, p], [p, b()]]) {
        const e = thrown(() => new RMSProp(groups(order)));
        expect(e).toBeInstanceOf(ValueError);
        expect(e.message).toContain("'orderParams'");
      }
    });

    it('must be alone in its object, and only once', () => {
      const p = a();
      expect(thrown(() => new RMSProp([{ params: [p] }, { orderParams: [p], lr: 0.1 } as never]))).toBeInstanceOf(ValueError);
      expect(thrown(() => new RMSProp([{ params: [p] }, { orderParams: [p] }, { orderParams: [p] }] as never))).toBeInstanceOf(ValueError);
      expect(thrown(() => new RMSProp([{ params: [p] }, { orderParams: [5] }] as never))).toBeInstanceOf(TypeError);
    });
  });
});
