/**
 * Atomic file writes: write a temporary file in the target's directory, flush it, then `rename` it over the target.
 * A reader sees either the old file or the complete new one, never a half-written file; a crash leaves at most a
 * stray `.<name>.tmp-<pid>-<n>` file next to the target.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from '@consistent-avatar/core';
 * writeFileAtomic('out/report.txt', 'done\n');
 * writeFileAtomic('out/big.bin', (fd, fs) => { fs.writeSync(fd, new Uint8Array(16)); }); // streamed
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

/** A fresh temporary path next to `target` (same directory, so `rename` is atomic). */
export function temporarySibling(target: string, kind = 'tmp'): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${kind}-${process.pid}-${counter++}`);
}

/** Write all of `bytes` to `fd` (loops over partial writes; safe beyond 2 GiB in total). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  const CHUNK = 1 << 30;
  let offset = 0;
  while (offset < bytes.length) {
    const length = Math.min(CHUNK, bytes.length - offset);
    offset += fs.writeSync(fd, bytes, offset, length);
  }
}

/**
 * Atomically replace `target` with `content`: a string (UTF-8), bytes, or a writer callback that streams into the
 * open temporary file descriptor. Creates the parent directory. On any error the temporary file is removed and the
 * previous `target` (if any) is untouched.
 */
export function writeFileAtomic(
  target: string,
  content: string | Uint8Array | ((fd: number, fsModule: typeof fs) => void),
): void {
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = temporarySibling(target);
  let fd: number | null = fs.openSync(tmp, 'w', 0o644);
  try {
    if (typeof content === 'string') writeAllSync(fd, Buffer.from(content, 'utf8'));
    else if (content instanceof Uint8Array) writeAllSync(fd, content);
    else content(fd, fs);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, target);
  } catch (error) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}
