/**
 * Accuracy of pose / expression estimates against ground-truth codes, next to the trivial baseline that predicts
 * a fixed code (the training mean) for every frame:
 * - head rotation error: the geodesic angle between the estimated and true global rotations,
 *   θ = arccos((tr(R̂ᵀR) − 1) / 2), in degrees (R from the axis-angle P[0:3] by Rodrigues' formula);
 * - jaw error: the same angle for the jaw rotation P[3:6];
 * - expression error: mean Euclidean distance ‖ê − e‖ (the paper's EE per frame), and the pooled
 *   R² = 1 − Σ‖ê − e‖² / Σ‖ē − e‖² with ē the baseline code (R² of the baseline is 0 by construction; < 0 is worse
 *   than predicting ē); reported over all coefficients and over the 16 named ones (0–15) separately.
 *
 * @example
 * ```ts
 * const acc = poseExpressionAccuracy(estimates, truth, { pose: trainPoseMean, expression: trainExprMean });
 * console.log(acc.model.headRotationDeg.mean, acc.baseline.headRotationDeg.mean);
 * ```
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';
import type { PoseExpressionCodes } from './pose-expression.js';

/**
 * Error statistics of one predictor.
 * @example
 * ```ts
 * const s: PoseExpressionScores = acc.model; // s.jawDeg.median, s.expressionR2 …
 * ```
 */
export interface PoseExpressionScores {
  readonly headRotationDeg: { readonly mean: number; readonly median: number };
  readonly jawDeg: { readonly mean: number; readonly median: number };
  /** Mean Euclidean distance of the 6-d pose codes (radians; the paper's PE per frame). */
  readonly poseL2: number;
  readonly expressionL2: number;
  readonly expressionR2: number;
  /** R² over the 16 named expression components (those the emotion prototypes use). */
  readonly namedExpressionR2: number;
}

/**
 * Result of {@link poseExpressionAccuracy}.
 * @example
 * ```ts
 * const { frames, model, baseline } = poseExpressionAccuracy(estimates, truth, mean);
 * ```
 */
export interface PoseExpressionAccuracy {
  readonly frames: number;
  readonly model: PoseExpressionScores;
  readonly baseline: PoseExpressionScores;
}

/**
 * Rotation matrix (row-major 3×3) of an axis-angle vector (Rodrigues' formula).
 * @param v - 3 finite numbers (NaN / ±Infinity: `ValidationError`, core's non-finite policy).
 * @param fn - the public function named in errors (`rotationAngleDeg` passes its own name).
 * @param arg - the argument named in errors.
 * @example
 * ```ts
 * axisAngleToMatrix([0, Math.PI / 2, 0]); // 90° about y
 * ```
 */
export function axisAngleToMatrix(v: ArrayLike<number>, fn = 'axisAngleToMatrix', arg = 'v'): number[] {
  if (v?.length !== 3) throw new ValidationError(fn, arg, 'an axis-angle vector of 3 numbers', v);
  checkFinite(fn, arg, v);
  const [x, y, z] = [Number(v[0]), Number(v[1]), Number(v[2])];
  const angle = Math.hypot(x, y, z);
  if (angle < 1e-12) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const [kx, ky, kz] = [x / angle, y / angle, z / angle];
  const c = Math.cos(angle), s = Math.sin(angle), t = 1 - c;
  return [
    c + kx * kx * t, kx * ky * t - kz * s, kx * kz * t + ky * s,
    ky * kx * t + kz * s, c + ky * ky * t, ky * kz * t - kx * s,
    kz * kx * t - ky * s, kz * ky * t + kx * s, c + kz * kz * t,
  ];
}

/**
 * Geodesic angle (degrees) between two axis-angle rotations.
 * @example
 * ```ts
 * rotationAngleDeg([0, 0.1, 0], [0, 0, 0]); // ≈ 5.73
 * ```
 */
