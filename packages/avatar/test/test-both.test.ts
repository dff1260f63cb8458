/**
 * scripts/test-both/select.mjs: which test files `pnpm test`'s second pass (the native kernel provider off) reruns,
 * from the first pass's per-file records (issue 18: the whole suite with the provider on and off). Records here are
 * written by hand; the rules are those of the file's header.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NATIVE_KERNELS } from '@consistent-avatar/core';
import {
  accumulateCounters,
  controlsProvider,
  emptyTotals,
  readRecords,
  recordFileName,
  RECORDED_KERNELS,
  selectSecondPass,
} from '../../../scripts/test-both/select.mjs';

type Counts = Record<string, { native: number; fallback: number }>;
type Selection = { ortAvailable: boolean; ortReason: string; selected: { file: string; why: string[] }[]; skipped: string[] };
const select = selectSecondPass as (input: { files: string[]; records: Map<string, object>; sources: Map<string, string> }) => Selection;
const read = readRecords as (dir: string) => Map<string, { file: string }>;

const temp = mkdtempSync(join(tmpdir(), 'test-both-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A record as record-setup.ts writes it; `native` / `fallback` set single kernels' counts. */
function record(file: string, over: { native?: Record<string, number>; fallback?: Record<string, number>; children?: string[]; reset?: boolean; ort?: boolean } = {}) {
  const counters = emptyTotals() as Counts;
  for (const [k, n] of Object.entries(over.native ?? {})) counters[k]!.native = n;
  for (const [k, n] of Object.entries(over.fallback ?? {})) counters[k]!.fallback = n;
  const ort = over.ort ?? true;
  return {
    version: 1,
    file,
    ortAvailable: ort,
    ortReason: ort ? '' : 'onnxruntime-node is not installed',
    active: ort,
    reason: ort ? '' : 'onnxruntime-node is not installed',
    counters,
    countersReset: over.reset ?? false,
    childProcesses: over.children ?? [],
  };
}

function selection(records: ReturnType<typeof record>[], sources: Record<string, string> = {}, extraFiles: string[] = []) {
  const files = [...records.map((r) => r.file), ...extraFiles];
  return select({ files, records: new Map(records.map((r) => [r.file, r])), sources: new Map(Object.entries(sources)) });
}

describe('test-both: choosing the second pass', () => {
  it('reruns the files that routed a kernel natively, and only those when nothing else differs', () => {
    const s = selection([
      record('a.test.ts', { native: { Conv2D: 3, BatchMatMul: 1 }, fallback: { Conv2D: 5 } }),
      record('b.test.ts', { fallback: { Conv2D: 8, BatchMatMul: 2, Conv2DBackpropFilter: 1 } }),
      record('c.test.ts'),
    ]);
    expect(s.ortAvailable).toBe(true);
    expect(s.selected).toEqual([{ file: 'a.test.ts', why: ['native: Conv2D 3, BatchMatMul 1'] }]);
    expect(s.skipped).toEqual(['b.test.ts', 'c.test.ts']);
  });

  it('reruns a file whose Conv2DBackpropInput calls all fell back (the provider changes the gradient route)', () => {
    const s = selection([record('n.test.ts', { native: { Conv2D: 1 } }), record('g.test.ts', { fallback: { Conv2DBackpropInput: 1 } })]);
    expect(s.selected.map((x) => x.file)).toEqual(['n.test.ts', 'g.test.ts']);
    expect(s.selected[1]!.why[0]).toMatch(/^Conv2DBackpropInput fallbacks: 1/);
  });

  it('reruns files that started a Node child process, not those that only ran ffmpeg or chromium', () => {
    const s = selection([
      record('n.test.ts', { native: { Conv2D: 1 } }),
      record('cli.test.ts', { children: ['/usr/bin/node', '/usr/bin/node'] }),
      record('video.test.ts', { children: ['ffmpeg', '/usr/bin/ffprobe'] }),
      record('report.test.ts', { children: ['chromium'] }),
      record('shell.test.ts', { children: ['npx', 'ffmpeg'] }),
    ]);
    expect(s.selected.map((x) => [x.file, x.why])).toEqual([
      ['n.test.ts', ['native: Conv2D 1']],
      ['cli.test.ts', ['child processes: /usr/bin/node']],
      ['shell.test.ts', ['child processes: npx']],
    ]);
  });

  it('reruns files whose counters were reset, that drive the provider themselves, or that left no record', () => {
    const s = selection(
      [record('n.test.ts', { native: { BatchMatMul: 4 } }), record('reset.test.ts', { reset: true }), record('own.test.ts')],
      { 'own.test.ts': "import { resetNativeKernelStats } from '@consistent-avatar/core';\nresetNativeKernelStats();" },
      ['crashed.test.ts'],
    );
    expect(s.selected).toEqual([
      { file: 'n.test.ts', why: ['native: BatchMatMul 4'] },
      { file: 'reset.test.ts', why: ['counters were reset during the file'] },
      { file: 'own.test.ts', why: ['drives the provider itself'] },
      { file: 'crashed.test.ts', why: ['no record (the file did not finish)'] },
    ]);
    expect(s.skipped).toEqual([]);
  });

  it('without ONNX Runtime there is no second pass, and it says why', () => {
    const s = selection([record('a.test.ts', { ort: false, fallback: { Conv2DBackpropInput: 2 } }), record('b.test.ts', { ort: false, children: ['node'] })]);
    expect(s).toEqual({ ortAvailable: false, ortReason: 'onnxruntime-node is not installed', selected: [], skipped: ['a.test.ts', 'b.test.ts'] });
    expect(select({ files: ['x.test.ts'], records: new Map(), sources: new Map() }).ortReason).toBe('no native-kernel records were written');
  });

  it('refuses records that show ONNX Runtime available but not one native call anywhere (a blind recorder)', () => {
    expect(() => selection([record('a.test.ts', { fallback: { Conv2D: 3 } }), record('b.test.ts')])).toThrow(/no test file recorded a native kernel call/);
  });

  it('recognises a test that drives the provider from its source', () => {
    for (const text of ['enableNativeKernels({ minFlops: 0 })', 'disableNativeKernels();', "process.env.CA_NATIVE = '0'", 'simulateOrtAbsent(null)', 'preferConv2DBackpropInputKernel(true)']) {
      expect(controlsProvider(text), text).toBe(true);
    }
    expect(controlsProvider('nativeKernelStatus().counters; const CA_NATIVELY = 1;')).toBe(false);
  });
});

