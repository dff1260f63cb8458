/**
 * The numpy / Pillow cross-check (a bench, not run in CI; `fuzz/run.ts --cross-check`): the same seeded cases the fuzz
 * suite feeds the single-file readers (npy, npz, PNG, safetensors) are read by ours and by the reference —
 * `numpy.load`, `PIL.Image.open().load()`, numpy after the `safetensors` crate's checks (fuzz/cross_check.py) — and
 * the verdicts compared:
 *
 * - agree (value): both return the same arrays (dtype, shape, bytes; PNG samples within 1.5/255);
 * - agree (refused): both raise;
 * - stricter: we raise a typed error where the reference returns a value (e.g. a PNG whose IDAT CRC is wrong, which
 *   Pillow does not check) — listed with the first examples, not a failure;
 * - garbage: we return a value where the reference raises, or both return values that differ — a failure.
 *
 * @example
 * ```ts
 * const result = await crossCheck({ cases: 200, seed: 1 });
 * console.log(result.parsers.npz); // { cases: 200, agreeValue: 31, agreeRefused: 160, stricter: 9, garbage: 0, … }
 * ```
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, readNpz, readPng, readSafetensors, type NpyArray } from '@consistent-avatar/core';
import { caseSeed } from './harness.js';
import { FUZZ_TARGETS } from './targets.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The parsers with a reference reader. */
export const CROSS_CHECKED = ['npy', 'npz', 'png', 'safetensors'] as const;

/** Per-parser agreement counts. */
export interface CrossCheckCounts {
  cases: number;
  agreeValue: number;
  agreeRefused: number;
  stricter: number;
  garbage: number;
  /** The first few `stricter` and `garbage` cases: seed, our verdict, the reference's. */
  examples: { stricter: Array<{ seed: number; ours: string; reference: string }>; garbage: Array<{ seed: number; ours: string; reference: string }> };
}

type Digest = { dtype: string; shape: number[]; sha256: string };
type PngValue = { width: number; height: number; channels: number; values: number[] | null; mode?: string };
type Verdict = { error: string } | { value: Record<string, Digest> } | { png: PngValue };

const NPY_KIND: Record<string, string> = {
  float16: 'f2', float32: 'f4', float64: 'f8', int8: 'i1', int16: 'i2', int32: 'i4', int64: 'i8', uint8: 'u1', uint16: 'u2', uint32: 'u4', uint64: 'u8', bool: 'b1',
};

