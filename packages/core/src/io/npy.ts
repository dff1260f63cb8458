/**
 * NumPy `.npy` reader and writer (format versions 1.0, 2.0 and 3.0, per numpy's `numpy/lib/format.py`).
 *
 * Layout: magic `\x93NUMPY`, major and minor version bytes, the header length (u16 LE in 1.0, u32 LE in 2.0/3.0),
 * a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a
 * newline (latin-1 in 1.0/2.0, UTF-8 in 3.0), then the raw array data.
 *
 * Reads float16/32/64, int8/16/32/64, uint8/16/32/64 and bool in either byte order and C or Fortran order. Data is
 * always returned in C (row-major) order — Fortran arrays are transposed on read — with the native byte order, in a
 * fresh typed array (float16 is decoded to Float32Array; 64-bit integers come back as BigInt64Array /
 * BigUint64Array). Object and structured dtypes are rejected with a {@link FormatError}.
 *
 * @example
 * ```ts
 * import { readNpy, writeNpy } from '@consistent-avatar/core';
 * writeNpy('/tmp/a.npy', { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
 * const a = readNpy('/tmp/a.npy'); // { dtype: 'float32', shape: [2, 2], fortranOrder: false, data: Float32Array [1,2,3,4] }
 * ```
 */
import { FormatError, ValidationError, describeValue } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { openRegularFile } from './limits.js';
import { copyRange, readRangeSync } from './read-range.js';
import {
  HOST_LITTLE_ENDIAN,
  byteSwapInPlace,
  float16ToFloat32,
  shapeSize,
  viewAs,
  type NumericArray,
  type NumericArrayName,
} from './dtype.js';

/** NumPy dtypes this module reads (all but float16 are also written). */
export type NpyDtype =
  | 'float16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool';

/** An array read from (or to be written to) a `.npy` file. `data` is in C order with prod(shape) elements. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Whether the file stored the array in Fortran order (the returned `data` is C order either way). */
  fortranOrder: boolean;
  data: NumericArray;
}

/** The array type for each dtype (bool → Uint8Array of 0/1, float16 → Float32Array after decoding). */
const ARRAY_NAME: Readonly<Record<NpyDtype, NumericArrayName>> = {
  float16: 'Float32Array',
  float32: 'Float32Array',
  float64: 'Float64Array',
  int8: 'Int8Array',
  int16: 'Int16Array',
  int32: 'Int32Array',
  int64: 'BigInt64Array',
  uint8: 'Uint8Array',
  uint16: 'Uint16Array',
  uint32: 'Uint32Array',
  uint64: 'BigUint64Array',
  bool: 'Uint8Array',
};

const KIND_TO_DTYPE: Readonly<Record<string, NpyDtype>> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
};
const DTYPE_TO_KIND: Readonly<Record<NpyDtype, string>> = Object.fromEntries(
  Object.entries(KIND_TO_DTYPE).map(([kind, dtype]) => [dtype, kind]),
) as Record<NpyDtype, string>;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

// ---------------------------------------------------------------------------------------------------------------
// The header: a small parser for the Python literals numpy writes (dict, tuple, list, str, int, True/False/None).

/** Deepest nesting the header parser follows (numpy writes 2: a dict holding a shape tuple). */
const MAX_HEADER_NESTING = 8;

function parsePythonLiteral(text: string, fail: (problem: string) => never): unknown {
  let pos = 0;
  let depth = 0;
  const skip = () => {
    // Python's whitespace only (space, tab, newline, carriage return, form feed): numpy's ast.literal_eval refuses
    // the rest of Unicode's (a no-break space, \v, …), and so do we.
    while (pos < text.length && ' \t\n\r\f'.includes(text[pos]!)) pos++;
  };
  const value = (): unknown => {
    skip();
    const c = text[pos];
    if (c === undefined) return fail('header ends unexpectedly');
    if ((c === '{' || c === '(' || c === '[') && ++depth > MAX_HEADER_NESTING) return fail(`header nests deeper than ${MAX_HEADER_NESTING} levels`);
    if (c === '{') {
      pos++;
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (;;) {
        skip();
        if (text[pos] === '}') return depth--, pos++, out;
        const key = value();
        if (typeof key !== 'string') return fail(`header dict key at ${pos} is not a string`);
        skip();
        if (text[pos] !== ':') return fail(`header: expected ':' at position ${pos}`);
        pos++;
        out[key] = value();
        skip();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== '}') return fail(`header: expected ',' or '}' at position ${pos}`);
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      pos++;
      const out: unknown[] = [];
      for (;;) {
        skip();
        if (text[pos] === close) return depth--, pos++, out;
        out.push(value());
        skip();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== close) return fail(`header: expected ',' or '${close}' at position ${pos}`);
      }
    }
    if (c === "'" || c === '"') {
      pos++;
      let s = '';
      while (pos < text.length && text[pos] !== c) {
        if (text[pos] === '\\') pos++;
        s += text[pos++] ?? '';
      }
      if (text[pos] !== c) return fail('header: unterminated string');
      pos++;
      return s;
    }
    const word = /^(True|False|None|-?\d{1,30}L?)/.exec(text.slice(pos, pos + 40));
    if (!word) return fail(`header: unexpected character '${c}' at position ${pos}`);
    pos += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', '')); // Python 2 wrote long ints as `3L`
  };
  const result = value();
  skip();
  if (pos !== text.length) fail(`header: unexpected text after the dict at position ${pos}`);
  return result;
}

