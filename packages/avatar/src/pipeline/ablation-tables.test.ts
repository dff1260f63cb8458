/**
 * The ablation's table math on hand-computed values: mean ± sample std, the summary over identities, the Fig. 7
 * mean curves, the Markdown, the identities of each shard, and merging parts (any order, one identity once, all
 * covered, same settings).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';
import { ABLATION_METRICS, ablationMarkdown, meanCurves, meanStd, summarizeAblation, type AblationIdentityResult, type AblationMetric } from './ablation-tables.js';
import { ablationIdentities, mergeAblation, type AblationPart, type AblationSettings } from './ablate.js';

/** An identity with two rows whose metrics are all `base` (+ 1 for 'full'), PSNR set apart. */
function identity(id: number, psnr: [number, number], curves: [number[], number[], number[]] = [[1, 2], [1, 3], [2, 2]]): AblationIdentityResult {
  const metrics = (v: number, p: number) => ({ ...Object.fromEntries(ABLATION_METRICS.map((m) => [m, v])), psnr: p, lpips: null }) as Record<AblationMetric, number | null>;
  return {
    identity: id, datasetSeed: id, seed: 0,
    rows: [
      { name: 'proxy', label: 'stage 1', metrics: metrics(id, psnr[0]), curve: curves[1] },
      { name: 'full', label: 'full method', metrics: metrics(id + 1, psnr[1]), curve: curves[2] },
    ],
    referenceCurve: curves[0], referenceWarpingError: 0.1,
    notes: { estimator: 'embedded', lpips: 'not computed (no LPIPS weights given)', identity: 'not computed (no face analyser given)' },
    split: { train: 10, validation: 2, test: 3 }, size: 16,
    tsd: { proxy: { mse: 1, deltaMse: 1, changeCorrelation: 0 }, aligned: { mse: 1, deltaMse: 1, changeCorrelation: 0 } },
    timings: { stage1: 1 },
  };
}

const SETTINGS = { identities: 3, seed: 0 } as unknown as AblationSettings;
const part = (ids: AblationIdentityResult[], shard: { index: number; count: number } | null, settings = SETTINGS): AblationPart => ({ format: 'consistent-avatar-ablation-part/1', settings, shard, identities: ids });

describe('meanStd', () => {
  it('mean and sample std (n − 1) of the values present', () => {
    expect(meanStd([1, 2, 3, null])).toEqual({ mean: 2, std: 1, n: 3, values: [1, 2, 3, null] });
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, sample variance 32 / 7.
    const c = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(c.mean).toBe(5);
    expect(c.std).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(meanStd([4])).toEqual({ mean: 4, std: null, n: 1, values: [4] });
    expect(meanStd([null, null])).toEqual({ mean: null, std: null, n: 0, values: [null, null] });
    expect(() => meanStd([1, Number.NaN])).toThrow(/meanStd: argument 'values\[1\]' expected a finite number or null/);
  });
});

