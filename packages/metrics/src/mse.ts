/**
 * Mean squared error — the paper's "L2" — between two images, optionally restricted to a mask. Images are core's
 * `Image`: byte images are scored as their [0, 1] float image (v / 255), so the error is in [0, 1]² units either way.
 */
import { ValidationError, type Image } from '@consistent-avatar/core';
import {
  assertMask,
  assertSameShape,
  floatImage,
  scoreFrames,
  toGray,
  CHANNEL_MEAN,
  type FrameScores,
  type GrayWeights,
  type MetricMask,
} from './image.js';

/**
 * Options of {@link mse} and {@link psnr}.
 * @example
 * ```ts
 * mse(a, b, { mask: faceMask } satisfies MseOptions);
 * ```
 */
export interface MseOptions {
  /** `'rgb'` (default): mean over every pixel and channel; `'gray'`: on the gray conversion first. */
  readonly mode?: 'rgb' | 'gray';
  /** Gray weights for `mode: 'gray'`; default the channel mean. */
  readonly grayWeights?: GrayWeights;
  /** Optional `[H, W]` weights (face region); the mean is weighted by it. */
  readonly mask?: MetricMask;
}

/**
 * Mean squared error over all pixels and channels (scikit-image `mean_squared_error`), in float64.
 *
 * @param a - `[H, W, C]` image (float in [0, 1] or bytes in [0, 255]).
 * @param b - image of the same shape (either storage).
 * @returns the mean of `(a - b)^2`; with a mask, the mask-weighted mean.
 * @example
 * ```ts
 * const a = { data: new Float32Array([0, 0, 0]), height: 1, width: 1, channels: 3 };
 * const b = { data: new Float32Array([0.1, 0.1, 0.1]), height: 1, width: 1, channels: 3 };
 * mse(a, b); // 0.01
 * ```
 */
export function mse(a: Image, b: Image, options: MseOptions = {}): number {
  assertSameShape('mse', a, b);
  const mode = options.mode ?? 'rgb';
  if (mode !== 'rgb' && mode !== 'gray') throw new ValidationError('mse', 'options.mode', "'rgb' or 'gray'", mode);
  if (options.mask !== undefined) assertMask('mse', options.mask, a);
  if (mode === 'gray') {
    const w = options.grayWeights ?? CHANNEL_MEAN;
    return meanSquaredError(toGray(a, w).data, toGray(b, w).data, 1, options.mask);
  }
  // Byte images become [0, 1] floats here, once.
  return meanSquaredError(floatImage('mse', 'a', a).data, floatImage('mse', 'b', b).data, a.channels, options.mask);
}

/** Σ (x − y)² / N over interleaved samples, or the mask-weighted mean over pixels (float64 accumulation). */
function meanSquaredError(x: ArrayLike<number>, y: ArrayLike<number>, channels: number, mask: MetricMask | undefined): number {
  if (mask === undefined) {
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const d = x[i]! - y[i]!;
      sum += d * d;
    }
    return sum / x.length;
  }
  const m = mask.data;
  let sum = 0;
  let weight = 0;
  for (let p = 0; p < m.length; p++) {
    const wp = m[p]!;
    if (wp === 0) continue;
    let s = 0;
    for (let c = 0, i = p * channels; c < channels; c++, i++) {
      const d = x[i]! - y[i]!;
      s += d * d;
    }
    sum += wp * s;
    weight += wp * channels;
  }
  if (weight === 0) throw new ValidationError('mse', 'options.mask', 'at least one non-zero pixel', m);
  return sum / weight;
}

/**
 * {@link mse} of aligned frame lists: per-frame values and their mean.
 *
 * @example
 * ```ts
 * const { perFrame, mean } = mseFrames([genFrame0, genFrame1], [realFrame0, realFrame1]);
 * ```
 */
export function mseFrames(
  generated: readonly Image[],
  reference: readonly Image[],
  options: MseOptions = {},
): FrameScores {
  return scoreFrames('mseFrames', generated, reference, (g, r) => mse(g, r, options));
}