/** Convert Fortran-ordered data to C order. `[d0, d1, …]`: element (i0, i1, …) is at i0 + d0·(i1 + d1·(…)). */
function fortranToC<T extends NumericArray>(data: T, shape: number[]): T {
  const rank = shape.length;
  const n = data.length;
  if (rank <= 1 || n === 0) return data;
  const fStride = new Array<number>(rank);
  fStride[0] = 1;
  for (let ax = 1; ax < rank; ax++) fStride[ax] = fStride[ax - 1]! * shape[ax - 1]!;
  const out = new (data.constructor as new (length: number) => T)(n);
  const index = new Array<number>(rank).fill(0);
  let f = 0;
  for (let c = 0; c < n; c++) {
    out[c] = data[f]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      index[ax]!++;
      f += fStride[ax]!;
      if (index[ax]! < shape[ax]!) break;
      f -= fStride[ax]! * shape[ax]!;
      index[ax] = 0;
    }
  }
  return out;
}

/** Random access to the bytes of a `.npy` file: `read` returns a fresh copy at offset 0 of its own buffer. */
interface NpySource {
  size: number;
  read(offset: number, length: number): Uint8Array<ArrayBuffer>;
}

function decodeNpy(src: NpySource, label: string, format: string): NpyArray {
  const fail = (problem: string): never => {
    throw new FormatError(format, label, problem);
  };
  // 1. Magic, version, header length.
  const lead = src.read(0, Math.min(src.size, 12));
  if (lead.length < 10 || !MAGIC.every((b, i) => lead[i] === b)) fail('missing the \\x93NUMPY magic string');
  const major = lead[6]!;
  const minor = lead[7]!;
  if (![1, 2, 3].includes(major) || minor !== 0) fail(`unsupported format version ${major}.${minor}`);
  const prefix = major === 1 ? 10 : 12;
  if (lead.length < prefix) fail('file ends inside the header length field');
  const view = new DataView(lead.buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (prefix + headerLength > src.size) {
    fail(`header length ${headerLength} is larger than the rest of the file (${src.size - prefix} bytes)`);
  }

  // 2. The header dict.
  const headerBytes = src.read(prefix, headerLength);
  const text = major === 3 ? new TextDecoder('utf-8').decode(headerBytes) : Buffer.from(headerBytes).toString('latin1');
  const header = parsePythonLiteral(text, fail);
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a dict');
  const { descr, fortran_order: fortranOrder, shape } = header as Record<string, unknown>;
  if (typeof descr !== 'string') {
    return fail(`descr ${describeValue(descr)} is not a simple dtype (structured dtypes are not supported)`);
  }
  const match = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = match ? KIND_TO_DTYPE[`${match[2]}${match[3]}`] : undefined;
  if (!match || !dtype) return fail(`unsupported dtype '${descr.slice(0, 40)}'`);
  if (typeof fortranOrder !== 'boolean') fail('fortran_order is missing or not True/False');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    fail(`shape ${describeValue(shape)} is not a tuple of non-negative integers`);
  }
  const dims = shape as number[];

  // 3. The data, read once into a fresh (aligned) buffer: fix the byte order, decode, reorder to C.
  const itemSize = Number(match[3]);
  const count = shapeSize(dims);
  const start = prefix + headerLength;
  const needed = count * itemSize;
  if (!(start + needed <= src.size)) {
    fail(`data truncated: shape [${dims.slice(0, 32)}] of ${descr} needs ${needed} bytes, file has ${src.size - start}`);
  }
  const raw = src.read(start, needed);
  const fileLittle = match[1] === '<' || ((match[1] === '=' || match[1] === '') && HOST_LITTLE_ENDIAN);
  if (itemSize > 1 && fileLittle !== HOST_LITTLE_ENDIAN) byteSwapInPlace(raw, itemSize);
  let data = dtype === 'float16' ? float16ToFloat32(new Uint16Array(raw.buffer)) : viewAs(ARRAY_NAME[dtype], raw.buffer);
  if (dtype === 'bool') {
    const bad = (data as Uint8Array).findIndex((b) => b > 1);
    if (bad >= 0) fail(`bool element ${bad} is the byte ${(data as Uint8Array)[bad]}, not 0 or 1`);
  }
  if (fortranOrder) data = fortranToC(data, dims);
  return { dtype, shape: [...dims], fortranOrder: fortranOrder as boolean, data };
}

