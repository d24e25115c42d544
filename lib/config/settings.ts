/**
 * Process-wide settings of the native addon: the thread pool's size and the CPU kernel level.
 * They apply to every optimizer of the process, in every thread.
 */
import { typeError, valueError } from '../base/errors';
import { binding, type SimdLevel } from '../native/native';

/** The number of threads a step uses (the process-wide pool, the calling thread included). */
export function numThreads(): number {
  return binding.numThreads();
}

/**
 * Sets the number of threads steps use, process-wide (default: the number of hardware threads,
 * or the environment variable RMSPROP_THREADS). Results are bit-identical for every count.
 */
export function setNumThreads(threads: number): void {
  if (typeof threads !== 'number') throw typeError('setNumThreads', 'threads', 'an integer from 1 to 1024', threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw valueError('setNumThreads', 'threads', 'an integer from 1 to 1024', threads);
  }
  binding.setNumThreads(threads);
}

/** The CPU kernel level in use: `'avx512'`, `'avx2'`, `'sse2'`, `'neon'` or `'scalar'`. */
export function simdLevel(): SimdLevel {
  return binding.simdLevel();
}
