/**
 * The protocol's scores of one generated sequence against the real frames (docs/experiments/protocol.md): L2 (MSE),
 * PSNR and SSIM over the whole frame and inside the face mask; PE / EE from a pose / expression estimator when one is
 * given; LPIPS and identity similarity when their models are given; and temporal consistency from Farnebäck flow (Fig. 7: the flow-magnitude curve against the real video's,
 * mean absolute difference and Pearson correlation; the warping error with the real video's flow, and the real
 * video's own as its floor).
 *
 * @example
 * ```ts
 * import { scoreSequence } from '@consistent-avatar/avatar';
 * const scores = await scoreSequence(generated, real, masks);
 * console.log(scores.whole.psnr, scores.face.psnr, scores.temporal.curvePearson);
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, checkImage, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { faceConsistency, lpipsFrames, mse, poseExpressionError, psnr, ssim, temporalConsistency, type FaceAnalyzer, type Lpips, type PoseExpressionEstimator } from '@consistent-avatar/metrics';

/** Per-frame means of the image metrics. */
export interface ImageScores {
  /** Mean squared error of RGB in [0, 1] (the paper's L2). */
  mse: number;
  /** Mean of per-frame PSNR (dB, data range 1). */
  psnr: number;
  /** Mean of per-frame SSIM (Wang et al. gaussian window, per channel). */
  ssim: number;
}

/** What {@link scoreSequence} returns. */
export interface SequenceScores {
  /** Over the whole frame. */
  whole: ImageScores;
  /** Inside the face mask (pixels weighted by the mask). */
  face: ImageScores;
  /** Flow-based temporal consistency (`null` for sequences shorter than 2 frames). */
  temporal: {
    /** Mean |generated − real| of the flow-magnitude curves (px / frame). */
    curveMeanAbsDiff: number;
    /** Pearson correlation of the two curves. */
    curvePearson: number;
    /** Warping error of the generated video with the real video's flow. */
    warpingError: number;
    /** The real video's own warping error (the floor). */
    referenceWarpingError: number;
    /** The generated video's flow-magnitude curve (one value per adjacent pair). */
    curve: number[];
    /** The real video's curve. */
    referenceCurve: number[];
  } | null;
  /** Pose error (mean L2 of pose codes) when an estimator was given; null otherwise or when no frame could be compared. */
  pe: number | null;
  /** Expression error (mean L2 of expression codes). */
  ee: number | null;
  /** Mean LPIPS over frames when LPIPS weights were given (null otherwise). */
  lpips: number | null;
  /**
   * Identity similarity (CSIM: cosine similarity of face embeddings, mean over the frames where a face was found in
   * both) when a face analyser was given; null otherwise or when no frame could be compared.
   */
  identitySimilarity: number | null;
}

/** Options of {@link scoreSequence}. */
export interface ScoreSequenceOptions {
  /** Estimator for PE / EE (e.g. `loadEmbeddedPoseExpressionEstimator()` on the synthetic head, or DECA). Not disposed. */
  estimator?: PoseExpressionEstimator;
  /** LPIPS model (`Lpips.fromSafetensors`, the user's weights) for {@link SequenceScores.lpips}. Not disposed. */
  lpips?: Lpips;
  /** Face analyser for {@link SequenceScores.identitySimilarity}. Not disposed. */
  faceAnalyzer?: FaceAnalyzer;
  /** Pixels dropped on each side for the flow measures. Default 2. */
  flowBorder?: number;
}

const meanOf = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

/**
 * Score a generated sequence against the real one.
 *
 * @param generated - generated frames (float RGB in [0, 1]).
 * @param reference - the real frames, same sizes, same order.
 * @param masks - one `[H·W]` face mask per frame in [0, 1].
 * @example
 * ```ts
 * const { whole, face, temporal, pe, ee } = await scoreSequence(out, gt, masks, { estimator });
 * ```
 */
export async function scoreSequence(generated: FloatImage[], reference: FloatImage[], masks: Float32Array[], options: ScoreSequenceOptions = {}): Promise<SequenceScores> {
  const fn = 'scoreSequence';
  if (!Array.isArray(generated) || generated.length === 0) throw new ValidationError(fn, 'generated', 'a non-empty array of images', generated);
  if (!Array.isArray(reference) || reference.length !== generated.length) throw new ValidationError(fn, 'reference', `${generated.length} images`, reference?.length);
  if (!Array.isArray(masks) || masks.length !== generated.length) throw new ValidationError(fn, 'masks', `${generated.length} masks`, masks?.length);
  generated.forEach((g, i) => {
    checkImage(fn, `generated[${i}]`, g, { storage: 'float', channels: [3] });
    checkImage(fn, `reference[${i}]`, reference[i], { storage: 'float', channels: [3] });
    if (masks[i]!.length !== g.height * g.width) throw new ValidationError(fn, `masks[${i}]`, `${g.height}·${g.width} values`, masks[i]!.length);
    checkFinite(fn, `masks[${i}]`, masks[i]!); // a NaN weight would turn every masked score into NaN
  });
  const image = (mask?: (i: number) => { data: Float32Array; height: number; width: number }): ImageScores => {
    const m = generated.map((g, i) => mse(g, reference[i]!, mask ? { mask: mask(i) } : {}));
    const p = generated.map((g, i) => psnr(g, reference[i]!, mask ? { mask: mask(i) } : {}));
    const s = generated.map((g, i) => ssim(g, reference[i]!, mask ? { mask: mask(i) } : {}));
    return { mse: meanOf(m), psnr: meanOf(p), ssim: meanOf(s) };
  };
  const whole = image();
  const face = image((i) => ({ data: masks[i]!, height: generated[i]!.height, width: generated[i]!.width }));
  let temporal: SequenceScores['temporal'] = null;
  if (generated.length >= 2) {
    const t = await temporalConsistency(generated, reference, { border: options.flowBorder ?? 2 });
    temporal = {
      curveMeanAbsDiff: t.curveMeanAbsDiff,
      curvePearson: t.curvePearson,
      warpingError: t.warping!.generatedMean,
      referenceWarpingError: t.warping!.referenceMean,
      curve: t.generatedCurve,
      referenceCurve: t.referenceCurve,
    };
  }
  let pe: number | null = null;
  let ee: number | null = null;
  if (options.estimator) {
    const [gen, ref] = [await options.estimator.estimate(generated), await options.estimator.estimate(reference)];
    ({ pe, ee } = poseExpressionError(gen, ref));
  }
  const lpips = options.lpips ? lpipsFrames(options.lpips, generated, reference).mean : null;
  let identitySimilarity: number | null = null;
  if (options.faceAnalyzer) {
    const analyse = async (frames: FloatImage[]) => { const out = []; for (const f of frames) out.push(await options.faceAnalyzer!.analyze(f)); return out; };
    identitySimilarity = faceConsistency(await analyse(generated), await analyse(reference)).identitySimilarity;
  }
  return { whole, face, temporal, pe, ee, lpips, identitySimilarity };
}
