/**
 * Eval shards: `ca eval --shard i/n` scores a range of the held-out frames of every rendered row, and `ca merge`
 * turns the shards into the `results.json` an unsharded `ca eval` writes — number for number.
 *
 * Every sequence score of `scoreSequence` is a mean over frames or over adjacent pairs, or (the flow-curve agreement)
 * a function of the per-pair curve. So a shard keeps per-frame values (L2 / PSNR / SSIM, whole and face; PE / EE)
 * and per-pair values (the two flow-magnitude curves, the two warping errors), the merge concatenates them in frame
 * order and takes the same means (same summation order, so the same floating-point numbers) and the same
 * `curveAgreement`. The pair (t−1, t) belongs to the shard owning frame t: a shard reads the whole rendered sequence
 * (the merged `outputs/render/`) and scores frame `start − 1` for its first pair, so no pair is lost at a boundary.
 * LPIPS and identity similarity (user models the `ca` commands do not load) are not sharded.
 *
 * @example
 * ```ts
 * import { scoreShard, mergeScoreShards } from '@consistent-avatar/avatar';
 * const parts = [await scoreShard(gen, real, masks, { start: 0, end: 4 }), await scoreShard(gen, real, masks, { start: 4, end: 6 })];
 * mergeScoreShards(parts); // = await scoreSequence(gen, real, masks) (without LPIPS / identity)
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { curveAgreement, mse, poseExpressionError, psnr, ssim, temporalConsistency, type PoseExpressionEstimator } from '@consistent-avatar/metrics';
import type { SequenceScores } from '../eval/score-sequence.js';

/** Per-frame image scores of a shard. */
export interface FrameImageScores {
  mse: number[];
  psnr: number[];
  ssim: number[];
}

/** What {@link scoreShard} keeps of its frame range `[start, end)`. */
export interface ScoreShardPart {
  start: number;
  end: number;
  /** Frames of the whole sequence. */
  total: number;
  whole: FrameImageScores;
  face: FrameImageScores;
  /** Per frame, `{ pe, ee }` or null where the estimator found no face on either side; null without an estimator. */
  poseExpression: ({ pe: number; ee: number } | null)[] | null;
  /** Per pair (t−1, t) for t in `[max(start, 1), end)`. */
  pairs: { curve: number[]; referenceCurve: number[]; warping: number[]; referenceWarping: number[] };
}

/** Options of {@link scoreShard}. */
export interface ScoreShardOptions {
  /** Estimator for PE / EE (not disposed). */
  estimator?: PoseExpressionEstimator;
  /** Pixels dropped on each side for the flow measures. Default 2 (as `scoreSequence`). */
  flowBorder?: number;
}

const meanOf = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

/**
 * Score frames `[start, end)` of a generated sequence against the real one, keeping per-frame and per-pair values.
 * @param generated - the whole generated sequence (RGB float images in [0, 1]).
 * @param reference - the real frames, same length.
 * @param masks - one `[H·W]` face mask per frame in [0, 1].
 * @param range - the shard's frames (`0 ≤ start ≤ end ≤ T`).
 * @param options - estimator, flow border.
 * @returns the shard's part for {@link mergeScoreShards}.
 * @example
 * ```ts
 * const part = await scoreShard(gen, real, masks, { start: 4, end: 8 }, { estimator });
 * ```
 */
export async function scoreShard(generated: FloatImage[], reference: FloatImage[], masks: Float32Array[], range: { start: number; end: number }, options: ScoreShardOptions = {}): Promise<ScoreShardPart> {
  const FN = 'scoreShard';
  const total = Array.isArray(generated) ? generated.length : -1;
  if (total < 1) throw new ValidationError(FN, 'generated', 'a non-empty array of images', generated);
  if (!Array.isArray(reference) || reference.length !== total) throw new ValidationError(FN, 'reference', `${total} images`, reference?.length);
  if (!Array.isArray(masks) || masks.length !== total) throw new ValidationError(FN, 'masks', `${total} masks`, masks?.length);
  const { start, end } = range ?? ({} as { start: number; end: number });
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > total) throw new ValidationError(FN, 'range', `0 ≤ start ≤ end ≤ ${total}`, range);
  // 1. Per frame: the same calls as scoreSequence's means, one frame at a time.
  const frames = Array.from({ length: end - start }, (_, k) => start + k);
  for (const i of frames) checkFinite(FN, `masks[${i}]`, masks[i]!); // as scoreSequence: a NaN weight poisons the masked scores
  const image = (masked: boolean): FrameImageScores => {
    const opts = (i: number) => (masked ? { mask: { data: masks[i]!, height: generated[i]!.height, width: generated[i]!.width } } : {});
    return {
      mse: frames.map((i) => mse(generated[i]!, reference[i]!, opts(i))),
      psnr: frames.map((i) => psnr(generated[i]!, reference[i]!, opts(i))),
      ssim: frames.map((i) => ssim(generated[i]!, reference[i]!, opts(i))),
    };
  };
  const whole = image(false);
  const face = image(true);
  let poseExpression: ScoreShardPart['poseExpression'] = null;
  if (options.estimator && frames.length > 0) {
    const gen = await options.estimator.estimate(generated.slice(start, end));
    const ref = await options.estimator.estimate(reference.slice(start, end));
    poseExpression = poseExpressionError(gen, ref).perFrame;
  }
  // 2. Per pair (t−1, t), t in [max(start, 1), end): flow over frames [max(start − 1, 0), end).
  const pairs: ScoreShardPart['pairs'] = { curve: [], referenceCurve: [], warping: [], referenceWarping: [] };
  const from = Math.max(start - 1, 0);
  if (end - from >= 2) {
    const t = await temporalConsistency(generated.slice(from, end), reference.slice(from, end), { border: options.flowBorder ?? 2 });
    pairs.curve = t.generatedCurve;
    pairs.referenceCurve = t.referenceCurve;
    pairs.warping = t.warping!.generatedPerPair;
    pairs.referenceWarping = t.warping!.referencePerPair;
  }
  return { start, end, total, whole, face, poseExpression, pairs };
}

