'use strict';
// LeNet-5 as MindSpore's example defines it (conv1 6@5×5 on 32×32 input, max-pool, conv2 16@5×5,
// max-pool, fc1 400→120, fc2 120→84, fc3 84→10, ReLU; convolutions without bias), with its
// parameters as this library's Parameters in MindSpore's layout and order. TensorFlow.js
// computes the forward pass and the gradients.

const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-layers'); // registers tfjs-core's gradient functions
require('@tensorflow/tfjs-backend-cpu');
const { Parameter } = require('../..');

// PROD silences tfjs's warnings, among them the one-time hint to install tfjs-node, which this
// demo must not use (its install downloads a binary).
tf.env().set('PROD', true);

// Names, shapes and layouts as MindSpore's LeNet5: convolution kernels [out, in, kh, kw].
const SHAPES = [
  ['conv1.weight', [6, 1, 5, 5]],
  ['conv2.weight', [16, 6, 5, 5]],
  ['fc1.weight', [120, 400]],
  ['fc1.bias', [120]],
  ['fc2.weight', [84, 120]],
  ['fc2.bias', [84]],
  ['fc3.weight', [10, 84]],
  ['fc3.bias', [10]],
];

// A seeded generator, so every run starts from the same weights.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The network's Parameters in MindSpore's order, He-uniform weights and zero biases. */
function createParameters(seed = 1) {
  const rand = random(seed);
  return SHAPES.map(([name, shape]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('.weight')) {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const limit = Math.sqrt(6 / fanIn);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rand() - 1) * limit;
    }
    return new Parameter(data, name, { shape });
  });
}

// im2col indices of a valid 5×5 convolution over an [h, w, c] image, cached per shape.
const patchIndices = new Map();
function indices(h, w, c) {
  const key = `${h},${w},${c}`;
  if (!patchIndices.has(key)) {
    const oh = h - 4;
    const ow = w - 4;
    const idx = new Int32Array(oh * ow * 25 * c);
    let n = 0;
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) for (let ch = 0; ch < c; ch++) idx[n++] = ((y + i) * w + (x + j)) * c + ch;
    patchIndices.set(key, tf.keep(tf.tensor1d(idx, 'int32')));
  }
  return patchIndices.get(key);
}

/**
 * A valid 5×5 convolution of x [b, h, w, cin] by a kernel in MindSpore's layout [cout, cin, 5, 5].
 * Forward: the backend's Conv2D. Backward: the kernel gradient as patchesᵀ·dy (im2col through one
 * gather, then a matrix product) and the input gradient by Conv2DBackpropInput, because the CPU
 * backend's Conv2DBackpropFilter is ~30× slower (measured: 40 ms of the 57 ms per digit).
 */
function conv5x5(x, kernel, needInputGradient) {
  return tf.customGrad((input, k, save) => {
    save([input, k]);
    const [cout, cin] = k.shape;
    const hwio = tf.transpose(k, [2, 3, 1, 0]); // [5, 5, cin, cout]
    return {
      value: tf.conv2d(input, hwio, 1, 'valid'),
      gradFunc: (dy, [xs, ks]) => {
        const [b, h, w, c] = xs.shape;
        const rows = b * (h - 4) * (w - 4);
        const patches = tf.reshape(tf.gather(tf.reshape(xs, [b, h * w * c]), indices(h, w, c), 1), [rows, 25 * cin]);
        const dHwio = tf.reshape(tf.matMul(patches, tf.reshape(dy, [rows, cout]), true, false), [5, 5, cin, cout]);
        const dKernel = tf.transpose(dHwio, [3, 2, 0, 1]);
        const dInput = needInputGradient
          ? tf.conv2dTranspose(dy, tf.transpose(ks, [2, 3, 1, 0]), xs.shape, 1, 'valid')
          : tf.zerosLike(xs);
        return [dInput, dKernel];
      },
    };
  })(x, kernel);
}

/** Logits [b, 10] of images [b, 28, 28, 1] (padded to 32×32 as MindSpore's example resizes). */
function forward(v, images) {
  let h = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]]);
  h = tf.maxPool(tf.relu(conv5x5(h, v['conv1.weight'], false)), 2, 2, 'valid');
  h = tf.maxPool(tf.relu(conv5x5(h, v['conv2.weight'], true)), 2, 2, 'valid');
  // MindSpore flattens [b, c, h, w]: transpose so fc1's columns follow its layout.
  h = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [-1, 400]);
  const dense = (x, name) => tf.add(tf.matMul(x, v[`${name}.weight`], false, true), v[`${name}.bias`]);
  h = tf.relu(dense(h, 'fc1'));
  h = tf.relu(dense(h, 'fc2'));
  return dense(h, 'fc3');
}

module.exports = { tf, createParameters, forward, conv5x5 };
