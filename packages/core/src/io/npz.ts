/**
 * NumPy `.npz` archives: a ZIP file of `.npy` members (`numpy.savez` stores them, `numpy.savez_compressed` deflates
 * them; numpy writes ZIP64 extra fields, which fflate reads). Each member is parsed with {@link parseNpy}.
 *
 * The whole archive is read into memory (fflate `unzipSync`), so archives must fit in one Buffer (< 2 GiB);
 * FLAME models and the reference fixtures are far smaller.
 *
 * @example
 * ```ts
 * import { readNpz } from '@consistent-avatar/core';
 * const flame = readNpz('generic_model.npz');
 * console.log(flame.v_template.shape, flame.shapedirs.shape); // [5023, 3] [5023, 3, 400]
 * ```
 */
import * as fs from 'node:fs';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { FormatError, ValidationError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { encodeNpy, parseNpy, type NpyArray } from './npy.js';

/** Options for {@link readNpz}. */
export interface ReadNpzOptions {
  /** Read only these arrays (names without `.npy`); others are not inflated. Default: all. */
  names?: readonly string[];
}

/**
 * Read a `.npz` archive (path or bytes) into arrays by name (member name without `.npy`; members that are not
 * `.npy` files are skipped). Throws {@link FormatError} (format `'npz'`) when the ZIP or a member is malformed,
 * and {@link ValidationError} when `options.names` asks for an array the archive does not have.
 */
export function readNpz(source: string | Uint8Array, options: ReadNpzOptions = {}): Record<string, NpyArray> {
  let bytes: Uint8Array;
  let label: string;
  if (typeof source === 'string') {
    label = source;
    try {
      bytes = fs.readFileSync(source);
    } catch (error) {
      throw new FormatError('npz', source, `cannot read: ${(error as Error).message}`);
    }
  } else if (source instanceof Uint8Array) {
    label = '<buffer>';
    bytes = source;
  } else {
    throw new ValidationError('readNpz', 'source', 'a file path or a Uint8Array of .npz bytes', source);
  }
  if (options.names !== undefined && !Array.isArray(options.names)) {
    throw new ValidationError('readNpz', 'options.names', 'an array of array names', options.names);
  }
  const wanted = options.names ? new Set(options.names.map((n) => `${n}.npy`)) : null;
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (file) => file.name.endsWith('.npy') && (!wanted || wanted.has(file.name)) });
  } catch (error) {
    throw new FormatError('npz', label, `not a readable ZIP archive (${(error as Error).message})`);
  }
  const arrays: Record<string, NpyArray> = {};
  for (const [member, content] of Object.entries(members)) {
    arrays[member.slice(0, -4)] = parseNpy(content, `${label}:${member}`, 'npz');
  }
  for (const name of options.names ?? []) {
    if (!Object.hasOwn(arrays, name)) {
      throw new ValidationError('readNpz', 'options.names', `names of arrays in ${label}`, name);
    }
  }
  return arrays;
}

/** Options for {@link writeNpz}. */
export interface WriteNpzOptions {
  /** Deflate members like `numpy.savez_compressed` (true) or store them like `numpy.savez` (false, default). */
  compress?: boolean;
}

/** Encode arrays as `.npz` bytes (member `<name>.npy` per array; see {@link encodeNpy} for the dtypes). */
export function encodeNpz(
  arrays: Record<string, Omit<NpyArray, 'fortranOrder'> & { fortranOrder?: boolean }>,
  options: WriteNpzOptions = {},
): Uint8Array {
  if (arrays === null || typeof arrays !== 'object') {
    throw new ValidationError('encodeNpz', 'arrays', 'a record of name → {dtype, shape, data}', arrays);
  }
  const files: Zippable = {};
  for (const [name, array] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(array);
  return zipSync(files, { level: options.compress ? 6 : 0 });
}

/** Write arrays to a `.npz` file atomically. */
export function writeNpz(
  file: string,
  arrays: Record<string, Omit<NpyArray, 'fortranOrder'> & { fortranOrder?: boolean }>,
  options: WriteNpzOptions = {},
): void {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('writeNpz', 'file', 'a non-empty path', file);
  writeFileAtomic(file, encodeNpz(arrays, options));
}
