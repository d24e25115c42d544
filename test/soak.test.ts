/**
 * A reduced soak test (the full one: `node --expose-gc bench/soak.js`, 1e5 steps per segment).
 * After a warm-up, three consecutive segments of 1e4, 3e4 and 9e4 steps, sync and async, each
 * measure the growth of the resident set. Allocators settling (libuv's malloc arenas alone once
 * reached 1.3 MB) does not scale with a segment's length; a leak does. So the test bounds the
 * growth per step between the shortest and the longest segment: under 32 bytes per step (a leak
 * of one small allocation per step, ≥ 32 bytes with malloc's overhead, shows as ≥ 2.5 MB more in
 * the longest segment). Runs in a child process with --expose-gc.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const script = path.join(__dirname, '..', 'bench', 'soak.js');

it.each(['--sync', '--async'])('%s steps do not leak: growth does not scale with the number of steps', (mode) => {
  const out = execFileSync(process.execPath, ['--expose-gc', script, '--segments', '10000,30000,90000', mode, '--json'], { encoding: 'utf8' });
  const { segments, growth, perStep } = JSON.parse(out) as { segments: number[]; growth: number[]; perStep: number };
  expect(segments).toEqual([10000, 30000, 90000]);
  expect(growth).toHaveLength(3);
  expect(perStep).toBeLessThan(32);
}, 180_000);
