/**
 * A reduced soak test (the full one: `node --expose-gc bench/soak.js`, 1e5 steps per segment):
 * after a warm-up and a first segment in which allocators settle, a second segment of steps,
 * sync and async, must not grow the resident set by 1 MB or more (a leak of ~17 bytes per step
 * would). Segments of 6e4 steps: with 2e4, the async case's settling of libuv's malloc arenas
 * alone sometimes reached 1.3 MB (growth that does not scale with the step count: not a leak).
 * Runs in a child process with --expose-gc.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const script = path.join(__dirname, '..', 'bench', 'soak.js');

it.each(['--sync', '--async'])('%s steps do not leak', (mode) => {
  const out = execFileSync(process.execPath, ['--expose-gc', script, '--steps', '60000', mode, '--json'], { encoding: 'utf8' });
  const { growth } = JSON.parse(out) as { growth: number[] };
  expect(growth[1]).toBeLessThan(1024 * 1024);
});
