/**
 * The optimizer's state under MindSpore's names (`mean_square.<name>`, `moment.<name>`,
 * `mean_grad.<name>`, `global_step`): building and checking state dicts, encoding them as
 * safetensors, and writing files atomically. Every check runs before anything is changed.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { typeError, ValueError } from '../base/errors';
import { decodeSafetensors, encodeSafetensors, type SafetensorsEntry } from './safetensors';
import type { ParameterState } from './state';
import { dtypeOf, stateDType, Tensor, type FloatArray, type AnyParameter } from '../base/tensor';

/** A state dict: `Tensor`s under `mean_square.<name>`, `moment.<name>`, `mean_grad.<name>`, and `global_step`. */
export type StateDict = Record<string, Tensor | number>;

export const GLOBAL_STEP = 'global_step';

/** One state buffer of one parameter, under its checkpoint name. */
export interface StateBuffer {
  readonly key: string;
  readonly dtype: 'float32' | 'float64';
  readonly shape: readonly number[];
  readonly array: FloatArray;
}

/**
 * The state buffers of `params` under MindSpore's names, in order (mean_grad when centered;
 * master.<name>, float32, with master weights), each of the state's dtype.
 */
export function stateBuffersOf(params: readonly AnyParameter[], states: readonly ParameterState[]): StateBuffer[] {
  return params.flatMap(({ dtype: own, shape, name }, i) => {
    const { meanSquare, moment, meanGrad, master } = states[i];
    const dtype = stateDType(own);
    return [
      { key: `mean_square.${name}`, dtype, shape, array: meanSquare },
      { key: `moment.${name}`, dtype, shape, array: moment },
      ...(meanGrad ? [{ key: `mean_grad.${name}`, dtype, shape, array: meanGrad }] : []),
      ...(master ? [{ key: `master.${name}`, dtype: 'float32' as const, shape, array: master }] : []),
    ];
  });
}

/**
 * What loading found: one source array per state buffer (same order), the global step, and the
 * extra scalars asked for (finite numbers; their meaning is checked by their owner).
 */
export interface LoadedState {
  readonly sources: readonly FloatArray[];
  readonly globalStep: number;
  readonly extras: Readonly<Record<string, number>>;
}

/** Scalars saved beside the global step (a dynamic loss scaler's counters), by name. */
export type ExtraScalars = Readonly<Record<string, number>>;

function checkExtra(key: string, value: unknown, where: string): number {
  if (typeof value !== 'number') throw typeError(OWNER, key, 'a number', value);
  if (!Number.isFinite(value)) throw new ValueError(`For '${OWNER}', the '${key}' in ${where} must be a finite number, but got ${value}.`);
  return value;
}

const OWNER = 'RMSProp';
const SAFETENSORS_DTYPE = { float32: 'F32', float64: 'F64' } as const;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkGlobalStep(value: number, where: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ValueError(`For '${OWNER}', the '${GLOBAL_STEP}' in ${where} must be a non-negative integer, but got ${value}.`);
  }
  return value;
}

// Exactly the expected names, no more and no fewer.
function checkNames(expected: readonly StateBuffer[], extraKeys: readonly string[], given: Iterable<string>, where: string): void {
  checkKeys([...expected.map((b) => b.key), GLOBAL_STEP, ...extraKeys], given, where);
}

/** Throws a `ValueError` naming what is missing and what is extra unless `given` holds exactly `wanted`. */
export function checkKeys(wantedKeys: Iterable<string>, given: Iterable<string>, where: string): void {
  const wanted = new Set(wantedKeys);
  const present = new Set(given);
  const missing = [...wanted].filter((k) => !present.has(k));
  const extra = [...present].filter((k) => !wanted.has(k));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length ? `missing ${missing.map((k) => `'${k}'`).join(', ')}` : '',
      extra.length ? `unexpected ${extra.map((k) => `'${k}'`).join(', ')}` : '',
    ].filter(Boolean);
    throw new ValueError(`For '${OWNER}', the ${where} does not match this optimizer's state: ${parts.join('; ')}.`);
  }
}

/** Copies of every state buffer, plus the global step and the extra scalars. */
export function buildStateDict(buffers: readonly StateBuffer[], globalStep: number, extras: ExtraScalars = {}): StateDict {
  const dict: StateDict = {};
  for (const b of buffers) dict[b.key] = new Tensor(b.array.slice(), b.shape);
  dict[GLOBAL_STEP] = globalStep;
  Object.assign(dict, extras);
  return dict;
}

