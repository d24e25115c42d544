/**
 * device: 'cuda' on a real GPU through the CUDA plugin (built by `npm test` where nvcc exists, or
 * `npm run build:cuda`). Where the plugin is not built or no usable GPU is present, every GPU test
 * is reported as skipped, with the reason in the suite's name and printed once. A machine that
 * has an NVIDIA GPU (its driver's device files exist) and a built plugin that does not load there
 * fails instead: that is a broken plugin, not a missing GPU.
 */
import fs from 'node:fs';

import { cudaInfo } from '../lib/native/cuda';
import { defineDeviceSuite } from './cuda-suite';

const info = cudaInfo();
const emulator = info.available && /emulator/.test(info.device ?? '');
const gpu = info.available && !emulator;
/** An NVIDIA GPU seen without the plugin: the driver's device file or its list of GPUs. */
const gpuPresent =
  fs.existsSync('/dev/nvidia0') || (fs.existsSync('/proc/driver/nvidia/gpus') && fs.readdirSync('/proc/driver/nvidia/gpus').length > 0);
const reason = gpu ? '' : emulator ? 'the plugin in use is the host emulator' : (info.reason ?? '');

test('cudaInfo() says which GPU runs these tests, or why they are skipped', () => {
  if (gpu) {
    expect(info.device).toMatch(/\S/);
  } else {
    if (!emulator) expect(info.reason).toMatch(/\S/);
    console.warn(`GPU tests skipped: ${reason}`);
  }
});

if (gpuPresent && info.library && !emulator) {
  test(`a built plugin loads on this machine with an NVIDIA GPU (${info.library})`, () => {
    expect({ available: info.available, reason: info.reason }).toEqual({ available: true, reason: undefined });
  });
}

if (gpu) {
  describe(`device cuda on ${info.device}`, () => {
    defineDeviceSuite();
  });
} else {
  describe.skip(`device cuda on a GPU (skipped: ${reason})`, () => {
    defineDeviceSuite();
  });
}
