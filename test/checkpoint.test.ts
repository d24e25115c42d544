/** stateDict / loadStateDict and safetensors saveState / loadState. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Parameter, RMSProp, Tensor, ValueError } from '../lib';
import { random, uniform, type Dtype } from './reference';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rmsprop-ckpt-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function model(seed = 1) {
  const rand = random(seed);
  const conv = new Parameter(uniform('float32', 2 * 3 * 2 * 2, rand, -1, 1), 'conv.weight', { shape: [2, 3, 2, 2] });
  const bias = new Parameter(uniform('float64', 5, rand, -1, 1), 'fc.bias');
  return [conv, bias];
}

function optimizer(params: Parameter[]) {
  return new RMSProp([{ params: [params[0]], gradCentralization: true, weightDecay: 0.01 }, { params: [params[1]], lr: (k: number) => 0.01 / (k + 1) }], {
    centered: true,
    momentum: 0.9,
  });
}

function gradients(params: readonly Parameter[], k: number) {
  const rand = random(100 + k);
  return params.map((p) => uniform(p.dtype as Dtype, p.size, rand, -1, 1));
}

function bits(p: Parameter[], opt: RMSProp, withParams = true): Buffer {
  const parts: Buffer[] = [];
  for (const x of p) {
    const s = opt.state(x);
    for (const a of [...(withParams ? [x.data] : []), s.meanSquare, s.moment, s.meanGrad!]) parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }
  return Buffer.concat(parts);
}

/** The optimizer state alone (loadState restores it, not the parameters). */
const stateBits = (p: Parameter[], opt: RMSProp) => bits(p, opt, false);

describe('stateDict', () => {
  it("uses MindSpore's names and returns copies", () => {
    const params = model();
    const opt = optimizer(params);
    opt.step(gradients(params, 0));
    const dict = opt.stateDict();
    expect(Object.keys(dict).sort()).toEqual(
      ['global_step', 'mean_grad.conv.weight', 'mean_grad.fc.bias', 'mean_square.conv.weight', 'mean_square.fc.bias', 'moment.conv.weight', 'moment.fc.bias'].sort(),
    );
    expect(dict.global_step).toBe(1);
    const ms = dict['mean_square.conv.weight'] as Tensor;
    expect(ms.shape).toEqual([2, 3, 2, 2]);
    expect(ms.dtype).toBe('float32');
    expect(Array.from(ms.data)).toEqual(Array.from(opt.state(params[0]).meanSquare));
    ms.data[0] = 42; // a copy
    expect(opt.state(params[0]).meanSquare[0]).not.toBe(42);
    const plain = new RMSProp([new Parameter([1], 'w')]);
    expect(Object.keys(plain.stateDict()).sort()).toEqual(['global_step', 'mean_square.w', 'moment.w']);
  });

  it('loadStateDict restores state and global step exactly', () => {
    const params = model();
    const opt = optimizer(params);
    for (let k = 0; k < 3; k++) opt.step(gradients(params, k));
    const dict = opt.stateDict();
    const other = optimizer(params);
    other.loadStateDict(dict);
    expect(other.globalStep).toBe(3);
    expect(bits(params, other)).toEqual(bits(params, opt));
  });

  it('rejects a mismatched dict and changes nothing', () => {
    const params = model();
    const opt = optimizer(params);
    opt.step(gradients(params, 0));
    const good = opt.stateDict();
    const before = bits(params, opt);
    const variants: [string, Record<string, unknown>, typeof TypeError | typeof ValueError][] = [
      ['a missing name', (() => { const d = { ...good }; delete d['moment.fc.bias']; return d; })(), ValueError],
      ['an extra name', { ...good, 'moment.other': new Tensor([1]) }, ValueError],
      ['another dtype', { ...good, 'moment.fc.bias': new Tensor(new Float32Array(5)) }, ValueError],
      ['another shape', { ...good, 'moment.conv.weight': new Tensor(new Float32Array(24), [24]) }, ValueError],
      ['a non-tensor', { ...good, 'moment.fc.bias': 'x' }, TypeError],
      ['a bad global step', { ...good, global_step: -1 }, ValueError],
      ['a non-number global step', { ...good, global_step: '1' }, TypeError],
    ];
    for (const [, dict, errorClass] of variants) {
      expect(() => opt.loadStateDict(dict as never)).toThrow(errorClass);
      expect(bits(params, opt)).toEqual(before);
      expect(opt.globalStep).toBe(1);
    }
  });
});

