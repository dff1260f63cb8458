/**
 * scripts/check-doc-numbers.mjs: every measured number in the READMEs, docs/ and BENCHMARKS.md sits next to a
 * citation of a committed result file and appears in it (issue 17) — and the checker does report each kind of
 * unbacked number (small trees written here, with their tracked-file lists given explicitly).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDocNumbers, measuredNumbers } from '../../../scripts/check-doc-numbers.mjs';

type Result = { problems: string[]; checked: { files: number; numbers: number; citations: number } };
const check = checkDocNumbers as (root: string, options?: { tracked?: Set<string> }) => Result;
const measured = measuredNumbers as (text: string) => { token: string; unit: string | null }[];

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const temp = mkdtempSync(join(tmpdir(), 'doc-numbers-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Write `files` (path → text) under a fresh folder; returns it and the set of its files (as if tracked). */
function tree(name: string, files: Record<string, string>): [string, { tracked: Set<string> }] {
  const root = join(temp, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return [root, { tracked: new Set(Object.keys(files)) }];
}

describe('check-doc-numbers', () => {
  it("the repository's docs back every measured number with a cited result file", () => {
    const { problems, checked } = check(ROOT);
    expect(problems).toEqual([]);
    // It did look: the READMEs, docs/ and BENCHMARKS.md hold many measured numbers and citations.
    expect(checked.files).toBeGreaterThan(10);
    expect(checked.numbers).toBeGreaterThan(30);
    expect(checked.citations).toBeGreaterThan(10);
  });

  it('tells measurements from settings, versions, dimensions and references', () => {
    const tokens = (s: string) => measured(s).map((n) => `${n.token}${n.unit ? ` ${n.unit}` : ''}`);
    expect(tokens('took 1.6 s, 30.7 dB, −32 % and 9–26× on Node 20.20 with tfjs 4.22')).toEqual(['1.6 s', '30.7 dB', '−32 %', '26 ×']);
    expect(tokens('MSE 0.00168 vs 0.122; lr 1e-4, α = 0.6, scale 0.25, ω = 10, 3 × 3 kernels, 64×64×3 images')).toEqual(['0.00168', '0.122']);
    expect(tokens('Eq. 7, §4.1, Fig. 7, ResNet-18, SD 1.5, 2026-11-24 05:19 UTC, 2,970 ms, 72.6 ± 1.2')).toEqual(['2,970 ms', '72.6', '1.2']);
  });

  const result = JSON.stringify({ mse: 0.0016849, psnr: 30.74, fraction: 0.318, ms: 1612.4 });
  const files: Record<string, string> = {
    'bench/results/x.json': result,
    'README.md': [
      '# Demo',
      '',
      'The proxy scores 30.7 dB and MSE 0.00168 ([result](bench/results/x.json)); it took 1.6 s and 32 % less.',
      '',
      '## Elsewhere',
      '',
      'Measured once: 41.2 dB.',
      '',
      'Table from `bench/results/x.json`:',
      '',
      '| row | MSE |',
      '|---|---|',
      '| proxy | 0.001685 |',
      '| other | 0.00300 |',
      '',
      'Defaults: `lr 1e-4`, batch = 4, Node 20.20.',
    ].join('\n'),
    'docs/experiments/2026-01-01-raw.md': 'A raw log: 99.9 dB (excluded from the check).\n',
    'scripts/doc-numbers-allow.json': JSON.stringify([{ file: 'README.md', number: '5.55', context: 'nothing', reason: 'test' }]),
  };

  it('reports a number without a citation, a number not in its cited file, and an unused allow-list entry', () => {
    const { problems } = check(...tree('broken', files));
    expect(problems.sort()).toEqual(
      [
        'README.md:7: 41.2 dB has no result file cited next to it',
        'README.md:14: 0.00300 does not appear in bench/results/x.json',
        'scripts/doc-numbers-allow.json: entry 0 (README.md: 5.55) matches nothing',
      ].sort(),
    );
  });

  it('passes once the numbers are cited, match their file under the rounding rule, or are allowed', () => {
    const mended = {
      ...files,
      'README.md': files['README.md']!.replace('Measured once: 41.2 dB.', 'Measured once: 30.74 dB ([x](bench/results/x.json)).').replace('| other | 0.00300 |', '| other | 5.55 (a constant) |'),
      'scripts/doc-numbers-allow.json': JSON.stringify([{ file: 'README.md', number: '5.55', context: 'a constant', reason: 'test' }]),
    };
    const { problems, checked } = check(...tree('mended', mended));
    expect(problems).toEqual([]);
    expect(checked).toEqual({ files: 1, numbers: 7, citations: 3 });
  });
});
