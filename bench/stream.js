'use strict';
// The same-pool memory-traffic limit: the bench addon (build/bench/rmsprop_bench.node: the addon's
// sources linked with the benchmark's kernel tables, whose update is bench/native/stream_update.h)
// stepping over the very same arrays, through the same chunks, thread pool and N-API calls as the
// real step. It has its own thread pool: set its threads. Built here, in the build folder that
// `npm run bench` has just brought up to date (cmake rebuilds only what changed).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
execFileSync('cmake', ['--build', path.join(root, 'build'), '--target', 'rmsprop_bench', '--parallel'], { stdio: ['ignore', 'ignore', 'inherit'] });
const bench = require(path.join(root, 'build', 'bench', 'rmsprop_bench.node'));

/**
 * A stream baseline over `params` (Parameters) and `states` (their optimizer state).
 * @returns {{ run(grads: ArrayLike<number>[]): void, setThreads(n: number): void }}
 */
function makeStream(params, states, centered) {
  const layout = bench.planLayout;
  const plan = new Float64Array(layout.headerSize + params.length * layout.tensorStride);
  const optimizer = new bench.Optimizer(
    null,
    params.map((p) => p.data),
    states.map((s) => s.meanSquare),
    states.map((s) => s.moment),
    centered ? states.map((s) => s.meanGrad) : null,
    plan,
    false,
    false,
    new Int32Array(1),
  );
  return { run: (grads) => optimizer.step(grads), setThreads: (n) => bench.setNumThreads(n) };
}

module.exports = { makeStream };
