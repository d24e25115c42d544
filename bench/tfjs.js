'use strict';
// TensorFlow.js baseline: tf.train.rmsprop on the pure-JavaScript CPU backend
// (@tensorflow/tfjs-backend-cpu; never tfjs-node, whose install downloads a binary).

let tf;
async function loadTfjs() {
  if (tf !== undefined) return tf;
  try {
    tf = require('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-cpu');
    // PROD silences tfjs's warnings, among them the one-time hint to install tfjs-node, which
    // is not an option here (its install downloads a binary).
    tf.env().set('PROD', true);
    await tf.setBackend('cpu');
  } catch {
    tf = null;
  }
  return tf;
}

/**
 * An object whose step() runs one tf.train.rmsprop update of float32 variables with the given
 * sizes, or null when TensorFlow.js is not installed.
 */
async function makeTfjsStep(sizes, h, centered) {
  const t = await loadTfjs();
  if (!t) return null;
  const variables = sizes.map((n) => t.variable(t.fill([n], 0.5)));
  const grads = sizes.map((n, i) => ({ name: variables[i].name, tensor: t.fill([n], 0.01) }));
  const optimizer = t.train.rmsprop(h.lr, h.decay, h.momentum, h.epsilon, centered);
  return {
    step() {
      optimizer.applyGradients(grads);
      variables[0].dataSync(); // wait for the backend to finish
    },
    dispose() {
      optimizer.dispose();
      for (const v of variables) v.dispose();
      for (const g of grads) g.tensor.dispose();
    },
  };
}

module.exports = { makeTfjsStep };
