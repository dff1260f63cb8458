/**
 * Temporal smoothing of per-frame emotion labels over a centred window (an extension of Eq. 7, which labels each
 * frame independently; reported as an ablation in docs/experiments/2026-11-24-emotion-synthetic-eval.md).
 *
 * - `'majority'`: the label that most frames of the window were given (ties: the centre frame's label if it is
 *   among the tied, else the tied label with the larger summed evidence).
 * - `'weighted'`: the label with the largest summed evidence over the window, where a frame's evidence for a class
 *   is the summed (non-negative) cosine similarity of its retrieved neighbours with that label.
 *
 * Windows never cross sequence boundaries (`segments`) and are truncated at the ends of a sequence.
 *
 * @example
 * ```ts
 * import { smoothLabels } from '@consistent-avatar/emotion';
 * const labels = Int32Array.from([4, 4, 6, 4, 4]);          // one outlier frame
 * const evidence = new Float64Array(5 * 8);                 // [T, C]
 * labels.forEach((l, t) => (evidence[t * 8 + l] = 0.9));
 * smoothLabels({ labelIndices: labels, evidence, numClasses: 8 }, { window: 3, mode: 'majority' }).labelIndices;
 * // Int32Array [4, 4, 4, 4, 4]
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';

/**
 * Per-frame input of {@link smoothLabels}.
 *
 * @example
 * ```ts
 * const perFrame: PerFrameLabels = { labelIndices: Int32Array.from([0, 1]), evidence: new Float64Array(2 * 7), numClasses: 7 };
 * ```
 */
export interface PerFrameLabels {
  /** Label of each frame `[T]` (class indices). */
  labelIndices: Int32Array;
  /** Evidence `[T, C]` ≥ 0 for each class (e.g. summed neighbour similarities). */
  evidence: Float64Array;
  /** C: number of classes. */
  numClasses: number;
}

/**
 * Smoothing config (flat, JSON round-trip).
 *
 * @example
 * ```ts
 * const s: SmoothingOptions = { window: 9, mode: 'weighted' };
 * ```
 */
export interface SmoothingOptions {
  /** Window length in frames, odd ≥ 1 (1 = no smoothing). */
  window: number;
  /** `'majority'` or `'weighted'` (default `'weighted'`). */
  mode?: 'majority' | 'weighted';
  /** Sequence id of each frame `[T]`; windows stay inside a sequence (default: one sequence). */
  segments?: ArrayLike<number | string>;
}

/**
 * Smoothed labels with a confidence: the winning class's share of the window's votes (majority) or evidence
 * (weighted), in [0, 1].
 *
 * @example
 * ```ts
 * const { labelIndices, confidence } = smoothLabels(perFrame, { window: 5 });
 * ```
 */
export interface SmoothedLabels {
  labelIndices: Int32Array;
  confidence: Float64Array;
}

/**
 * Smooth per-frame labels over a centred window (see the module description).
 *
 * @example
 * ```ts
 * const smoothed = smoothLabels(perFrame, { window: 9, mode: 'weighted', segments: clipIdOfFrame });
 * ```
 */
export function smoothLabels(perFrame: PerFrameLabels, options: SmoothingOptions): SmoothedLabels {
  const fn = 'smoothLabels';
  if (perFrame === null || typeof perFrame !== 'object') throw new ValidationError(fn, 'perFrame', 'an object', perFrame);
  const { labelIndices, evidence, numClasses: c } = perFrame;
  if (!(labelIndices instanceof Int32Array)) throw new ValidationError(fn, 'perFrame.labelIndices', 'an Int32Array [T]', labelIndices);
  const t = labelIndices.length;
  if (!Number.isInteger(c) || c < 1) throw new ValidationError(fn, 'perFrame.numClasses', 'a positive integer', c);
  if (!(evidence instanceof Float64Array) || evidence.length !== t * c) {
    throw new ValidationError(fn, 'perFrame.evidence', `a Float64Array [T = ${t}, C = ${c}]`, evidence);
  }
  checkFinite(fn, 'perFrame.evidence', evidence); // the non-finite policy: NaN evidence never wins or loses a vote
  for (let i = 0; i < t; i++) {
    const l = labelIndices[i]!;
    if (l < 0 || l >= c) throw new ValidationError(fn, `perFrame.labelIndices[${i}]`, `a class index in [0, ${c})`, l);
  }
  if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an object', options);
  const { window } = options;
  if (!Number.isInteger(window) || window < 1 || window % 2 === 0) {
    throw new ValidationError(fn, 'options.window', 'an odd integer ≥ 1', window);
  }
  const mode = options.mode ?? 'weighted';
  if (mode !== 'majority' && mode !== 'weighted') {
    throw new ValidationError(fn, 'options.mode', "'majority' or 'weighted'", mode);
  }
  const segments = options.segments;
  if (segments !== undefined && (segments === null || segments.length !== t)) {
    throw new ValidationError(fn, 'options.segments', `${t} sequence ids (one per frame)`, segments);
  }

  // 1. Sequence extent of each frame: [start, end) of its run of equal segment ids.
  const segStart = new Int32Array(t);
  const segEnd = new Int32Array(t);
  for (let i = 0; i < t; ) {
    let j = i + 1;
    while (j < t && (segments === undefined || segments[j] === segments[i])) j++;
    segStart.fill(i, i, j);
    segEnd.fill(j, i, j);
    i = j;
  }

  // 2. Aggregate votes / evidence over the centred window, truncated to the sequence.
  const half = (window - 1) / 2;
  const out = new Int32Array(t);
  const confidence = new Float64Array(t);
  const votes = new Float64Array(c);
  const mass = new Float64Array(c);
  for (let i = 0; i < t; i++) {
    const lo = Math.max(segStart[i]!, i - half);
    const hi = Math.min(segEnd[i]!, i + half + 1);
    votes.fill(0);
    mass.fill(0);
    for (let j = lo; j < hi; j++) {
      votes[labelIndices[j]!]! += 1;
      for (let k = 0; k < c; k++) mass[k]! += evidence[j * c + k]!;
    }
    const primary = mode === 'majority' ? votes : mass;
    const secondary = mode === 'majority' ? mass : votes;
    let best = labelIndices[i]!;
    for (let k = 0; k < c; k++) {
      const better =
        primary[k]! > primary[best]! ||
        (primary[k]! === primary[best]! && k !== labelIndices[i]! && best !== labelIndices[i]! && secondary[k]! > secondary[best]!);
      if (better) best = k;
    }
    let total = 0;
    for (let k = 0; k < c; k++) total += primary[k]!;
    out[i] = best;
    confidence[i] = total > 0 ? primary[best]! / total : 0;
  }
  return { labelIndices: out, confidence };
}
