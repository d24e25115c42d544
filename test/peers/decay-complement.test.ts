/**
 * 1 − ρ as each framework forms it in float32 (option decayComplement, set by the flavours):
 * MindSpore's and TF1's kernels compute 1 − float32(ρ) in float32; PyTorch, Keras, TensorFlow.js
 * and optax hold ρ as a host double and round 1 − ρ once. The two differ by 9.3e-7 relative at
 * ρ = 0.99, 1.3e-5 at 0.999 and 1.7e-4 at 0.9999: one step from a zero mean square, per element,
 * on every SIMD level, with a tolerance of 2 float32 ulps, tells them apart.
 */
import { Parameter, RMSProp, type Flavor, type RMSPropOptions } from '../../lib';
import { binding } from '../../lib/native/native';
import { onLevel } from '../helpers';

const f32 = Math.fround;
const COMPUTE: readonly Flavor[] = ['mindspore', 'tf1'];
const FLAVORS: readonly Flavor[] = ['mindspore', 'tf1', 'pytorch', 'keras', 'tfjs', 'optax'];

describe.each(binding.supportedSimdLevels())('on %s', (level) => {
  test.each(FLAVORS.flatMap((flavor) => [0.99, 0.999, 0.9999].map((rho) => [flavor, rho] as const)))(
    '%s at rho = %f: the mean square after one step from 0 uses its framework\'s 1 − ρ',
    (flavor, rho) => {
      onLevel(level, () => {
        const n = 37; // every vector width and a tail
        const p = new Parameter(new Float32Array(n).fill(0.5), 'w');
        const opt = new RMSProp([p], { flavor, learningRate: 0.01, decay: rho, initialMeanSquare: 0 } as RMSPropOptions);
        const g = new Float32Array(n).map((_, i) => f32(0.1 + 0.37 * Math.sin(i + 1)));
        opt.step([g]);
        const complement = COMPUTE.includes(flavor) ? f32(1 - f32(rho)) : f32(1 - rho);
        const meanSquare = opt.state(p).meanSquare;
        for (let i = 0; i < n; i++) {
          const expected = f32(complement * f32(g[i] * g[i]));
          expect(Math.abs(meanSquare[i] - expected)).toBeLessThanOrEqual(2 * 1.2e-7 * expected);
        }
      });
    },
  );
});

test("the issue's repro: PyTorch's and TensorFlow.js's first step at ρ = 0.999, to the float32 digit", () => {
  // torch.optim.RMSprop([p = 1.], lr=0.01, alpha=0.999), grad 1 (PyTorch 1.13)
  const torch = new Parameter(new Float32Array([1]), 'p');
  const byTorch = new RMSProp([torch], { flavor: 'pytorch', learningRate: 0.01, decay: 0.999 });
  byTorch.step([new Float32Array([1])]);
  expect(byTorch.state(torch).meanSquare[0]).toBe(0.0010000000474974513);
  expect(Math.abs(torch.data[0] - 0.6837723851203918)).toBeLessThanOrEqual(1.2e-7);
  // tf.train.rmsprop(0.01, 0.999) (@tensorflow/tfjs 4.22, CPU backend)
  const tfjs = new Parameter(new Float32Array([1]), 'w');
  const byTfjs = new RMSProp([tfjs], { flavor: 'tfjs', learningRate: 0.01, decay: 0.999 });
  byTfjs.step([new Float32Array([1])]);
  expect(byTfjs.state(tfjs).meanSquare[0]).toBe(0.0010000000474974513);
  expect(Math.abs(tfjs.data[0] - 0.6837880611419678)).toBeLessThanOrEqual(1.2e-7);
});

test('decayComplement can be set on its own, and float64 parameters form 1 − ρ the same either way', () => {
  const run = (decayComplement: 'compute' | 'float64', Type: Float32ArrayConstructor | Float64ArrayConstructor) => {
    const p = new Parameter(new Type([1, -2]), 'w');
    const opt = new RMSProp([p], { learningRate: 0.01, decay: 0.999, initialMeanSquare: 0, decayComplement });
    opt.step([new Type([1, 0.5])]);
    return Array.from(opt.state(p).meanSquare);
  };
  expect(run('float64', Float32Array)[0]).toBe(0.0010000000474974513);
  expect(run('compute', Float32Array)[0]).toBe(0.0009999871253967285); // MindSpore's 1 − float32(0.999)
  expect(run('float64', Float64Array)).toEqual(run('compute', Float64Array));
  expect(() => new RMSProp([new Parameter(new Float32Array(1), 'w')], { decayComplement: 'double' as never })).toThrow(
    /'decayComplement' must be 'compute' or 'float64'/,
  );
});
