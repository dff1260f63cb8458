#!/usr/bin/env node
/**
 * `pnpm bench:all [--quick] [--only a,b] [--list]` — re-run every benchmark and evaluation that fits on this machine
 * (issue 17), one after the other, and write one result file per bench: the bench's printed figures (its stdout,
 * line by line), the command, exit status, duration, git commit (and whether the tree was dirty), date, machine and
 * the load average before and after — the file the docs cite (`scripts/check-doc-numbers.mjs`). A bench that writes
 * its own result file (named in `writes`) keeps it; its path is recorded too. Never edit a result file by hand:
 * re-run the bench.
 *
 * Full mode writes `<package>/bench/results/<name>.run.json` (what BENCHMARKS.md cites) and runs each bench with the
 * arguments BENCHMARKS.md gives. `--quick` runs each with the smallest arguments that still exercise it, writes to
 * `.runs/bench-all-quick/` (not published: a check that every bench still runs), and skips the long ones.
 *
 * Not run here: `packages/metrics/bench/train-pose-expression.ts` (it re-trains the shipped weights; run it on
 * purpose), and the PyTorch / numpy twins (`*.py`), which the TypeScript benches call themselves when the Python
 * packages are installed and otherwise skip (their output says so).
 *
 * Benches run strictly one at a time (never in parallel: they measure time). On the shared 2-core machine the load
 * average recorded in each file says how much to trust its wall times.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every bench: `full` / `quick` arguments (`null` = not run in that mode), `writes` = result files it writes itself.
 * Minutes are rough wall times on the quiet 2-core machine, for planning.
 */
export const BENCHES = [
  { name: 'train-step', pkg: 'core', script: 'train-step.ts', full: ['--steps', '3', '--no-cpu'], quick: ['--steps', '1', '--no-cpu', '--no-torch'], minutes: 3 },
  { name: 'batch-matmul', pkg: 'core', script: 'batch-matmul.ts', full: [], quick: ['--repeats', '1'], minutes: 4 },
  { name: 'conv-grads', pkg: 'core', script: 'conv-grads.ts', full: [], quick: null, minutes: 2 },
  { name: 'io', pkg: 'core', script: 'io.ts', full: ['--repeats', '3'], quick: ['--repeats', '1'], minutes: 3 },
  { name: 'raster', pkg: 'proxy', script: 'raster.ts', full: [], quick: [], minutes: 1 },
  { name: 'tsd-filter', pkg: 'tsd', script: 'tsd.ts', full: [], quick: ['--repeats', '1', '--out', '.runs/bench-all-quick/tsd-filter-own.json'], writes: ['packages/tsd/bench/results/tsd-filter.json'], minutes: 2 },
  { name: 'tsdm-step', pkg: 'tsd', script: 'tsdm-step.ts', full: [], quick: ['--repeats', '1'], minutes: 1 },
  { name: 'tsdm-eval', pkg: 'tsd', script: 'tsdm-eval.ts', full: ['/tmp/tsdm-eval', '{}', '[1, 2]'], quick: null, minutes: 13 },
  { name: 'sampling-schedulers', pkg: 'diffusion', script: 'sampling-schedulers.ts', full: [], quick: ['--reps', '1', '--no-cpu'], minutes: 2 },
  { name: 'sampling', pkg: 'diffusion', script: 'sampling.ts', full: [], quick: ['--reps', '1', '--size', '16'], minutes: 3 },
  { name: 'unet', pkg: 'diffusion', script: 'unet.ts', full: [], quick: null, minutes: 10 },
  { name: 'matmul-layouts', pkg: 'diffusion', script: 'matmul-layouts.ts', full: [], quick: null, minutes: 2 },
  { name: 'retrieval', pkg: 'emotion', script: 'retrieval.ts', full: [], quick: ['--rows', '20000', '--queries', '50'], minutes: 3 },
  { name: 'synthetic-eval', pkg: 'emotion', script: 'synthetic-eval.ts', full: ['--json', 'packages/emotion/bench/results/synthetic-eval.json'], quick: ['--json', '.runs/bench-all-quick/synthetic-eval-own.json'], writes: ['packages/emotion/bench/results/synthetic-eval.json'], minutes: 1 },
  { name: 'metrics', pkg: 'metrics', script: 'metrics.ts', full: ['5'], quick: ['1'], minutes: 2 },
  { name: 'fcsd-toy', pkg: 'avatar', script: 'fcsd-toy.ts', full: [], quick: ['--steps', '5', '--seeds', '0', '--out', '.runs/bench-all-quick/fcsd-toy-own.json'], writes: ['packages/avatar/bench/results/fcsd-toy.json'], minutes: 8 },
  { name: 'eval-stage12', pkg: 'avatar', script: 'eval-stage12.ts', full: [], quick: ['--quick'], writes: ['docs/experiments/<date>-stage12-eval.json', 'docs/experiments/<date>-stage12-eval.md'], minutes: 70 },
];

const git = (args) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
};

function main() {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const i = argv.indexOf('--only');
  const only = i >= 0 ? new Set(argv[i + 1].split(',')) : null;
  const selected = BENCHES.filter((b) => (quick ? b.quick : b.full) !== null && (!only || only.has(b.name)));
  if (argv.includes('--list')) {
    for (const b of BENCHES) console.log(`${b.name.padEnd(20)} ${b.pkg.padEnd(10)} full ${b.full ? `~${b.minutes} min` : '—'}  quick ${b.quick ? 'yes' : '—'}`);
    return 0;
  }
  if (only) for (const name of only) if (!BENCHES.some((b) => b.name === name)) throw new Error(`bench-all: unknown bench ${name} (see --list)`);
  const outDir = quick ? join(ROOT, '.runs', 'bench-all-quick') : null;
  let failed = 0;
  const summary = [];
  for (const b of selected) {
    const args = quick ? b.quick : b.full;
    const script = `packages/${b.pkg}/bench/${b.script}`;
    const command = ['node', '--conditions=source', '--import', 'tsx', script, ...args];
    const status = git(['status', '--porcelain', '--untracked-files=no']);
    const before = loadavg();
    const t0 = Date.now();
    console.log(`bench-all: ${b.name} — ${command.join(' ')}`);
    const run = spawnSync(command[0], command.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20, env: process.env });
    const seconds = (Date.now() - t0) / 1000;
    process.stdout.write(run.stdout ?? '');
    const result = {
      bench: b.name,
      mode: quick ? 'quick' : 'full',
      command: command.join(' '),
      exitCode: run.status,
      signal: run.signal,
      seconds,
      commit: git(['rev-parse', 'HEAD']),
      dirty: status === null ? null : status.length > 0,
      date: new Date(t0).toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
      loadAverage: { before, after: loadavg() },
      seeds: 'fixed inside the bench script (see its header)',
      ownResultFiles: b.writes ?? [],
      stdout: (run.stdout ?? '').split('\n').filter((l) => l.length > 0),
      stderrTail: (run.stderr ?? '').split('\n').filter((l) => l.length > 0).slice(-20),
    };
    const file = quick ? join(outDir, `${b.name}.json`) : join(ROOT, 'packages', b.pkg, 'bench', 'results', `${b.name}.run.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    if (run.status !== 0) failed++;
    summary.push(`${b.name.padEnd(20)} exit ${run.status ?? run.signal}  ${seconds.toFixed(0)} s  → ${file.slice(ROOT.length + 1)}`);
  }
  console.log(`\nbench-all (${quick ? 'quick' : 'full'}): ${selected.length} benches, ${failed} failed`);
  for (const line of summary) console.log(`  ${line}`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main());
