/**
 * The size and resource policy of every reader in the library. A file is opened without blocking and refused unless
 * it is a regular file (a FIFO, a device such as `/dev/zero`, a socket or a folder raises {@link FormatError} before a
 * byte is read); its size is checked against a cap before it is read, and the reader allocates by the bytes it
 * actually read, never by a size the file declares. Decompression (gzip, deflate members of `.npz`) is bounded by an
 * absolute cap and by a ratio to the compressed size; JSON nesting and image sizes have caps too.
 *
 * | limit | default | guards |
 * |---|---|---|
 * | `maxFileBytes` | 4 GiB | any binary file read whole or in ranges (safetensors, npy, npz, PNG) |
 * | `maxTextBytes` | 256 MiB | JSON and text files (configs, dataset JSON, `state.json`, expression text) |
 * | `maxDecompressedBytes` | 2 GiB | one decompressed stream (`.safetensors.gz`, one `.npz` member) |
 * | `maxDecompressionRatio` | 256 | decompressed ÷ compressed bytes of gzip files and `.npz` members … |
 * | `decompressionFloorBytes` | 64 MiB | … above this floor (a small, very compressible stream — zeros — stays readable) |
 * | `maxJsonDepth` | 64 | nesting of arrays / objects in any JSON file read |
 * | `maxImagePixels` | 2^26 (8192²) | width × height of a PNG (peak memory ≈ 24 bytes per pixel) |
 *
 * The policy is process-wide: {@link setReadLimits} changes it (validated; returns the previous one to restore) and
 * {@link readLimits} reads it.
 *
 * @example
 * ```ts
 * import { readLimits, setReadLimits } from '@consistent-avatar/core';
 * const previous = setReadLimits({ maxDecompressedBytes: 8 * 2 ** 30 }); // an 8 GiB gzipped checkpoint
 * // … read it …
 * setReadLimits(previous);
 * console.log(readLimits().maxDecompressionRatio); // 256
 * ```
 */
import * as fs from 'node:fs';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { configField as f, resolveConfig, type ConfigSchema } from '../config.js';
import { FormatError } from '../errors.js';

/**
 * The limits of the read policy (see the module table).
 * @example
 * ```ts
 * const limits: ReadLimits = { ...readLimits(), maxJsonDepth: 16 };
 * ```
 */
export interface ReadLimits {
  /** Largest binary file read (bytes). */
  maxFileBytes: number;
  /** Largest JSON / text file read (bytes). */
  maxTextBytes: number;
  /** Largest output of one decompressed stream (bytes). */
  maxDecompressedBytes: number;
  /** Largest decompressed ÷ compressed ratio (applied above `decompressionFloorBytes`). */
  maxDecompressionRatio: number;
  /** Output every stream may reach whatever its ratio (bytes). */
  decompressionFloorBytes: number;
  /** Deepest nesting of JSON arrays / objects. */
  maxJsonDepth: number;
  /** Largest image (width × height) decoded. */
  maxImagePixels: number;
}

const GIB = 2 ** 30;

/** The defaults (see the module table). */
export const DEFAULT_READ_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxFileBytes: 4 * GIB,
  maxTextBytes: 256 * 2 ** 20,
  maxDecompressedBytes: 2 * GIB,
  maxDecompressionRatio: 256,
  decompressionFloorBytes: 64 * 2 ** 20,
  maxJsonDepth: 64,
  maxImagePixels: 2 ** 26,
});

const FIELDS: ConfigSchema<ReadLimits> = {
  maxFileBytes: f.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  maxTextBytes: f.integer({ min: 1, max: 2 ** 29 }), // V8 strings stop near 2^29 characters
  maxDecompressedBytes: f.integer({ min: 1, max: 2 ** 32 }), // one Buffer
  maxDecompressionRatio: f.number({ min: 1 }),
  decompressionFloorBytes: f.integer({ min: 0, max: 2 ** 32 }),
  maxJsonDepth: f.integer({ min: 1, max: 10_000 }),
  maxImagePixels: f.integer({ min: 1, max: 2 ** 31 }),
};

let current: ReadLimits = { ...DEFAULT_READ_LIMITS };

/**
 * The read policy in force (a copy).
 * @example
 * ```ts
 * readLimits().maxFileBytes; // 4294967296
 * ```
 */
export function readLimits(): ReadLimits {
  return { ...current };
}

/**
 * Change some limits of the read policy (the others keep their current values); every field is validated
 * ({@link ValidationError} naming `limits.<field>`). Returns the previous policy, to restore it.
 *
 * @example
 * ```ts
 * const previous = setReadLimits({ maxImagePixels: 2 ** 28 });
 * setReadLimits(previous);
 * ```
 */
export function setReadLimits(limits: Partial<ReadLimits>): ReadLimits {
  const next = resolveConfig<ReadLimits>({ fn: 'setReadLimits', fields: FIELDS, defaults: current, argument: 'limits' }, limits);
  const previous = current;
  current = next;
  return { ...previous };
}

/** A file opened for reading, known to be a regular file of `size` bytes. */
export interface RegularFile {
  fd: number;
  size: number;
  /** Close the file descriptor (once: a second call throws EBADF). */
  close(): void;
}

