#!/usr/bin/env node
// npm run bench -- --cuda [--quick] [--emulator]
//
// The GPU benchmark: runs build-cuda/cuda_bench (cuda/bench/cuda_bench.cc; built with
// `npm run build:cuda` when missing) against the CUDA plugin, or with --emulator against the host
// emulator (to check the program where there is no GPU: its figures say nothing about a GPU).
// Reports GB/s of the step and % of a device-to-device copy measured in the same run, for 1e6,
// 1e7, 1e8 elements and 2000 tensors × 500, and the whole device: 'cuda' step with host
// gradients. Writes bench/results/cuda-latest.md; says so and exits 0 without a GPU.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { flag } = require('./harness');

function main() {
  const root = path.join(__dirname, '..');
  const program = path.join(root, 'build-cuda', 'cuda_bench');
  if (!fs.existsSync(program)) {
    console.log('> npm run build:cuda');
    execFileSync('npm', ['run', 'build:cuda'], { cwd: root, stdio: 'inherit' });
  }
  if (!fs.existsSync(program)) {
    console.log('CUDA benchmark skipped: no CUDA compiler was found, so the CUDA plugin is not built.');
    return;
  }
  const plugin = flag('emulator')
    ? path.join(root, 'build', 'emulator', 'librmsprop_cuda_emulator.so')
    : path.join(root, 'build-cuda', 'librmsprop_cuda.so');
  const args = [plugin, ...(flag('quick') ? ['--quick'] : [])];
  const result = spawnSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(result.stdout ?? '');
  if (result.status === 77) {
    console.log('CUDA benchmark skipped: no usable GPU.');
    return;
  }
  if (result.status !== 0) throw new Error(`cuda_bench failed with status ${result.status}`);
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, flag('emulator') ? 'cuda-emulator-latest.md' : 'cuda-latest.md');
  fs.writeFileSync(file, result.stdout);
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}

module.exports = { main };
if (require.main === module) main();
