/**
 * File-system fault injection for the kill-and-resume and full-disk tests (test-only: nothing in `packages/` reads
 * it). It wraps the mutating synchronous `node:fs` functions (the library writes only through them) and numbers every
 * call whose path lies under a root folder — `open` for writing, `write`, `fsync`, `close` of such a descriptor,
 * `rename`, `mkdir`, `rm`, `unlink`, `writeFile`, … — so that a run can be
 *
 * - traced: each call appended as `n<TAB>op<TAB>path relative to the root` to a trace file (synchronously, so the
 *   trace survives a kill);
 * - killed: SIGKILL just before call `n` (the process dies between call n − 1 and call n, as a power cut would);
 * - filled: the n-th call that writes data (and every later one, as on a full disk) throws the `ENOSPC` error the
 *   kernel gives; renames and removals still work, as they do on a full disk.
 *
 * Two ways in: as a preload of a child process, configured by environment variables read only here
 * (`CA_FAULT_ROOT`, `CA_FAULT_TRACE`, `CA_FAULT_KILL_AT`, `CA_FAULT_ENOSPC_AT`):
 * `node --conditions=source --import tsx --import ./fuzz/faults.ts child.ts`; or in a test's own process through
 * {@link installFaults}, which returns the function that removes the wrappers.
 *
 * @example
 * ```ts
 * const uninstall = installFaults({ root: '/tmp/run', enospcAt: 3 }); // the 3rd data write under /tmp/run fails
 * try { saveCheckpoint('/tmp/run/step-000001', data); } finally { uninstall(); }
 * ```
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
// The CommonJS object: patching it and then calling syncBuiltinESMExports() updates every `import * as fs` too.
const fs = require('node:fs') as typeof import('node:fs');

/** Options of {@link installFaults}. */
export interface FaultOptions {
  /** Only calls on paths under this folder are numbered (and can fail). */
  root: string;
  /** Append every numbered call to this file. */
  trace?: string;
  /** SIGKILL this process just before numbered call `killAt` (1-based). */
  killAt?: number;
  /** The `enospcAt`-th call that writes data (open for writing, write, mkdir, …; 1-based) and every later one throws ENOSPC. */
  enospcAt?: number;
}

