/**
 * The emotion retriever of Eq. 7: `EMO(I) = L(argmax_n cs(E_I, E_n))` — the label of the database frame whose
 * expression vector is most cosine-similar to the frame's — generalised to a k-nearest-neighbour vote, with a
 * confidence per frame and optional temporal smoothing (see `temporal-smoothing.ts`).
 *
 * With the defaults (`k: 1`, no smoothing) the output is exactly Eq. 7.
 *
 * @example
 * ```ts
 * import { EmotionRetriever } from '@consistent-avatar/emotion';
 * const retriever = new EmotionRetriever(database);           // an ExpressionDatabase
 * const out = await retriever.retrieve(frames, { k: 5, smoothingWindow: 9 });
 * out.labels;      // ['happy', 'happy', …]  one per frame
 * out.confidence;  // Float64Array, in [0, 1]
 * retriever.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, tf, ValidationError } from '@consistent-avatar/core';
import { CosineIndex, type CosineIndexOptions, type CosineKernel, type CosineSearchResult } from './cosine-search.js';
import type { ExpressionDatabase } from './database.js';
import { smoothLabels } from './temporal-smoothing.js';

/**
 * Call-time options of {@link EmotionRetriever.retrieve} (flat, JSON round-trip; defaults reproduce Eq. 7).
 *
 * @example
 * ```ts
 * const options: RetrievalOptions = { k: 5, vote: 'weighted', smoothingWindow: 9, smoothingMode: 'weighted' };
 * ```
 */
export interface RetrievalOptions {
  /** Neighbours per frame (default 1 = Eq. 7). */
  k?: number;
  /**
   * k-NN vote (default `'weighted'`): `'majority'` counts neighbours per label (ties: larger summed similarity);
   * `'weighted'` sums each neighbour's similarity (clamped at 0) per label. With k = 1 both give Eq. 7.
   */
  vote?: 'majority' | 'weighted';
  /** Temporal smoothing window in frames, odd (default 1 = off). */
  smoothingWindow?: number;
  /** Temporal smoothing mode (default `'weighted'`), see `smoothLabels`. */
  smoothingMode?: 'majority' | 'weighted';
  /** Sequence id per frame; smoothing windows stay inside a sequence (default: all frames are one sequence). */
  segments?: ArrayLike<number | string>;
  /** Search kernel (default `'auto'`). */
  kernel?: CosineKernel;
}

/**
 * Output of {@link EmotionRetriever.retrieve}, one entry per frame.
 *
 * @example
 * ```ts
 * const { labels, perFrameLabels, confidence, similarity, classScores } = out;
 * ```
 */
export interface RetrievalResult {
  /** Final labels (after smoothing when enabled). */
  labels: string[];
  /** Final class indices `[T]` into `vocabulary`. */
  labelIndices: Int32Array;
  /** Per-frame (unsmoothed) k-NN labels `[T]`. */
  perFrameLabelIndices: Int32Array;
  /**
   * Confidence `[T]` in [0, 1]: the chosen label's share of the k-NN vote (unsmoothed), or of the window's votes /
   * evidence (smoothed). With k = 1 and no smoothing it is 1 by construction; use k > 1 for a graded value.
   */
  confidence: Float64Array;
  /** Cosine similarity of each frame's nearest neighbour `[T]`. */
  similarity: Float64Array;
  /** Per-frame normalised vote `[T, C]` (rows sum to 1). */
  classScores: Float64Array;
  /** The class labels, in index order. */
  vocabulary: readonly string[];
  /** The raw neighbours (database row indices and similarities `[T, k]`). */
  neighbours: CosineSearchResult;
}

/**
 * Eq. 7 retrieval over an {@link ExpressionDatabase}, keeping a prepared {@link CosineIndex} between calls.
 * Call {@link EmotionRetriever.dispose} when done (the index may hold backend memory and worker threads).
 *
 * @example
 * ```ts
 * const retriever = new EmotionRetriever(db, { blockRows: 8192 });
 * const { labels } = await retriever.retrieve(frameExpressions);
 * retriever.dispose();
 * ```
 */
export class EmotionRetriever {
  private readonly index: CosineIndex;

  constructor(
    readonly database: ExpressionDatabase,
    indexOptions: Omit<CosineIndexOptions, 'dimension'> = {},
  ) {
    if (database === null || typeof database !== 'object' || !(database.vectors instanceof Float32Array)) {
      throw new ValidationError('EmotionRetriever', 'database', 'an ExpressionDatabase', database);
    }
    if (database.size === 0) throw new ValidationError('EmotionRetriever', 'database', 'a non-empty database', database);
    this.index = new CosineIndex(database.vectors, { ...indexOptions, dimension: database.dimension });
  }

