/**
 * The safetensors format (as read by Python's `safetensors`): an 8-byte little-endian header
 * length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }`
 * padded with spaces, then the tensors' bytes, contiguous, little-endian.
 */
import { ValueError } from '../base/errors';

export type SafetensorsDtype = 'F32' | 'F64' | 'I64';

export interface SafetensorsEntry {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The raw little-endian bytes. */
  readonly bytes: Uint8Array;
}

const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, I64: 8 };
const HEADER_ALIGN = 8;
const MAX_HEADER = 100 * 1024 * 1024; // safetensors' own limit

/** Serialises entries (in the given order) with optional string metadata. */
export function encodeSafetensors(
  entries: ReadonlyMap<string, SafetensorsEntry>,
  metadata?: Readonly<Record<string, string>>,
): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, e] of entries) {
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.byteLength] };
    offset += e.bytes.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / HEADER_ALIGN) * HEADER_ALIGN;
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const e of entries.values()) {
    out.set(e.bytes, at);
    at += e.bytes.byteLength;
  }
  return out;
}

function corrupt(source: string, why: string): ValueError {
  return new ValueError(`The safetensors file ${source} is corrupt or truncated: ${why}.`);
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Parses a safetensors buffer, checking its structure: header length, JSON, known dtypes,
 * shapes, and offsets that tile the data section exactly. Any flaw is a `ValueError`.
 */
export function decodeSafetensors(buffer: Uint8Array, source: string): Map<string, SafetensorsEntry> {
  if (buffer.byteLength < 8) throw corrupt(source, `${buffer.byteLength} bytes is shorter than the 8-byte header length`);
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerLength = view.readBigUInt64LE(0);
  if (headerLength > BigInt(Math.min(MAX_HEADER, buffer.byteLength - 8))) {
    throw corrupt(source, `the header length ${headerLength} exceeds the file`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(view.subarray(8, dataStart).toString('utf8'));
  } catch (e) {
    throw corrupt(source, `the header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw corrupt(source, 'the header is not a JSON object');
  }
  const dataLength = buffer.byteLength - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info === null || typeof info !== 'object') throw corrupt(source, `entry '${name}' is not an object`);
    if (typeof info.dtype !== 'string' || !(info.dtype in ITEM_SIZE)) {
      throw corrupt(source, `entry '${name}' has the unsupported dtype ${JSON.stringify(info.dtype)}`);
    }
    const dtype = info.dtype as SafetensorsDtype;
    if (!isShape(info.shape)) throw corrupt(source, `entry '${name}' has an invalid shape`);
    const offsets = info.data_offsets;
    if (!isShape(offsets) || offsets.length !== 2 || offsets[0] > offsets[1] || offsets[1] > dataLength) {
      throw corrupt(source, `entry '${name}' has data offsets outside the file`);
    }
    const expected = info.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
    if (offsets[1] - offsets[0] !== expected) {
      throw corrupt(source, `entry '${name}' holds ${offsets[1] - offsets[0]} bytes, its shape needs ${expected}`);
    }
    spans.push([offsets[0], offsets[1], name]);
    const begin = dataStart + offsets[0];
    entries.set(name, { dtype, shape: info.shape, bytes: buffer.subarray(begin, dataStart + offsets[1]) });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== covered) throw corrupt(source, `entry '${name}' overlaps another or leaves a gap`);
    covered = end;
  }
  if (covered !== dataLength) throw corrupt(source, `the data section has ${dataLength - covered} bytes beyond its entries`);
  return entries;
}
