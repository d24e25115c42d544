/**
 * Every flavour against its framework's float64 reference (test/peers/reference.ts, written from
 * each framework's source), on every SIMD level, float32 and float64, plain and centered,
 * momentum 0 and 0.9, with the framework's weight decay (PyTorch coupled, Keras decoupled),
 * PyTorch's maximize and optax's nesterov, over several steps; plus the flavours' defaults and
 * option validation.
 */
import { binding } from '../../lib/native/native';
import { Parameter, RMSProp, ValueError, type Flavor, type RMSPropOptions } from '../../lib';
import { FLAVORS } from '../../lib/config/options';
import { thrown } from '../helpers';
import { random, uniform, type Dtype, type FloatArray } from '../reference';
import { INITIAL_MEAN_SQUARE, peerStep, type Framework, type PeerConfig, type PeerState } from './reference';

const SIZE = 37; // full registers of every level and a tail
const STEPS = 3;
const EPSILON: Record<Framework, number> = { tf1: 1e-10, pytorch: 1e-8, keras: 1e-7, tfjs: 1e-7, optax: 1e-8 };
const TOLERANCE: Record<Dtype, number> = { float32: 2e-5, float64: 1e-11 };

interface Case extends PeerConfig {
  framework: Framework;
  dtype: Dtype;
}

function cases(framework: Framework): Case[] {
  const out: Case[] = [];
  const decays = framework === 'pytorch' || framework === 'keras' ? [0, 0.01] : [0];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const centered of [false, true]) {
      for (const momentum of [0, 0.9]) {
        for (const weightDecay of decays) {
          for (const maximize of framework === 'pytorch' ? [false, true] : [false]) {
            for (const nesterov of framework === 'optax' && momentum > 0 ? [false, true] : [false]) {
              out.push({ framework, dtype, lr: 0.01, decay: 0.9, momentum, epsilon: EPSILON[framework], centered, weightDecay, maximize, nesterov });
            }
          }
        }
      }
    }
  }
  return out;
}

function optionsOf(c: Case): RMSPropOptions {
  return {
    flavor: c.framework,
    learningRate: c.lr,
    decay: c.decay,
    momentum: c.momentum,
    epsilon: c.epsilon,
    centered: c.centered,
    weightDecay: c.weightDecay,
    maximize: c.maximize,
    nesterov: c.nesterov,
  };
}

/**
 * The worst error of `c` over STEPS steps (relative to 1 + |expected|); where the framework is
 * not finite (its centered variance below zero under the square root) the value is skipped, and
 * counted.
 */
function worstError(c: Case, seed: number): { worst: number; compared: number; skipped: number } {
  const rand = random(seed);
  const w0 = uniform(c.dtype, SIZE, rand, -1, 1);
  const param = new Parameter(w0.slice(), 'w');
  const opt = new RMSProp([param], optionsOf(c));
  const state = opt.state(param);
  const ref: PeerState[] = Array.from(w0, (w) => ({ w, s: INITIAL_MEAN_SQUARE[c.framework], m: 0, mg: 0 }));
  let worst = 0;
  let compared = 0;
  let skipped = 0;
  const check = (actual: number, expected: number) => {
    if (!Number.isFinite(expected)) {
      skipped++;
      return;
    }
    compared++;
    worst = Math.max(worst, Math.abs(actual - expected) / (1 + Math.abs(expected)));
  };
  for (let k = 0; k < STEPS; k++) {
    const g = uniform(c.dtype, SIZE, rand, -2, 2);
    opt.step([g]);
    for (let i = 0; i < SIZE; i++) {
      ref[i] = peerStep(c.framework, c, ref[i], g[i]);
      check(param.data[i], ref[i].w);
      check(state.meanSquare[i], ref[i].s);
      if (c.momentum > 0) check(state.moment[i], ref[i].m); // without momentum the frameworks keep no buffer
      if (c.centered) check((state.meanGrad as FloatArray)[i], ref[i].mg);
    }
  }
  return { worst, compared, skipped };
}

