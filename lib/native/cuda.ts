/**
 * Finding and loading the CUDA plugin (`librmsprop_cuda.so`, built by `npx rmsprop-native-build --cuda`
 * in an installed package, `npm run build:cuda` in a checkout).
 * The main addon never links CUDA: the plugin is loaded with dlopen on the first use of
 * `device: 'cuda'` (or of `cudaAvailable()` / `cudaInfo()`).
 */
import fs from 'node:fs';
import path from 'node:path';

import { binding, packageRoot } from './native';

/** What `cudaInfo()` reports. */
export interface CudaInfo {
  /** Whether `device: 'cuda'` can be used: the plugin loaded and a usable GPU was found. */
  readonly available: boolean;
  /** The plugin file that was loaded (or tried), if one was found. */
  readonly library?: string;
  /** The GPU's name, when available. */
  readonly device?: string;
  /** Why CUDA is not available, when it is not. */
  readonly reason?: string;
}

const PLUGIN_FILE = 'librmsprop_cuda.so';

/** Where the plugin is looked for: `RMSPROP_CUDA_LIBRARY` alone when set, else the build and prebuild folders. */
function candidates(): string[] {
  const forced = process.env.RMSPROP_CUDA_LIBRARY;
  if (forced) return [path.resolve(forced)];
  return [
    path.join(packageRoot, 'build-cuda', PLUGIN_FILE),
    path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, PLUGIN_FILE),
  ];
}

let probed: CudaInfo | undefined;

function probe(): CudaInfo {
  if (process.platform !== 'linux') {
    return { available: false, reason: `the CUDA plugin is built for Linux only (this is ${process.platform})` };
  }
  const places = candidates();
  const library = places.find((p) => fs.existsSync(p));
  if (!library) {
    return {
      available: false,
      reason: `the CUDA plugin is not built (run 'npx rmsprop-native-build --cuda' where the CUDA toolkit is installed, 'npm run build:cuda' in a checkout; looked for ${places.join(', ')})`,
    };
  }
  const loaded = binding.cudaLoad(library);
  if (!loaded.ok) return { available: false, library, reason: `${library}: ${loaded.error}` };
  return { available: true, library, device: loaded.name };
}

/**
 * Where CUDA stands in this process: whether `device: 'cuda'` works, the plugin file and the
 * GPU, or why not. Probed once (loading the plugin if it is found). Never throws.
 */
export function cudaInfo(): CudaInfo {
  if (!probed) {
    try {
      probed = Object.freeze(probe());
    } catch (e) {
      probed = Object.freeze({ available: false, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return probed;
}

/** Whether the CUDA plugin is built and a usable GPU is present. Never throws. */
export function cudaAvailable(): boolean {
  return cudaInfo().available;
}