/** The kernel's error for a full disk, as Node raises it. */
export function enospcError(syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall} '${file}'`), { code: 'ENOSPC', errno: -28, syscall, path: file });
}

const WRITE_FLAGS = /[wa+]/;

/**
 * Install the wrappers (see the module docs); returns the function that restores the original `fs` functions.
 * @example
 * ```ts
 * const uninstall = installFaults({ root: dir, trace: path.join(dir, '..', 'trace.tsv') });
 * ```
 */
export function installFaults(options: FaultOptions): () => void {
  const root = path.resolve(options.root);
  const original = { appendFileSync: fs.appendFileSync } as Record<string, unknown> & { appendFileSync: typeof fs.appendFileSync };
  const wrapped: string[] = [];
  const base = { rmdirSync: fs.rmdirSync, unlinkSync: fs.unlinkSync, lstatSync: fs.lstatSync, readdirSync: fs.readdirSync };
  const open = new Map<number, string>();
  let n = 0;
  let writes = 0;
  const under = (p: unknown): p is string => typeof p === 'string' && (path.resolve(p) === root || path.resolve(p).startsWith(root + path.sep));
  const event = (op: string, file: string, writesData: boolean) => {
    n += 1;
    if (options.trace) original.appendFileSync(options.trace, `${n}\t${op}\t${path.relative(root, path.resolve(file))}\t${writesData ? 'w' : '-'}\n`);
    if (options.killAt === n) process.kill(process.pid, 'SIGKILL');
    if (writesData) writes += 1;
    if (writesData && options.enospcAt !== undefined && writes >= options.enospcAt) throw enospcError(op, file);
  };
  type Fn = (...args: unknown[]) => unknown;
  const wrap = (name: keyof typeof fs, check: (args: unknown[]) => [string, boolean] | null, after?: (result: unknown, args: unknown[]) => void) => {
    const fn = (fs as unknown as Record<string, Fn>)[name]!;
    original[name] = fn;
    wrapped.push(name);
    (fs as unknown as Record<string, Fn>)[name] = (...args: unknown[]) => {
      const hit = check(args);
      if (hit) event(name.replace(/Sync$/, ''), hit[0], hit[1]);
      const result = fn(...args);
      after?.(result, args);
      return result;
    };
  };
  const exists = (p: string) => {
    try {
      base.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  const byPath = (writesData: boolean) => (args: unknown[]): [string, boolean] | null => (under(args[0]) ? [args[0], writesData] : null);
  const byFd = (writesData: boolean) => (args: unknown[]): [string, boolean] | null => {
    const file = typeof args[0] === 'number' ? open.get(args[0]) : undefined;
    return file !== undefined ? [file, writesData] : null;
  };
  wrap(
    'openSync',
    (args) => (under(args[0]) && WRITE_FLAGS.test(String(args[1] ?? 'r')) ? [args[0], true] : null),
    (fd, args) => under(args[0]) && WRITE_FLAGS.test(String(args[1] ?? 'r')) && open.set(fd as number, path.resolve(args[0])),
  );
  wrap('writeSync', byFd(true));
  wrap('fsyncSync', byFd(false));
  wrap('closeSync', byFd(false), (_r, args) => open.delete(args[0] as number));
  wrap('renameSync', (args) => (under(args[0]) || under(args[1]) ? [String(args[1]), false] : null));
  wrap('writeFileSync', (args) => (under(args[0]) ? [args[0], true] : typeof args[0] === 'number' && open.has(args[0]) ? [open.get(args[0])!, true] : null));
  wrap('appendFileSync', byPath(true));
  wrap('copyFileSync', (args) => (under(args[1]) ? [String(args[1]), true] : null));
  wrap('cpSync', (args) => (under(args[1]) ? [String(args[1]), true] : null));
  // Creating a folder that exists writes nothing (a full disk does not fail it).
  wrap('mkdirSync', (args) => (under(args[0]) ? [args[0], !exists(args[0])] : null));
  wrap('mkdtempSync', byPath(true));
  wrap('symlinkSync', (args) => (under(args[1]) ? [String(args[1]), true] : null));
  wrap('linkSync', (args) => (under(args[1]) ? [String(args[1]), true] : null));
  wrap('truncateSync', byPath(false));
  // A recursive rm of a folder under the root is expanded into its own steps, each numbered (children in name order,
  // files before their folder), so a kill can land between any two of them as it can in the real one.
  const rmSync = fs.rmSync;
  original.rmSync = rmSync;
  wrapped.push('rmSync');
  const removeTree = (target: string): void => {
    let stat: import('node:fs').Stats;
    try {
      stat = base.lstatSync(target);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const name of base.readdirSync(target).sort()) removeTree(path.join(target, name));
      event('rmdir', target, false);
      base.rmdirSync(target);
    } else {
      event('unlink', target, false);
      base.unlinkSync(target);
    }
  };
  (fs as unknown as Record<string, Fn>).rmSync = (...args: unknown[]) => {
    if (!under(args[0])) return rmSync(...(args as Parameters<typeof rmSync>));
    const opts = (args[1] ?? {}) as { recursive?: boolean; force?: boolean };
    if (opts.recursive) return removeTree(path.resolve(args[0]));
    event('rm', args[0], false);
    return rmSync(...(args as Parameters<typeof rmSync>));
  };
  wrap('rmdirSync', byPath(false));
  wrap('unlinkSync', byPath(false));
  syncBuiltinESMExports();
  return () => {
    for (const name of wrapped) (fs as unknown as Record<string, unknown>)[name] = original[name];
    syncBuiltinESMExports();
  };
}

// As a preload: configured by the environment (see the module docs).
if (process.env.CA_FAULT_ROOT) {
  const int = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  installFaults({ root: process.env.CA_FAULT_ROOT, trace: process.env.CA_FAULT_TRACE, killAt: int('CA_FAULT_KILL_AT'), enospcAt: int('CA_FAULT_ENOSPC_AT') });
}
