/**
 * device: 'cuda' through the host emulator of the plugin interface (cuda/emulator/): the
 * addon's whole device path (dlopen, device memory, page-locked staging, parameter sync, state
 * transfers, checkpoints, device buffers) on machines without a GPU. The emulator tracks device
 * allocations and defers enqueued work to synchronize, so a wrong pointer kind or a missing
 * synchronize fails these tests as it would fail on a GPU. The CUDA kernels themselves are
 * tested by cuda-gpu.test.ts and the plugin test program on a GPU.
 */
import { EMULATOR } from './fixtures/use-cuda-emulator';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients of tfjs-core's ops

import { Parameter, RMSProp, cudaAvailable } from '../lib';
import { TfjsRMSProp } from '../lib/tfjs';
import { cudaInfo } from '../lib/native/cuda';
import { defineDeviceSuite } from './cuda-suite';

test('the emulator plugin loads and reports itself', () => {
  expect(cudaInfo()).toEqual({ available: true, library: EMULATOR, device: expect.stringMatching(/emulator/) });
  expect(cudaAvailable()).toBe(true);
});

describe('device cuda (host emulator)', () => {
  defineDeviceSuite();
});

test('terminating a worker in the middle of a device stepAsync leaves this process running', async () => {
  const root = path.join(__dirname, '..');
  for (const delay of [0, 1, 5]) {
    // The worker gets RMSPROP_CUDA_LIBRARY (the emulator) through its env (jest's process.env is its own copy).
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
      const { Parameter, RMSProp } = require(${JSON.stringify(root)});
      const p = new Parameter(new Float32Array(1 << 18), 'w');
      const opt = new RMSProp([p], { centered: true, device: 'cuda' });
      const g = new Float32Array(1 << 18).fill(0.1);
      for (let i = 0; i < 4; i++) opt.stepAsync([g]);
      parentPort.postMessage('stepping');`,
      { eval: true, env: { ...process.env } },
    );
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, delay));
    await worker.terminate();
  }
  const p = new Parameter(new Float32Array(8), 'w');
  const opt = new RMSProp([p], { device: 'cuda' });
  await opt.stepAsync([new Float32Array(8).fill(1)]);
  expect(p.data[0]).not.toBe(0);
  opt.dispose();
});

test("TfjsRMSProp with device 'cuda' follows the CPU trajectory", async () => {
  await tf.setBackend('cpu');
  const run = (device: 'cpu' | 'cuda') => {
    const x = tf.tensor2d([[1, 2], [3, 4], [5, -6], [0.5, 0.25]]);
    const y = tf.tensor2d([[1], [0], [-1], [2]]);
    const w = tf.variable(tf.tensor2d([[0.1], [-0.2]]), true, `${device}/w`);
    const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.matMul(x, w), y))) as tf.Scalar);
    const optimizer = new TfjsRMSProp({ learningRate: 0.01, centered: true, momentum: 0.5, device });
    for (let k = 0; k < 5; k++) optimizer.minimize(loss);
    expect(optimizer.rmsprop!.device).toBe(device);
    return Array.from(w.dataSync());
  };
  const cpu = run('cpu');
  const cuda = run('cuda');
  cuda.forEach((v, i) => expect(Math.abs(v - cpu[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(cpu[i]))));
  // The weights moved from where they started (their float32 values).
  cuda.forEach((v, i) => expect(v).not.toBe(Math.fround([0.1, -0.2][i])));
});

test("the device forms 1 − ρ as the flavour's framework does (decayComplement), as the CPU", () => {
  for (const [flavor, expected] of [['pytorch', 0.0010000000474974513], ['mindspore', 0.0009999871253967285]] as const) {
    const p = new Parameter(new Float32Array([1, -1]), 'w');
    const opt = new RMSProp([p], { flavor, learningRate: 0.01, decay: 0.999, initialMeanSquare: 0, device: 'cuda' });
    opt.step([new Float32Array([1, 1])]);
    expect(opt.state(p).meanSquare[0]).toBe(expected);
    opt.dispose();
  }
});