describe('saveState / loadState (safetensors)', () => {
  it('writes a valid safetensors file: header length, JSON header, contiguous little-endian data', async () => {
    const p = new Parameter(new Float32Array([1, 2]), 'w');
    const opt = new RMSProp([p]);
    opt.step([new Float32Array([0.5, -0.5])]);
    const file = path.join(dir, 'layout.safetensors');
    await opt.saveState(file);
    const bytes = await fs.readFile(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header['mean_square.w']).toEqual({ dtype: 'F32', shape: [2], data_offsets: [0, 8] });
    expect(header['moment.w']).toEqual({ dtype: 'F32', shape: [2], data_offsets: [8, 16] });
    expect(header.global_step).toEqual({ dtype: 'I64', shape: [], data_offsets: [16, 24] });
    expect(bytes.length).toBe(8 + n + 24);
    const data = bytes.subarray(8 + n);
    expect(data.readFloatLE(0)).toBe(opt.state(p).meanSquare[0]);
    expect(data.readFloatLE(12)).toBe(opt.state(p).moment[1]);
    expect(data.readBigInt64LE(16)).toBe(1n);
  });

  it('round-trips bit-exactly, and resumed training continues exactly as if never interrupted', async () => {
    const straight = model(3);
    const optStraight = optimizer(straight);
    for (let k = 0; k < 8; k++) optStraight.step(gradients(straight, k));

    const first = model(3);
    const optFirst = optimizer(first);
    for (let k = 0; k < 4; k++) optFirst.step(gradients(first, k));
    const file = path.join(dir, 'resume.safetensors');
    await optFirst.saveState(file);

    // A fresh process would rebuild the model from its own weights file; copy them here.
    const resumed = model(99);
    resumed.forEach((p, i) => p.data.set(first[i].data));
    const optResumed = optimizer(resumed);
    await optResumed.loadState(file);
    expect(optResumed.globalStep).toBe(4);
    expect(bits(resumed, optResumed)).toEqual(bits(first, optFirst));
    for (let k = 4; k < 8; k++) optResumed.step(gradients(resumed, k));
    expect(bits(resumed, optResumed)).toEqual(bits(straight, optStraight));
  });

  it('replaces an existing file atomically and leaves no temporary files', async () => {
    const params = model();
    const opt = optimizer(params);
    const file = path.join(dir, 'atomic.safetensors');
    await fs.writeFile(file, 'old contents');
    await opt.saveState(file);
    opt.step(gradients(params, 0));
    await opt.saveState(file);
    const other = optimizer(model());
    await other.loadState(file);
    expect(other.globalStep).toBe(1);
    expect((await fs.readdir(dir)).filter((f) => f.includes('atomic'))).toEqual(['atomic.safetensors']);
  });

  it('rejects a missing, truncated, corrupt or mismatched file with a ValueError and changes nothing', async () => {
    const params = model();
    const opt = optimizer(params);
    opt.step(gradients(params, 0));
    const file = path.join(dir, 'good.safetensors');
    await opt.saveState(file);
    const good = await fs.readFile(file);
    const n = Number(good.readBigUInt64LE(0));
    const header = JSON.parse(good.subarray(8, 8 + n).toString('utf8'));
    const withHeader = (h: unknown) => {
      const json = Buffer.from(JSON.stringify(h));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([length, json, good.subarray(8 + n)]);
    };
    const renamed = { ...header, 'moment.other': header['moment.fc.bias'] };
    delete renamed['moment.fc.bias'];
    const otherDtype = { ...header, 'moment.fc.bias': { ...header['moment.fc.bias'], dtype: 'F32', shape: [10] } };
    const otherShape = { ...header, 'moment.conv.weight': { ...header['moment.conv.weight'], shape: [24] } };
    const variants: [string, Buffer | null][] = [
      ['missing', null],
      ['empty', Buffer.alloc(0)],
      ['truncated header length', good.subarray(0, 5)],
      ['truncated data', good.subarray(0, good.length - 3)],
      ['header length past the end', Buffer.concat([Buffer.from([255, 255, 255, 0, 0, 0, 0, 0]), good.subarray(8)])],
      ['header not JSON', Buffer.concat([good.subarray(0, 8), Buffer.alloc(n, 0x7b), good.subarray(8 + n)])],
      ['extra bytes', Buffer.concat([good, Buffer.alloc(4)])],
      ['a name renamed', withHeader(renamed)],
      ['another dtype', withHeader(otherDtype)],
      ['another shape', withHeader(otherShape)],
      ['an unknown dtype', withHeader({ ...header, 'moment.fc.bias': { ...header['moment.fc.bias'], dtype: 'X9' } })],
    ];
    const before = bits(params, opt);
    for (const [label, content] of variants) {
      const target = path.join(dir, `bad-${label.replace(/\W+/g, '-')}.safetensors`);
      if (content) await fs.writeFile(target, content);
      await expect(opt.loadState(target)).rejects.toThrow(ValueError);
      expect(bits(params, opt)).toEqual(before);
      expect(opt.globalStep).toBe(1);
    }
  });

  it('rejects a non-string path with a TypeError', async () => {
    const opt = optimizer(model());
    await expect(opt.saveState(5 as never)).rejects.toThrow(TypeError);
    await expect(opt.loadState('' as never)).rejects.toThrow(TypeError);
  });
});

