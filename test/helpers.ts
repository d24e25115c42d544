/** Small helpers shared by the test suites. */

/** The error `fn` throws (fails the test when it throws nothing). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

/**
 * Defines the suites of `body` once per SIMD level this machine supports (the kernel level
 * forced for each), as the numeric tests run: `describe('on avx512', …)`, `describe('on avx2', …)`, ….
 */
export function eachLevel(body: (level: string) => void): void {
  // Required here, not imported at the top: helpers.ts serves suites that never load the addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { binding } = require('../lib/native/native') as typeof import('../lib/native/native');
  describe.each(binding.supportedSimdLevels())('on %s', (level) => {
    const initial = binding.simdLevel();
    beforeAll(() => {
      binding.setSimdLevel(level);
    });
    afterAll(() => {
      binding.setSimdLevel(initial);
    });
    body(level);
  });
}

/** Runs `run` with the kernel level forced to `level`, then restores the level in use before. */
export function onLevel(level: string, run: () => void): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { binding } = require('../lib/native/native') as typeof import('../lib/native/native');
  const initial = binding.simdLevel();
  binding.setSimdLevel(level);
  try {
    run();
  } finally {
    binding.setSimdLevel(initial);
  }
}
