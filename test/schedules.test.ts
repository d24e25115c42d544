/** Schedule classes and list helpers: MindSpore vectors, an independent float64 reference, validation. */
import vectors from './fixtures/mindspore.json';
import * as lib from '../lib';
import {
  CosineDecayLR,
  ExponentialDecayLR,
  InverseDecayLR,
  LearningRateSchedule,
  NaturalExpDecayLR,
  Parameter,
  PolynomialDecayLR,
  RMSProp,
  ValueError,
  WarmUpLR,
} from '../lib';
import { thrown } from './helpers';

type Ctor = new (...args: never[]) => LearningRateSchedule;
const classes = lib as unknown as Record<string, Ctor>;
const helpers = lib as unknown as Record<string, (...args: unknown[]) => number[]>;

describe('MindSpore schedule vectors', () => {
  it.each(vectors.schedules.map((s) => [`${s.class}(${s.args.join(', ')})`, s] as const))('%s', (_label, s) => {
    const schedule = new classes[s.class](...(s.args as never[]));
    expect(schedule).toBeInstanceOf(LearningRateSchedule);
    for (const [step, expected] of Object.entries(s.at)) {
      expect(Math.abs(schedule.at(Number(step)) - expected)).toBeLessThanOrEqual(1e-6);
    }
  });

  it.each(vectors.helpers.map((h) => [h.fn, h] as const))('%s', (_fn, h) => {
    const out = helpers[h.fn](...h.args);
    expect(out).toHaveLength(h.expect.length);
    out.forEach((x, i) => expect(Math.abs(x - h.expect[i])).toBeLessThanOrEqual(1e-15));
  });
});

// Independent float64 statements of docs/semantics.md §5 (the classes compute in float32).
const reference: [string, LearningRateSchedule, (step: number) => number][] = [
  ['ExponentialDecayLR', new ExponentialDecayLR(0.1, 0.9, 4), (k) => 0.1 * 0.9 ** (k / 4)],
  ['ExponentialDecayLR stair', new ExponentialDecayLR(0.1, 0.9, 4, true), (k) => 0.1 * 0.9 ** Math.floor(k / 4)],
  ['NaturalExpDecayLR', new NaturalExpDecayLR(0.1, 0.05, 4), (k) => 0.1 * Math.exp(-0.05 * k)],
  ['NaturalExpDecayLR stair', new NaturalExpDecayLR(0.1, 0.05, 4, true), (k) => 0.1 * Math.exp(-0.05 * Math.floor(k / 4) * 4)],
  ['InverseDecayLR', new InverseDecayLR(0.1, 0.5, 3), (k) => 0.1 / (1 + (0.5 * k) / 3)],
  ['InverseDecayLR stair', new InverseDecayLR(0.1, 0.5, 3, true), (k) => 0.1 / (1 + 0.5 * Math.floor(k / 3))],
  ['CosineDecayLR', new CosineDecayLR(0.01, 0.1, 10), (k) => 0.01 + 0.5 * 0.09 * (1 + Math.cos((Math.PI * Math.min(k, 10)) / 10))],
  ['PolynomialDecayLR', new PolynomialDecayLR(0.1, 0.01, 10, 2), (k) => 0.09 * (1 - Math.min(k, 10) / 10) ** 2 + 0.01],
  [
    'PolynomialDecayLR update',
    new PolynomialDecayLR(0.1, 0.01, 10, 2, true),
    (k) => {
      const total = 10 * Math.max(Math.ceil(k / 10), 1);
      return 0.09 * (1 - k / total) ** 2 + 0.01;
    },
  ],
  ['WarmUpLR', new WarmUpLR(0.1, 7), (k) => (0.1 * Math.min(k, 7)) / 7],
];