describe('checkpoints and stepAsync', () => {
  it('stateDict and loadStateDict refuse to run while a stepAsync is pending, and change nothing', async () => {
    const params = model();
    const opt = optimizer(params);
    opt.step(gradients(params, 0));
    const dict = opt.stateDict();
    const before = bits(params, opt);
    const pending = opt.stepAsync(gradients(params, 1));
    for (const call of [() => opt.loadStateDict(dict), () => opt.stateDict()]) {
      expect(call).toThrow(/cannot run while 1 asynchronous operation\(s\) \(stepAsync, saveState, loadState\) of this optimizer are pending/);
    }
    await pending;
    // The step applied on the state as it was; the refused load left no trace.
    const alone = model();
    const reference = optimizer(alone);
    reference.step(gradients(alone, 0));
    reference.step(gradients(alone, 1));
    expect(opt.globalStep).toBe(2);
    expect(bits(params, opt).equals(bits(alone, reference))).toBe(true);
    expect(bits(params, opt).equals(before)).toBe(false);
    opt.loadStateDict(dict); // idle again: allowed
    expect(opt.globalStep).toBe(1);
  });

  it('saveState and loadState wait for the stepAsync called before them, and a later stepAsync waits for them', async () => {
    const file = path.join(dir, 'queued.safetensors');
    const params = model();
    const opt = optimizer(params);
    // Not awaited in between: each operation runs after the earlier ones, in call order.
    const ops = [opt.stepAsync(gradients(params, 0)), opt.saveState(file), opt.stepAsync(gradients(params, 1)), opt.loadState(file)];
    await Promise.all(ops);
    const alone = model();
    const reference = optimizer(alone);
    reference.step(gradients(alone, 0));
    // The file holds the state after step 1; loading it after step 2 brings the state back there.
    expect(opt.globalStep).toBe(1);
    expect(stateBits(params, opt).equals(stateBits(alone, reference))).toBe(true);
    const then = opt.stepAsync(gradients(params, 5));
    const load = opt.loadState(file);
    await Promise.all([then, load]);
    expect(opt.globalStep).toBe(1); // the step ran first, then the load
  });
});
