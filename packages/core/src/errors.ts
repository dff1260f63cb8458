/**
 * Typed errors shared by every package.
 *
 * - {@link ValidationError}: a public function received an argument of the wrong shape, dtype, range or kind.
 * - {@link FormatError}: a file (safetensors, npy, npz, PNG, JSON, …) is malformed, truncated or unsupported.
 *
 * Both carry a machine-readable `code` and say which function / file and what was expected.
 *
 * @example
 * ```ts
 * import { ValidationError } from '@consistent-avatar/core';
 * try { throw new ValidationError('extractTsd', 'radius', 'a number > 0', -1); }
 * catch (e) { console.log((e as Error).message); }
 * // extractTsd: argument 'radius' expected a number > 0, got -1
 * ```
 */

/** Describe a received value briefly for error messages (`Float32Array(12)`, `tensor[2,3] float32`, `-1`). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 2000 ? value.slice(0, 1997) + '...' : value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as { length: number }).length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  const maybeTensor = value as { shape?: unknown; dtype?: unknown; rankType?: unknown };
  if (Array.isArray(maybeTensor.shape) && typeof maybeTensor.dtype === 'string') {
    return `tensor[${(maybeTensor.shape as number[]).join(',')}] ${maybeTensor.dtype}`;
  }
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

/** An argument to a public function is invalid. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly code = 'E_VALIDATION';
  /**
   * @param fn - the public function that rejected the argument (`'initBackend'`).
   * @param argument - the argument name (`'preference'`, `'image.shape'`).
   * @param expected - what was expected, in words (`'rank 3 [H, W, C]'`).
   * @param received - the value that came (described with {@link describeValue}).
   */
  constructor(
    readonly fn: string,
    readonly argument: string,
    readonly expected: string,
    received: unknown,
  ) {
    super(`${fn}: argument '${argument}' expected ${expected}, got ${describeValue(received)}`);
  }
}

/** A file is malformed, truncated or unsupported. */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  readonly code = 'E_FORMAT';
  /**
   * @param format - the file format (`'safetensors'`, `'npy'`, `'png'`, `'json'`).
   * @param file - the file path (or a description such as `'<buffer>'`).
   * @param problem - what is wrong, in words.
   */
  constructor(
    readonly format: string,
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${format} file ${file}: ${problem}`);
  }
}

/** A requested backend or optional capability is not available on this machine. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
  readonly code = 'E_BACKEND';
  constructor(message: string) {
    super(message);
  }
}
