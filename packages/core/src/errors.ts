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

/**
 * A file-system operation failed for a reason outside the file's content: the disk is full (`ENOSPC`), a quota is
 * exceeded (`EDQUOT`), the path is a folder (`EISDIR`) or read-only (`EROFS`), permission is denied (`EACCES`), …
 * `errno` keeps the system code; the message names the operation and the path.
 *
 * @example
 * ```ts
 * import { IoError, writeFileAtomic } from '@consistent-avatar/core';
 * try { writeFileAtomic('/full-disk/out.bin', new Uint8Array(1 << 20)); }
 * catch (e) { if (e instanceof IoError && e.errno === 'ENOSPC') console.log('free some space'); }
 * // IoError: write /full-disk/out.bin failed (ENOSPC): no space left on the device
 * ```
 */
export class IoError extends Error {
  override readonly name = 'IoError';
  readonly code = 'E_IO';
  /**
   * @param operation - what was done (`'write'`, `'rename'`, `'mkdir'`).
   * @param path - the path it was done on.
   * @param errno - the system error code (`'ENOSPC'`), or `'UNKNOWN'`.
   * @param detail - the system message.
   */
  constructor(
    readonly operation: string,
    readonly path: string,
    readonly errno: string,
    detail: string,
  ) {
    super(`${operation} ${path} failed (${errno}): ${IO_HINTS[errno] ?? detail}`);
  }
}

const IO_HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'the path is a folder',
  ENOTDIR: 'a parent of the path is not a folder',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files',
};

/**
 * `error` as an {@link IoError} when it is a system error (has an `E…` code); anything else is returned unchanged.
 * @example
 * ```ts
 * try { fs.writeFileSync(file, bytes); } catch (e) { throw asIoError(e, 'write', file); }
 * ```
 */
export function asIoError(error: unknown, operation: string, path: string): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (error instanceof IoError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return error;
  return new IoError(operation, path, code, (error as Error).message);
}

/**
 * A run folder is already used by another live process (see `acquireRunLock`); `holder` describes it.
 * @example
 * ```ts
 * // RunLockedError: runs/tsdm is in use by pid 4242 on host-a since 2026-01-02T10:00:00.000Z (node train.ts); …
 * ```
 */
export class RunLockedError extends Error {
  override readonly name = 'RunLockedError';
  readonly code = 'E_LOCKED';
  /**
   * @param dir - the locked folder.
   * @param holder - who holds it (`pid 4242 on host-a since …`).
   * @param lockFile - the lock file (remove it by hand only when the holder is certainly gone).
   */
  constructor(
    readonly dir: string,
    readonly holder: string,
    readonly lockFile: string,
  ) {
    super(`${dir} is in use by ${holder}; wait for it to finish or use another folder (lock file ${lockFile})`);
  }
}

/**
 * A computation produced NaN or ±Infinity: training stops at the first such step, naming the tensor (`loss`,
 * `gradient of unet.conv_in.weight`) and the step, before the bad update is applied.
 *
 * @example
 * ```ts
 * // NonFiniteError: AdamW.step: gradient of conv.weight is not finite (NaN at flat index 3) at update 12; nothing was applied
 * ```
 */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  readonly code = 'E_NON_FINITE';
  /**
   * @param fn - the function that found it (`'AdamW.step'`).
   * @param tensor - the tensor that went non-finite (`'loss'`, `'gradient of w'`).
   * @param detail - where and when (`'NaN at flat index 3 at update 12'`).
   */
  constructor(
    readonly fn: string,
    readonly tensor: string,
    detail: string,
  ) {
    super(`${fn}: ${tensor} is not finite (${detail}); nothing was applied`);
  }
}
