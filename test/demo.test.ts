/** The LeNet-5 demo: its convolution gradients, and a short run end to end (the full run: npm run demo). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const { tf, conv5x5 } = require('../examples/lenet/model');

const root = path.join(__dirname, '..');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it("the im2col convolution's gradients equal TensorFlow.js's own conv2d gradients", () => {
  const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1);
  const k = tf.variable(tf.randomNormal([4, 3, 5, 5], 0, 1, 'float32', 2));
  const builtin = (xx: unknown) => tf.sum(tf.square(tf.conv2d(xx, tf.transpose(k, [2, 3, 1, 0]), 1, 'valid')));
  const ours = (xx: unknown) => tf.sum(tf.square(conv5x5(xx, k, true)));
  const kernelGrad = (f: (xx: unknown) => unknown) => tf.variableGrads(() => f(x), [k]).grads[k.name];
  const close = (a: { sub: unknown }, b: unknown) => {
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    const scale = tf.max(tf.abs(b)).dataSync()[0];
    expect(diff).toBeLessThanOrEqual(1e-5 * scale);
  };
  close(kernelGrad(ours), kernelGrad(builtin));
  close(tf.grad(ours)(x), tf.grad(builtin)(x));
});

it('trains end to end on a thousand digits: learns (test accuracy >= 0.3, chance is 0.1), writes its chart', () => {
  // 63 steps; this budget reaches ~0.54 (the run is deterministic: seeded weights and data order).
  const out = execFileSync(process.execPath, [path.join(root, 'examples', 'lenet-mnist.js'), '--epochs', '2', '--train', '1000', '--test', '200', '--batch-size', '32'], {
    encoding: 'utf8',
    cwd: root,
  });
  const accuracy = Number(/^test accuracy: ((?:0|1)\.\d{4})$/m.exec(out)?.[1]);
  expect(accuracy).toBeGreaterThanOrEqual(0.3);
  const chart = /chart of loss and accuracy per step: (.*\.svg)/.exec(out)![1];
  expect(fs.readFileSync(path.join(root, chart), 'utf8')).toContain('<polyline');
  expect(out).toMatch(/optimizer \d+\.\d+ s/);
}, 180_000);

it('trains data-parallel with --workers 2: each worker half of every batch, the same accuracy as one worker', () => {
  const run = (workers: number) =>
    execFileSync(process.execPath, [path.join(root, 'examples', 'lenet-mnist.js'), '--epochs', '2', '--train', '1000', '--test', '200', '--batch-size', '32', '--workers', String(workers)], {
      encoding: 'utf8',
      cwd: root,
    });
  const accuracyOf = (out: string) => Number(/^test accuracy: ((?:0|1)\.\d{4})$/m.exec(out)?.[1]);
  const two = run(2);
  expect(two).toMatch(/2 workers, each 16-16 digits of every batch/);
  expect(two).toMatch(/^worker 0: gradients \(TensorFlow\.js\) \d+\.\d s, optimizer with exchange \d+\.\d+ s, state \d+ bytes$/m);
  expect(two).toMatch(/^worker 1: gradients/m);
  expect(two).toMatch(/^training time: \d+\.\d s \(2 workers\)$/m);
  const one = run(1);
  expect(one).toMatch(/^training time: \d+\.\d s \(1 worker\)$/m);
  // The same global batch and schedule: the arithmetic differs only in the rounding of the mean.
  expect(Math.abs(accuracyOf(two) - accuracyOf(one))).toBeLessThanOrEqual(0.02);
  expect(accuracyOf(two)).toBeGreaterThanOrEqual(0.3);
}, 180_000);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const mpirun: boolean = require('../scripts/on-path').onPath('mpirun');
(mpirun ? it : it.skip)(`trains with --mpi 2 under mpirun: the same accuracy as --workers 2${mpirun ? '' : ' (not run: install openmpi-bin)'}`, () => {
  const run = (...how: string[]) =>
    execFileSync(process.execPath, [path.join(root, 'examples', 'lenet-mnist.js'), '--epochs', '2', '--train', '1000', '--test', '200', '--batch-size', '32', ...how], {
      encoding: 'utf8',
      cwd: root,
    });
  const accuracyOf = (out: string) => Number(/^test accuracy: ((?:0|1)\.\d{4})$/m.exec(out)?.[1]);
  const mpi = run('--mpi', '2');
  expect(mpi).toMatch(/2 MPI ranks, each 16-16 digits of every batch/);
  expect(mpi).toMatch(/^MPI rank 1: gradients \(TensorFlow\.js\) \d+\.\d s, optimizer with exchange \d+\.\d+ s, state \d+ bytes$/m);
  expect(mpi).toMatch(/^training time: \d+\.\d s \(2 MPI ranks\)$/m);
  // Two ranks: the float32 sum of two gradients has one rounding, as the workers' mean: the same run.
  expect(accuracyOf(mpi)).toBe(accuracyOf(run('--workers', '2')));
}, 180_000);
