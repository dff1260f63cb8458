/**
 * Wall time of a `ca ablate` run from its run folders' logs (every line of `logs/ablate.log` carries its ISO time):
 * for each run folder, each invocation of the command (a segment starting at its "ca ablate:" line, so an interrupted
 * then resumed run shows both), its first and last line; then the span from the first line of all to the last, and
 * the sum of the segments (the compute time, counting parallel shards once each). The merge's own log is read too.
 *
 *   node --conditions=source --import tsx packages/avatar/bench/ablation-wall.ts --out FILE.json RUN_DIR… [--merge MERGE_RUN_DIR]
 *
 * Writes FILE.json (figures, command, commit, date, machine, load average now).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeJsonAtomic } from '@consistent-avatar/core';
import { runProvenance } from '@consistent-avatar/avatar';

const args = process.argv.slice(2);
const take = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (!value || value.startsWith('--')) throw new Error(`ablation-wall: ${name} needs a value`);
  args.splice(i, 2);
  return value;
};
const out = take('--out');
const merge = take('--merge');
if (!out || args.length === 0) throw new Error('ablation-wall: --out FILE.json RUN_DIR… [--merge MERGE_RUN_DIR]');

/** The invocations in a log: [first, last] times of each segment starting at a header line. */
function segments(file: string, header: RegExp): { start: string; end: string; minutes: number; header: string }[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => ({ time: l.slice(0, 24), text: l.slice(25) }));
  const out: { start: string; end: string; minutes: number; header: string }[] = [];
  for (const line of lines) {
    if (header.test(line.text)) out.push({ start: line.time, end: line.time, minutes: 0, header: line.text });
    else if (out.length) out[out.length - 1]!.end = line.time;
  }
  for (const s of out) s.minutes = (Date.parse(s.end) - Date.parse(s.start)) / 60000;
  return out;
}

const runs = args.map((dir) => ({ dir, segments: segments(join(resolve(dir), 'logs', 'ablate.log'), /^ca ablate: /) }));
const mergeSegments = merge ? segments(join(resolve(merge), 'logs', 'merge.log'), /^merged /) : [];
const all = runs.flatMap((r) => r.segments);
const first = Math.min(...all.map((s) => Date.parse(s.start)));
const last = Math.max(...all.map((s) => Date.parse(s.end)), ...mergeSegments.map((s) => Date.parse(s.end)));
const provenance = runProvenance();
writeJsonAtomic(resolve(out), {
  command: `node --conditions=source --import tsx packages/avatar/bench/ablation-wall.ts ${process.argv.slice(2).join(' ')}`,
  ...provenance,
  runs,
  merge: merge ? { dir: merge, segments: mergeSegments } : null,
  wallMinutes: (last - first) / 60000,
  summedSegmentMinutes: all.reduce((s, x) => s + x.minutes, 0),
  note: 'wallMinutes: first log line of any run to the last (merge included); summedSegmentMinutes: every invocation of every run folder added up (parallel shards counted once each).',
});
console.log(`wall ${((last - first) / 60000).toFixed(1)} min from ${new Date(first).toISOString()} to ${new Date(last).toISOString()}; segments summed ${all.reduce((s, x) => s + x.minutes, 0).toFixed(1)} min`);
