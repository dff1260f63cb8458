/**
 * Positioned reads for the binary readers: copy bytes [offset, offset + length) of an open file into a fresh
 * buffer (offset 0 of its own ArrayBuffer, so any typed-array view of it is aligned). Loops over partial reads; a
 * single `read(2)` moves at most ~2 GiB, and positions beyond 2 GiB are fine.
 */
import { FormatError } from '../errors.js';
import { readSync } from './limits.js';

/**
 * Read exactly `length` bytes at `offset` of `fd`; a short file or a read error raises `FormatError(format, file, …)`.
 * Callers check `offset + length` against the file's size first, so the allocation is bounded by the file.
 */
export function readRangeSync(fd: number, offset: number, length: number, format: string, file: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(1 << 30, length - done), offset + done, format, file);
    if (n === 0) throw new FormatError(format, file, `unexpected end of file at byte ${offset + done}`);
    done += n;
  }
  return out;
}

/** Copy bytes [offset, offset + length) of an in-memory buffer into a fresh, aligned buffer (never a view). */
export function copyRange(bytes: Uint8Array, offset: number, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(offset, offset + length));
  return out;
}
