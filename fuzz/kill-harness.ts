/**
 * The kill-and-resume harness: run a scenario of `fuzz/kill-scenarios.ts` in a child process with the fault preload
 * (`fuzz/faults.ts`), once traced and uninterrupted (the reference), then once per chosen kill point — SIGKILL just
 * before file-system call `n` under the run folder — and check what the kill left: every checkpoint the run folder
 * lists must load with its checksums verified (nothing unreadable), a dataset folder must be absent or complete. The
 * test then re-runs the scenario in its own process and compares the outcome with the reference bit for bit.
 *
 * Kill points are chosen from the reference trace by phase ({@link phaseOf}: which file of a checkpoint or dataset
 * a call writes, the folder rename, the pruning), not at random: every phase is hit on every run of the test.
 *
 * @example
 * ```ts
 * const ref = runChild('toy', dir);                        // { outcome, events }
 * const points = pickKillPoints(ref.events, savesWindow(ref.events, 3), 'edges');
 * for (const p of points) runChild('toy', freshDir, { killAt: p.n }); // status: SIGKILL
 * ```
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCheckpoints, loadCheckpoint, tf } from '@consistent-avatar/core';
import type { Outcome } from './kill-scenarios.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One numbered file-system call of a traced run. */
export interface TraceEvent {
  n: number;
  op: string;
  /** Relative to the run folder. */
  path: string;
}

/** What a child run gave back. */
export interface ChildRun {
  /** The outcome line, or null when the child was killed. */
  outcome: Outcome | null;
  signal: NodeJS.Signals | null;
  status: number | null;
  events: TraceEvent[];
  stderr: string;
}

/**
 * Run scenario `name` into `runDir` in a child process with the fault preload; `killAt` kills it before that call.
 * @example
 * ```ts
 * const { outcome, events } = runChild('tsdm', '/tmp/k/ref/run');
 * ```
 */
export function runChild(name: string, runDir: string, options: { killAt?: number; dataset?: string } = {}): ChildRun {
  const trace = `${runDir}.trace.tsv`;
  fs.mkdirSync(path.dirname(runDir), { recursive: true });
  fs.rmSync(trace, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, CA_FAULT_ROOT: runDir, CA_FAULT_TRACE: trace };
  if (options.killAt !== undefined) env.CA_FAULT_KILL_AT = String(options.killAt);
  const args = ['--conditions=source', '--import', 'tsx', '--import', './fuzz/faults.ts', 'fuzz/kill-child.ts', name, runDir];
  if (options.dataset) args.push(options.dataset);
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 600_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('OUTCOME '));
  const events = fs.existsSync(trace)
    ? fs.readFileSync(trace, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
        const [n, op, p] = l.split('\t');
        return { n: Number(n), op: op!, path: p ?? '' };
      })
    : [];
  return { outcome: line ? (JSON.parse(line.slice('OUTCOME '.length)) as Outcome) : null, signal: r.signal, status: r.status, events, stderr: r.stderr };
}

/** A checkpoint temporary / set-aside folder or file left by a writer (`…tmp-<pid>-<n>`, `…old-<pid>-<n>`). */
export const LEFTOVER = /\.(tmp|old)-\d+-\d+$/;

/**
 * The phase of a call: `write <file>` for a file of a checkpoint being written (`config.json`, `model.safetensors`,
 * `optimizer.safetensors`, `state.json`, `checksums.json`), `prepare` (its temporary folder), `swap` (the rename of
 * the folder into place), `prune` (removing an older checkpoint or a leftover), `lock`, `loss log`, and for datasets
 * `dataset <part>` (the first path component inside the dataset's temporary folder), `dataset swap`, `dataset
 * cleanup`. Null for anything else.
 * @example
 * ```ts
 * phaseOf({ n: 7, op: 'rename', path: 'step-000006.tmp-42-2/state.json' }); // 'write state.json'
 * ```
 */
