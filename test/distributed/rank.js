/**
 * One rank of test/distributed.test.ts, run by distributed.launch against the built package:
 * argv = [config JSON, output directory]. Builds the scenario's optimizer with the communicator,
 * steps, injects the configured fault, and writes what it saw to <output>/rank-<r>.json.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');

const config = JSON.parse(process.argv[2]);
const out = process.argv[3];
// device 'cuda' through the host emulator (cuda/emulator/), found before the package loads.
if (config.cudaLibrary) process.env.RMSPROP_CUDA_LIBRARY = config.cudaLibrary;

const pkg = require('../..');
const scenario = require('./scenario');

const hash = (params) => {
  const h = createHash('sha256');
  for (const p of params) h.update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  return h.digest('hex').slice(0, 16);
};

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function main() {
  const comm = await pkg.distributed.init(config.timeoutMs ? { timeoutMs: config.timeoutMs } : {});
  const result = { rank: comm.rank, size: comm.size, backend: comm.backend, returns: [], hashes: [] };
  const write = () => fs.writeFileSync(path.join(out, `rank-${comm.rank}.json`), JSON.stringify(result));
  const { params, input, options } = scenario.build(pkg, config, comm.rank);
  if (config.paramsFrom) {
    const saved = JSON.parse(fs.readFileSync(config.paramsFrom, 'utf8'));
    params.forEach((p, i) => p.data.set(saved[i]));
  }
  let opt;
  try {
    opt = new pkg.RMSProp(input, {
      ...options,
      communicator: comm,
      ...(config.shardState === undefined ? {} : { shardState: config.shardState }),
      ...(config.bucketBytes === undefined ? {} : { bucketBytes: config.bucketBytes }),
    });
  } catch (e) {
    result.error = { name: e.name, message: e.message };
    write();
    return;
  }
  result.stateBytes = opt.stateBytes;
  result.initialHash = hash(params);
  if (config.load) await opt.loadState(config.load);
  if (config.loadDict) {
    // A state dict as JSON (arrays of numbers): back to typed arrays of the parameters' state dtype.
    const json = JSON.parse(fs.readFileSync(config.loadDict, 'utf8'));
    const dict = Object.fromEntries(Object.entries(json).map(([k, v]) => [k, Array.isArray(v) ? Float32Array.from(v) : v]));
    opt.loadStateDict(dict);
  }
  const views = config.arena ? opt.gradientBuffers() : null;
  try {
    for (let step = config.from || 0; step < config.steps; step++) {
      const fault = (config.faults || []).find((f) => f.rank === comm.rank && f.step === step);
      if (fault && fault.kind === 'throw') throw new Error(`rank ${comm.rank} throws at step ${step} on purpose`);
      if (fault && fault.kind === 'exit') process.exit(fault.code);
      if (fault && fault.kind === 'kill') process.kill(process.pid, 'SIGKILL'); // MPI ranks only: a process that dies
      if (fault && fault.kind === 'sleep') sleep(fault.ms);
      let grads = scenario.gradients(config, comm.rank, step);
      if (fault && fault.kind === 'short') grads = [grads[0].subarray(1), ...grads.slice(1)];
      if (views) views.forEach((v, i) => v.set(grads[i]));
      const arg = views ? undefined : grads;
      result.returns.push(config.async ? await opt.stepAsync(arg) : opt.step(arg));
      result.hashes.push(hash(params));
      if (config.lossScales) (result.scales ||= []).push(opt.lossScale);
    }
  } catch (e) {
    result.error = { name: e.name, message: e.message, rank: e.rank };
    write();
    throw e;
  }
  if (config.save) await opt.saveState(config.save);
  if (config.stateDict) {
    const dict = opt.stateDict(config.stateDict === 'mindspore' ? undefined : { format: config.stateDict });
    result.stateDict = JSON.parse(JSON.stringify(dict, (_, v) => (v && v.data && v.shape ? Array.from(v.data) : ArrayBuffer.isView(v) ? Array.from(v) : v)));
  }
  result.globalStep = opt.globalStep;
  result.lossScale = opt.lossScale;
  result.params = params.map((p) => Array.from(p.data));
  write();
}

main().catch((e) => {
  throw e;
});