describe('schedules against a float64 reference', () => {
  it.each(reference)('%s over 40 steps', (_name, schedule, expected) => {
    for (let k = 0; k < 40; k++) {
      const want = expected(k);
      expect(Math.abs(schedule.at(k) - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-9);
    }
  });

  it('drive the optimizer: step k uses at(k)', () => {
    const schedule = new WarmUpLR(0.1, 2);
    const p = new Parameter(new Float64Array([0]), 'w');
    const opt = new RMSProp([p], { learningRate: schedule });
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      seen.push(opt.getLr() as number);
      opt.step([new Float64Array([1])]);
    }
    expect(seen).toEqual([0, schedule.at(1), schedule.at(2), schedule.at(3)]);
    expect(p.data[0]).toBeLessThan(0);
  });
});

describe('CosineDecayLR computes what MindSpore computes, in float32', () => {
  // MindSpore's CosineDecayLR.construct: min_lr + delta * (1.0 + cos(math_pi * p / decay_steps)),
  // p = float32(min(step, decay_steps)), delta = 0.5 * (max_lr - min_lr) in float64, each tensor
  // operation in float32 (a Python float operand is cast to float32 first).
  const f = Math.fround;
  const mindspore = (minLr: number, maxLr: number, decaySteps: number, step: number) => {
    const p = f(Math.min(step, decaySteps));
    const angle = f(f(f(Math.PI) * p) / f(decaySteps));
    return f(f(minLr) + f(f(0.5 * (maxLr - minLr)) * f(f(1.0) + f(Math.cos(angle)))));
  };

  it.each([
    [0, 0.5, 10],
    [0.01, 0.1, 4],
    [0.001, 0.3, 37],
    [1e-5, 0.05, 1000],
  ])('CosineDecayLR(%p, %p, %p) bit for bit over its decay and past it', (minLr, maxLr, decaySteps) => {
    const schedule = new CosineDecayLR(minLr, maxLr, decaySteps);
    for (let k = 0; k <= decaySteps + 3; k += Math.max(1, Math.floor(decaySteps / 50))) {
      expect(schedule.at(k)).toBe(mindspore(minLr, maxLr, decaySteps, k));
    }
  });

  it('the step where a shifted sine (sin(π·(p/n + ½))) differs: CosineDecayLR(0, 0.5, 10).at(8)', () => {
    expect(new CosineDecayLR(0, 0.5, 10).at(8)).toBe(0.047745734453201294);
    // MindSpore's documented example: CosineDecayLR(0.01, 0.1, 4) at step 2 prints 0.055.
    expect(new CosineDecayLR(0.01, 0.1, 4).at(2)).toBe(f(0.055));
  });
});

describe('list helpers against a float64 reference', () => {
  it('piecewiseConstantLr', () => {
    expect(lib.piecewiseConstantLr([1, 3], [0.5, 0.25])).toEqual([0.5, 0.25, 0.25]);
  });
  it('exponentialDecayLr, naturalExpDecayLr, inverseDecayLr, cosineDecayLr, polynomialDecayLr, warmupLr', () => {
    const e = (i: number) => Math.floor(i / 3);
    const cases: [number[], (i: number) => number][] = [
      [lib.exponentialDecayLr(0.2, 0.5, 12, 3, 2), (i) => 0.2 * 0.5 ** (e(i) / 2)],
      [lib.exponentialDecayLr(0.2, 0.5, 12, 3, 2, true), (i) => 0.2 * 0.5 ** Math.floor(e(i) / 2)],
      [lib.naturalExpDecayLr(0.2, 0.5, 12, 3, 2), (i) => 0.2 * Math.exp(-0.5 * e(i))],
      [lib.inverseDecayLr(0.2, 0.5, 12, 3, 2), (i) => 0.2 / (1 + (0.5 * e(i)) / 2)],
      [lib.inverseDecayLr(0.2, 0.5, 12, 3, 2, true), (i) => 0.2 / (1 + 0.5 * Math.floor(e(i) / 2))],
      [lib.cosineDecayLr(0.01, 0.2, 12, 3, 2), (i) => 0.01 + 0.5 * 0.19 * (1 + Math.cos((Math.PI * Math.min(e(i), 2)) / 2))],
      [lib.polynomialDecayLr(0.2, 0.01, 12, 3, 2, 3), (i) => 0.19 * (1 - Math.min(e(i), 2) / 2) ** 3 + 0.01],
      [
        lib.polynomialDecayLr(0.2, 0.01, 12, 3, 2, 3, true),
        (i) => 0.19 * (1 - e(i) / (2 * Math.max(Math.ceil(e(i) / 2), 1))) ** 3 + 0.01,
      ],
      [lib.warmupLr(0.2, 12, 3, 2), (i) => (0.2 * Math.min(e(i), 2)) / 2],
    ];
    for (const [values, expected] of cases) {
      expect(values).toHaveLength(12);
      values.forEach((v, i) => expect(Math.abs(v - expected(i))).toBeLessThanOrEqual(1e-14));
    }
  });
});

