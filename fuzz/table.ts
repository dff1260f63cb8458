/**
 * Print the per-parser tables of a fuzz result file (written by fuzz/run.ts) as Markdown, for docs/reliability.md:
 * `node --conditions=source --import tsx fuzz/table.ts [bench/results/fuzz.json]`. Nothing is computed here that the
 * result file does not hold.
 *
 * @example
 * ```ts
 * // node --conditions=source --import tsx fuzz/table.ts bench/results/fuzz.json > /tmp/tables.md
 * ```
 */
import * as fs from 'node:fs';
import type { CrossCheckCounts } from './cross-check.js';
import type { TargetResult } from './harness.js';

const file = process.argv[2] ?? 'bench/results/fuzz.json';
const r = JSON.parse(fs.readFileSync(file, 'utf8')) as {
  command: string; commit: string; date: string; seconds: number; casesPerParser: number;
  machine: { cores: number; cpu: string }; load: { before: number[]; after: number[]; note?: string }; seeds: { base: number };
  parsers: Record<string, TargetResult>;
  crossCheck?: { reference: string; parsers: Record<string, CrossCheckCounts> };
};
const lines = [
  `Last run: ${r.date}, commit ${r.commit.slice(0, 10)}, ${r.casesPerParser} cases per parser, base seed ${r.seeds.base}, ` +
    `${r.machine.cores} cores (${r.machine.cpu}), load ${r.load.before[0]!.toFixed(1)} → ${r.load.after[0]!.toFixed(1)}` +
    `${r.load.note && r.load.note !== 'idle' ? ' (loaded: other jobs shared the machine)' : ''}, ${Math.round(r.seconds)} s of fuzzing; ` +
    `command \`${r.command}\` (result file \`${file}\`):`,
  '',
  '| parser | cases | parsed and sane | typed error | untyped | hang | over-memory | garbage | max peak RSS (MiB) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...Object.entries(r.parsers).map(([name, p]) =>
    `| ${name} | ${p.cases} | ${p.ok} | ${p.typed} | ${p.untyped} | ${p.hang} | ${p.overMemory} | ${p.garbage} | ${(p.maxPeakBytes / 2 ** 20).toFixed(1)} |`),
];
if (r.crossCheck) {
  lines.push(
    '',
    `Cross-check of the same cases against ${r.crossCheck.reference} (\`crossCheck\` in the same result file):`,
    '',
    '| parser | cases | same value | both refuse | we refuse, reference reads | silent garbage |',
    '|---|---:|---:|---:|---:|---:|',
    ...Object.entries(r.crossCheck.parsers).map(([name, c]) => `| ${name} | ${c.cases} | ${c.agreeValue} | ${c.agreeRefused} | ${c.stricter} | ${c.garbage} |`),
  );
}
console.log(lines.join('\n'));
