/**
 * device: 'cuda' on a real GPU through the CUDA plugin (npm run build:cuda). Where the plugin is
 * not built or no usable GPU is present, every GPU test is reported as skipped, with the reason
 * in the suite's name and printed once.
 */
import { cudaInfo } from '../lib/cuda';
import { defineDeviceSuite } from './cuda-suite';

const info = cudaInfo();
const gpu = info.available && !/emulator/.test(info.device ?? '');
const reason = gpu ? '' : (info.reason ?? 'the plugin in use is the host emulator');

test('cudaInfo() says which GPU runs these tests, or why they are skipped', () => {
  if (gpu) {
    expect(info.device).toEqual(expect.any(String));
  } else {
    expect(reason.length).toBeGreaterThan(0);
    console.warn(`GPU tests skipped: ${reason}`);
  }
});

if (gpu) {
  describe(`device cuda on ${info.device}`, () => {
    defineDeviceSuite();
  });
} else {
  describe.skip(`device cuda on a GPU (skipped: ${reason})`, () => {
    defineDeviceSuite();
  });
}