const LEVELS = binding.supportedSimdLevels();
const initialLevel = binding.simdLevel();
afterAll(() => binding.setSimdLevel(initialLevel));

describe.each(['tf1', 'pytorch', 'keras', 'tfjs', 'optax'] as Framework[])('flavor %s against its framework', (framework) => {
  it.each(LEVELS)('every case on %s within float rounding of the float64 reference', (level) => {
    expect(binding.setSimdLevel(level)).toBe(true);
    const bad: string[] = [];
    cases(framework).forEach((c, i) => {
      const { worst, compared, skipped } = worstError(c, 100 + i);
      // Every value is compared (w and s, m with momentum, ḡ centered), except the rare ones a
      // centered framework computes as NaN: none without centering, at most 1% with it.
      expect(compared + skipped).toBe(SIZE * STEPS * (2 + (c.momentum > 0 ? 1 : 0) + (c.centered ? 1 : 0)));
      expect(skipped).toBeLessThanOrEqual(c.centered ? 0.01 * (compared + skipped) : 0);
      if (!(worst <= TOLERANCE[c.dtype])) bad.push(`${JSON.stringify(c)}: ${worst}`);
    });
    expect(bad).toEqual([]);
  });
});

describe('the centered guard where a framework computes NaN', () => {
  // A mean gradient loaded larger than the mean square makes s − ḡ² < 0 (PyTorch: √ of it;
  // tfjs: √(s − ḡ² − ε)); the framework would write NaN, this library keeps w and m there.
  it.each(['pytorch', 'tfjs'] as Framework[])('%s: NaN elements keep their values, the rest match', (framework) => {
    const c: Case = { ...cases(framework)[0], centered: true, momentum: 0.9, dtype: 'float64' };
    const param = new Parameter(new Float64Array([0.5, -0.25, 1]), 'w');
    const opt = new RMSProp([param], optionsOf(c));
    const state = opt.state(param);
    state.meanGrad?.set([3, 0.01, -0.02]);
    state.moment.set([0.1, 0.2, 0.3]);
    const g = new Float64Array([0.1, 0.2, -0.3]);
    const expected = [0, 1, 2].map((i) =>
      peerStep(framework, c, { w: param.data[i], s: 0, m: state.moment[i], mg: (state.meanGrad as FloatArray)[i] }, g[i]),
    );
    opt.step([g]);
    expect(Number.isNaN(expected[0].w)).toBe(true);
    expect([param.data[0], state.moment[0]]).toEqual([0.5, 0.1]);
    for (const i of [1, 2]) {
      expect(Number.isFinite(expected[i].w)).toBe(true);
      expect(param.data[i]).toBeCloseTo(expected[i].w, 12);
      expect(state.moment[i]).toBeCloseTo(expected[i].m, 12);
    }
  });
});

