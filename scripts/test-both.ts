/**
 * `pnpm test`'s test run: the whole suite with the native kernel provider on, then, with it off, every test file
 * whose result could differ between the two (issue 18: "the whole test suite passes with the native provider on and
 * with it off").
 *
 *  1. Pass 1 — every test file with `CA_NATIVE=1` (`initBackend` enables the provider where onnxruntime-node is
 *     installed) and `CA_NATIVE_THREADS=1` (vitest's two workers already fill both cores; two ONNX Runtime threads
 *     per worker would oversubscribe them — tests that need a thread count set it themselves). `scripts/test-both/record-setup.ts` writes one record per file: the provider's per-kernel counters,
 *     child processes started, counter resets.
 *  2. Pass 2 — with `CA_NATIVE` removed from the environment (the default: the provider off unless a test enables it
 *     itself), the files `scripts/test-both/select.mjs` selects: those that ran a kernel in ONNX Runtime or could
 *     have (the argument that the others ran exactly the provider-off kernels is in that file's header). Skipped, with
 *     a printed line, when no file saw ONNX Runtime: then pass 1 was already the plain suite.
 *
 * Prints the files of each pass, why each pass-2 file was chosen, and each pass's wall time; writes
 * `.runs/test-both/summary.json` (per-file durations from vitest's JSON reporter, provenance, load average).
 * Exits non-zero when either pass fails or pass 2 did not run exactly the selected files.
 *
 * Run: `node --import tsx scripts/test-both.ts` (what `pnpm test` does after type-checking); test files named after it
 * (paths from the repository root) restrict pass 1 to them, to try the script on a few files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultMeta } from './bench/result-meta.js';
import { readRecords, selectSecondPass } from './test-both/select.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, '.runs', 'test-both');
const RECORDS = join(OUT, 'records');
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

interface VitestReport {
  success: boolean;
  numFailedTests: number;
  numPassedTests: number;
  numPendingTests: number;
  testResults: { name: string; status: string; startTime: number; endTime: number }[];
}

interface PassResult {
  name: string;
  files: number;
  exitCode: number;
  wallSeconds: number;
  loadAverageAfter: number[];
  tests: { passed: number; failed: number; skipped: number } | null;
  durations: { file: string; seconds: number; status: string }[];
}

/** Run vitest once on `files` (paths from the repository root; none = the whole suite). */
function runPass(name: string, env: NodeJS.ProcessEnv, files: string[]): PassResult {
  const report = join(OUT, `${name}.json`);
  const args = [VITEST, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...files.map((f) => resolve(ROOT, f))];
  console.log(`\ntest-both: ${name}: ${files.length ? `${files.length} files` : 'every test file'}, CA_NATIVE=${env.CA_NATIVE ?? '(unset)'}`);
  const t0 = performance.now();
  const run = spawnSync(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
  const wallSeconds = (performance.now() - t0) / 1000;
  const parsed: VitestReport | null = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : null;
  const durations = (parsed?.testResults ?? [])
    .map((r) => ({ file: relative(ROOT, r.name).split('\\').join('/'), seconds: (r.endTime - r.startTime) / 1000, status: r.status }))
    .sort((a, b) => b.seconds - a.seconds);
  return {
    name,
    files: durations.length,
    exitCode: run.status ?? 1,
    wallSeconds,
    loadAverageAfter: loadavg(),
    tests: parsed ? { passed: parsed.numPassedTests, failed: parsed.numFailedTests, skipped: parsed.numPendingTests } : null,
    durations,
  };
}

const minutes = (s: number) => `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;

function main(): number {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(RECORDS, { recursive: true });
  const only = process.argv.slice(2);
  const meta = resultMeta('scripts/test-both.ts', only, `node --import tsx scripts/test-both.ts ${only.join(' ')}`.trim());

  // 1. the whole suite (or the files named on the command line), provider on, one record per file
  const pass1 = runPass('pass1-native-on', { ...process.env, CA_NATIVE: '1', CA_NATIVE_THREADS: '1', CA_TEST_NATIVE_RECORDS: RECORDS }, only);
  const files = pass1.durations.map((d) => d.file);
  const records = readRecords(RECORDS);
  const sources = new Map(files.map((f) => [f, readFileSync(resolve(ROOT, f), 'utf8')]));
  const selection = selectSecondPass({ files, records, sources });

  // 2. the files whose kernels differed, provider off
  const offEnv = { ...process.env };
  delete offEnv.CA_NATIVE;
  let pass2: PassResult | null = null;
  let mismatch: string[] = [];
  if (!selection.ortAvailable) {
    console.log(`\ntest-both: pass 2 skipped — ONNX Runtime is not available here (${selection.ortReason}), so pass 1 already ran every file with the provider off.`);
  } else if (!files.length) {
    console.log('\ntest-both: pass 2 skipped — pass 1 reported no test files.');
  } else {
    console.log(`\ntest-both: pass 2 reruns ${selection.selected.length} of ${files.length} files with the provider off; the other ${selection.skipped.length} ran no kernel in ONNX Runtime (scripts/test-both/select.mjs):`);
    for (const { file, why } of selection.selected) console.log(`  ${file} — ${why.join('; ')}`);
    if (selection.selected.length) {
      pass2 = runPass('pass2-native-off', offEnv, selection.selected.map((s) => s.file));
      const ran = new Set(pass2.durations.map((d) => d.file));
      const wanted = new Set(selection.selected.map((s) => s.file));
      mismatch = [...wanted].filter((f) => !ran.has(f)).map((f) => `not run: ${f}`).concat([...ran].filter((f) => !wanted.has(f)).map((f) => `not selected: ${f}`));
    }
  }

  const fileSeconds = (pass: PassResult, keep: (file: string) => boolean = () => true) => pass.durations.filter((d) => keep(d.file)).reduce((sum, d) => sum + d.seconds, 0);
  const rerun = new Set(selection.selected.map((s) => s.file));
  const summary = {
    ...meta,
    note: 'wall times from one run; the machine may have been shared (see machine.loadAverage at the start and each pass\'s loadAverageAfter)',
    ortAvailable: selection.ortAvailable,
    ortReason: selection.ortReason,
    totalWallSeconds: pass1.wallSeconds + (pass2?.wallSeconds ?? 0),
    // Sums of vitest's per-file durations (both workers together), and pass 1's share in the files pass 2 skipped.
    pass1FileSeconds: fileSeconds(pass1),
    pass1FileSecondsNotRerun: fileSeconds(pass1, (f) => !rerun.has(f)),
    pass2FileSeconds: pass2 ? fileSeconds(pass2) : 0,
    pass1,
    pass2,
    pass2Selection: selection.selected,
    pass2Mismatch: mismatch,
  };
  const summaryPath = join(OUT, 'summary.json');
  writeFileSync(`${summaryPath}.tmp`, JSON.stringify(summary, null, 2) + '\n');
  renameSync(`${summaryPath}.tmp`, summaryPath);

  console.log('\ntest-both: summary');
  for (const pass of [pass1, pass2]) {
    if (!pass) continue;
    const t = pass.tests;
    console.log(`  ${pass.name}: ${pass.files} files, ${t ? `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped` : 'no report'}, ${minutes(pass.wallSeconds)} wall, exit ${pass.exitCode}`);
  }
  console.log(`  total: ${minutes(summary.totalWallSeconds)} wall; per-file durations in ${relative(ROOT, summaryPath)}`);
  for (const line of mismatch) console.log(`  pass 2 ${line}`);
  return pass1.exitCode !== 0 || (pass2 && pass2.exitCode !== 0) || mismatch.length ? 1 : 0;
}

process.exitCode = main();