describe('validation', () => {

  it.each([
    ['ExponentialDecayLR learningRate 0', () => new ExponentialDecayLR(0, 0.9, 4), ValueError, "'learningRate' must be > 0"],
    ['ExponentialDecayLR decaySteps 1.5', () => new ExponentialDecayLR(0.1, 0.9, 1.5), ValueError, "'decaySteps' must be a positive integer"],
    ['NaturalExpDecayLR decayRate string', () => new NaturalExpDecayLR(0.1, '0.9' as never, 4), TypeError, "'decayRate' must be a number"],
    ['InverseDecayLR isStair 1', () => new InverseDecayLR(0.1, 0.9, 4, 1 as never), TypeError, "'isStair' must be a boolean"],
    ['CosineDecayLR minLr >= maxLr', () => new CosineDecayLR(0.1, 0.1, 4), ValueError, "'maxLr' must be greater than the 'minLr'"],
    ['CosineDecayLR minLr -1', () => new CosineDecayLR(-1, 0.1, 4), ValueError, "'minLr' must be >= 0"],
    ['PolynomialDecayLR power 0', () => new PolynomialDecayLR(0.1, 0.01, 4, 0), ValueError, "'power' must be > 0"],
    ['PolynomialDecayLR endLearningRate NaN', () => new PolynomialDecayLR(0.1, NaN, 4, 1), ValueError, "'endLearningRate' must be a finite number"],
    ['WarmUpLR warmupSteps 0', () => new WarmUpLR(0.1, 0), ValueError, "'warmupSteps' must be a positive integer"],
    ['piecewiseConstantLr lengths', () => lib.piecewiseConstantLr([1, 2], [0.1]), ValueError, "'learningRates'"],
    ['piecewiseConstantLr not increasing', () => lib.piecewiseConstantLr([2, 2], [0.1, 0.2]), ValueError, "'milestone[1]' must be greater"],
    ['piecewiseConstantLr not an array', () => lib.piecewiseConstantLr(5 as never, [0.1]), TypeError, "'milestone'"],
    ['exponentialDecayLr totalStep 0', () => lib.exponentialDecayLr(0.1, 0.9, 0, 1, 1), ValueError, "'totalStep'"],
    ['warmupLr stepPerEpoch bigint', () => lib.warmupLr(0.1, 4, BigInt(1) as never, 1), TypeError, "'stepPerEpoch'"],
    ['cosineDecayLr minLr > maxLr', () => lib.cosineDecayLr(0.2, 0.1, 4, 1, 1), ValueError, "'maxLr'"],
    ['polynomialDecayLr updateDecayEpoch null', () => lib.polynomialDecayLr(0.1, 0.01, 4, 1, 1, 1, null as never), TypeError, "'updateDecayEpoch'"],
  ] as [string, () => unknown, typeof TypeError, string][])('%s', (_label, fn, errorClass, message) => {
    const e = thrown(fn);
    expect(e).toBeInstanceOf(errorClass);
    expect(e.message).toContain(message);
  });

  it('accepts 0 where MindSpore does (WarmUpLR learningRate, CosineDecayLR minLr, endLearningRate)', () => {
    expect(() => new WarmUpLR(0, 2)).not.toThrow();
    expect(() => new CosineDecayLR(0, 0.1, 2)).not.toThrow();
    expect(() => new PolynomialDecayLR(0.1, 0, 2, 1)).not.toThrow();
  });
});