describe('summarizeAblation', () => {
  it('every row × metric over identities, sorted by identity; Markdown "mean ± std"; mean Fig. 7 curves', () => {
    const ids = [identity(3, [20, 26]), identity(1, [22, 30]), identity(2, [21, 28])];
    const s = summarizeAblation(ids);
    expect(s.identities).toEqual([1, 2, 3]);
    expect(s.rows.map((r) => r.name)).toEqual(['proxy', 'full']);
    // proxy PSNR 22, 21, 20: mean 21, std 1. full PSNR 30, 28, 26: mean 28, std 2.
    expect(s.rows[0]!.cells.psnr).toEqual({ mean: 21, std: 1, n: 3, values: [22, 21, 20] });
    expect(s.rows[1]!.cells.psnr).toEqual({ mean: 28, std: 2, n: 3, values: [30, 28, 26] });
    // full's other metrics are identity + 1: 2, 3, 4 → mean 3, std 1.
    expect(s.rows[1]!.cells.ee).toEqual({ mean: 3, std: 1, n: 3, values: [2, 3, 4] });
    expect(s.rows[0]!.cells.lpips).toEqual({ mean: null, std: null, n: 0, values: [null, null, null] });
    const md = ablationMarkdown(s);
    expect(md).toContain('| proxy | 2.00000 ± 1.00000 | 2.00000 ± 1.00000 | 21.00 ± 1.00 |');
    expect(md).toContain('| full | 3.0000 ± 1.0000 | 3.0000 ± 1.0000 |'); // Table 2: PE, EE
    expect(md).toContain('LPIPS: not computed (no LPIPS weights given)');
    expect(md).toContain('| full | 2.00 / 2.0000 / 2.0000 / 2.000 | 3.00 / 3.0000 / 3.0000 / 3.000 | 4.00 /'); // per identity (face PSNR …), identity 1 first
    expect(meanCurves(ids)).toEqual({ reference: [1, 2], rows: [{ name: 'proxy', values: [1, 3] }, { name: 'full', values: [2, 2] }] });
    const odd = identity(4, [1, 1], [[1, 2, 3], [1, 1, 1], [2, 2, 2]]);
    expect(meanCurves([ids[0]!, odd])).toBeNull(); // curves of different lengths are not averaged
  });

  it('refuses identities that disagree on rows or notes, or repeat', () => {
    const a = identity(1, [1, 2]);
    expect(() => summarizeAblation([])).toThrow(ValidationError);
    expect(() => summarizeAblation([a, identity(1, [3, 4])])).toThrow(/a distinct identity/);
    expect(() => summarizeAblation([a, { ...identity(2, [3, 4]), rows: a.rows.slice(0, 1) }])).toThrow(/the rows proxy,full/);
    expect(() => summarizeAblation([a, { ...identity(2, [3, 4]), notes: { ...a.notes, lpips: 'alex' } }])).toThrow(/notes/);
  });

  it('10. a NaN or ±Infinity metric or curve is refused naming the identity, row and metric (issue 19)', () => {
    const a = identity(1, [1, 2]);
    const poisoned = identity(2, [Number.NaN, 4]);
    expect(() => summarizeAblation([a, poisoned])).toThrow(/summarizeAblation: argument 'identities\[1\]\.rows\[0\]\.metrics\.psnr' expected a finite number or null/);
    const infinite = identity(2, [3, Number.POSITIVE_INFINITY]);
    expect(() => summarizeAblation([a, infinite])).toThrow(/identities\[1\]\.rows\[1\]\.metrics\.psnr/);
    const badCurve = identity(2, [3, 4], [[1, 2], [1, Number.NaN], [2, 2]]);
    expect(() => meanCurves([a, badCurve])).toThrow(/meanCurves: argument 'identities\[1\]\.rows\[0\]\.curve' expected finite/);
    const badReference = identity(2, [3, 4], [[Number.NEGATIVE_INFINITY, 2], [1, 3], [2, 2]]);
    expect(() => meanCurves([a, badReference])).toThrow(/meanCurves: argument 'identities\[1\]\.referenceCurve'/);
  });
});

describe('sharding and merging', () => {
  it('contiguous, balanced identity blocks that cover 1 … n once', () => {
    expect(ablationIdentities(3)).toEqual([1, 2, 3]);
    expect(ablationIdentities(3, { index: 0, count: 2 })).toEqual([1, 2]);
    expect(ablationIdentities(3, { index: 1, count: 2 })).toEqual([3]);
    expect([0, 1, 2].map((index) => ablationIdentities(5, { index, count: 3 }))).toEqual([[1, 2], [3, 4], [5]]);
    expect(ablationIdentities(2, { index: 2, count: 3 })).toEqual([]);
    expect(() => ablationIdentities(3, { index: 2, count: 2 })).toThrow(/0 ≤ index < count/);
  });

  it('merged parts (any order) give the unsharded summary; duplicates, gaps and other settings are refused', () => {
    const ids = [identity(1, [22, 30]), identity(2, [21, 28]), identity(3, [20, 26])];
    const merged = mergeAblation([part([ids[2]!], { index: 1, count: 2 }), part([ids[0]!, ids[1]!], { index: 0, count: 2 })]);
    expect(merged.summary).toEqual(summarizeAblation(ids));
    expect(merged.identities.map((i) => i.identity)).toEqual([1, 2, 3]);
    expect(() => mergeAblation([part([ids[0]!, ids[1]!], null), part([ids[1]!, ids[2]!], null)])).toThrow(/identity 2 in one part only/);
    expect(() => mergeAblation([part([ids[0]!, ids[1]!], null)])).toThrow(/missing 3/);
    expect(() => mergeAblation([part([ids[0]!, ids[1]!], null), part([ids[2]!], null, { ...SETTINGS, seed: 1 })])).toThrow(/parts\[1\]\.settings/);
  });
});
