'use strict';
// Shared by the benchmark scripts: argument parsing and median timing.

/** The numeric value of `--name N` on the command line, else `fallback`. */
function numberArg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Whether `--name` is on the command line. */
function flag(name) {
  return process.argv.includes(`--${name}`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median nanoseconds of `samples` runs of `fn`, after one warm-up run. */
function timeSync(fn, samples) {
  fn();
  const ns = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  return median(ns);
}

/** Median nanoseconds of `samples` awaited runs of the async `fn`, after one warm-up run. */
async function timeAsync(fn, samples) {
  await fn();
  const ns = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  return median(ns);
}

/** A float32 gradient of n elements with small varied values. */
function gradient(n, Type = Float32Array) {
  const g = new Type(n);
  for (let i = 0; i < n; i++) g[i] = Math.sin(i) * 0.01;
  return g;
}

module.exports = { numberArg, flag, median, timeSync, timeAsync, gradient };
