/**
 * Peak signal-to-noise ratio, `10 · log10(dataRange² / MSE)` (scikit-image `peak_signal_noise_ratio`).
 */
import type { Image } from '@consistent-avatar/core';
import { metricDataRange, scoreFrames, type FrameScores } from './image.js';
import { mse, type MseOptions } from './mse.js';

/**
 * Options of {@link psnr}.
 * @example
 * ```ts
 * psnr(a, b, { dataRange: 255 } satisfies PsnrOptions); // 8-bit data
 * ```
 */
export interface PsnrOptions extends MseOptions {
  /**
   * Range of the float data (max − min possible value); default 1 for images in [0, 1]. Byte images are scored as
   * their [0, 1] float image, so with them only 1 is accepted.
   */
  readonly dataRange?: number;
}

/**
 * PSNR in dB; identical images give `Infinity` (as scikit-image does).
 *
 * @param a - `[H, W, C]` image: bytes in [0, 255], or floats in [0, 1] (or [0, dataRange]).
 * @param b - image of the same shape.
 * @example
 * ```ts
 * const a = { data: new Float32Array([0, 0, 0]), height: 1, width: 1, channels: 3 };
 * const b = { data: new Float32Array([0.1, 0.1, 0.1]), height: 1, width: 1, channels: 3 };
 * psnr(a, b); // 20
 * ```
 */
export function psnr(a: Image, b: Image, options: PsnrOptions = {}): number {
  const dataRange = metricDataRange('psnr', options.dataRange, a, b);
  const err = mse(a, b, options);
  return 10 * Math.log10((dataRange * dataRange) / err);
}

/**
 * {@link psnr} of aligned frame lists: per-frame values and their mean (the mean of per-frame dB values, as
 * talking-head papers report it).
 *
 * @example
 * ```ts
 * const { perFrame, mean } = psnrFrames(generatedFrames, realFrames);
 * ```
 */
export function psnrFrames(
  generated: readonly Image[],
  reference: readonly Image[],
  options: PsnrOptions = {},
): FrameScores {
  return scoreFrames('psnrFrames', generated, reference, (g, r) => psnr(g, r, options));
}
