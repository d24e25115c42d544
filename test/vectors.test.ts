/** MindSpore's own numeric cases (test/fixtures/mindspore.json, copied from shared/vectors). */
import vectors from './fixtures/mindspore.json';
import { Parameter, RMSProp, ValueError } from '../lib';
import { binding } from '../lib/native/native';

type Values = Record<string, number[]>;

const TOLERANCE = 1e-5; // absolute, as the fixture says

function expectValues(actual: ArrayLike<number>, expected: number[], what: string): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const a = actual[i];
    if (!(Math.abs(a - e) <= TOLERANCE)) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${e} ± ${TOLERANCE}`);
    }
  });
}

function expectState(opt: RMSProp, param: Parameter, expected: Values, label: string): void {
  const state = opt.state(param);
  const actual: Record<string, ArrayLike<number>> = {
    param: param.data,
    meanSquare: state.meanSquare,
    moment: state.moment,
    ...(state.meanGrad ? { meanGrad: state.meanGrad } : {}),
  };
  for (const [key, values] of Object.entries(expected)) expectValues(actual[key], values, `${label} ${key}`);
}

describe.each(binding.supportedSimdLevels())('MindSpore vectors on %s', (level) => {
  const initial = binding.simdLevel();
  beforeAll(() => binding.setSimdLevel(level));
  afterAll(() => binding.setSimdLevel(initial));

  describe.each(['float32', 'float64'] as const)('%s', (dtype) => {
    const typed = (values: number[]) => (dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values));

    it.each(vectors.op.map((c) => [c.id, c] as const))('op %s', (_id, c) => {
      const param = new Parameter(typed(c.param), 'param', c.shape ? { shape: c.shape } : {});
      const opt = new RMSProp([param], {
        centered: c.centered,
        learningRate: c.learningRate,
        decay: c.decay,
        momentum: c.momentum,
        epsilon: c.epsilon,
      });
      const state = opt.state(param);
      const given = c.state as Values;
      state.meanSquare.set(given.meanSquare);
      state.moment.set(given.moment);
      if (given.meanGrad) state.meanGrad!.set(given.meanGrad);
      opt.step([typed(c.grad)]);
      expectState(opt, param, c.expect as Values, c.id);
    });

    it.each(vectors.optimizer.map((c) => [c.id, c] as const))('optimizer %s', (_id, c) => {
      const param = new Parameter(typed(c.param), c.name);
      const opt = new RMSProp([param], c.options);
      c.grads.forEach((grad, step) => {
        opt.step([typed(grad)]);
        expectState(opt, param, c.expectAfterEachStep[step] as Values, `${c.id} step ${step}`);
      });
      if ('thirdStepThrows' in c) {
        const before = param.data.slice();
        expect(() => opt.step([typed(c.grads[0])])).toThrow(ValueError);
        expect(param.data).toEqual(before);
        expect(opt.globalStep).toBe(c.grads.length);
      }
    });
  });
});