export function rotationAngleDeg(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = axisAngleToMatrix(a, 'rotationAngleDeg', 'a'), rb = axisAngleToMatrix(b, 'rotationAngleDeg', 'b');
  let trace = 0; // tr(Raᵀ Rb) = Σ_ij Ra_ij Rb_ij
  for (let k = 0; k < 9; k++) trace += ra[k]! * rb[k]!;
  return (Math.acos(Math.max(-1, Math.min(1, (trace - 1) / 2))) * 180) / Math.PI;
}

const meanOf = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const medianOf = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function scores(pred: readonly PoseExpressionCodes[], truth: readonly PoseExpressionCodes[], reference: PoseExpressionCodes): PoseExpressionScores {
  const head: number[] = [], jaw: number[] = [], poseL2: number[] = [], exprL2: number[] = [];
  let sse = 0, sst = 0, sseNamed = 0, sstNamed = 0;
  truth.forEach((t, i) => {
    const p = pred[i]!;
    head.push(rotationAngleDeg(p.pose.subarray(0, 3), t.pose.subarray(0, 3)));
    jaw.push(rotationAngleDeg(p.pose.subarray(3, 6), t.pose.subarray(3, 6)));
    let d = 0;
    for (let k = 0; k < 6; k++) d += (p.pose[k]! - t.pose[k]!) ** 2;
    poseL2.push(Math.sqrt(d));
    let e = 0;
    for (let k = 0; k < t.expression.length; k++) {
      const err = (p.expression[k]! - t.expression[k]!) ** 2;
      const dev = (reference.expression[k]! - t.expression[k]!) ** 2;
      e += err;
      sse += err;
      sst += dev;
      if (k < 16) {
        sseNamed += err;
        sstNamed += dev;
      }
    }
    exprL2.push(Math.sqrt(e));
  });
  return {
    headRotationDeg: { mean: meanOf(head), median: medianOf(head) },
    jawDeg: { mean: meanOf(jaw), median: medianOf(jaw) },
    poseL2: meanOf(poseL2),
    expressionL2: meanOf(exprL2),
    expressionR2: 1 - sse / sst,
    namedExpressionR2: 1 - sseNamed / sstNamed,
  };
}

/**
 * Score estimates against the truth, and the constant `baseline` code (e.g. the training mean) the same way.
 *
 * @param estimates - one code per frame (no `null`: score only frames the estimator handled).
 * @param truth - the true codes, aligned.
 * @param baseline - the constant prediction to compare with.
 * @example
 * ```ts
 * const acc = poseExpressionAccuracy(await est.estimate(frames), truth, { pose: poseMean, expression: exprMean });
 * ```
 */
export function poseExpressionAccuracy(
  estimates: readonly (PoseExpressionCodes | null)[],
  truth: readonly PoseExpressionCodes[],
  baseline: PoseExpressionCodes,
): PoseExpressionAccuracy {
  const fn = 'poseExpressionAccuracy';
  if (!Array.isArray(truth) || truth.length === 0) throw new ValidationError(fn, 'truth', 'a non-empty array of codes', truth);
  if (!Array.isArray(estimates) || estimates.length !== truth.length) throw new ValidationError(fn, 'estimates', `an array of ${truth.length} codes`, estimates);
  const n = truth[0]!.expression.length;
  const check = (c: PoseExpressionCodes | null, arg: string) => {
    if (!c || c.pose?.length !== 6 || c.expression?.length !== n) throw new ValidationError(fn, arg, `codes with pose [6] and expression [${n}]`, c);
    checkFinite(fn, `${arg}.pose`, c.pose); // named here (rotationAngleDeg would name itself)
    checkFinite(fn, `${arg}.expression`, c.expression);
  };
  estimates.forEach((c, i) => check(c, `estimates[${i}]`));
  truth.forEach((c, i) => check(c, `truth[${i}]`));
  check(baseline, 'baseline');
  const model = scores(estimates as PoseExpressionCodes[], truth, baseline);
  const constant = scores(truth.map(() => baseline), truth, baseline);
  return { frames: truth.length, model, baseline: constant };
}