describe('test-both: summing the provider counters over a file', () => {
  const counts = (native: number, fallback: number): Counts => Object.fromEntries(RECORDED_KERNELS.map((k: string) => [k, { native: k === 'Conv2D' ? native : 0, fallback: k === 'Conv2D' ? fallback : 0 }]));
  it('adds the growth between samples and, after a reset, the count since the reset', () => {
    let acc = { totals: emptyTotals() as Counts, last: emptyTotals() as Counts, reset: false };
    const samples: [number, number][] = [[2, 1], [5, 1], [1, 0], [3, 4]]; // a reset between the 2nd and 3rd sample
    const resets: boolean[] = [];
    for (const [n, f] of samples) {
      acc = accumulateCounters(acc.totals, acc.last, counts(n, f)) as typeof acc;
      resets.push(acc.reset);
    }
    expect(resets).toEqual([false, false, true, false]);
    expect(acc.totals.Conv2D).toEqual({ native: 5 + 1 + 2, fallback: 1 + 0 + 4 });
    expect(acc.totals.BatchMatMul).toEqual({ native: 0, fallback: 0 });
  });

  it('records the kernels the provider wraps', () => {
    expect(RECORDED_KERNELS).toEqual([...NATIVE_KERNELS]);
  });
});

describe('test-both: reading the records', () => {
  const folder = (name: string, files: Record<string, string>) => {
    const dir = join(temp, name);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };

  it('reads well-formed records keyed by test file', () => {
    const a = record('packages/core/src/a.test.ts', { native: { Conv2D: 1 } });
    const dir = folder('good', { [recordFileName(a.file)]: JSON.stringify(a), 'ignored.tmp': '{' });
    expect(recordFileName(a.file)).toBe('packages__core__src__a.test.ts.json');
    expect([...read(dir).entries()]).toEqual([[a.file, a]]);
  });

  it('names the file when a record is not JSON (a torn write) or not a record', () => {
    const torn = folder('torn', { 'a.test.ts.json': '{"version": 1, "file": "a.te' });
    expect(() => read(torn)).toThrow(new RegExp(`record ${join(torn, 'a.test.ts.json')} is not valid JSON`));
    const bad = record('a.test.ts') as Record<string, unknown>;
    bad.counters = { Conv2D: { native: -1, fallback: 0 } };
    expect(() => read(folder('bad', { 'a.test.ts.json': JSON.stringify(bad) }))).toThrow(/is malformed: "counters.Conv2D" is not \{ native, fallback \} counts/);
    expect(() => read(folder('old', { 'a.test.ts.json': JSON.stringify({ ...record('a.test.ts'), version: 0 }) }))).toThrow(/malformed: version 0 \(expected 1\)/);
    const twice = record('a.test.ts');
    expect(() => read(folder('twice', { 'one.json': JSON.stringify(twice), 'two.json': JSON.stringify(twice) }))).toThrow(/two native-kernel records name a.test.ts/);
  });
});