/** Checks a state dict against the buffers (names, dtypes, shapes) without changing anything. */
export function readStateDict(buffers: readonly StateBuffer[], dict: unknown, extraKeys: readonly string[] = []): LoadedState {
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw typeError(OWNER, 'stateDict', 'an object of Tensors and a global_step', dict);
  }
  const entries = dict as Record<string, unknown>;
  checkNames(buffers, extraKeys, Object.keys(entries), 'state dict');
  const sources = buffers.map((b) => {
    const value = entries[b.key];
    const data = value instanceof Tensor ? value.data : value;
    const dtype = dtypeOf(data);
    if (dtype === undefined) throw typeError(OWNER, b.key, `a ${b.dtype} Tensor or typed array`, value);
    if (dtype !== b.dtype) throw new ValueError(`For '${OWNER}', the '${b.key}' must be ${b.dtype}, but got ${dtype}.`);
    const shape = value instanceof Tensor ? value.shape : [(data as FloatArray).length];
    const fits = value instanceof Tensor ? sameShape(shape, b.shape) : (data as FloatArray).length === b.array.length;
    if (!fits) {
      throw new ValueError(`For '${OWNER}', the '${b.key}' must have shape [${b.shape.join(', ')}], but got [${shape.join(', ')}].`);
    }
    return data as FloatArray;
  });
  const step = entries[GLOBAL_STEP];
  if (typeof step !== 'number') throw typeError(OWNER, GLOBAL_STEP, 'a number', step);
  const extras = Object.fromEntries(extraKeys.map((key) => [key, checkExtra(key, entries[key], 'the state dict')]));
  return { sources, globalStep: checkGlobalStep(step, 'the state dict'), extras };
}

function bytesOf(array: FloatArray | BigInt64Array | Float64Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** The state as a safetensors file's bytes. */
export function encodeState(buffers: readonly StateBuffer[], globalStep: number, extras: ExtraScalars = {}): Buffer {
  const entries = new Map<string, SafetensorsEntry>();
  for (const b of buffers) {
    entries.set(b.key, { dtype: SAFETENSORS_DTYPE[b.dtype], shape: b.shape, bytes: bytesOf(b.array) });
  }
  entries.set(GLOBAL_STEP, { dtype: 'I64', shape: [], bytes: bytesOf(BigInt64Array.of(BigInt(globalStep))) });
  for (const [key, value] of Object.entries(extras)) {
    entries.set(key, { dtype: 'F64', shape: [], bytes: bytesOf(Float64Array.of(value)) });
  }
  return encodeSafetensors(entries, { format: 'pt', producer: 'rmsprop-native' });
}

/** Decodes and checks a safetensors file against the buffers without changing anything. */
export function decodeState(buffers: readonly StateBuffer[], file: Uint8Array, source: string, extraKeys: readonly string[] = []): LoadedState {
  const entries = decodeSafetensors(file, source);
  checkNames(buffers, extraKeys, entries.keys(), `file ${source}`);
  const sources = buffers.map((b) => {
    const e = entries.get(b.key)!;
    if (e.dtype !== SAFETENSORS_DTYPE[b.dtype] || !sameShape(e.shape, b.shape)) {
      throw new ValueError(
        `For '${OWNER}', the '${b.key}' in ${source} must be ${SAFETENSORS_DTYPE[b.dtype]} [${b.shape.join(', ')}], ` +
          `but got ${e.dtype} [${e.shape.join(', ')}].`,
      );
    }
    const copy = b.dtype === 'float32' ? new Float32Array(b.array.length) : new Float64Array(b.array.length);
    new Uint8Array(copy.buffer).set(e.bytes); // copies: the file's bytes need not be aligned
    return copy;
  });
  const step = entries.get(GLOBAL_STEP)!;
  if (step.dtype !== 'I64' || step.shape.reduce((a, b) => a * b, 1) !== 1) {
    throw new ValueError(`For '${OWNER}', the '${GLOBAL_STEP}' in ${source} must be one I64, but got ${step.dtype} [${step.shape.join(', ')}].`);
  }
  const value = Buffer.from(step.bytes).readBigInt64LE(0);
  const extras = Object.fromEntries(
    extraKeys.map((key) => {
      const e = entries.get(key)!;
      if (e.dtype !== 'F64' || e.shape.reduce((a, b) => a * b, 1) !== 1) {
        throw new ValueError(`For '${OWNER}', the '${key}' in ${source} must be one F64, but got ${e.dtype} [${e.shape.join(', ')}].`);
      }
      return [key, checkExtra(key, Buffer.from(e.bytes).readDoubleLE(0), source)];
    }),
  );
  return { sources, globalStep: checkGlobalStep(Number(value), source), extras };
}

/** Replaces the buffers' contents with loaded ones (after every check has passed). */
export function applyLoadedState(buffers: readonly StateBuffer[], loaded: LoadedState): void {
  buffers.forEach((b, i) => b.array.set(loaded.sources[i]));
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over `file`, so a crash never leaves a half-written file under that name.
 */
export async function writeFileAtomically(file: string, data: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temporary, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.rm(temporary, { force: true });
    throw e;
  }
  await handle.close();
  try {
    await fs.rename(temporary, file);
  } catch (e) {
    await fs.rm(temporary, { force: true });
    throw e;
  }
  // Make the rename itself durable where the platform allows syncing a directory.
  const dirHandle = await fs.open(dir, 'r').catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
  }
}

/** Reads a checkpoint file; a missing or unreadable one is a `ValueError`. */
export async function readCheckpointFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ValueError(`For '${OWNER}', the checkpoint file ${file} cannot be read (${code}): ${(e as Error).message}`);
  }
}
