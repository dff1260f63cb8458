import { describe, expect, it } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';
import { designKey, factorialDesigns, searchDesigns, type DesignSpace, type TsdmDesign } from '../bench/design-search.js';

const SPACE: DesignSpace = { target: ['residual', 'tsd'], predictionType: ['sample', 'epsilon'], proxyConcat: [true, false], temporalWindow: [1, 0] };

/** A score written out by hand: each non-default value adds (or removes) a fixed amount. */
const cost = (d: TsdmDesign, w: { tsd: number; epsilon: number; noconcat: number; k0: number }) =>
  10 + (d.target === 'tsd' ? w.tsd : 0) + (d.predictionType === 'epsilon' ? w.epsilon : 0) + (d.proxyConcat ? 0 : w.noconcat) + (d.temporalWindow === 0 ? w.k0 : 0);

describe('TSDM design search (eval-stage12)', () => {
  it('the factorial lists the 16 distinct designs', () => {
    const designs = factorialDesigns(SPACE);
    expect(designs).toHaveLength(16);
    expect(new Set(designs.map(designKey)).size).toBe(16);
    expect(designs[0]).toEqual({ target: 'residual', predictionType: 'sample', proxyConcat: true, temporalWindow: 1 });
    expect(designs[15]).toEqual({ target: 'tsd', predictionType: 'epsilon', proxyConcat: false, temporalWindow: 0 });
  });

  it('factorial: the lowest score wins; every loser is discarded once, the winner never', async () => {
    const w = { tsd: 1, epsilon: -2, noconcat: 3, k0: -0.5 };
    const discarded: string[] = [];
    const { candidates, chosen } = await searchDesigns('factorial', SPACE, async (d) => ({ score: cost(d, w), result: designKey(d) }), (r) => discarded.push(r));
    expect(candidates).toHaveLength(16);
    expect(candidates[chosen]!.design).toEqual({ target: 'residual', predictionType: 'epsilon', proxyConcat: true, temporalWindow: 0 });
    expect(candidates[chosen]!.score).toBe(7.5);
    expect(discarded.sort()).toEqual(candidates.filter((_, k) => k !== chosen).map((c) => c.result).sort());
  });

  it('greedy: defaults, then one flip per factor from the best so far; a flip is kept only when it lowers the score', async () => {
    // Flipping the target helps (−1), prediction hurts (+2), concatenation helps (−0.5), K = 0 ties (0: not kept).
    const w = { tsd: -1, epsilon: 2, noconcat: -0.5, k0: 0 };
    const { candidates, chosen } = await searchDesigns('greedy', SPACE, async (d) => ({ score: cost(d, w), result: null }));
    expect(candidates.map((c) => designKey(c.design))).toEqual([
      'residual-sample-concat-K1',
      'tsd-sample-concat-K1',
      'tsd-epsilon-concat-K1',
      'tsd-sample-noconcat-K1',
      'tsd-sample-noconcat-K0',
    ]);
    expect(candidates.map((c) => c.score)).toEqual([10, 9, 11, 8.5, 8.5]);
    expect(designKey(candidates[chosen]!.design)).toBe('tsd-sample-noconcat-K1');
  });

  it('greedy keeps the defaults when no flip helps', async () => {
    const { candidates, chosen } = await searchDesigns('greedy', SPACE, async (d) => ({ score: cost(d, { tsd: 1, epsilon: 1, noconcat: 1, k0: 1 }), result: null }));
    expect(candidates).toHaveLength(5);
    expect(chosen).toBe(0);
  });

  it('rejects a bad method, an empty factor and a non-finite score', async () => {
    const ok = async () => ({ score: 1, result: null });
    await expect(searchDesigns('random' as 'greedy', SPACE, ok)).rejects.toThrow(ValidationError);
    await expect(searchDesigns('greedy', { ...SPACE, temporalWindow: [] }, ok)).rejects.toThrow(/space\.temporalWindow/);
    await expect(searchDesigns('greedy', SPACE, async () => ({ score: Number.NaN, result: null }))).rejects.toThrow(/score/);
    expect(() => factorialDesigns({ ...SPACE, target: ['tsd', 'tsd'] })).toThrow(ValidationError);
  });
});