  /**
   * Label frames by cosine nearest neighbours (Eq. 7), with optional k-NN vote and temporal smoothing.
   *
   * @param frames - expression vectors `[T, D]` (row-major `Float32Array` or a 2-D tensor; D = the database's).
   *
   * @example
   * ```ts
   * const out = await retriever.retrieve(frames, { k: 7, smoothingWindow: 9, segments: clipOfFrame });
   * ```
   */
  async retrieve(frames: Float32Array | tf.Tensor2D, options: RetrievalOptions = {}): Promise<RetrievalResult> {
    const fn = 'EmotionRetriever.retrieve';
    const d = this.database.dimension;
    let queries: Float32Array;
    if (frames instanceof tf.Tensor) {
      if (frames.rank !== 2 || frames.shape[1] !== d) {
        throw new ValidationError(fn, 'frames', `a tensor [T, D = ${d}]`, frames);
      }
      queries = Float32Array.from(await frames.data());
    } else if (frames instanceof Float32Array && frames.length % d === 0 && frames.length > 0) {
      queries = frames;
    } else {
      throw new ValidationError(fn, 'frames', `a Float32Array [T, D = ${d}] (length a multiple of ${d}) or a tensor`, frames);
    }
    checkFinite(fn, 'frames', queries); // the non-finite policy, named here rather than by the index's search
    if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an object', options);
    const vote = options.vote ?? 'weighted';
    if (vote !== 'majority' && vote !== 'weighted') throw new ValidationError(fn, 'options.vote', "'majority' or 'weighted'", vote);
    const window = options.smoothingWindow ?? 1;
    if (!Number.isInteger(window) || window < 1 || window % 2 === 0) {
      throw new ValidationError(fn, 'options.smoothingWindow', 'an odd integer ≥ 1', window);
    }

    // 1. Eq. 7: cosine nearest neighbours (k of them).
    const neighbours = await this.index.search(queries, { k: options.k ?? 1, kernel: options.kernel });
    const t = neighbours.queries;
    const k = neighbours.k;
    const labels = this.database.vocabulary.labels;
    const c = labels.length;

    // 2. k-NN vote per frame: counts and similarity evidence per class.
    const counts = new Float64Array(t * c);
    const evidence = new Float64Array(t * c);
    const perFrame = new Int32Array(t);
    const classScores = new Float64Array(t * c);
    const confidence = new Float64Array(t);
    const similarity = new Float64Array(t);
    for (let i = 0; i < t; i++) {
      for (let j = 0; j < k; j++) {
        const row = neighbours.indices[i * k + j]!;
        const sim = neighbours.similarities[i * k + j]!;
        const label = this.database.labelIndices[row]!;
        counts[i * c + label]! += 1;
        evidence[i * c + label]! += Math.max(sim, 0);
      }
      similarity[i] = neighbours.similarities[i * k]!;
      const primary = vote === 'majority' ? counts : evidence;
      const secondary = vote === 'majority' ? evidence : counts;
      let best = this.database.labelIndices[neighbours.indices[i * k]!]!; // nearest neighbour's label wins ties
      for (let l = 0; l < c; l++) {
        const p = primary[i * c + l]!;
        const pb = primary[i * c + best]!;
        if (p > pb || (p === pb && l !== best && secondary[i * c + l]! > secondary[i * c + best]!)) best = l;
      }
      // Confidence: share of the vote (counts when all similarities are ≤ 0 and evidence is empty).
      let total = 0;
      for (let l = 0; l < c; l++) total += primary[i * c + l]!;
      const scores = total > 0 ? primary : counts;
      if (total <= 0) total = k;
      for (let l = 0; l < c; l++) classScores[i * c + l] = scores[i * c + l]! / total;
      perFrame[i] = best;
      confidence[i] = classScores[i * c + best]!;
    }

    // 3. Optional temporal smoothing over a centred window.
    let final: Int32Array = perFrame;
    let finalConfidence: Float64Array = confidence;
    if (window > 1) {
      const smoothed = smoothLabels(
        { labelIndices: perFrame, evidence, numClasses: c },
        { window, mode: options.smoothingMode ?? 'weighted', segments: options.segments },
      );
      final = smoothed.labelIndices;
      finalConfidence = smoothed.confidence;
    }
    return {
      labels: Array.from(final, (l) => labels[l]!),
      labelIndices: final,
      perFrameLabelIndices: perFrame,
      confidence: finalConfidence,
      similarity,
      classScores,
      vocabulary: labels,
      neighbours,
    };
  }

  /**
   * Release the index's backend memory.
   *
   * @example
   * ```ts
   * retriever.dispose();
   * ```
   */
  dispose(): void {
    this.index.dispose();
  }
}

/**
 * One-off Eq. 7 retrieval (builds a retriever, labels the frames, disposes it).
 *
 * @example
 * ```ts
 * const { labels } = await retrieveEmotions(frames, db);              // Eq. 7
 * const smooth = await retrieveEmotions(frames, db, { k: 5, smoothingWindow: 9 });
 * ```
 */
export async function retrieveEmotions(
  frames: Float32Array | tf.Tensor2D,
  database: ExpressionDatabase,
  options: RetrievalOptions = {},
): Promise<RetrievalResult> {
  const retriever = new EmotionRetriever(database, { resident: false });
  try {
    return await retriever.retrieve(frames, options);
  } finally {
    retriever.dispose();
  }
}
