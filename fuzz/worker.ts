/**
 * The fuzz worker: a child process that writes every target's seeds once, then runs the cases its parent sends over
 * IPC (`{ target, seed }`) one at a time, each in a fresh folder, and answers with the outcome: `ok` (parsed and the
 * oracle agrees), `typed` (refused with one of the library's typed errors), `untyped` (any other exception: a
 * TypeError, a RangeError, a stack overflow…) or `garbage` (parsed, but the oracle found nonsense), plus the case's
 * peak resident memory above its start (VmHWM after resetting it through /proc/self/clear_refs). The parent owns
 * the time and memory caps: it kills this process when a case hangs or grows past the cap.
 *
 * @example
 * ```ts
 * // spawned by fuzz/harness.ts: node --conditions=source --import tsx fuzz/worker.ts
 * ```
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '@consistent-avatar/core';
import { FUZZ_TARGETS } from './targets.js';

/** Error classes the library throws on purpose. */
const TYPED = new Set(['ValidationError', 'FormatError', 'IoError', 'RunLockedError', 'NonFiniteError', 'BackendUnavailableError']);

/** A case's answer. */
export interface CaseReport {
  outcome: 'ok' | 'typed' | 'untyped' | 'garbage';
  /** Error name and (bounded) message, or the oracle's complaint. */
  detail: string;
  /** Peak RSS growth during the case, bytes (null when the kernel does not expose it). */
  peakBytes: number | null;
  ms: number;
}

function statusKiB(field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  await initBackend('cpu');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-fuzz-'));
  process.once('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  const seedDirs = new Map<string, string>();
  for (const target of FUZZ_TARGETS) {
    const dir = path.join(base, 'seeds', target.name);
    fs.mkdirSync(dir, { recursive: true });
    await target.setup(dir);
    seedDirs.set(target.name, dir);
  }
  let counter = 0;
  process.on('message', async (message: { target: string; seed: number }) => {
    const target = FUZZ_TARGETS.find((t) => t.name === message.target);
    if (!target) throw new Error(`unknown fuzz target ${message.target}`);
    const caseDir = path.join(base, `case-${counter++}`);
    fs.mkdirSync(caseDir);
    const canPeak = resetPeak();
    const before = statusKiB('VmRSS');
    const t0 = performance.now();
    let outcome: CaseReport['outcome'];
    let detail = '';
    try {
      const problem = await target.run(seedDirs.get(target.name)!, caseDir, message.seed);
      outcome = problem === null ? 'ok' : 'garbage';
      detail = problem ?? '';
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      outcome = TYPED.has(name) && typeof (error as { code?: unknown }).code === 'string' ? 'typed' : 'untyped';
      detail = `${name}: ${error instanceof Error ? error.message.slice(0, 300) : String(error).slice(0, 300)}`;
    }
    const ms = performance.now() - t0;
    const peak = canPeak ? statusKiB('VmHWM') : null;
    fs.rmSync(caseDir, { recursive: true, force: true });
    const report: CaseReport = { outcome, detail, peakBytes: peak !== null && before !== null ? Math.max(0, peak - before) * 1024 : null, ms };
    process.send!(report);
  });
  process.send!({ ready: true });
}

void main();
