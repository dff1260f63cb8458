/**
 * The selection of the TSDM's four design choices on validation (issue 17): residual vs TSD target, x₀ vs ε
 * prediction, proxy-TSD concatenation on / off, temporal window K. Two searches over a {@link DesignSpace}:
 *  - `factorial`: every combination (2⁴ = 16 for two values per factor);
 *  - `greedy`: one factor at a time — start from each factor's first value, then for each factor in turn try its
 *    other values and keep one only if it lowers the validation score below the best so far.
 * The caller supplies `evaluate` (train a TSDM with the design, score it on the validation block); the lowest score
 * wins (the first evaluated on ties). Every candidate's evaluation is returned, in the order evaluated.
 *
 * Bench code (not part of the published API); used by `eval-stage12.ts`.
 */
import { ValidationError } from '@consistent-avatar/core';
import type { TsdmConfig } from '@consistent-avatar/tsd';

/** The four design fields of a `TsdmConfig` that the evaluation selects on validation. */
export type TsdmDesign = Pick<TsdmConfig, 'target' | 'predictionType' | 'proxyConcat' | 'temporalWindow'>;

/** The values tried for each design field; the first value of each is the greedy search's starting point. */
export type DesignSpace = { [K in keyof TsdmDesign]: TsdmDesign[K][] };

/** The factors in the order the greedy search flips them. */
export const DESIGN_FACTORS = ['target', 'predictionType', 'proxyConcat', 'temporalWindow'] as const;

/** One evaluated candidate: its design, its validation score (lower is better) and whatever `evaluate` returned. */
export interface DesignCandidate<R> {
  design: TsdmDesign;
  score: number;
  result: R;
}

/** What {@link searchDesigns} returns. */
export interface DesignSearchResult<R> {
  /** Every candidate, in the order evaluated. */
  candidates: DesignCandidate<R>[];
  /** Index into `candidates` of the chosen one. */
  chosen: number;
}

/** A short, stable name of a design (e.g. `residual-sample-concat-K1`), used for checkpoint folders and tables. */
export function designKey(design: TsdmDesign): string {
  return `${design.target}-${design.predictionType}-${design.proxyConcat ? 'concat' : 'noconcat'}-K${design.temporalWindow}`;
}

function checkSpace(fn: string, space: DesignSpace): void {
  for (const factor of DESIGN_FACTORS) {
    const values = space?.[factor] as unknown[] | undefined;
    if (!Array.isArray(values) || values.length === 0 || new Set(values).size !== values.length) {
      throw new ValidationError(fn, `space.${factor}`, 'a non-empty array of distinct values', values);
    }
  }
}

/**
 * Every combination of the space's values, the last factor varying fastest.
 * @example
 * ```ts
 * factorialDesigns({ target: ['residual', 'tsd'], predictionType: ['sample', 'epsilon'], proxyConcat: [true, false], temporalWindow: [1, 0] }).length; // 16
 * ```
 */
export function factorialDesigns(space: DesignSpace): TsdmDesign[] {
  checkSpace('factorialDesigns', space);
  let designs: Partial<TsdmDesign>[] = [{}];
  for (const factor of DESIGN_FACTORS) {
    designs = designs.flatMap((d) => (space[factor] as TsdmDesign[typeof factor][]).map((v) => ({ ...d, [factor]: v })));
  }
  return designs as TsdmDesign[];
}

/**
 * Search the space with `evaluate` (async; called once per candidate, sequentially) and pick the lowest score.
 * `onDiscard` is called with each candidate's result once it can no longer win (e.g. to dispose its model); the
 * chosen one's result is kept.
 * @example
 * ```ts
 * const { candidates, chosen } = await searchDesigns('greedy', space, async (d) => ({ score: await validationMse(d), result: d }));
 * ```
 */
export async function searchDesigns<R>(
  method: 'factorial' | 'greedy',
  space: DesignSpace,
  evaluate: (design: TsdmDesign) => Promise<{ score: number; result: R }>,
  onDiscard: (result: R) => void = () => {},
): Promise<DesignSearchResult<R>> {
  const FN = 'searchDesigns';
  if (method !== 'factorial' && method !== 'greedy') throw new ValidationError(FN, 'method', "'factorial' or 'greedy'", method);
  checkSpace(FN, space);
  if (typeof evaluate !== 'function') throw new ValidationError(FN, 'evaluate', 'a function', evaluate);
  const candidates: DesignCandidate<R>[] = [];
  let chosen = -1;
  const consider = async (design: TsdmDesign) => {
    const { score, result } = await evaluate(design);
    if (!Number.isFinite(score)) throw new ValidationError(FN, 'evaluate(design).score', 'a finite number', score);
    candidates.push({ design, score, result });
    const k = candidates.length - 1;
    if (chosen < 0 || score < candidates[chosen]!.score) {
      if (chosen >= 0) onDiscard(candidates[chosen]!.result);
      chosen = k;
    } else {
      onDiscard(result);
    }
  };
  if (method === 'factorial') {
    for (const design of factorialDesigns(space)) await consider(design);
  } else {
    // 1. The start: each factor's first value.
    await consider(Object.fromEntries(DESIGN_FACTORS.map((f) => [f, space[f][0]])) as TsdmDesign);
    // 2. Flip one factor at a time from the best design so far; a flip is kept only if it lowers the score.
    for (const factor of DESIGN_FACTORS) {
      const base = candidates[chosen]!.design;
      for (const value of space[factor] as TsdmDesign[typeof factor][]) {
        if (value !== base[factor]) await consider({ ...base, [factor]: value });
      }
    }
  }
  return { candidates, chosen };
}
