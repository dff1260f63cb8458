/**
 * The fuzz bench: `node --conditions=source --import tsx fuzz/run.ts [--cases 2000] [--seed 1] [--only npz,png]
 * [--out bench/results/fuzz.json] [--timeout-ms 10000] [--memory-mib 256] [--cross-check]`. Runs every parser's seeded
 * cases in a child process under the time and memory caps, prints the per-parser table and writes a result file
 * (JSON: command, commit, date, machine, load before / after, seeds, caps, per-parser counts and the first failures
 * with their seeds). `--cross-check` also reads the same npy / npz / PNG / safetensors cases with numpy and Pillow
 * (fuzz/cross-check.ts) and adds the agreement counts. Exits 1 when any case is untyped, a hang, over-memory or
 * garbage (silent garbage of the cross-check included).
 *
 * @example
 * ```ts
 * // nice -n 10 node --conditions=source --import tsx fuzz/run.ts --cases 2000 --out bench/results/fuzz.json
 * ```
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crossCheck, CROSS_CHECKED } from './cross-check.js';
import { runFuzz, TARGET_NAMES } from './harness.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const cases = Number(arg('cases', '2000'));
const seed = Number(arg('seed', '1'));
const only = arg('only', '');
const out = arg('out', '');
const timeoutMs = Number(arg('timeout-ms', '10000'));
const memoryMiB = Number(arg('memory-mib', '256'));
for (const [name, v] of [['cases', cases], ['seed', seed], ['timeout-ms', timeoutMs], ['memory-mib', memoryMiB]] as const) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} expects a non-negative integer, got ${v}`);
}
const targets = only ? only.split(',') : [...TARGET_NAMES];
for (const t of targets) if (!(TARGET_NAMES as readonly string[]).includes(t)) throw new Error(`--only: unknown parser ${t} (known: ${TARGET_NAMES.join(', ')})`);

const loadBefore = os.loadavg();
const date = new Date().toISOString();
// The commit the run starts from (a commit made while it runs must not be recorded as the code that ran).
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  if (execFileSync('git', ['status', '--porcelain', '--', 'packages', 'fuzz'], { encoding: 'utf8' }).trim()) commit += ' (with uncommitted changes)';
} catch {
  // not a git checkout
}
let lastPrint = 0;
const result = await runFuzz({
  cases, seed, targets, timeoutMs, memoryCapBytes: memoryMiB * 2 ** 20,
  onCase: (target, index) => {
    if (Date.now() - lastPrint > 15_000) {
      lastPrint = Date.now();
      console.error(`[fuzz] ${target} ${index + 1}/${cases}`);
    }
  },
});
const withCrossCheck = process.argv.includes('--cross-check');
const cross = withCrossCheck ? await crossCheck({ cases, seed }) : null;
const loadAfter = os.loadavg();

const header = '| parser | cases | ok | typed | untyped | hang | over-memory | garbage | max peak RSS (MiB) | ms / case |';
const rows = Object.entries(result.targets).map(([name, r]) =>
  `| ${name} | ${r.cases} | ${r.ok} | ${r.typed} | ${r.untyped} | ${r.hang} | ${r.overMemory} | ${r.garbage} | ${(r.maxPeakBytes / 2 ** 20).toFixed(1)} | ${r.meanMs.toFixed(1)} |`,
);
console.log([header, '|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n'));
for (const [name, r] of Object.entries(result.targets)) {
  for (const f of r.failures) console.log(`FAIL ${name} seed ${f.seed} ${f.kind}: ${f.detail}`);
}
if (cross) {
  console.log(`\ncross-check against ${cross.reference}`);
  console.log('| parser | cases | agree: same value | agree: both refuse | ours stricter | silent garbage |\n|---|---|---|---|---|---|');
  for (const [name, c] of Object.entries(cross.parsers)) console.log(`| ${name} | ${c.cases} | ${c.agreeValue} | ${c.agreeRefused} | ${c.stricter} | ${c.garbage} |`);
  for (const [name, c] of Object.entries(cross.parsers)) for (const g of c.examples.garbage) console.log(`GARBAGE ${name} seed ${g.seed}: ours ${g.ours}; reference ${g.reference}`);
}

if (out) {
  const cpus = os.cpus();
  const record = {
    command: `node --conditions=source --import tsx fuzz/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    commit,
    date,
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version },
    load: {
      before: loadBefore,
      after: loadAfter,
      note: loadBefore[0]! > cpus.length / 2 || loadAfter[0]! > cpus.length / 2
        ? `loaded: 1-minute load ${loadBefore[0]!.toFixed(1)} → ${loadAfter[0]!.toFixed(1)} on ${cpus.length} cores (other jobs shared the machine; the counts do not depend on it, ms / case does)`
        : 'idle',
    },
    seeds: { base: seed, perCase: 'caseSeed(base, index) in fuzz/harness.ts' },
    caps: { timeoutMs, memoryCapMiB: memoryMiB },
    casesPerParser: cases,
    seconds: result.seconds,
    parsers: result.targets,
    ...(cross ? { crossCheck: { reference: cross.reference, parsers: cross.parsers, compared: CROSS_CHECKED } } : {}),
  };
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
  console.log(`wrote ${out}`);
}
const bad = Object.values(result.targets).reduce((s, r) => s + r.untyped + r.hang + r.overMemory + r.garbage, 0) +
  Object.values(cross?.parsers ?? {}).reduce((s, c) => s + c.garbage, 0);
process.exit(bad > 0 ? 1 : 0);