/**
 * Merge shard parts into the sequence scores `scoreSequence` gives for the whole sequence (LPIPS and identity
 * similarity null: not sharded).
 * @param parts - one per shard, any order, tiling `[0, T)`.
 * @returns the scores.
 * @example
 * ```ts
 * const scores = mergeScoreShards(parts);
 * ```
 */
export function mergeScoreShards(parts: ScoreShardPart[]): SequenceScores {
  const FN = 'mergeScoreShards';
  if (!Array.isArray(parts) || parts.length === 0) throw new ValidationError(FN, 'parts', 'one or more shard parts', parts);
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  const total = sorted[0]!.total;
  let next = 0;
  for (const p of sorted) {
    if (p.total !== total || p.start !== next) throw new ValidationError(FN, 'parts', `ranges tiling [0, ${total}) exactly once`, sorted.map((q) => [q.start, q.end, q.total]));
    next = p.end;
  }
  if (next !== total) throw new ValidationError(FN, 'parts', `ranges tiling [0, ${total})`, sorted.map((q) => [q.start, q.end]));
  // 0. Every number of every part: finite (a frame's PSNR may be +Infinity: identical frames), never NaN.
  parts.forEach((p, i) => {
    for (const k of ['whole', 'face'] as const) {
      checkFinite(FN, `parts[${i}].${k}.mse`, p[k].mse);
      checkFinite(FN, `parts[${i}].${k}.ssim`, p[k].ssim);
      const at = p[k].psnr.findIndex((v) => Number.isNaN(v) || v === Number.NEGATIVE_INFINITY);
      if (at >= 0) throw new ValidationError(FN, `parts[${i}].${k}.psnr`, 'numbers (+Infinity for identical frames), no NaN or -Infinity', `${p[k].psnr[at]} at index ${at}`);
    }
    for (const k of ['curve', 'referenceCurve', 'warping', 'referenceWarping'] as const) checkFinite(FN, `parts[${i}].pairs.${k}`, p.pairs[k]);
    p.poseExpression?.forEach((r, j) => {
      if (r !== null) checkFinite(FN, `parts[${i}].poseExpression[${j}]`, [r.pe, r.ee]);
    });
  });
  const withEstimator = sorted.filter((p) => p.end > p.start).map((p) => p.poseExpression !== null);
  if (withEstimator.some((x) => x !== withEstimator[0])) throw new ValidationError(FN, 'parts', 'shards scored all with or all without an estimator', withEstimator);
  // 1. Frame means (L2 / PSNR / SSIM), concatenated in frame order: scoreSequence's sums, term for term.
  const cat = (pick: (p: ScoreShardPart) => number[]) => sorted.flatMap(pick);
  const image = (k: 'whole' | 'face') => ({ mse: meanOf(cat((p) => p[k].mse)), psnr: meanOf(cat((p) => p[k].psnr)), ssim: meanOf(cat((p) => p[k].ssim)) });
  // 2. PE / EE: the mean over frames compared on both sides (poseExpressionError's).
  let pe: number | null = null;
  let ee: number | null = null;
  if (withEstimator[0]) {
    const rows = sorted.flatMap((p) => p.poseExpression ?? []).filter((r): r is { pe: number; ee: number } => r !== null);
    if (rows.length > 0) {
      pe = rows.reduce((s, r) => s + r.pe, 0) / rows.length;
      ee = rows.reduce((s, r) => s + r.ee, 0) / rows.length;
    }
  }
  // 3. Temporal: the per-pair curves and warping errors, then the curve agreement and the means.
  let temporal: SequenceScores['temporal'] = null;
  if (total >= 2) {
    const curve = cat((p) => p.pairs.curve), referenceCurve = cat((p) => p.pairs.referenceCurve);
    if (curve.length !== total - 1) throw new ValidationError(FN, 'parts', `${total - 1} adjacent pairs in all`, curve.length);
    const { meanAbsDiff, pearson } = curveAgreement(curve, referenceCurve);
    temporal = {
      curveMeanAbsDiff: meanAbsDiff,
      curvePearson: pearson,
      warpingError: meanOf(cat((p) => p.pairs.warping)),
      referenceWarpingError: meanOf(cat((p) => p.pairs.referenceWarping)),
      curve,
      referenceCurve,
    };
  }
  return { whole: image('whole'), face: image('face'), temporal, pe, ee, lpips: null, identitySimilarity: null };
}
