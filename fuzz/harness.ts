/**
 * The fuzz harness: runs the cases of every target in a child process ({@link ./worker.ts}) under a time cap and a
 * memory cap per case, and classifies each case as typed / untyped / hang / over-memory / garbage (or ok). A case
 * that outlives `timeoutMs` is a hang and one whose resident memory grows more than `memoryCapBytes` above its start
 * (polled every 20 ms, and the worker's own VmHWM peak) is over-memory; either kills the worker, which is restarted for
 * the next case. Case `i` of target `t` with base seed `s` always receives the same input ({@link caseSeed}).
 *
 * @example
 * ```ts
 * import { runFuzz } from './harness.js';
 * const result = await runFuzz({ cases: 200, seed: 1 });
 * console.log(result.targets.npy); // { cases: 200, ok: 12, typed: 188, untyped: 0, hang: 0, overMemory: 0, garbage: 0, … }
 * ```
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseReport } from './worker.js';

/** Names of the targets (keep in step with `FUZZ_TARGETS` in targets.ts; the worker rejects unknown ones). */
export const TARGET_NAMES = [
  'safetensors', 'npy', 'npz', 'png', 'json', 'scheduler-config', 'model-config', 'insta', 'nerface', 'imavatar', 'mead-tree',
  'expression-db', 'checkpoint', 'state-json',
] as const;

/** Per-target counts. */
export interface TargetResult {
  cases: number;
  ok: number;
  typed: number;
  untyped: number;
  hang: number;
  overMemory: number;
  garbage: number;
  /** Largest peak RSS growth of one case (bytes). */
  maxPeakBytes: number;
  /** Mean milliseconds per case. */
  meanMs: number;
  /** The first failures (untyped, hang, over-memory, garbage) with their seeds, to reproduce. */
  failures: Array<{ seed: number; kind: string; detail: string }>;
}

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** Cases per target. */
  cases: number;
  /** Base seed. */
  seed: number;
  /** Targets to run (default all). */
  targets?: readonly string[];
  /** Time cap per case (ms). Default 10 000. */
  timeoutMs?: number;
  /** Memory cap per case: resident growth above the case's start (bytes). Default 256 MiB. */
  memoryCapBytes?: number;
  /** Called after each case. */
  onCase?: (target: string, index: number, kind: string) => void;
}

/** The seed of case `index` for base seed `seed` (a 32-bit integer, distinct per index). */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) + Math.imul(index, 0x85ebca6b)) | 0;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

class Worker {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;

  start(): Promise<void> {
    this.child = fork(path.join(ROOT, 'fuzz', 'worker.ts'), [], {
      cwd: ROOT,
      execArgv: ['--conditions=source', '--import', 'tsx', '--stack-size=984'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.resume(); // third-party warnings; outcomes come over IPC
    const child = this.child;
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (m?.ready) {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`fuzz worker exited during setup (code ${code})`)));
    });
    return this.ready;
  }

  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
    this.ready = null;
  }

  async run(target: string, seed: number, timeoutMs: number, memoryCapBytes: number): Promise<{ kind: string; report: CaseReport | null }> {
    if (!this.child) await this.start();
    await this.ready;
    const child = this.child!;
    const pid = child.pid!;
    const start = rssBytes(pid);
    return new Promise((resolve) => {
      let done = false;
      const finish = (kind: string, report: CaseReport | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (kind === 'hang' || kind === 'overMemory' || kind === 'crash') this.kill();
        resolve({ kind, report });
      };
      const onMessage = (report: CaseReport) => {
        const over = report.peakBytes !== null && report.peakBytes > memoryCapBytes;
        finish(over ? 'overMemory' : report.outcome, report);
      };
      const onExit = () => finish('crash', null);
      const timer = setTimeout(() => finish('hang', null), timeoutMs);
      const poll = setInterval(() => {
        if (rssBytes(pid) - start > memoryCapBytes) finish('overMemory', null);
      }, 20);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ target, seed });
    });
  }
}

/**
 * Run `cases` seeded cases of each target; returns per-target counts.
 * @example
 * ```ts
 * const { targets } = await runFuzz({ cases: 50, seed: 7, targets: ['npz'] });
 * ```
 */
export async function runFuzz(options: FuzzOptions): Promise<{ targets: Record<string, TargetResult>; seconds: number }> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const memoryCapBytes = options.memoryCapBytes ?? 256 * 2 ** 20;
  const names = options.targets ?? TARGET_NAMES;
  const worker = new Worker();
  const t0 = performance.now();
  const targets: Record<string, TargetResult> = {};
  try {
    for (const name of names) {
      const r: TargetResult = { cases: 0, ok: 0, typed: 0, untyped: 0, hang: 0, overMemory: 0, garbage: 0, maxPeakBytes: 0, meanMs: 0, failures: [] };
      let totalMs = 0;
      for (let i = 0; i < options.cases; i++) {
        const seed = caseSeed(options.seed, i);
        const { kind, report } = await worker.run(name, seed, timeoutMs, memoryCapBytes);
        // A worker that dies mid-case (a native abort) counts as untyped: the error escaped every handler.
        const k = kind === 'crash' ? 'untyped' : kind;
        r.cases++;
        (r as unknown as Record<string, number>)[k]!++;
        if (report) {
          totalMs += report.ms;
          r.maxPeakBytes = Math.max(r.maxPeakBytes, report.peakBytes ?? 0);
        } else totalMs += timeoutMs;
        if (!['ok', 'typed'].includes(k) && r.failures.length < 10) r.failures.push({ seed, kind: k, detail: report?.detail ?? kind });
        options.onCase?.(name, i, k);
      }
      r.meanMs = totalMs / Math.max(1, r.cases);
      targets[name] = r;
    }
  } finally {
    worker.kill();
  }
  return { targets, seconds: (performance.now() - t0) / 1000 };
}
