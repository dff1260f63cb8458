/**
 * Vitest setup file (registered in `vitest.config.ts`) for `scripts/test-both.mjs`'s first pass. Inert unless
 * `CA_TEST_NATIVE_RECORDS` names a folder: then, for each test file, it writes one JSON record there saying what the
 * native kernel provider did while the file ran — ONNX Runtime's availability, the per-kernel call counters
 * (summed over the file's tests, across `resetNativeKernelStats()` calls it can see), whether the counters were
 * reset under it, and every child process the file started (which this process cannot observe). The driver reads
 * the records to decide which files must also run with the provider off (`scripts/test-both/select.mjs`).
 *
 * Records are written atomically (temporary file, then rename), one file per test file, so the parallel vitest
 * workers never share a file.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { accumulateCounters, emptyTotals, recordFileName, RECORD_VERSION } from './select.mjs';

const recordDir = process.env.CA_TEST_NATIVE_RECORDS;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

if (recordDir) {
  const children: string[] = [];
  // Every way `node:child_process` starts a process: CommonJS callers (and libraries) see the patched object, ESM
  // importers see it after syncBuiltinESMExports() — this runs before the test file is imported.
  const childProcess = createRequire(import.meta.url)('node:child_process') as Record<string, (...args: unknown[]) => unknown>;
  const recording = (name: string, original: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]) {
      const command = typeof args[0] === 'string' ? args[0] : String(args[0]);
      // fork() runs a module in a new node process; exec()/execSync() take a shell command line.
      children.push(name === 'fork' ? `node ${basename(command)}` : command.split(/\s+/)[0]!);
      return original.apply(this, args);
    };
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
    const original = childProcess[name]!;
    const wrapper = recording(name, original) as typeof original & Record<symbol, unknown>;
    // exec / execFile carry util.promisify's custom form ({ stdout, stderr }): keep it, recording too.
    const custom = (original as unknown as Record<symbol, unknown>)[promisify.custom];
    if (typeof custom === 'function') wrapper[promisify.custom] = recording(name, custom as (...args: unknown[]) => unknown);
    childProcess[name] = wrapper;
  }
  syncBuiltinESMExports();

  const state = { file: '', totals: emptyTotals(), last: emptyTotals(), reset: false, active: false, reason: '', ortAvailable: false, ortReason: '' };
  // The provider module is imported lazily and through the same module graph as the test file, so this reads the
  // instance the test used (or a fresh one, all zeros, when the test never loaded it).
  const sample = async () => {
    const { nativeKernelStatus } = await import('../../packages/core/src/native/provider.js');
    const { loadOrtBinding } = await import('../../packages/core/src/native/ort-binding.js');
    const status = nativeKernelStatus();
    const ort = loadOrtBinding();
    const next = accumulateCounters(state.totals, state.last, status.counters);
    state.totals = next.totals;
    state.last = next.last;
    state.reset ||= next.reset;
    state.active ||= status.active;
    if (!status.active && status.reason) state.reason = status.reason;
    if (ort.available) state.ortAvailable = true;
    else state.ortReason ||= ort.reason;
  };
  beforeAll(({}, suite) => {
    state.file = relative(ROOT, (suite as unknown as { filepath: string }).filepath).split('\\').join('/');
  });
  afterEach(sample);
  afterAll(async () => {
    await sample();
    const record = {
      version: RECORD_VERSION,
      file: state.file,
      ortAvailable: state.ortAvailable,
      ortReason: state.ortAvailable ? '' : state.ortReason,
      active: state.active,
      reason: state.active ? '' : state.reason,
      counters: state.totals,
      countersReset: state.reset,
      childProcesses: children,
    };
    mkdirSync(recordDir, { recursive: true });
    const target = join(recordDir, recordFileName(state.file));
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(record, null, 2) + '\n');
    renameSync(temporary, target);
  });
}