/**
 * Parse the bytes of a `.npy` file (the data is copied into a fresh array). `label` names the source in errors
 * (a file path, `'arrays.npz:foo.npy'`); `format` is the FormatError format (`'npy'`, or `'npz'` for members).
 */
export function parseNpy(bytes: Uint8Array, label = '<buffer>', format = 'npy'): NpyArray {
  return decodeNpy(
    {
      size: bytes.length,
      read: (offset, length) => copyRange(bytes, offset, length),
    },
    label,
    format,
  );
}

/**
 * Read a `.npy` file (path) or its bytes. From a path, the header and then the data are read with positioned
 * reads straight into the returned array (one copy; files above 2 GiB work). Throws {@link FormatError} (format
 * `'npy'`) on a bad magic string or version, an unparsable header, an unsupported dtype, or truncated data.
 */
export function readNpy(source: string | Uint8Array): NpyArray {
  if (source instanceof Uint8Array) return parseNpy(source);
  if (typeof source !== 'string') {
    throw new ValidationError('readNpy', 'source', 'a file path or a Uint8Array of .npy bytes', source);
  }
  const file = openRegularFile(source, 'npy');
  try {
    return decodeNpy(
      {
        size: file.size,
        read: (offset, length) => readRangeSync(file.fd, offset, length, 'npy', source),
      },
      source,
      'npy',
    );
  } finally {
    file.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer.

/** Python's repr of a shape tuple: `()`, `(3,)`, `(2, 3)`. */
function shapeRepr(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * Encode an array as `.npy` bytes, laid out exactly as `numpy.save` (numpy 1.24) does: little-endian, C order,
 * format 1.0 (2.0 when the header needs it), header padded so the data starts at a multiple of 64. Float16 is not
 * written. `fortranOrder` must be false (data is C order).
 */
export function encodeNpy(array: Omit<NpyArray, 'fortranOrder'> & { fortranOrder?: boolean }): Uint8Array {
  const fn = 'encodeNpy';
  if (array === null || typeof array !== 'object') throw new ValidationError(fn, 'array', '{dtype, shape, data}', array);
  const { dtype, shape, data } = array;
  if (!Object.hasOwn(DTYPE_TO_KIND, dtype) || dtype === 'float16') {
    throw new ValidationError(fn, 'array.dtype', 'float32, float64, int8/16/32/64, uint8/16/32/64 or bool', dtype);
  }
  if (array.fortranOrder) throw new ValidationError(fn, 'array.fortranOrder', 'false (data is written in C order)', true);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ValidationError(fn, 'array.shape', 'an array of non-negative integers', shape);
  }
  if (!ArrayBuffer.isView(data) || data.constructor.name !== ARRAY_NAME[dtype]) {
    throw new ValidationError(fn, 'array.data', `a ${ARRAY_NAME[dtype]} for dtype ${dtype}`, data);
  }
  if (data.length !== shapeSize(shape)) {
    throw new ValidationError(fn, 'array.data', `${shapeSize(shape)} elements for shape [${shape}]`, data);
  }
  const descr = `${data.BYTES_PER_ELEMENT === 1 ? '|' : '<'}${DTYPE_TO_KIND[dtype]}`;
  // numpy.lib.format._write_array_header: sorted keys, then spare room for the first axis to grow (21 digits).
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(21 - String(shape[0]).length);
  // Version 1.0 stores the padded header length in a u16; longer headers need 2.0 (u32).
  let version = 1;
  let prefix = 10;
  let total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    version = 2;
    prefix = 12;
    total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  }
  header = header.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), prefix);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  out.set(body, total);
  if (!HOST_LITTLE_ENDIAN) byteSwapInPlace(out.subarray(total), data.BYTES_PER_ELEMENT);
  return out;
}

/** Write an array to a `.npy` file atomically (see {@link encodeNpy}). */
export function writeNpy(file: string, array: Omit<NpyArray, 'fortranOrder'> & { fortranOrder?: boolean }): void {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('writeNpy', 'file', 'a non-empty path', file);
  writeFileAtomic(file, encodeNpy(array));
}
