/** rmsprop-native/tfjs: TfjsRMSProp as a TensorFlow.js optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';

import { Parameter, RMSProp, ValueError } from '../lib';
import { TfjsRMSProp } from '../lib/tfjs';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// A tiny regression problem: y = x·W + b with fixed data.
function problem(prefix: string) {
  const x = tf.tensor2d([[1, 2], [3, 4], [5, -6], [0.5, 0.25]]);
  const y = tf.tensor2d([[1], [0], [-1], [2]]);
  const w = tf.variable(tf.tensor2d([[0.1], [-0.2]]), true, `${prefix}/w`);
  const b = tf.variable(tf.tensor1d([0.05]), true, `${prefix}/b`);
  const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar);
  return { w, b, loss };
}

describe('TfjsRMSProp', () => {
  it('follows the same trajectory as RMSProp stepped by hand with tfjs gradients', () => {
    const options = { learningRate: 0.01, momentum: 0.9, centered: true, weightDecay: 0.001 };
    const a = problem('a');
    const optimizer = new TfjsRMSProp(options);
    const b = problem('b');
    const params = [new Parameter(b.w.dataSync().slice() as Float32Array, 'w', { shape: [2, 1] }), new Parameter(b.b.dataSync().slice() as Float32Array, 'b')];
    const byHand = new RMSProp(params, options);
    for (let k = 0; k < 6; k++) {
      optimizer.minimize(a.loss);
      const { grads } = tf.variableGrads(b.loss, [b.w, b.b]);
      byHand.step([grads[b.w.name].dataSync() as Float32Array, grads[b.b.name].dataSync() as Float32Array]);
      b.w.assign(tf.tensor(params[0].data, [2, 1]));
      b.b.assign(tf.tensor(params[1].data, [1]));
      tf.dispose(grads);
    }
    expect(Array.from(a.w.dataSync())).toEqual(Array.from(params[0].data));
    expect(Array.from(a.b.dataSync())).toEqual(Array.from(params[1].data));
    expect(optimizer.iterations).toBe(6);
    expect(optimizer.rmsprop!.globalStep).toBe(6);
  });

  it("refuses parameterSync 'manual' (the adapter copies the variables in and out every step)", () => {
    expect(() => new TfjsRMSProp({ parameterSync: 'manual' })).toThrow(ValueError);
    expect(() => new TfjsRMSProp({ parameterSync: 'manual' })).toThrow(/parameterSync/);
  });

  it('supports parameter groups by variable name', () => {
    const p = problem('g');
    const optimizer = new TfjsRMSProp({
      learningRate: 0.1,
      groups: [{ params: ['g/w'], lr: 0.01 }, { params: ['g/b'], weightDecay: 0.5 }, { orderParams: ['g/b', 'g/w'] }],
    });
    optimizer.minimize(p.loss);
    expect(optimizer.rmsprop!.parameters.map((q) => q.name)).toEqual(['g/b', 'g/w']);
    expect(optimizer.rmsprop!.getLr()).toEqual([0.1, 0.01]);
  });

  it('round-trips its state through getWeights / setWeights', async () => {
    const p = problem('s');
    const optimizer = new TfjsRMSProp({ centered: true, momentum: 0.5 });
    for (let k = 0; k < 3; k++) optimizer.minimize(p.loss);
    const weights = await optimizer.getWeights();
    expect(weights.map((w) => w.name).sort()).toEqual(['iter', 'mean_grad.s/b', 'mean_grad.s/w', 'mean_square.s/b', 'mean_square.s/w', 'moment.s/b', 'moment.s/w'].sort());
    const restored = new TfjsRMSProp({ centered: true, momentum: 0.5 });
    await restored.setWeights(weights);
    expect(restored.iterations).toBe(3);
    expect(restored.rmsprop!.stateDict()).toEqual(optimizer.rmsprop!.stateDict());
  });

  it('rejects bad options at construction, like RMSProp', () => {
    expect(() => new TfjsRMSProp({ epsilon: 0 })).toThrow(ValueError);
    expect(() => new TfjsRMSProp({ learning_rate: 0.1 } as never)).toThrow(TypeError);
  });

  it('is registered for serialization and trains a tfjs-layers model through model.compile', async () => {
    expect(tf.serialization.SerializationMap.getMap().classNameMap.TfjsRMSProp).toBeDefined();
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    model.compile({ optimizer: new TfjsRMSProp({ learningRate: 0.05 }), loss: 'meanSquaredError' });
    const xs = tf.tensor2d([[0, 1], [1, 0], [1, 1], [2, 1]]);
    const ys = tf.tensor2d([[1], [2], [3], [5]]);
    const history = await model.fit(xs, ys, { epochs: 30, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 2);
  });
});
