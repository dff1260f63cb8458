/**
 * One writer per run folder. {@link acquireRunLock} creates `<dir>/.lock` exclusively holding the holder's pid,
 * host, start time and command — written whole to a temporary first and hard-linked into place, so a process killed
 * while taking the lock never leaves an empty, unreadable one that would block the folder for good; a second process that asks for the same folder gets a
 * {@link RunLockedError} naming the holder, before it does any work. A lock whose process is gone (same host, pid not
 * alive) is stale and taken over; a lock from another host is never taken over (its pid cannot be checked here).
 * Within one process the lock is re-entrant (a count): a trainer and the checkpoint manager it uses may both hold it.
 * Locks are released by {@link RunLock.release} and, for those still held, when the process exits.
 *
 * @example
 * ```ts
 * import { acquireRunLock } from '@consistent-avatar/core';
 * const lock = acquireRunLock('runs/tsdm');   // throws RunLockedError when another live process holds it
 * try { // … write into runs/tsdm …
 * } finally { lock.release(); }
 * ```
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IoError, RunLockedError, ValidationError, asIoError } from '../errors.js';
import { processIsAlive, temporarySibling } from './atomic.js';

/** The file name of a run folder's lock. */
export const RUN_LOCK_FILE = '.lock';

/** What a lock file records. */
interface LockRecord {
  pid: number;
  host: string;
  started: string;
  command: string;
}

/**
 * A held lock on a run folder; {@link RunLock.release} gives it back (idempotent).
 * @example
 * ```ts
 * const lock = acquireRunLock('runs/a'); lock.release();
 * ```
 */
export interface RunLock {
  /** The locked folder (absolute). */
  readonly dir: string;
  /** Release this hold (the file is removed when the process's last hold is released). */
  release(): void;
}

const held = new Map<string, { count: number; file: string }>();
let exitHookInstalled = false;

function describeHolder(record: Partial<LockRecord> | null): string {
  if (!record) return 'an unknown process (unreadable lock file)';
  const pid = Number.isSafeInteger(record.pid) ? `pid ${record.pid}` : 'an unknown pid';
  const host = typeof record.host === 'string' ? ` on ${record.host.slice(0, 100)}` : '';
  const since = typeof record.started === 'string' ? ` since ${record.started.slice(0, 40)}` : '';
  const command = typeof record.command === 'string' ? ` (${record.command.slice(0, 200)})` : '';
  return `${pid}${host}${since}${command}`;
}

function readRecord(file: string): Partial<LockRecord> | null {
  try {
    const text = fs.readFileSync(file, 'utf8');
    if (text.length > 4096) return null;
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' ? (value as Partial<LockRecord>) : null;
  } catch {
    return null;
  }
}

function isStale(record: Partial<LockRecord> | null): boolean {
  if (!record || record.host !== os.hostname() || !Number.isSafeInteger(record.pid)) return false;
  return !processIsAlive(record.pid as number);
}

/**
 * Lock `dir` (created if missing) for this process. Throws {@link RunLockedError} when another live process holds it;
 * takes over a stale lock (its process is gone); system errors become {@link IoError}.
 *
 * @param dir - the run folder.
 * @returns the hold; call `release()` when done (the process's exit releases it too).
 * @example
 * ```ts
 * const lock = acquireRunLock('.runs/10-stage2');
 * ```
 */
export function acquireRunLock(dir: string): RunLock {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('acquireRunLock', 'dir', 'a folder path', dir);
  const abs = path.resolve(dir);
  const mine = held.get(abs);
  if (mine) {
    mine.count++;
    return handle(abs);
  }
  try {
    fs.mkdirSync(abs, { recursive: true });
  } catch (error) {
    throw asIoError(error, 'mkdir', abs);
  }
  const file = path.join(abs, RUN_LOCK_FILE);
  const record: LockRecord = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command: process.argv.slice(1).join(' ').slice(0, 500) };
  // Two tries: a stale lock is moved aside once, then the exclusive create must succeed.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createComplete(file, JSON.stringify(record))) {
      held.set(abs, { count: 1, file });
      installExitHook();
      return handle(abs);
    }
    const existing = readRecord(file);
    if (!isStale(existing)) throw new RunLockedError(abs, describeHolder(existing), file);
    // Move the stale lock aside (rename is atomic: of two processes taking over, one wins), then check that what was
    // moved is the stale lock judged above and not a fresh one written in between; a fresh one goes back.
    const aside = `${file}.stale-${process.pid}-${attempt}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // another process moved it first; retry the create
    }
    const moved = readRecord(aside);
    if (moved?.pid !== existing?.pid || moved?.started !== existing?.started) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // someone holds the folder by now either way
      }
      fs.rmSync(aside, { force: true });
      throw new RunLockedError(abs, describeHolder(moved), file);
    }
    fs.rmSync(aside, { force: true });
  }
  throw new RunLockedError(abs, describeHolder(readRecord(file)), file);
}

/**
 * Create `file` holding `text` only if it does not exist, never leaving it empty or half-written: the record is written
 * to a temporary sibling first and hard-linked into place (link fails when the name exists). A process killed between
 * the two leaves only the temporary, which `removeStaleTemporaries` removes. Returns false when `file` exists.
 */
function createComplete(file: string, text: string): boolean {
  const tmp = temporarySibling(file);
  try {
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
    } catch (error) {
      // A file system without hard links: an exclusive create (a kill between its open and its write can leave it empty).
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
      fs.writeFileSync(file, text, { flag: 'wx' });
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error instanceof IoError ? error : asIoError(error, 'create', file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function handle(abs: string): RunLock {
  let released = false;
  return {
    dir: abs,
    release: () => {
      if (released) return;
      released = true;
      const entry = held.get(abs);
      if (!entry) return;
      entry.count--;
      if (entry.count > 0) return;
      held.delete(abs);
      removeIfOurs(entry.file);
    },
  };
}

function removeIfOurs(file: string): void {
  const record = readRecord(file);
  if (record?.pid === process.pid && record.host === os.hostname()) fs.rmSync(file, { force: true });
}

/** Release every lock still held when the process exits (installed with the first lock, not on import). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const { file } of held.values()) removeIfOurs(file);
    held.clear();
  });
}