/**
 * Open `file` for reading without blocking and check that it is a regular file no larger than `maxBytes` (default
 * `maxFileBytes`). A FIFO, device, socket or folder (symlinks are followed) raises {@link FormatError} naming the
 * kind; so does a file that cannot be opened.
 *
 * @example
 * ```ts
 * const file = openRegularFile('model.safetensors', 'safetensors');
 * try { console.log(file.size); } finally { file.close(); }
 * ```
 */
export function openRegularFile(file: string, format: string, maxBytes = current.maxFileBytes): RegularFile {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; it has no effect on regular files.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FormatError(format, file, `cannot read${code ? ` (${code})` : ''}: ${(error as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new FormatError(format, file, `is ${fileKind(stat)}, not a regular file`);
    if (stat.size > maxBytes) {
      throw new FormatError(format, file, `is ${stat.size} bytes, above the read limit of ${maxBytes} bytes (setReadLimits)`);
    }
    return { fd, size: stat.size, close: () => fs.closeSync(fd) };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/** `a folder`, `a FIFO`, … for messages. */
function fileKind(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Read a whole regular file (see {@link openRegularFile}) into a fresh buffer of the bytes actually read: a file
 * that shrinks while being read yields what is there, one that grows is read up to its size at open.
 *
 * @param maxBytes - size cap (default `maxFileBytes`).
 * @example
 * ```ts
 * const bytes = readFileBounded('image.png', 'png');
 * ```
 */
export function readFileBounded(file: string, format: string, maxBytes = current.maxFileBytes): Buffer {
  const handle = openRegularFile(file, format, maxBytes);
  try {
    const out = Buffer.allocUnsafe(handle.size);
    let done = 0;
    while (done < handle.size) {
      const n = readSync(handle.fd, out, done, Math.min(1 << 30, handle.size - done), done, format, file);
      if (n === 0) break;
      done += n;
    }
    return done === handle.size ? out : out.subarray(0, done);
  } finally {
    handle.close();
  }
}

/**
 * Read a UTF-8 text file (JSON, configs, tracker exports) under the `maxTextBytes` cap; a leading BOM is dropped.
 * @example
 * ```ts
 * const text = readTextBounded('transforms.json', 'json');
 * ```
 */
export function readTextBounded(file: string, format: string): string {
  const text = readFileBounded(file, format, current.maxTextBytes).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** `fs.readSync` whose errors (EIO, EISDIR, …) become a FormatError naming the file. */
export function readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number, format: string, file: string): number {
  try {
    return fs.readSync(fd, buffer, offset, length, position);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FormatError(format, file, `cannot read${code ? ` (${code})` : ''}: ${(error as Error).message}`);
  }
}

/** The output cap of one stream of `compressedBytes`: min(absolute cap, max(floor, ratio × compressed)). */
function outputCap(compressedBytes: number): number {
  const byRatio = Math.max(current.decompressionFloorBytes, Math.ceil(current.maxDecompressionRatio * Math.max(compressedBytes, 1)));
  return Math.max(1, Math.min(current.maxDecompressedBytes, byRatio));
}

/**
 * Gunzip `bytes` with the decompression caps; a stream that would exceed them, or is not gzip, raises
 * {@link FormatError}.
 * @example
 * ```ts
 * const raw = gunzipBounded(readFileBounded('m.safetensors.gz', 'safetensors'), 'safetensors', 'm.safetensors.gz');
 * ```
 */
export function gunzipBounded(bytes: Uint8Array, format: string, file: string): Buffer {
  return decompress(() => gunzipSync(bytes, { maxOutputLength: outputCap(bytes.length) }), bytes.length, format, file, 'gunzip');
}

/**
 * Inflate a raw deflate stream (ZIP members) that should give exactly `expectedBytes`, with the decompression caps
 * applied to `expectedBytes` first (nothing is allocated for a size beyond them).
 * @example
 * ```ts
 * const member = inflateRawBounded(compressed, 1200, 'npz', 'arrays.npz:a.npy');
 * ```
 */
export function inflateRawBounded(bytes: Uint8Array, expectedBytes: number, format: string, file: string): Buffer {
  const cap = outputCap(bytes.length);
  if (expectedBytes > cap) {
    throw new FormatError(format, file, `declares ${expectedBytes} bytes from ${bytes.length} compressed, above the decompression limit of ${cap} bytes (setReadLimits)`);
  }
  let out: Buffer;
  try {
    out = inflateRawSync(bytes, { maxOutputLength: Math.max(1, expectedBytes) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new FormatError(format, file, `inflates to more than the ${expectedBytes} bytes the archive declares`);
    throw new FormatError(format, file, `cannot inflate: ${(error as Error).message}`);
  }
  if (out.length !== expectedBytes) throw new FormatError(format, file, `inflates to ${out.length} bytes, the archive declares ${expectedBytes}`);
  return out;
}

function decompress(run: () => Buffer, compressedBytes: number, format: string, file: string, verb: string): Buffer {
  try {
    return run();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FormatError(format, file, `${verb} output exceeds the decompression limit of ${outputCap(compressedBytes)} bytes (setReadLimits)`);
    }
    throw new FormatError(format, file, `cannot ${verb}: ${(error as Error).message.slice(0, 200)}`);
  }
}

/**
 * Deepest nesting of arrays / objects in a parsed JSON value, counted without recursion (stops counting past `limit`).
 * @example
 * ```ts
 * jsonDepth([[1], { a: [2] }]); // 3
 * ```
 */
export function jsonDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return deepest;
}