function sha256(data: ArrayBufferView): string {
  return createHash('sha256').update(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}

const npyDigest = (a: NpyArray): Digest => ({ dtype: NPY_KIND[a.dtype]!, shape: a.shape, sha256: sha256(a.data) });

/** Our verdict on one case file (the readers' own typed errors are "refused"; the fuzz run counts untyped ones). */
function ours(kind: (typeof CROSS_CHECKED)[number], file: string): Verdict {
  try {
    if (kind === 'npy') return { value: { '': npyDigest(readNpy(file)) } };
    if (kind === 'npz') return { value: Object.fromEntries(Object.entries(readNpz(file)).map(([k, a]) => [k, npyDigest(a)])) };
    if (kind === 'png') {
      const img = readPng(file);
      return { png: { width: img.width, height: img.height, channels: img.channels, values: Array.from(img.data) } };
    }
    const { tensors } = readSafetensors(file);
    return { value: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, sha256: sha256(t.data) }])) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message.slice(0, 200)}` };
  }
}

function describe(v: Verdict): string {
  if ('error' in v) return v.error;
  if ('png' in v) return `${v.png.width}×${v.png.height}×${v.png.channels}${v.png.mode ? ` (${v.png.mode})` : ''}`;
  return Object.entries(v.value).map(([k, d]) => `${k || 'array'}: ${d.dtype} [${d.shape.join(', ')}] ${d.sha256.slice(0, 8)}`).join('; ') || 'no arrays';
}

/** Whether two values are the same (PNG: size, channels and every sample within 1.5/255 — Pillow reduces 16-bit RGB to 8 bits). */
function sameValue(a: Verdict, b: Verdict): boolean {
  if ('png' in a && 'png' in b) {
    const [x, y] = [a.png, b.png];
    if (x.width !== y.width || x.height !== y.height || x.channels !== y.channels || !x.values || !y.values || x.values.length !== y.values.length) return false;
    return x.values.every((v, i) => Math.abs(v - y.values![i]!) <= 1.5 / 255);
  }
  if ('value' in a && 'value' in b) return JSON.stringify(Object.entries(a.value).sort()) === JSON.stringify(Object.entries(b.value).sort());
  return false;
}

/**
 * Run the cross-check (see the module docs): `cases` seeded cases per parser from base seed `seed` (the fuzz suite's
 * case seeds), `/usr/bin/python3` (or `python`) with numpy and Pillow. The unmutated seed files are read first and must
 * agree (else the comparison itself is wrong and this throws).
 * @example
 * ```ts
 * const { parsers, reference } = await crossCheck({ cases: 2000, seed: 1 });
 * ```
 */
export async function crossCheck(options: { cases: number; seed: number; python?: string }): Promise<{ parsers: Record<string, CrossCheckCounts>; reference: string }> {
  const python = options.python ?? '/usr/bin/python3';
  const reference = execFileSync(python, ['-c', 'import numpy, PIL, sys; print("numpy %s, Pillow %s, Python %s" % (numpy.__version__, PIL.__version__, sys.version.split()[0]))'], { encoding: 'utf8' }).trim();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-cross-check-'));
  try {
    const parsers: Record<string, CrossCheckCounts> = {};
    for (const name of CROSS_CHECKED) {
      const target = FUZZ_TARGETS.find((t) => t.name === name)!;
      const seedDir = path.join(base, 'seeds', name);
      fs.mkdirSync(seedDir, { recursive: true });
      await target.setup(seedDir);
      const manifest: Array<{ id: number; kind: string; file: string }> = [];
      const mine: Verdict[] = [];
      const seeds: number[] = [];
      // The unmutated seed files first: both readers must return the same values, or the comparison itself is wrong.
      const seedFiles = fs.readdirSync(seedDir).map((f) => path.join(seedDir, f));
      for (const file of seedFiles) {
        seeds.push(-1);
        mine.push(ours(name, file));
        manifest.push({ id: manifest.length, kind: name, file });
      }
      for (let i = 0; i < options.cases; i++) {
        const seed = caseSeed(options.seed, i);
        const caseDir = path.join(base, 'cases', name, String(i));
        fs.mkdirSync(caseDir, { recursive: true });
        const file = target.build!(seedDir, caseDir, seed);
        seeds.push(seed);
        mine.push(ours(name, file));
        manifest.push({ id: manifest.length, kind: name, file });
      }
      const manifestFile = path.join(base, `${name}.json`);
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
      const verdicts = JSON.parse(execFileSync(python, [path.join(ROOT, 'fuzz', 'cross_check.py'), manifestFile], { encoding: 'utf8', maxBuffer: 1 << 30 })) as Array<{ id: number; error?: string; value?: Record<string, unknown> }>;
      const counts: CrossCheckCounts = { cases: 0, agreeValue: 0, agreeRefused: 0, stricter: 0, garbage: 0, examples: { stricter: [], garbage: [] } };
      for (const v of verdicts) {
        const theirs: Verdict = v.error !== undefined ? { error: v.error } : 'png' in v.value! ? { png: v.value!.png as PngValue } : { value: v.value as Record<string, Digest> };
        const our = mine[v.id]!;
        if (v.id < seedFiles.length) {
          if (!sameValue(our, theirs)) throw new Error(`cross-check of ${name}: the seed ${seedFiles[v.id]} reads differently (ours ${describe(our)}, reference ${describe(theirs)})`);
          continue;
        }
        counts.cases++;
        let kind: 'agreeValue' | 'agreeRefused' | 'stricter' | 'garbage';
        if ('error' in our) kind = 'error' in theirs ? 'agreeRefused' : 'stricter';
        else kind = 'error' in theirs || !sameValue(our, theirs) ? 'garbage' : 'agreeValue';
        counts[kind]++;
        if ((kind === 'stricter' || kind === 'garbage') && counts.examples[kind].length < 5) {
          counts.examples[kind].push({ seed: seeds[v.id]!, ours: describe(our), reference: describe(theirs) });
        }
      }
      parsers[name] = counts;
      fs.rmSync(path.join(base, 'cases', name), { recursive: true, force: true });
    }
    return { parsers, reference };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