export function phaseOf(e: TraceEvent): string | null {
  const parts = e.path.split('/');
  const last = parts[parts.length - 1] ?? '';
  const base = last.replace(/^\.+/, '').replace(/(\.tmp-\d+-\d+)+$/, '');
  if (base === 'lock') return 'lock';
  const ckptTmp = parts.findIndex((p) => /^step-\d+\.tmp-\d+-\d+$/.test(p));
  if (ckptTmp >= 0) return ckptTmp === parts.length - 1 ? 'prepare' : `write ${base}`;
  if (e.op === 'rename' && /^step-\d+$/.test(last)) return 'swap';
  if (/^\.?step-\d+(\.tmp-\d+-\d+|\.old-\d+-\d+)?$/.test(base) || parts.some((p) => /^\.?step-\d+/.test(p))) return e.op === 'mkdir' ? 'prepare' : 'prune';
  if (base === 'loss.json') return 'loss log';
  const dsTmp = parts.findIndex((p) => /^dataset\.tmp-\d+-\d+$/.test(p));
  if (dsTmp >= 0) return dsTmp === parts.length - 1 ? (e.op === 'rename' ? 'dataset swap' : 'dataset prepare') : `dataset ${parts[dsTmp + 1]!.replace(/^\./, '').replace(/\.tmp-\d+-\d+$/, '')}`;
  if (parts.some((p) => /^dataset(\.old-\d+-\d+)?$/.test(p))) return e.op === 'rename' ? 'dataset swap' : 'dataset cleanup';
  return null;
}

/**
 * The calls of the `k`-th checkpoint save (1-based) of a traced run, its pruning included: from the first call on the
 * k-th distinct `…/step-N.tmp-*` folder to the call before the next save's.
 * @example
 * ```ts
 * const [from, to] = saveWindow(events, 3);
 * ```
 */
export function saveWindow(events: TraceEvent[], k: number): [number, number] {
  const starts: number[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    const m = /^((?:.*\/)?step-\d+\.tmp-\d+-\d+)/.exec(e.path);
    if (m && !seen.has(m[1]!)) {
      seen.add(m[1]!);
      starts.push(e.n);
    }
  }
  if (starts.length < k) throw new Error(`the trace has ${starts.length} checkpoint saves, not ${k}`);
  return [starts[k - 1]!, (starts[k] ?? events[events.length - 1]!.n + 1) - 1];
}

/**
 * Kill points in the calls numbered `from` … `to`: `'all'` every call (a run of writes to one file counts by its first
 * and last), `'edges'` the first and the last call of each phase (every call of the pruning, whose order matters), `'last'` the last call of each phase (the phase is
 * done but not committed) and the first of the pruning (the folder just renamed into place).
 * @example
 * ```ts
 * pickKillPoints(events, [120, 160], 'edges'); // [{ n: 120, phase: 'prepare' }, …]
 * ```
 */
export function pickKillPoints(events: TraceEvent[], [from, to]: [number, number], mode: 'all' | 'edges' | 'last'): Array<{ n: number; phase: string }> {
  const inWindow = events.filter((e) => e.n >= from && e.n <= to);
  const picked = new Map<number, string>();
  if (mode === 'all') {
    inWindow.forEach((e, i) => {
      const prev = inWindow[i - 1], next = inWindow[i + 1];
      const middleOfWrites = e.op === 'write' && prev?.op === 'write' && next?.op === 'write' && prev.path === e.path && next.path === e.path;
      if (!middleOfWrites) picked.set(e.n, phaseOf(e) ?? e.op);
    });
  } else {
    const byPhase = new Map<string, TraceEvent[]>();
    for (const e of inWindow) {
      const phase = phaseOf(e);
      if (phase) byPhase.set(phase, [...(byPhase.get(phase) ?? []), e]);
    }
    for (const [phase, list] of byPhase) {
      if (mode === 'edges' && phase === 'prune') for (const e of list) picked.set(e.n, `${phase} (every call)`);
      if (mode === 'edges' || phase === 'prune') picked.set(list[0]!.n, `${phase} (before its first call)`);
      picked.set(list[list.length - 1]!.n, `${phase} (before its last call)`);
    }
  }
  return [...picked].sort((a, b) => a[0] - b[0]).map(([n, phase]) => ({ n, phase }));
}

