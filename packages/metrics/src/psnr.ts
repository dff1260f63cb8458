/**
 * Peak signal-to-noise ratio, `10 · log10(dataRange² / MSE)` (scikit-image `peak_signal_noise_ratio`).
 */
import { ValidationError } from '@consistent-avatar/core';
import { scoreFrames, type FrameScores, type MetricImage } from './image.js';
import { mse, type MseOptions } from './mse.js';

/**
 * Options of {@link psnr}.
 * @example
 * ```ts
 * psnr(a, b, { dataRange: 255 } satisfies PsnrOptions); // 8-bit data
 * ```
 */
export interface PsnrOptions extends MseOptions {
  /** Range of the data (max − min possible value); default 1 for float images in `[0, 1]`. */
  readonly dataRange?: number;
}

/**
 * PSNR in dB; identical images give `Infinity` (as scikit-image does).
 *
 * @param a - `[H, W, C]` image in `[0, 1]` (or `[0, dataRange]`).
 * @param b - image of the same shape.
 * @example
 * ```ts
 * const a = { data: new Float32Array([0, 0, 0]), height: 1, width: 1, channels: 3 };
 * const b = { data: new Float32Array([0.1, 0.1, 0.1]), height: 1, width: 1, channels: 3 };
 * psnr(a, b); // 20
 * ```
 */
export function psnr(a: MetricImage, b: MetricImage, options: PsnrOptions = {}): number {
  const dataRange = options.dataRange ?? 1;
  if (!(typeof dataRange === 'number' && dataRange > 0 && Number.isFinite(dataRange))) {
    throw new ValidationError('psnr', 'options.dataRange', 'a finite number > 0', dataRange);
  }
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
  generated: readonly MetricImage[],
  reference: readonly MetricImage[],
  options: PsnrOptions = {},
): FrameScores {
  return scoreFrames('psnrFrames', generated, reference, (g, r) => psnr(g, r, options));
}
