/** rmsprop-native/tfjs: TfjsRMSProp as a TensorFlow.js optimizer. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';

import { Parameter, RMSProp, ValueError } from '../lib';
import { TfjsRMSProp } from '../lib/tfjs';
import { eachLevel } from './helpers';
import { mismatches, random, referenceStep, uniform, type Hyper } from './reference';

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

// Every SIMD level (the adapter's steps run the level's kernels); the variables of one level are
// disposed before the next registers the same names.
eachLevel(() => {
  afterAll(() => tf.disposeVariables());

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

    it.each([false, true])("flavor 'tfjs' is a drop-in for tf.train.rmsprop: a tfjs-layers model fitted with each (centered %p) ends with the same weights", async (centered) => {
      // The same model (same initial weights) fitted for 8 epochs by each optimizer.
      const model = (seed: number) => {
        const m = tfl.sequential();
        m.add(tfl.layers.dense({ units: 4, inputShape: [3], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
        m.add(tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
        return m;
      };
      const x = tf.tensor2d([[1, 2, 3], [0.5, -1, 2], [-2, 0.25, 1], [3, -0.5, -1], [0, 1, -2], [1.5, 1.5, 0.5]]);
      const y = tf.tensor2d([[1], [0], [-1], [2], [0.5], [-0.5]]);
      const theirs = model(7);
      const ours = model(7);
      theirs.compile({ optimizer: tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7, centered), loss: 'meanSquaredError' });
      ours.compile({ optimizer: new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.01, momentum: 0.5, centered }), loss: 'meanSquaredError' });
      await theirs.fit(x, y, { epochs: 8, batchSize: 6, shuffle: false, verbose: 0 });
      await ours.fit(x, y, { epochs: 8, batchSize: 6, shuffle: false, verbose: 0 });
      const a = theirs.getWeights().map((t) => Array.from(t.dataSync()));
      const b = ours.getWeights().map((t) => Array.from(t.dataSync()));
      // Within float32 rounding of the same arithmetic (tfjs divides where the kernels may multiply by a refined reciprocal).
      a.forEach((values, i) => values.forEach((v, j) => expect(Math.abs(b[i][j] - v)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(v)))));
      // And the default flavour is not tfjs's: MindSpore's mean square starts at 1.
      const mindspore = model(7);
      mindspore.compile({ optimizer: new TfjsRMSProp({ learningRate: 0.01, momentum: 0.5, centered }), loss: 'meanSquaredError' });
      await mindspore.fit(x, y, { epochs: 8, batchSize: 6, shuffle: false, verbose: 0 });
      const c = mindspore.getWeights().map((t) => Array.from(t.dataSync()));
      expect(c.some((values, i) => values.some((v, j) => Math.abs(v - a[i][j]) > 1e-4))).toBe(true);
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
      // Applied at the first step: from the same values, the restored optimizer steps as the original.
      const start = [p.w.dataSync().slice(), p.b.dataSync().slice()];
      optimizer.minimize(p.loss);
      const original = [Array.from(p.w.dataSync()), Array.from(p.b.dataSync())];
      p.w.assign(tf.tensor(start[0], p.w.shape));
      p.b.assign(tf.tensor(start[1], p.b.shape));
      restored.minimize(p.loss);
      expect([Array.from(p.w.dataSync()), Array.from(p.b.dataSync())]).toEqual(original);
      expect(restored.rmsprop!.stateDict()).toEqual(optimizer.rmsprop!.stateDict());
    });

    it('getConfig / fromConfig (as tfjs deserializes it) rebuild the same optimizer: same config, same trajectory', () => {
      const options = {
        learningRate: 0.02,
        decay: 0.8,
        momentum: 0.5,
        epsilon: 1e-6,
        centered: true,
        weightDecay: 0.01,
        lossScale: 4,
        groups: [{ params: ['cfg1/w', 'cfg1/b'], lr: 0.03 }],
      };
      const original = new TfjsRMSProp(options);
      const config = original.getConfig();
      expect(config).toEqual(options);
      const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap.TfjsRMSProp;
      const rebuilt = fromConfig(cls, config) as TfjsRMSProp;
      expect(rebuilt).toBeInstanceOf(TfjsRMSProp);
      expect(rebuilt.getConfig()).toEqual(config);
      // The same problem under the group's variable names, trained by each (one after the other).
      const train = (optimizer: TfjsRMSProp) => {
        const p = problem('cfg1');
        for (let k = 0; k < 4; k++) optimizer.minimize(p.loss);
        const out = [Array.from(p.w.dataSync()), Array.from(p.b.dataSync())];
        expect(optimizer.rmsprop!.getLr()).toEqual([0.03, 0.03]);
        p.w.dispose();
        p.b.dispose();
        return out;
      };
      expect(train(rebuilt)).toEqual(train(original));
      expect(train(new TfjsRMSProp(config as never))).toEqual(train(new TfjsRMSProp(options)));
    });

    it('groups with weightDecay and gradCentralization follow the float64 reference, step by step', () => {
      const rand = random(11);
      const shape = [2, 3, 2, 2]; // a convolution kernel: centralized over its 2 slices along axis 0
      const w = tf.variable(tf.tensor(uniform('float32', 24, rand, -1, 1) as Float32Array, shape), true, 'gc/w');
      const b = tf.variable(tf.tensor1d([0.3, -0.1]), true, 'gc/b');
      const target = tf.tensor(uniform('float32', 24, rand, -1, 1) as Float32Array, shape);
      const loss = () =>
        tf.tidy(() => tf.add(tf.sum(tf.square(tf.sub(tf.mul(w, 1.5), target))), tf.sum(tf.mul(b, tf.tensor1d([2, -3])))) as tf.Scalar);
      const optimizer = new TfjsRMSProp({
        learningRate: 0.02,
        momentum: 0.9,
        centered: true,
        groups: [
          { params: ['gc/w'], weightDecay: 0.01, gradCentralization: true },
          { params: ['gc/b'], lr: 0.05 },
        ],
      });
      const base = { decay: 0.9, momentum: 0.9, epsilon: 1e-10, lossScale: 1, centered: true };
      const hyper: Record<string, Hyper> = {
        'gc/w': { ...base, lr: 0.02, weightDecay: 0.01, centralizeSlices: 2 },
        'gc/b': { ...base, lr: 0.05, weightDecay: null },
      };
      const variables = { 'gc/w': w, 'gc/b': b };
      for (let k = 0; k < 5; k++) {
        const { grads } = tf.variableGrads(loss, [w, b]);
        const before = Object.fromEntries(
          Object.entries(variables).map(([name, v]) => {
            const state = optimizer.rmsprop?.state(optimizer.rmsprop.parameters.find((p) => p.name === name)!);
            const n = v.size;
            return [name, {
              param: Float64Array.from(v.dataSync()),
              meanSquare: state ? Float64Array.from(state.meanSquare) : new Float64Array(n).fill(1),
              moment: state ? Float64Array.from(state.moment) : new Float64Array(n),
              meanGrad: state ? Float64Array.from(state.meanGrad!) : new Float64Array(n),
              grad: Float64Array.from(grads[name].dataSync()),
            }];
          }),
        );
        optimizer.applyGradients(grads);
        tf.dispose(grads);
        for (const [name, v] of Object.entries(variables)) {
          const want = referenceStep('float32', hyper[name], before[name], before[name].grad);
          const state = optimizer.rmsprop!.state(optimizer.rmsprop!.parameters.find((p) => p.name === name)!);
          expect(mismatches(v.dataSync() as Float32Array, want.param, want.tol.param)).toEqual([]);
          expect(mismatches(state.meanSquare, want.meanSquare, want.tol.meanSquare)).toEqual([]);
          expect(mismatches(state.meanGrad!, want.meanGrad!, want.tol.meanGrad!)).toEqual([]);
        }
      }
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

  describe('TfjsRMSProp never writes memory the caller may hold', () => {
    it('the source array, a clone before the step and a clone taken between steps stay as they were', () => {
      const init = new Float32Array([1, 2, 3]);
      const v = tf.variable(tf.tensor1d(init), true, 'owned/w');
      const before = v.clone();
      const optimizer = new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.1 });
      optimizer.applyGradients({ [v.name]: tf.tensor1d([0.1, -0.2, 0.3]) });
      expect(Array.from(init)).toEqual([1, 2, 3]);
      expect(Array.from(before.dataSync())).toEqual([1, 2, 3]);
      const afterOne = Array.from(v.dataSync());
      expect(afterOne).not.toEqual([1, 2, 3]); // the variable itself did move
      const kept = v.clone(); // e.g. a callback's "best so far"
      optimizer.applyGradients({ [v.name]: tf.tensor1d([0.1, -0.2, 0.3]) });
      expect(Array.from(kept.dataSync())).toEqual(afterOne);
      expect(Array.from(v.dataSync())).not.toEqual(afterOne);
    });

    it('a variable assigned between steps (model.setWeights, assign) is what the next step starts from', () => {
      const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'owned/reassigned');
      const optimizer = new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.1 });
      optimizer.applyGradients({ [v.name]: tf.tensor1d([0.1, -0.2, 0.3]) });
      v.assign(tf.tensor1d([10, 20, 30]));
      optimizer.applyGradients({ [v.name]: tf.tensor1d([0, 0, 0]) }); // a zero gradient without momentum moves nothing
      expect(Array.from(v.dataSync())).toEqual([10, 20, 30]);
      optimizer.applyGradients({ [v.name]: tf.tensor1d([0, 0, 0]) }); // and the array it was given, kept
      expect(Array.from(v.dataSync())).toEqual([10, 20, 30]);
    });

    it("a snapshot of a model's weights (getWeights(), cloned) is unchanged by later fit steps, as with tf.train.rmsprop", async () => {
      const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2], name: 'owned_dense' })] });
      model.compile({ optimizer: new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.05 }), loss: 'meanSquaredError' });
      const x = tf.tensor2d([[1, 2], [3, 4], [5, -6]]);
      const y = tf.tensor2d([[1], [0], [-1]]);
      await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0 });
      const snapshot = model.getWeights().map((t) => t.clone()); // getWeights() gives the live variables; a clone shares their storage
      const values = snapshot.map((t) => Array.from(t.dataSync()));
      await model.fit(x, y, { epochs: 2, batchSize: 3, verbose: 0 });
      expect(snapshot.map((t) => Array.from(t.dataSync()))).toEqual(values);
      expect(model.getWeights().map((t) => Array.from(t.dataSync()))).not.toEqual(values);
    });
  });

  describe('TfjsRMSProp serialization details', () => {
    it('getConfig keeps string options (flavor, epsilonPlacement, weightDecayMode) and fromConfig rebuilds them', () => {
      const options = { flavor: 'pytorch', learningRate: 0.02, epsilonPlacement: 'inside', weightDecayMode: 'decoupled', weightDecay: 0.01 } as const;
      const config = new TfjsRMSProp(options).getConfig();
      expect(config).toEqual(options);
      const rebuilt = TfjsRMSProp.fromConfig(TfjsRMSProp, config) as TfjsRMSProp;
      expect(rebuilt.getConfig()).toEqual(options);
    });

    it('getWeights / setWeights with a variable whose name holds dots: the state is restored at the first step', async () => {
      const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'block.1.dense.kernel');
      const source = new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.1, momentum: 0.5 });
      source.applyGradients({ [v.name]: tf.tensor1d([0.1, -0.2, 0.3]) });
      const weights = await source.getWeights();
      expect(weights.map((w) => w.name)).toEqual(['iter', 'mean_square.block.1.dense.kernel', 'moment.block.1.dense.kernel']);
      const target = new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.1, momentum: 0.5 });
      await target.setWeights(weights);
      expect(target.rmsprop).toBeUndefined(); // until the first step names the variables
      expect((await target.getWeights()).map((w) => Array.from(w.tensor.dataSync()))).toEqual(weights.map((w) => Array.from(w.tensor.dataSync())));
      const before = v.dataSync().slice();
      source.applyGradients({ [v.name]: tf.tensor1d([0.2, 0.1, -0.1]) });
      const bySource = v.dataSync().slice();
      v.assign(tf.tensor1d(before));
      target.applyGradients({ [v.name]: tf.tensor1d([0.2, 0.1, -0.1]) });
      expect(Array.from(v.dataSync())).toEqual(Array.from(bySource));
      expect(Array.from(target.rmsprop!.state(target.rmsprop!.parameters[0]).moment)).toEqual(Array.from(source.rmsprop!.state(source.rmsprop!.parameters[0]).moment));
      expect(target.rmsprop!.parameters[0].name).toBe('block.1.dense.kernel');
    });
  });
});

describe('a tfjs-layers model saved with its TfjsRMSProp (includeOptimizer)', () => {
  afterAll(() => tf.disposeVariables());
  const x = tf.tensor2d(Array.from({ length: 32 * 3 }, (_, i) => Math.sin(0.7 * i)), [32, 3]);
  const y = tf.tensor2d(Array.from({ length: 32 }, (_, i) => Math.cos(0.3 * i)), [32, 1]);
  const model = () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ units: 5, inputShape: [3], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }) }));
    m.add(tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }) }));
    m.compile({ optimizer: new TfjsRMSProp({ learningRate: 0.01, momentum: 0.9, centered: true, flavor: 'tfjs' }), loss: 'meanSquaredError' });
    return m;
  };
  const fit = (m: tfl.LayersModel, epochs: number) => m.fit(x, y, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
  const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

  it('reloads with tf.loadLayersModel, its optimizer restored, and resumes to the weights of an uninterrupted run', async () => {
    const uninterrupted = model();
    await fit(uninterrupted, 6);
    const first = model();
    await fit(first, 3);
    let saved: tf.io.ModelArtifacts | undefined;
    await first.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    expect((saved?.trainingConfig?.optimizer_config as { class_name?: string }).class_name).toBe('TfjsRMSProp');
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    expect(loaded.optimizer).toBeInstanceOf(TfjsRMSProp);
    expect(weights(loaded)).toEqual(weights(first));
    await fit(loaded, 3);
    expect(weights(loaded)).toEqual(weights(uninterrupted));
    const restored = (loaded.optimizer as TfjsRMSProp).rmsprop!;
    expect(restored.globalStep).toBe((uninterrupted.optimizer as TfjsRMSProp).rmsprop!.globalStep);
    // Without the optimizer's weights (a fresh TfjsRMSProp), the same 3 epochs land elsewhere.
    const fresh = await tfl.loadLayersModel(tf.io.fromMemory({ ...saved!, weightSpecs: saved!.weightSpecs!.filter((s) => !s.name.includes('.') && s.name !== 'iter') }));
    await fit(fresh, 3);
    expect(weights(fresh)).not.toEqual(weights(uninterrupted));
  });

  it("weights of another model (another count of variables) are a ValueError at the first step, naming 'setWeights'", async () => {
    const source = new TfjsRMSProp({ learningRate: 0.01, flavor: 'tfjs' });
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'elsewhere/only');
    source.applyGradients({ [v.name]: tf.tensor1d([0.1, 0.2]) });
    const saved = await source.getWeights();
    v.dispose();
    const target = new TfjsRMSProp({ learningRate: 0.01, flavor: 'tfjs' });
    await target.setWeights(saved.map((w) => ({ name: w.name.replace('elsewhere/only', 'gone/only'), tensor: w.tensor })));
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'here/a');
    const b = tf.variable(tf.tensor1d([3]), true, 'here/b');
    expect(() => target.applyGradients({ [a.name]: tf.tensor1d([0.1, 0.2]), [b.name]: tf.tensor1d([0.3]) })).toThrow(
      /For 'TfjsRMSProp', the 'setWeights' must be weights of as many variables as this model trains \(2\), but got/,
    );
  });
});
