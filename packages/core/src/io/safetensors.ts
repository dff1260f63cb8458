/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors, format section of its README).
 *
 * Layout: 8 bytes little-endian u64 `N`, then `N` bytes of UTF-8 JSON header
 * `{"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, …}`, then the data
 * section; offsets are relative to its start, little-endian, C order.
 *
 * Reading is streaming-friendly: the header and each tensor are read with `fs.readSync` at their offsets (files
 * larger than 2 GiB work; the file is never loaded whole), and every tensor is copied into a fresh typed array (so
 * it is aligned whatever its offset). The header is validated strictly, like the reference implementation: every
 * problem raises a {@link FormatError} naming the file and the problem.
 *
 * Writing follows the reference writer byte for byte: tensors ordered by dtype (widest first) then name, `__metadata__`
 * first with sorted keys, compact JSON padded with spaces to a multiple of 8, data contiguous — and atomically
 * (temporary file + rename).
 *
 * @example
 * ```ts
 * import { readSafetensors, loadSafetensorsAsTensors, writeSafetensors, tf } from '@consistent-avatar/core';
 * writeSafetensors('/tmp/m.safetensors', { 'proj.weight': tf.ones([2, 3]) }, { format: 'pt' });
 * const { tensors, metadata } = readSafetensors('/tmp/m.safetensors');
 * console.log(tensors['proj.weight'].shape, metadata);       // [2, 3] { format: 'pt' }
 * const byName = loadSafetensorsAsTensors('/tmp/m.safetensors'); // Record<string, tf.Tensor> (float32)
 * ```
 */
import { tf } from '../backend/tf.js';
import { FormatError, ValidationError, describeValue } from '../errors.js';
import { writeAllSync, writeFileAtomic } from './atomic.js';
import { gunzipBounded, openRegularFile, readFileBounded } from './limits.js';
import { copyRange, readRangeSync } from './read-range.js';
import {
  HOST_LITTLE_ENDIAN,
  bfloat16ToFloat32,
  byteSwapInPlace,
  float16ToFloat32,
  shapeSize,
  viewAs,
  type NumericArray,
  type NumericArrayName,
} from './dtype.js';

/** The safetensors dtypes this module reads. (`F8_*` and sub-byte float types are rejected as unsupported.) */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** Bytes per element. */
export const SAFETENSORS_ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Order of the reference writer (`Dtype` enum order, sorted descending). */
const WRITE_RANK: Readonly<Record<SafetensorsDtype, number>> = {
  U64: 0,
  I64: 1,
  F64: 2,
  F32: 3,
  U32: 4,
  I32: 5,
  BF16: 6,
  F16: 7,
  U16: 8,
  I16: 9,
  I8: 10,
  U8: 11,
  BOOL: 12,
};

/** Largest header accepted (the reference caps it at 100 MB too): protects against absurd allocations. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor's header entry. Offsets are relative to the start of the data section. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  dataOffsets: [number, number];
}

/** The validated header of a safetensors file. */
export interface SafetensorsHeader {
  /** Tensor entries by name, in the order the header lists them. */
  entries: Record<string, SafetensorsEntry>;
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Header length N (bytes of JSON, including padding). */
  headerLength: number;
  /** Absolute file offset of the data section (8 + N). */
  dataStart: number;
  /** Total byte size of the input. */
  byteLength: number;
}

/**
 * A tensor as read from (or to be written to) a file. `data` is C-ordered and has prod(shape) elements:
 * F32 → Float32Array, F64 → Float64Array, F16 / BF16 → Float32Array (decoded on read; on write pass the raw bits
 * as a Uint16Array), I8/U8/I16/U16/I32/U32 → the matching typed array, I64/U64 → BigInt64Array / BigUint64Array,
 * BOOL → Uint8Array of 0/1.
 */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: NumericArray;
}

/**
 * A file path (a path ending in `.gz` is gunzipped whole first, within the decompression limits of `setReadLimits`)
 * or the bytes of a safetensors file. Paths must name regular files (FIFOs and devices are refused).
 */
export type SafetensorsSource = string | Uint8Array;

