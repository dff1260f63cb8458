/**
 * Error measures of a generated TSD sequence against the ground-truth TSD sequence (used by the TSDM evaluation):
 * per-pixel MSE, and two frame-to-frame measures — the MSE of the temporal differences Δ_t = x_t − x_{t−1}, and the
 * Pearson correlation of the per-frame change curves m_t = mean|Δ_t|.
 *
 * @packageDocumentation
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';

/**
 * What {@link tsdErrors} returns.
 * @example
 * ```ts
 * const { mse, deltaMse, changeCorrelation } = tsdErrors(aligned, truth);
 * ```
 */
export interface TsdErrorReport {
  /** mean_t mean_px (x_t − g_t)². */
  mse: number;
  /** mean_t mean_px (Δx_t − Δg_t)² over t ≥ 1. */
  deltaMse: number;
  /** Pearson correlation of mean|Δx_t| and mean|Δg_t| over t ≥ 1 (NaN with fewer than 3 frames or a flat curve). */
  changeCorrelation: number;
  /** The two change curves (length frames − 1). */
  changeCurve: number[];
  changeCurveTruth: number[];
}

/**
 * Compare a TSD sequence with the ground truth (same shapes, same order).
 * @example
 * ```ts
 * import { tsdErrors } from '@consistent-avatar/tsd';
 * const a = [new Float32Array([0, 0]), new Float32Array([1, 1]), new Float32Array([1, 0])];
 * const r = tsdErrors(a, a); // { mse: 0, deltaMse: 0, changeCorrelation: 1, … }
 * ```
 */
export function tsdErrors(sequence: readonly ArrayLike<number>[], truth: readonly ArrayLike<number>[]): TsdErrorReport {
  const FN = 'tsdErrors';
  if (!Array.isArray(sequence) || sequence.length === 0) throw new ValidationError(FN, 'sequence', 'a non-empty array of maps', sequence);
  if (!Array.isArray(truth) || truth.length !== sequence.length) throw new ValidationError(FN, 'truth', `${sequence.length} maps`, truth?.length);
  const n = sequence[0]!.length;
  if (n === 0) throw new ValidationError(FN, 'sequence[0]', 'a non-empty map', n);
  for (let t = 0; t < sequence.length; t++) {
    if (sequence[t]!.length !== n || truth[t]!.length !== n) throw new ValidationError(FN, `sequence[${t}] / truth[${t}]`, `${n} values each`, [sequence[t]!.length, truth[t]!.length]);
    checkFinite(FN, `sequence[${t}]`, sequence[t]!);
    checkFinite(FN, `truth[${t}]`, truth[t]!);
  }
  let se = 0, dse = 0;
  const curve: number[] = [], curveTruth: number[] = [];
  for (let t = 0; t < sequence.length; t++) {
    const x = sequence[t]!, g = truth[t]!;
    let s = 0;
    for (let i = 0; i < n; i++) s += (x[i]! - g[i]!) ** 2;
    se += s / n;
    if (t === 0) continue;
    const xp = sequence[t - 1]!, gp = truth[t - 1]!;
    let d = 0, mx = 0, mg = 0;
    for (let i = 0; i < n; i++) {
      const dx = x[i]! - xp[i]!, dg = g[i]! - gp[i]!;
      d += (dx - dg) ** 2;
      mx += Math.abs(dx);
      mg += Math.abs(dg);
    }
    dse += d / n;
    curve.push(mx / n);
    curveTruth.push(mg / n);
  }
  return {
    mse: se / sequence.length,
    deltaMse: sequence.length > 1 ? dse / (sequence.length - 1) : Number.NaN,
    changeCorrelation: pearson(curve, curveTruth),
    changeCurve: curve,
    changeCurveTruth: curveTruth,
  };
}

function pearson(a: number[], b: number[]): number {
  if (a.length < 2) return Number.NaN;
  const ma = a.reduce((p, q) => p + q, 0) / a.length, mb = b.reduce((p, q) => p + q, 0) / b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}