describe('flavour defaults', () => {
  const explicit: Record<Flavor, RMSPropOptions> = {
    mindspore: { learningRate: 0.1, decay: 0.9, momentum: 0, epsilon: 1e-10, epsilonPlacement: 'inside', initialMeanSquare: 1, lrInMomentum: true, weightDecayMode: 'coupled' },
    tf1: { learningRate: 0.2, decay: 0.9, momentum: 0, epsilon: 1e-10, epsilonPlacement: 'inside', initialMeanSquare: 1, lrInMomentum: true, weightDecayMode: 'coupled' },
    pytorch: { learningRate: 0.01, decay: 0.99, momentum: 0, epsilon: 1e-8, epsilonPlacement: 'outside', initialMeanSquare: 0, lrInMomentum: false, weightDecayMode: 'coupled', decayComplement: 'float64' },
    keras: { learningRate: 0.001, decay: 0.9, momentum: 0, epsilon: 1e-7, epsilonPlacement: 'inside', initialMeanSquare: 0, lrInMomentum: true, weightDecayMode: 'decoupled', decayComplement: 'float64' },
    tfjs: { learningRate: 0.2, decay: 0.9, momentum: 0, epsilon: 1e-7, epsilonPlacement: 'inside', initialMeanSquare: 0, lrInMomentum: true, weightDecayMode: 'coupled', decayComplement: 'float64' },
    optax: { learningRate: 0.2, decay: 0.9, momentum: 0, epsilon: 1e-8, epsilonPlacement: 'inside', initialMeanSquare: 0, lrInMomentum: true, weightDecayMode: 'coupled', decayComplement: 'float64' },
  };
  it.each(Object.keys(explicit) as Flavor[])('%s: the flavour alone steps as its framework defaults spelled out', (flavor) => {
    const required = flavor === 'tf1' || flavor === 'tfjs' || flavor === 'optax' ? { learningRate: 0.2 } : {};
    const a = new Parameter(new Float32Array([0.5, -1, 2]), 'a');
    const b = new Parameter(new Float32Array([0.5, -1, 2]), 'b');
    const byFlavor = new RMSProp([a], { flavor, ...required, weightDecay: 0.01 });
    const spelled = new RMSProp([b], { flavor: 'mindspore', ...explicit[flavor], weightDecay: 0.01 });
    for (let k = 0; k < 3; k++) {
      const g = new Float32Array([0.3, -0.2, 0.1 * k]);
      byFlavor.step([g]);
      spelled.step([g]);
    }
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(byFlavor.state(a).meanSquare)).toEqual(Array.from(spelled.state(b).meanSquare));
  });

  it("every flavour is in FLAVORS, 'mindspore' with no changes", () => {
    expect(Object.keys(FLAVORS).sort()).toEqual(Object.keys(explicit).sort());
    expect(FLAVORS.mindspore.defaults).toEqual({});
  });

  it.each(['tf1', 'tfjs', 'optax'] as Flavor[])('%s requires learningRate, as its framework does', (flavor) => {
    const error = thrown(() => new RMSProp([new Parameter(new Float32Array(2), 'w')], { flavor }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/'learningRate' is required with flavor/);
  });

  it("the mindspore flavour's beta/gamma filter is MindSpore's alone: PyTorch decays every parameter", () => {
    const gamma = () => new Parameter(new Float64Array([1]), 'bn.gamma');
    const ms = gamma();
    const pt = gamma();
    new RMSProp([ms], { weightDecay: 0.5 }).step([new Float64Array([0])]);
    new RMSProp([pt], { flavor: 'pytorch', weightDecay: 0.5 }).step([new Float64Array([0])]);
    expect(ms.data[0]).toBe(1);
    expect(pt.data[0]).toBeLessThan(1);
  });
});

describe('validation of the new options', () => {
  const p = () => new Parameter(new Float32Array(2), 'w');
  it.each([
    ['flavor', 'torch', ValueError, /'flavor'.*'mindspore' or 'tf1' or 'pytorch' or 'keras' or 'tfjs' or 'optax'/],
    ['flavor', 3, TypeError, /'flavor'/],
    ['epsilonPlacement', 'middle', ValueError, /'epsilonPlacement'/],
    ['epsilonPlacement', true, TypeError, /'epsilonPlacement'/],
    ['initialMeanSquare', -1, ValueError, /'initialMeanSquare'/],
    ['initialMeanSquare', '1', TypeError, /'initialMeanSquare'/],
    ['lrInMomentum', 1, TypeError, /'lrInMomentum'/],
    ['weightDecayMode', 'adamw', ValueError, /'weightDecayMode'/],
    ['maximize', 'yes', TypeError, /'maximize'/],
    ['nesterov', 0, TypeError, /'nesterov'/],
  ] as const)('%s = %p is a %p naming it', (key, value, Type, message) => {
    const error = thrown(() => new RMSProp([p()], { [key]: value } as never));
    expect(error).toBeInstanceOf(Type);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ['eps_in_sqrt', 'epsilonPlacement'],
    ['initial_scale', 'initialMeanSquare'],
    ['flavour', 'flavor'],
    ['weight_decay', 'weightDecay'],
  ])("a framework's spelling %s is a TypeError that names %s", (key, name) => {
    const error = thrown(() => new RMSProp([p()], { [key]: 1 } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(`Did you mean '${name}'?`);
  });
});
