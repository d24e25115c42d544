/**
 * CUDA where it is not available (the plugin lookup forced to a missing file), the plugin
 * loader's failure modes, and the device methods of a CPU optimizer.
 */
import { MISSING } from './fixtures/no-cuda-plugin';
import path from 'node:path';

import { Parameter, RMSProp, cudaAvailable } from '../lib';
import { cudaInfo } from '../lib/native/cuda';
import { binding } from '../lib/native/native';
import { thrown } from './helpers';

const root = path.join(__dirname, '..');
const w = () => new Parameter(new Float32Array([1, 2, 3]), 'w');

describe('without the CUDA plugin', () => {
  it('cudaAvailable() is false and cudaInfo() says why', () => {
    expect(cudaAvailable()).toBe(false);
    expect(cudaInfo()).toEqual({ available: false, reason: expect.stringContaining(MISSING) });
    expect(cudaInfo().reason).toContain("'npx rmsprop-native-build --cuda' where the CUDA toolkit is installed, 'npm run build:cuda' in a checkout");
  });

  it("device: 'cuda' throws a clear Error (not a TypeError or ValueError) naming the reason", () => {
    const e = thrown(() => new RMSProp([w()], { device: 'cuda' }));
    expect(e.constructor).toBe(Error);
    expect(e.message).toContain('cudaAvailable() is false');
    expect(e.message).toContain('npx rmsprop-native-build --cuda');
    expect(e.message).toContain("device: 'cpu'");
  });
});

describe('the plugin loader', () => {
  it.each([
    ['a missing file', MISSING, /no such file|cannot open/i],
    ['a file that is not a library', path.join(root, 'package.json'), /invalid ELF|too short|not an ELF|file too short/i],
    ['a library without the plugin interface', path.join(root, 'build', 'Release', 'rmsprop_native.node'), /missing symbol rmsprop_cuda_abi_version/],
  ])('reports %s without throwing', (_what, file, message) => {
    const result = binding.cudaLoad(file);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(message);
  });

  it('refuses a non-string path without throwing', () => {
    expect(binding.cudaLoad(42 as unknown as string)).toMatchObject({ ok: false, error: 'path must be a string' });
  });

  it('an Optimizer over a bad plugin throws an Error, not a crash', () => {
    const p = new Float32Array(3);
    const plan = new Float64Array(binding.planLayout.headerSize + binding.planLayout.tensorStride);
    expect(() => new binding.Optimizer(MISSING, [p], [p.slice()], [p.slice()], null, plan, false, true, new Int32Array(1))).toThrow(
      /cannot load the CUDA plugin/,
    );
  });
});

describe('device methods on a CPU optimizer', () => {
  it('syncParameters, uploadParameters and dispose do nothing; the device-only ones throw', () => {
    const param = w();
    const opt = new RMSProp([param], { parameterSync: 'manual' });
    expect(opt.device).toBe('cpu');
    opt.step([new Float32Array([1, 1, 1])]);
    const after = param.data.slice();
    opt.syncParameters();
    opt.uploadParameters();
    opt.dispose();
    expect(param.data).toEqual(after);
    opt.step([new Float32Array([1, 1, 1])]); // dispose() does not apply to the CPU
    expect(thrown(() => opt.deviceBuffers()).message).toContain("needs device 'cuda'");
    expect(thrown(() => opt.stepDeviceGradients()).message).toContain("needs device 'cuda'");
    expect(opt.globalStep).toBe(2);
  });
});