/** Folders under `dir` (itself included). */
function foldersUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out = [dir];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...foldersUnder(path.join(dir, e.name)));
  return out;
}

/**
 * Every checkpoint a folder (or a subfolder: the FCSD phases) lists must load with its checksums verified. Returns
 * the problems found (empty: nothing unreadable).
 * @example
 * ```ts
 * expect(unreadableCheckpoints('/tmp/k/run')).toEqual([]);
 * ```
 */
export function unreadableCheckpoints(runDir: string): string[] {
  const problems: string[] = [];
  for (const dir of foldersUnder(runDir)) {
    for (const { dir: ckpt } of listCheckpoints(dir)) {
      try {
        const loaded = loadCheckpoint(ckpt);
        tf.dispose([...Object.values(loaded.tensors), ...Object.values(loaded.optimizerTensors ?? {})]);
      } catch (error) {
        problems.push(`${path.relative(runDir, ckpt)}: ${(error as Error).message}`);
      }
    }
  }
  return problems;
}

/**
 * Leftovers of killed writers under `dir` (temporaries, set-aside copies), relative paths.
 * @example
 * ```ts
 * expect(leftovers('/tmp/k/run')).toEqual([]);
 * ```
 */
export function leftovers(dir: string): string[] {
  const out: string[] = [];
  for (const folder of foldersUnder(dir)) {
    for (const name of fs.readdirSync(folder)) if (LEFTOVER.test(name)) out.push(path.relative(dir, path.join(folder, name)));
  }
  return out;
}

/** What {@link killThenResume} needs. */
export interface KillPoint {
  /** Scenario name (the child runs it). */
  scenario: string;
  /** A fresh run folder. */
  runDir: string;
  /** Kill before this call. */
  n: number;
  /** Its phase, for the messages. */
  phase: string;
  /** The uninterrupted run's outcome. */
  reference: Outcome;
  /** Re-run the scenario in this process (the resume). */
  resume: () => Promise<Outcome>;
  /** The proxy fitter's dataset. */
  dataset?: string;
  /** More checks after the resume (problems returned). */
  after?: () => string[];
}

/**
 * Kill the scenario's child at call `n`, check the run folder (every listed checkpoint loads, verified), resume in
 * this process and compare with the reference: final weights and loss log bit-identical, the re-run steps' losses the
 * reference's last ones, no leftovers. Returns the problems (empty: all good).
 * @example
 * ```ts
 * const problems = await killThenResume({ scenario: 'toy', runDir, n: 17, phase: 'swap', reference, resume: () => toy(runDir, {}) });
 * ```
 */
export async function killThenResume(p: KillPoint): Promise<string[]> {
  const at = `call ${p.n} (${p.phase})`;
  const killed = runChild(p.scenario, p.runDir, { killAt: p.n, dataset: p.dataset });
  if (killed.signal !== 'SIGKILL') return [`${at}: the child was not killed (status ${killed.status}) ${killed.stderr.slice(-500)}`];
  const problems = unreadableCheckpoints(p.runDir).map((u) => `${at}: unreadable after the kill: ${u}`);
  try {
    const resumed = await p.resume();
    const ref = p.reference;
    if (resumed.weights !== ref.weights) problems.push(`${at}: final weights differ`);
    if (JSON.stringify(resumed.lossLog) !== JSON.stringify(ref.lossLog)) problems.push(`${at}: loss log differs`);
    const tail = ref.stepLosses.slice(ref.stepLosses.length - resumed.stepLosses.length);
    if (JSON.stringify(resumed.stepLosses) !== JSON.stringify(tail)) problems.push(`${at}: re-run losses differ`);
    problems.push(...(p.after?.() ?? []).map((a) => `${at}: ${a}`));
    const left = leftovers(p.runDir);
    if (left.length > 0) problems.push(`${at}: leftovers after the resume: ${left.join(', ')}`);
  } catch (error) {
    problems.push(`${at}: the resume failed: ${(error as Error).message}`);
  }
  fs.rmSync(path.dirname(p.runDir), { recursive: true, force: true });
  return problems;
}
