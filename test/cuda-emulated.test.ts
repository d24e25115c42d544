/**
 * device: 'cuda' through the host emulator of the plugin interface (cuda/emulator/): the
 * addon's whole device path (dlopen, device memory, page-locked staging, parameter sync, state
 * transfers, checkpoints, device buffers) on machines without a GPU. The emulator tracks device
 * allocations and defers enqueued work to synchronize, so a wrong pointer kind or a missing
 * synchronize fails these tests as it would fail on a GPU. The CUDA kernels themselves are
 * tested by cuda-gpu.test.ts and the plugin test program on a GPU.
 */
import { EMULATOR } from './fixtures/use-cuda-emulator';
import { cudaAvailable } from '../lib';
import { cudaInfo } from '../lib/cuda';
import { defineDeviceSuite } from './cuda-suite';

test('the emulator plugin loads and reports itself', () => {
  expect(cudaInfo()).toEqual({ available: true, library: EMULATOR, device: expect.stringMatching(/emulator/) });
  expect(cudaAvailable()).toBe(true);
});

describe('device cuda (host emulator)', () => {
  defineDeviceSuite();
});
