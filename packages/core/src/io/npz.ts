/**
 * NumPy `.npz` archives: a ZIP file of `.npy` members (`numpy.savez` stores them, `numpy.savez_compressed` deflates
 * them; numpy writes ZIP64 extra fields, which fflate reads). Each member is parsed with {@link parseNpy}.
 *
 * The whole archive is read into memory (at most `maxFileBytes`, a regular file only) and parsed by a strict,
 * bounded ZIP reader: entry counts must fit the central directory, declared sizes pass the decompression limits
 * before anything is allocated, and every member's CRC-32 is checked (see `setReadLimits`). FLAME models and the
 * reference fixtures are far smaller than the limits.
 *
 * @example
 * ```ts
 * import { readNpz } from '@consistent-avatar/core';
 * const flame = readNpz('generic_model.npz');
 * console.log(flame.v_template.shape, flame.shapedirs.shape); // [5023, 3] [5023, 3, 400]
 * ```
 */
import { zipSync, type Zippable } from 'fflate';
import { ValidationError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { readFileBounded } from './limits.js';
import { encodeNpy, parseNpy, type NpyArray } from './npy.js';
import { readZipMembers } from './zip.js';

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
    bytes = readFileBounded(source, 'npz');
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
  const members = readZipMembers(bytes, label, (name) => name.endsWith('.npy') && (!wanted || wanted.has(name)));
  const arrays: Record<string, NpyArray> = Object.create(null) as Record<string, NpyArray>;
  for (const [member, content] of Object.entries(members)) {
    arrays[member.slice(0, -4)] = parseNpy(content, `${label}:${member}`, 'npz');
  }
  for (const name of options.names ?? []) {
    if (!Object.hasOwn(arrays, name)) {
      throw new ValidationError('readNpz', 'options.names', `names of arrays in ${label}`, name);
    }
  }
  return Object.fromEntries(Object.entries(arrays)); // own data properties, whatever the names ('__proto__' too)
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