/** Options for {@link readSafetensors} / {@link loadSafetensorsAsTensors}. */
export interface ReadSafetensorsOptions {
  /** Read only these tensors (the whole header is still validated). Default: all. */
  names?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Byte sources: random access to a file (readSync at offsets) or to an in-memory buffer.

interface ByteSource {
  label: string;
  size: number;
  /** A fresh copy of bytes [offset, offset + length) in its own ArrayBuffer (offset 0, so any view is aligned). */
  read(offset: number, length: number): Uint8Array<ArrayBuffer>;
  close(): void;
}

function bufferSource(bytes: Uint8Array, label: string): ByteSource {
  return {
    label,
    size: bytes.length,
    read: (offset, length) => copyRange(bytes, offset, length), // a copy: Buffer#slice would be a view
    close: () => {},
  };
}

function fileSource(file: string): ByteSource {
  const handle = openRegularFile(file, 'safetensors');
  return {
    label: file,
    size: handle.size,
    read: (offset, length) => readRangeSync(handle.fd, offset, length, 'safetensors', file),
    close: () => handle.close(),
  };
}

function openSource(source: SafetensorsSource, fn: string): ByteSource {
  if (typeof source === 'string') {
    if (source.endsWith('.gz')) return bufferSource(gunzipBounded(readFileBounded(source, 'safetensors'), 'safetensors', source), source);
    return fileSource(source);
  }
  if (source instanceof Uint8Array) return bufferSource(source, '<buffer>');
  throw new ValidationError(fn, 'source', 'a file path or a Uint8Array of safetensors bytes', source);
}

// ---------------------------------------------------------------------------------------------------------------
// Header parsing and validation.

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseHeader(src: ByteSource): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new FormatError('safetensors', src.label, problem);
  };
  // 1. The 8-byte little-endian header length.
  if (src.size < 8) fail(`file is ${src.size} bytes, shorter than the 8-byte header length field`);
  const lengthBytes = src.read(0, 8);
  const headerLength64 = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength64 === 0n) fail('header length is 0');
  if (headerLength64 > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    fail(`header length ${headerLength64} exceeds the cap of ${SAFETENSORS_MAX_HEADER_BYTES} bytes`);
  }
  const headerLength = Number(headerLength64);
  if (8 + headerLength > src.size) {
    fail(`header length ${headerLength} is larger than the rest of the file (${src.size - 8} bytes)`);
  }

  // 2. The JSON header: UTF-8, an object.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, headerLength));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('header is not a JSON object');

  // 3. Each entry: dtype, shape, data_offsets, size consistency.
  const dataLength = src.size - 8 - headerLength;
  const entries = Object.create(null) as Record<string, SafetensorsEntry>; // names are data ('__proto__' included)
  let metadata: Record<string, string> = {};
  const quoted = (name: string) => `'${name.length > 200 ? `${name.slice(0, 200)}…` : name}'`; // bounded, never the whole input
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          fail(`__metadata__ must map strings to strings, but key ${quoted(key)} holds a ${typeof value}`);
        }
      }
      metadata = Object.fromEntries(Object.entries(raw as Record<string, string>));
      continue;
    }
    const tensor = `tensor ${quoted(name)}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`${tensor}: entry is not an object`);
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry.dtype !== 'string') fail(`${tensor}: dtype is missing or not a string`);
    const dtype = entry.dtype as string;
    if (!Object.hasOwn(SAFETENSORS_ITEM_SIZE, dtype)) {
      fail(`${tensor}: unknown or unsupported dtype ${quoted(dtype)}`);
    }
    if (!Array.isArray(entry.shape) || !entry.shape.every(isNonNegativeInteger)) {
      fail(`${tensor}: shape must be an array of non-negative integers, got ${describeValue(entry.shape)}`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
      fail(`${tensor}: data_offsets must be [begin, end] non-negative integers, got ${describeValue(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${tensor}: data_offsets end ${end} is before begin ${begin}`);
    const shape = entry.shape as number[];
    const expectedBytes = shapeSize(shape) * SAFETENSORS_ITEM_SIZE[dtype as SafetensorsDtype];
    if (end - begin !== expectedBytes) {
      fail(
        `${tensor}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape [${shape.slice(0, 32)}] of ` +
          `${dtype} needs ${expectedBytes}`,
      );
    }
    entries[name] = { dtype: dtype as SafetensorsDtype, shape: [...shape], dataOffsets: [begin, end] };
  }

  // 4. The data section must be exactly covered: no overlap, no hole, nothing past its end (truncation).
  const byOffset = Object.entries(entries).sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let cursor = 0;
  let previous = '';
  for (const [name, { dataOffsets }] of byOffset) {
    const [begin, end] = dataOffsets;
    if (begin < cursor) fail(`tensors ${quoted(previous)} and ${quoted(name)} overlap (byte ${begin} < ${cursor})`);
    if (begin > cursor) {
      fail(`data bytes [${cursor}, ${begin}) belong to no tensor (the format requires a fully indexed buffer)`);
    }
    if (end > dataLength) {
      fail(`tensor ${quoted(name)} ends at data byte ${end} but the data section has only ${dataLength} bytes (truncated?)`);
    }
    cursor = end;
    previous = name;
  }
  if (cursor < dataLength) fail(`${dataLength - cursor} trailing bytes after the last tensor`);
  return { entries: Object.fromEntries(Object.entries(entries)), metadata, headerLength, dataStart: 8 + headerLength, byteLength: src.size };
}

function decode(entry: SafetensorsEntry, bytes: Uint8Array<ArrayBuffer>, label: string, name: string): NumericArray {
  if (entry.dtype === 'BOOL') {
    const bad = bytes.findIndex((b) => b > 1);
    if (bad >= 0) throw new FormatError('safetensors', label, `tensor '${name.slice(0, 200)}' (BOOL) holds the byte ${bytes[bad]} at element ${bad}, not 0 or 1`);
  }
  if (!HOST_LITTLE_ENDIAN) byteSwapInPlace(bytes, SAFETENSORS_ITEM_SIZE[entry.dtype]);
  // `bytes` is a fresh copy at offset 0 of its own buffer, so every view is aligned.
  if (entry.dtype === 'F16') return float16ToFloat32(new Uint16Array(bytes.buffer));
  if (entry.dtype === 'BF16') return bfloat16ToFloat32(new Uint16Array(bytes.buffer));
  return viewAs(ARRAY_FOR_DTYPE[entry.dtype], bytes.buffer);
}

// ---------------------------------------------------------------------------------------------------------------
// Public readers.

/**
 * Read and validate only the header (names, dtypes, shapes, offsets, metadata) without touching tensor data —
 * cheap even for multi-GiB files.
 */
export function inspectSafetensors(source: SafetensorsSource): SafetensorsHeader {
  const src = openSource(source, 'inspectSafetensors');
  try {
    return parseHeader(src);
  } finally {
    src.close();
  }
}

/**
 * Read a safetensors file (or its bytes) into typed arrays. See {@link SafetensorsTensor} for the array type of
 * each dtype. Throws {@link FormatError} on any malformed header or truncated data and {@link ValidationError}
 * when `options.names` asks for a tensor the file does not have.
 */
export function readSafetensors(
  source: SafetensorsSource,
  options: ReadSafetensorsOptions = {},
): { tensors: Record<string, SafetensorsTensor>; metadata: Record<string, string> } {
  const src = openSource(source, 'readSafetensors');
  try {
    const header = parseHeader(src);
    const names = options.names ?? Object.keys(header.entries);
    if (!Array.isArray(names)) {
      throw new ValidationError('readSafetensors', 'options.names', 'an array of tensor names', names);
    }
    const tensors = Object.create(null) as Record<string, SafetensorsTensor>;
    for (const name of names) {
      const entry = Object.hasOwn(header.entries, name) ? header.entries[name] : undefined;
      if (!entry) {
        throw new ValidationError('readSafetensors', 'options.names', `names of tensors in ${src.label}`, name);
      }
      const [begin, end] = entry.dataOffsets;
      const bytes = src.read(header.dataStart + begin, end - begin);
      tensors[name] = { dtype: entry.dtype, shape: [...entry.shape], data: decode(entry, bytes, src.label, name) };
    }
    return { tensors: Object.fromEntries(Object.entries(tensors)), metadata: header.metadata };
  } finally {
    src.close();
  }
}

/**
 * Read a safetensors file into tfjs tensors by name: F32/F16/BF16/F64 → float32, I8/U8/I16/U16/I32 → int32,
 * I64/U64/U32 → int32 when every value fits (else {@link FormatError}), BOOL → bool. The caller owns (and disposes)
 * the returned tensors.
 *
 * @example
 * ```ts
 * const dict = loadSafetensorsAsTensors('unet/diffusion_pytorch_model.safetensors');
 * model.loadStateDict(dict, { layout: 'torch' });
 * tf.dispose(Object.values(dict));
 * ```
 */
export function loadSafetensorsAsTensors(
  source: SafetensorsSource,
  options: ReadSafetensorsOptions = {},
): Record<string, tf.Tensor> {
  const { tensors } = readSafetensors(source, options);
  return tensorsFromSafetensors(tensors, typeof source === 'string' ? source : '<buffer>');
}

/**
 * Already-read safetensors entries (from {@link readSafetensors}) as tfjs tensors, with the dtype mapping of
 * {@link loadSafetensorsAsTensors}. The caller owns (and disposes) the returned tensors.
 *
 * @param tensors - entries by name.
 * @param label - the file named in a {@link FormatError} (an int64 value outside the int32 range).
 * @example
 * ```ts
 * const { tensors } = readSafetensors('lpips_alex.safetensors');
 * const dict = tensorsFromSafetensors(tensors, 'lpips_alex.safetensors'); // Record<string, tf.Tensor>
 * ```
 */
export function tensorsFromSafetensors(tensors: Record<string, SafetensorsTensor>, label = '<tensors>'): Record<string, tf.Tensor> {
  if (tensors === null || typeof tensors !== 'object') {
    throw new ValidationError('tensorsFromSafetensors', 'tensors', 'a record of safetensors entries { dtype, shape, data }', tensors);
  }
  // Convert everything first so a failure cannot leave half the tensors allocated.
  const prepared: Array<[string, number[], Float32Array | Int32Array | Uint8Array, 'float32' | 'int32' | 'bool']> = [];
  for (const [name, entry] of Object.entries(tensors)) {
    if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.shape) || !ArrayBuffer.isView(entry.data)) {
      throw new ValidationError('tensorsFromSafetensors', `tensors['${name}']`, 'a safetensors entry { dtype, shape, data }', entry);
    }
    const { dtype, shape, data } = entry;
    if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') prepared.push([name, shape, data as Float32Array, 'float32']);
    else if (dtype === 'F64') prepared.push([name, shape, Float32Array.from(data as Float64Array), 'float32']);
    else if (dtype === 'BOOL') prepared.push([name, shape, data as Uint8Array, 'bool']);
    else if (dtype === 'I32') prepared.push([name, shape, data as Int32Array, 'int32']);
    else {
      const out = new Int32Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = Number(data[i]!);
        if (v < -2147483648 || v > 2147483647) {
          throw new FormatError('safetensors', label, `tensor '${name}' (${dtype}) holds ${data[i]}, outside the int32 range of tfjs`);
        }
        out[i] = v;
      }
      prepared.push([name, shape, out, 'int32']);
    }
  }
  const result: Record<string, tf.Tensor> = {};
  for (const [name, shape, data, dtype] of prepared) result[name] = tf.tensor(data, shape, dtype);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Writer.

const ARRAY_FOR_DTYPE: Readonly<Record<SafetensorsDtype, NumericArrayName>> = {
  F64: 'Float64Array',
  F32: 'Float32Array',
  F16: 'Uint16Array',
  BF16: 'Uint16Array',
  I64: 'BigInt64Array',
  U64: 'BigUint64Array',
  I32: 'Int32Array',
  U32: 'Uint32Array',
  I16: 'Int16Array',
  U16: 'Uint16Array',
  I8: 'Int8Array',
  U8: 'Uint8Array',
  BOOL: 'Uint8Array',
};

/** Something {@link writeSafetensors} stores: a tfjs tensor (float32 / int32 / bool) or a typed array with shape. */
export type SafetensorsWritable = tf.Tensor | SafetensorsTensor;

interface PreparedWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: () => Uint8Array;
  byteLength: number;
}

function prepareForWrite(fn: string, tensors: Record<string, SafetensorsWritable>): PreparedWrite[] {
  if (tensors === null || typeof tensors !== 'object') {
    throw new ValidationError(fn, 'tensors', 'a record of name → tensor', tensors);
  }
  const prepared: PreparedWrite[] = [];
  for (const [name, value] of Object.entries(tensors)) {
    if (name === '__metadata__' || name.length === 0) {
      throw new ValidationError(fn, 'tensors', 'tensor names other than "" and "__metadata__"', name);
    }
    if (value instanceof tf.Tensor) {
      if (value.isDisposed) throw new ValidationError(fn, `tensors['${name}']`, 'a tensor that is not disposed', value);
      const fromTf: Partial<Record<string, SafetensorsDtype>> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
      const dtype = fromTf[value.dtype];
      if (!dtype) throw new ValidationError(fn, `tensors['${name}']`, 'a float32, int32 or bool tensor', value);
      const tensor = value;
      prepared.push({
        name,
        dtype,
        shape: [...tensor.shape],
        byteLength: tensor.size * SAFETENSORS_ITEM_SIZE[dtype],
        bytes: () => {
          const data = tensor.dataSync();
          const typed = dtype === 'BOOL' ? Uint8Array.from(data as Uint8Array) : data;
          return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
        },
      });
      continue;
    }
    const raw = value as SafetensorsTensor;
    if (raw === null || typeof raw !== 'object' || !Object.hasOwn(SAFETENSORS_ITEM_SIZE, raw.dtype)) {
      throw new ValidationError(fn, `tensors['${name}']`, 'a tf.Tensor or {dtype, shape, data}', value);
    }
    if (!Array.isArray(raw.shape) || !raw.shape.every(isNonNegativeInteger)) {
      throw new ValidationError(fn, `tensors['${name}'].shape`, 'an array of non-negative integers', raw.shape);
    }
    const arrayName = ARRAY_FOR_DTYPE[raw.dtype];
    if (!ArrayBuffer.isView(raw.data) || raw.data.constructor.name !== arrayName) {
      throw new ValidationError(fn, `tensors['${name}'].data`, `a ${arrayName} for dtype ${raw.dtype}`, raw.data);
    }
    if (raw.data.length !== shapeSize(raw.shape)) {
      throw new ValidationError(fn, `tensors['${name}'].data`, `${shapeSize(raw.shape)} elements for shape [${raw.shape}]`, raw.data);
    }
    const data = raw.data;
    prepared.push({
      name,
      dtype: raw.dtype,
      shape: [...raw.shape],
      byteLength: data.byteLength,
      bytes: () => new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
  }
  // Reference writer order: widest dtype first, then by name (keeps every tensor aligned to its item size).
  prepared.sort((a, b) => WRITE_RANK[a.dtype] - WRITE_RANK[b.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return prepared;
}

function headerBytes(prepared: PreparedWrite[], metadata: Record<string, string> | undefined, fn: string): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Object.values(metadata).some((v) => typeof v !== 'string')) {
      throw new ValidationError(fn, 'metadata', 'a record of string → string', metadata);
    }
    const sorted: Record<string, string> = {};
    for (const key of Object.keys(metadata).sort()) sorted[key] = metadata[key]!;
    header.__metadata__ = sorted;
  }
  let offset = 0;
  for (const t of prepared) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20); // pad with spaces to a multiple of 8
  json.copy(padded);
  return padded;
}

function littleEndianBytes(t: PreparedWrite): Uint8Array {
  const bytes = t.bytes();
  if (HOST_LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  byteSwapInPlace(copy, SAFETENSORS_ITEM_SIZE[t.dtype]);
  return copy;
}

/**
 * Encode tensors as safetensors bytes in memory (for small files, tests and uploads; use {@link writeSafetensors}
 * for files — it streams tensor by tensor).
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsWritable>,
  metadata?: Record<string, string>,
): Uint8Array {
  const prepared = prepareForWrite('encodeSafetensors', tensors);
  const header = headerBytes(prepared, metadata, 'encodeSafetensors');
  const total = 8 + header.length + prepared.reduce((s, t) => s + t.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let offset = 8 + header.length;
  for (const t of prepared) {
    out.set(littleEndianBytes(t), offset);
    offset += t.byteLength;
  }
  return out;
}

/**
 * Write tensors to a safetensors file atomically (temporary file in the same directory, then rename). tfjs tensors
 * are stored as F32 / I32 / BOOL by their dtype; `{dtype, shape, data}` records are stored as given (see
 * {@link SafetensorsTensor}). Tensors are not disposed. `metadata` becomes the `__metadata__` map.
 */
export function writeSafetensors(
  file: string,
  tensors: Record<string, SafetensorsWritable>,
  metadata?: Record<string, string>,
): void {
  if (typeof file !== 'string' || file.length === 0) {
    throw new ValidationError('writeSafetensors', 'file', 'a non-empty path', file);
  }
  const prepared = prepareForWrite('writeSafetensors', tensors);
  const header = headerBytes(prepared, metadata, 'writeSafetensors');
  writeFileAtomic(file, (fd) => {
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(header.length), true);
    writeAllSync(fd, length);
    writeAllSync(fd, header);
    for (const t of prepared) writeAllSync(fd, littleEndianBytes(t));
  });
}
