/**
 * Atomic file writes: write a temporary file in the target's directory, flush it, then `rename` it over the target.
 * A reader sees either the old file or the complete new one, never a half-written file; a crash leaves at most a
 * stray `.<name>.tmp-<pid>-<n>` file next to the target, which {@link removeStaleTemporaries} removes once its process
 * is gone. System errors (a full disk, a read-only folder, …) are thrown as {@link IoError} naming the operation.
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
import { asIoError, ValidationError } from '../errors.js';

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
  if (typeof target !== 'string' || target.length === 0) throw new ValidationError('writeFileAtomic', 'target', 'a non-empty path', target);
  const dir = path.dirname(path.resolve(target));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw asIoError(error, 'mkdir', dir);
  }
  const tmp = temporarySibling(target);
  let fd: number | null = null;
  let operation = 'create';
  try {
    fd = fs.openSync(tmp, 'w', 0o644);
    operation = 'write';
    if (typeof content === 'string') writeAllSync(fd, Buffer.from(content, 'utf8'));
    else if (content instanceof Uint8Array) writeAllSync(fd, content);
    else content(fd, fs);
    operation = 'fsync';
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    operation = 'rename';
    fs.renameSync(tmp, target);
  } catch (error) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw asIoError(error, operation, target); // the target, not the temporary (gone by now)
  }
}

/**
 * Whether process `pid` exists on this machine (`EPERM` counts as alive: it exists but is someone else's).
 * @example
 * ```ts
 * processIsAlive(process.pid); // true
 * ```
 */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temporaries this module and the checkpoint writer leave when killed: `.<name>.tmp-<pid>-<n>` / `<name>.tmp-<pid>-<n>`. */
const TEMPORARY = /^\.?.+\.tmp-(\d+)-\d+$/;

/**
 * Remove the temporaries (`.<name>.tmp-<pid>-<n>` files, `<name>.tmp-<pid>-<n>` folders) that processes killed
 * mid-write left directly in `dir`; those of live processes (a write in progress) are kept. Returns the names removed.
 *
 * @example
 * ```ts
 * removeStaleTemporaries('runs/proxy'); // ['.loss.json.tmp-4242-3']
 * ```
 */
export function removeStaleTemporaries(dir: string): string[] {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('removeStaleTemporaries', 'dir', 'a folder path', dir);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no folder, nothing left behind
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMPORARY.exec(name);
    if (!match || Number(match[1]) === process.pid || processIsAlive(Number(match[1]))) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Get ready to write a whole folder that replaces `out` atomically (with {@link moveFolderIntoPlace}): checks that
 * `out` is absent, empty, or a previous output (`isPrevious(names)` on its entries), creates its parent, removes what
 * killed runs left there (unfinished `<name>.tmp-<pid>-<n>` folders and `<name>.old-<pid>-<n>` folders a run was killed
 * before removing), and returns the absolute target and a fresh temporary folder path beside it.
 *
 * @param fn - the public function, for error messages.
 * @param isPrevious - whether a non-empty folder's entry names show it is an earlier output (it is replaced).
 * @param expected - what `out` should be, in words (for the error).
 * @example
 * ```ts
 * const { target, temporary } = prepareFolderReplacement('myWriter', 'out/ds', (n) => n.includes('done.json'), 'a new folder or a previous dataset');
 * fs.mkdirSync(temporary); // … write everything into it …
 * moveFolderIntoPlace(temporary, target);
 * ```
 */
export function prepareFolderReplacement(
  fn: string,
  out: string,
  isPrevious: (names: string[]) => boolean,
  expected: string,
): { target: string; temporary: string } {
  const target = path.resolve(out);
  if (fs.existsSync(target)) {
    const names = fs.statSync(target).isDirectory() ? fs.readdirSync(target) : null;
    if (names === null || (names.length > 0 && !isPrevious(names))) throw new ValidationError(fn, 'options.out', expected, target);
  }
  const parent = path.dirname(target);
  const base = path.basename(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (error) {
    throw asIoError(error, 'mkdir', parent);
  }
  // Leftovers of killed runs: unfinished folders, and a replaced folder a run was killed before removing.
  removeStaleTemporaries(parent);
  for (const name of fs.readdirSync(parent)) {
    const old = /^(.+)\.old-(\d+)-\d+$/.exec(name);
    if (old && old[1] === base && !processIsAlive(Number(old[2]))) fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
  return { target, temporary: path.join(parent, `${base}.tmp-${process.pid}-${counter++}`) };
}

/**
 * Move a finished folder `temporary` to `target` (see {@link prepareFolderReplacement}): a previous `target` is moved
 * aside first and removed once the new one is there, so a kill leaves the old or the new folder, never a mix.
 * File-system errors become an `IoError` naming `target`.
 * @example
 * ```ts
 * moveFolderIntoPlace('out/ds.tmp-4242-0', '/abs/out/ds');
 * ```
 */
export function moveFolderIntoPlace(temporary: string, target: string): void {
  try {
    if (fs.existsSync(target)) {
      const aside = `${target}.old-${process.pid}-${counter++}`;
      fs.renameSync(target, aside);
      fs.renameSync(temporary, target);
      fs.rmSync(aside, { recursive: true, force: true });
    } else {
      fs.renameSync(temporary, target);
    }
  } catch (error) {
    throw asIoError(error, 'rename', target);
  }
}
