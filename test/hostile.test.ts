/** Hostile use never crashes the process: detached buffers, terminated workers, many workers, non-finite gradients. */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { Parameter, RMSProp, ValueError } from '../lib';

const root = path.join(__dirname, '..');

function detach(array: ArrayBufferView): void {
  const buffer = array.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
}

function evalWorker(code: string): Worker {
  return new Worker(`const root = ${JSON.stringify(root)};\n${code}`, { eval: true });
}

describe('detached buffers', () => {
  it('a transferred state buffer is a ValueError before anything is written', () => {
    const a = new Parameter(new Float32Array(4), 'a');
    const b = new Parameter(new Float64Array(4), 'b');
    const opt = new RMSProp([a, b]);
    detach(opt.state(b).moment);
    expect(() => opt.step([new Float32Array(4), new Float64Array(4)])).toThrow(ValueError);
    expect(opt.globalStep).toBe(0);
  });

  it('a transferred gradient is a ValueError, also on the reuse fast path', () => {
    const p = new Parameter(new Float32Array(4), 'p');
    const opt = new RMSProp([p]);
    const g = new Float32Array(4).fill(0.1);
    opt.step([g]);
    detach(g);
    expect(() => opt.step([g])).toThrow(ValueError);
    expect(opt.globalStep).toBe(1);
  });
});

describe('workers', () => {
  it('terminating a worker in the middle of stepAsync leaves this process running', async () => {
    for (const delay of [0, 1, 3, 10]) {
      const worker = evalWorker(`
        const { parentPort } = require('node:worker_threads');
        const { Parameter, RMSProp } = require(root);
        const p = new Parameter(new Float32Array(1 << 23), 'w');
        const opt = new RMSProp([p], { centered: true });
        const g = new Float32Array(1 << 23).fill(0.1);
        for (let i = 0; i < 8; i++) opt.stepAsync([g]);
        parentPort.postMessage('stepping');`);
      await new Promise((resolve) => worker.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, delay));
      await worker.terminate();
    }
    const p = new Parameter(new Float32Array(8), 'w');
    await new RMSProp([p]).stepAsync([new Float32Array(8).fill(1)]);
    expect(p.data[0]).not.toBe(0);
  });

  it('loads in 8 workers at once, each of which may exit right away', async () => {
    const workers = Array.from({ length: 8 }, () =>
      evalWorker(`require('node:worker_threads').parentPort.postMessage(require(root).simdLevel())`),
    );
    const exits = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    const levels = await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    expect(new Set(levels).size).toBe(1);
    expect(await Promise.all(exits)).toEqual(new Array(8).fill(0));
  });
});

describe('non-finite gradients (documented in README)', () => {
  it('plain: NaN and ±Infinity propagate into the state and the parameter as the formulas say', () => {
    const p = new Parameter(new Float32Array([1, 1, 1]), 'w');
    const opt = new RMSProp([p], { momentum: 0 });
    opt.step([new Float32Array([NaN, Infinity, -Infinity])]);
    const s = opt.state(p);
    expect(Number.isNaN(s.meanSquare[0]) && Number.isNaN(p.data[0])).toBe(true);
    // g = ±inf: s = inf, g/√s = inf/inf = NaN
    expect(s.meanSquare[1]).toBe(Infinity);
    expect(Number.isNaN(p.data[1]) && Number.isNaN(p.data[2])).toBe(true);
  });
});
