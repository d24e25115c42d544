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

/**
 * Times several methods on the same arrays, interleaved round by round (so slow drift of a
 * shared machine hits all alike), and returns each one's median ns per call. A method is
 * { name, run, async?, before? }: `before` runs ahead of each of its samples (e.g. setting the
 * thread count); sync samples are batches of at least ~1 ms.
 */
async function measureInterleaved(methods, { budgetNs, maxSamples }) {
  const once = async (m) => {
    const start = process.hrtime.bigint();
    if (m.async) await m.run();
    else m.run();
    return Number(process.hrtime.bigint() - start);
  };
  let roundNs = 0;
  for (const m of methods) {
    m.before?.();
    await once(m); // warm-up
    const first = Math.max(await once(m), 50);
    m.batch = m.async ? 1 : Math.max(1, Math.ceil(1e6 / first));
    m.samples = [];
    roundNs += first * m.batch;
  }
  const rounds = Math.max(3, Math.min(maxSamples, Math.floor(budgetNs / roundNs)));
  for (let r = 0; r < rounds; r++) {
    for (const m of methods) {
      m.before?.();
      const start = process.hrtime.bigint();
      for (let b = 0; b < m.batch; b++) {
        if (m.async) await m.run();
        else m.run();
      }
      m.samples.push(Number(process.hrtime.bigint() - start) / m.batch);
    }
  }
  return Object.fromEntries(methods.map((m) => [m.name, median(m.samples)]));
}

/** A float32 gradient of n elements with small varied values. */
function gradient(n, Type = Float32Array) {
  const g = new Type(n);
  for (let i = 0; i < n; i++) g[i] = Math.sin(i) * 0.01;
  return g;
}

module.exports = { numberArg, flag, median, timeSync, timeAsync, gradient, measureInterleaved };
