/**
 * Temporal consistency of a generated video against the real one, from Farnebäck optical flow:
 *
 * 1. Fig. 7 of the paper: mean flow magnitude between adjacent frames, generated vs real, and the two curves'
 *    agreement (mean absolute difference, Pearson correlation).
 * 2. End-point error between the generated video's flow and the real video's flow, per adjacent pair.
 * 3. Warping error (Lai et al. 2018) of the generated video with the real video's flow (occlusions masked by
 *    forward–backward consistency), and the same for the real video as its noise floor.
 */
import { ValidationError, type Image } from '@consistent-avatar/core';
import { FarnebackFlow, type FarnebackConfig } from './farneback.js';
import { curveAgreement, flowMagnitudeCurve } from './flow-curve.js';
import { endPointError } from './end-point-error.js';
import { warpingError } from './warping-error.js';

/**
 * Options of {@link temporalConsistency}.
 * @example
 * ```ts
 * await temporalConsistency(gen, real, { farneback: { winSize: 21 }, border: 8, warping: false } satisfies TemporalConsistencyOptions);
 * ```
 */
export interface TemporalConsistencyOptions {
  /** Farnebäck parameters (defaults: {@link FARNEBACK_DEFAULTS}). */
  readonly farneback?: Partial<FarnebackConfig>;
  /** Pixels dropped on each side for every flow-based measure. Default 0. */
  readonly border?: number;
  /** Compute the warping error (needs the real video's backward flows too). Default true. */
  readonly warping?: boolean;
  /** Progress callback `(done, total)` over adjacent frame pairs. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Result of {@link temporalConsistency}; arrays have one value per adjacent frame pair (`T − 1`).
 * @example
 * ```ts
 * const r: TemporalConsistencyResult = await temporalConsistency(gen, real);
 * flowCurveSvg([{ label: 'generated', values: r.generatedCurve }, { label: 'real', values: r.referenceCurve }]);
 * ```
 */
export interface TemporalConsistencyResult {
  readonly generatedCurve: number[];
  readonly referenceCurve: number[];
  readonly curveMeanAbsDiff: number;
  readonly curvePearson: number;
  readonly epePerPair: number[];
  readonly epeMean: number;
  /** Present when `warping` is on. */
  readonly warping?: {
    readonly generatedPerPair: number[];
    readonly generatedMean: number;
    readonly referencePerPair: number[];
    readonly referenceMean: number;
    /** Mean fraction of pixels that were not masked. */
    readonly validFraction: number;
  };
}

const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;

/**
 * Flow-based temporal consistency of `generated` against `reference` (aligned frame lists, `T ≥ 2`).
 *
 * @example
 * ```ts
 * const r = await temporalConsistency(generatedFrames, realFrames, { border: 8 });
 * console.log(r.curveMeanAbsDiff, r.curvePearson, r.epeMean, r.warping?.generatedMean);
 * ```
 */
export async function temporalConsistency(
  generated: readonly Image[],
  reference: readonly Image[],
  options: TemporalConsistencyOptions = {},
): Promise<TemporalConsistencyResult> {
  const fn = 'temporalConsistency';
  if (!Array.isArray(generated) || generated.length < 2) {
    throw new ValidationError(fn, 'generated', 'an array of at least 2 frames', generated);
  }
  if (!Array.isArray(reference) || reference.length !== generated.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated.length} frames`, reference);
  }
  const border = options.border ?? 0;
  const doWarp = options.warping ?? true;
  const flow = await FarnebackFlow.create(options.farneback);
  try {
    const pairs = generated.length - 1;
    const genForward = flow.computeSequence(generated);
    const refForward = flow.computeSequence(reference);
    const generatedCurve = flowMagnitudeCurve(genForward, { border });
    const referenceCurve = flowMagnitudeCurve(refForward, { border });
    const { meanAbsDiff, pearson } = curveAgreement(generatedCurve, referenceCurve);
    const epePerPair = genForward.map((g, t) => endPointError(g, refForward[t]!, { border }));
    let warping: TemporalConsistencyResult['warping'];
    if (doWarp) {
      const generatedPerPair: number[] = [];
      const referencePerPair: number[] = [];
      let validSum = 0;
      for (let t = 0; t < pairs; t++) {
        const backward = flow.compute(reference[t + 1]!, reference[t]!);
        const g = await warpingError(generated[t]!, generated[t + 1]!, refForward[t]!, { backward, border });
        const r = await warpingError(reference[t]!, reference[t + 1]!, refForward[t]!, { backward, border });
        generatedPerPair.push(g.error);
        referencePerPair.push(r.error);
        validSum += g.validFraction;
        options.onProgress?.(t + 1, pairs);
      }
      warping = {
        generatedPerPair,
        generatedMean: mean(generatedPerPair),
        referencePerPair,
        referenceMean: mean(referencePerPair),
        validFraction: validSum / pairs,
      };
    } else {
      options.onProgress?.(pairs, pairs);
    }
    return {
      generatedCurve,
      referenceCurve,
      curveMeanAbsDiff: meanAbsDiff,
      curvePearson: pearson,
      epePerPair,
      epeMean: mean(epePerPair),
      ...(warping ? { warping } : {}),
    };
  } finally {
    flow.dispose();
  }
}
