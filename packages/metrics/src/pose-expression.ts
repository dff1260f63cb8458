/**
 * The `PoseExpressionEstimator` interface (image → pose ∈ R^6, expression ∈ R^n) and the paper's PE / EE:
 * the mean Euclidean distance between the pose (PE) or expression (EE) codes estimated from generated frames and
 * from the real frames (paper §4, following DECA-based talking-head evaluations).
 *
 * Implementations plug in here (a DECA-architecture regressor loading converted DECA weights, the embedded
 * regressor trained on synthetic-head renders); this package only defines the contract and the measure.
 */
import { checkFinite, ValidationError, type Image } from '@consistent-avatar/core';

/**
 * One frame's codes.
 * @example
 * ```ts
 * const codes: PoseExpressionCodes = { pose: new Float32Array(6), expression: new Float32Array(50) };
 * ```
 */
export interface PoseExpressionCodes {
  /** `[6]`: DECA convention — global head rotation (axis-angle, 3) then jaw rotation (axis-angle, 3). */
  readonly pose: Float32Array;
  /** `[n]` expression coefficients (n = the estimator's `expressionSize`, e.g. 50 for DECA / FLAME). */
  readonly expression: Float32Array;
}

/**
 * An image → (pose, expression) estimator. `estimate` returns `null` for a frame it cannot handle (no face): such
 * frames are counted as failures by {@link poseExpressionError}, never filled in.
 *
 * @example
 * ```ts
 * const estimator: PoseExpressionEstimator = {
 *   specificationVersion: 'v1',
 *   name: 'my-regressor',
 *   expressionSize: 50,
 *   async estimate(frames) { return frames.map(() => ({ pose: new Float32Array(6), expression: new Float32Array(50) })); },
 * };
 * ```
 */
export interface PoseExpressionEstimator {
  readonly specificationVersion: 'v1';
  /** Shown in reports (say what it is, e.g. "DECA (converted weights)" or "embedded synthetic-head regressor"). */
  readonly name: string;
  readonly expressionSize: number;
  /** Codes per frame (`null`: no face); frames are core `Image`s, float in [0, 1] or bytes (convert with `toFloatImage`). */
  estimate(frames: readonly Image[]): Promise<(PoseExpressionCodes | null)[]>;
  /** Free what the estimator holds (weights, worker threads); optional for estimators that hold nothing. */
  dispose?(): void;
}

/**
 * Result of {@link poseExpressionError}.
 * @example
 * ```ts
 * const { pe, ee, failures }: PoseExpressionErrorResult = poseExpressionError(genCodes, realCodes);
 * ```
 */
export interface PoseExpressionErrorResult {
  /** Mean Euclidean distance of pose codes over compared frames; `null` when none could be compared. */
  readonly pe: number | null;
  /** Mean Euclidean distance of expression codes; `null` when none could be compared. */
  readonly ee: number | null;
  readonly perFrame: ({ readonly pe: number; readonly ee: number } | null)[];
  readonly failures: { readonly generated: number[]; readonly reference: number[] };
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/**
 * PE / EE from already estimated codes (aligned lists, `null` = estimation failed).
 *
 * @example
 * ```ts
 * const codes = (p: number[], e: number[]) => ({ pose: Float32Array.from(p), expression: Float32Array.from(e) });
 * poseExpressionError([codes([0, 0, 0, 0, 0, 0], [1, 0])], [codes([0, 0, 0, 0, 0, 0.3], [0, 0])]);
 * // { pe: 0.3, ee: 1, ... }
 * ```
 */
export function poseExpressionError(
  generated: readonly (PoseExpressionCodes | null)[],
  reference: readonly (PoseExpressionCodes | null)[],
): PoseExpressionErrorResult {
  const fn = 'poseExpressionError';
  if (!Array.isArray(generated) || generated.length === 0) throw new ValidationError(fn, 'generated', 'a non-empty array', generated);
  if (!Array.isArray(reference) || reference.length !== generated.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated.length} entries`, reference);
  }
  const failures = { generated: [] as number[], reference: [] as number[] };
  const perFrame = generated.map((g, i) => {
    const r = reference[i]!;
    if (!g) failures.generated.push(i);
    if (!r) failures.reference.push(i);
    if (!g || !r) return null;
    if (g.pose.length !== 6 || r.pose.length !== 6) {
      throw new ValidationError(fn, `generated[${i}].pose`, 'a 6-vector on both sides', g.pose.length !== 6 ? g.pose : r.pose);
    }
    if (g.expression.length !== r.expression.length) {
      throw new ValidationError(fn, `generated[${i}].expression`, `length ${r.expression.length}`, g.expression);
    }
    // The non-finite policy: a NaN code made PE / EE NaN for the whole video.
    for (const [side, codes] of [['generated', g], ['reference', r]] as const) {
      checkFinite(fn, `${side}[${i}].pose`, codes.pose);
      checkFinite(fn, `${side}[${i}].expression`, codes.expression);
    }
    return { pe: l2(g.pose, r.pose), ee: l2(g.expression, r.expression) };
  });
  const rows = perFrame.filter((r): r is { pe: number; ee: number } => r !== null);
  const mean = (k: 'pe' | 'ee') => (rows.length ? rows.reduce((s, r) => s + r[k], 0) / rows.length : null);
  return { pe: mean('pe'), ee: mean('ee'), perFrame, failures };
}

/**
 * Run an estimator on both videos and compute PE / EE.
 *
 * @example
 * ```ts
 * const { pe, ee, failures } = await evaluatePoseExpression(estimator, generatedFrames, realFrames);
 * ```
 */
export async function evaluatePoseExpression(
  estimator: PoseExpressionEstimator,
  generated: readonly Image[],
  reference: readonly Image[],
): Promise<PoseExpressionErrorResult> {
  const fn = 'evaluatePoseExpression';
  if (estimator?.specificationVersion !== 'v1' || typeof estimator.estimate !== 'function') {
    throw new ValidationError(fn, 'estimator', "a PoseExpressionEstimator (specificationVersion 'v1')", estimator);
  }
  if (!Array.isArray(generated) || !Array.isArray(reference) || generated.length !== reference.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated?.length} frames`, reference);
  }
  const [g, r] = [await estimator.estimate(generated), await estimator.estimate(reference)];
  if (g.length !== generated.length || r.length !== reference.length) {
    throw new ValidationError(fn, 'estimator.estimate', 'one result (or null) per frame', g.length);
  }
  return poseExpressionError(g, r);
}
