/**
 * Image helpers of the metrics: every metric takes core's {@link Image} (`FloatImage`: float32 in [0, 1], or
 * `ByteImage`: uint8 in [0, 255]) and converts a byte image once, at its boundary, to the float image
 * `toFloatImage` gives (v / 255), so a byte frame and the same frame as floats / 255 score the same. Masks, the
 * gray conversion, per-frame scoring and the `dataRange` rule live here.
 *
 * @example
 * ```ts
 * import { mse, psnr } from '@consistent-avatar/metrics';
 * const bytes = { data: new Uint8Array([0, 128, 255]), height: 1, width: 1, channels: 3 };
 * const floats = { data: Float32Array.from(bytes.data, (v) => v / 255), height: 1, width: 1, channels: 3 };
 * psnr(bytes, floats); // Infinity: the same image
 * ```
 */
import { checkImage, isByteImage, toFloatImage, ValidationError, type FloatImage, type Image } from '@consistent-avatar/core';

/**
 * A per-pixel mask `[H, W]` (1 = inside the region, 0 = outside; fractional values weight pixels).
 *
 * @example
 * ```ts
 * const face: MetricMask = { data: new Float32Array(64 * 64).fill(1), height: 64, width: 64 };
 * ```
 */
export interface MetricMask {
  readonly data: Float32Array | Float64Array | Uint8Array | Uint8ClampedArray;
  readonly height: number;
  readonly width: number;
}

/**
 * Per-frame values of a metric over a video and their mean.
 *
 * @example
 * ```ts
 * const scores: FrameScores = { perFrame: [0.9, 0.8], mean: 0.85 };
 * ```
 */
export interface FrameScores {
  readonly perFrame: number[];
  readonly mean: number;
}

/**
 * Check that two values are {@link Image}s (either storage) of the same `[H, W, C]`.
 *
 * @example
 * ```ts
 * const img = { data: new Float32Array(12), height: 2, width: 2, channels: 3 };
 * assertSameShape('mse', img, img);
 * ```
 */
export function assertSameShape(fn: string, a: Image, b: Image, argA = 'a', argB = 'b'): void {
  checkImage(fn, argA, a);
  checkImage(fn, argB, b);
  if (a.height !== b.height || a.width !== b.width || a.channels !== b.channels) {
    throw new ValidationError(
      fn,
      argB,
      `the shape of ${argA} [${a.height}, ${a.width}, ${a.channels}]`,
      `[${b.height}, ${b.width}, ${b.channels}]`,
    );
  }
}

/**
 * Check a mask against an image's `[H, W]`.
 *
 * @example
 * ```ts
 * const img = { data: new Float32Array(12), height: 2, width: 2, channels: 3 };
 * assertMask('mse', { data: new Uint8Array(4).fill(1), height: 2, width: 2 }, img);
 * ```
 */
export function assertMask(fn: string, mask: MetricMask, image: Image): void {
  if (mask === null || typeof mask !== 'object' || !ArrayBuffer.isView(mask.data)) {
    throw new ValidationError(fn, 'options.mask', 'a mask {data, height, width}', mask);
  }
  if (mask.height !== image.height || mask.width !== image.width || mask.data.length !== image.height * image.width) {
    throw new ValidationError(fn, 'options.mask', `a [${image.height}, ${image.width}] mask`, mask.data);
  }
}

/**
 * Weights of the gray conversion used by `mode: 'gray'`. The scikit-image fixtures of this package define gray as
 * the plain channel mean; pass `[0.299, 0.587, 0.114]` for BT.601 luma.
 * @example
 * ```ts
 * const bt601: GrayWeights = [0.299, 0.587, 0.114];
 * ssim(a, b, { mode: 'gray', grayWeights: bt601 });
 * ```
 */
export type GrayWeights = readonly [number, number, number];

/**
 * The channel mean — the definition used by this package's reference fixtures.
 * @example
 * ```ts
 * toGray(image, CHANNEL_MEAN); // (R + G + B) / 3
 * ```
 */
export const CHANNEL_MEAN: GrayWeights = [1 / 3, 1 / 3, 1 / 3];

/**
 * One gray plane `[H, W]` in float64 (what {@link toGray} returns; not an {@link Image}: its samples are float64).
 * @example
 * ```ts
 * const plane: GrayPlane = { data: new Float64Array(4), height: 2, width: 2 };
 * ```
 */
export interface GrayPlane {
  readonly data: Float64Array;
  readonly height: number;
  readonly width: number;
}

/**
 * Convert an image to one gray plane in [0, 1] (float64) with the given weights; a 1-channel image is copied. Byte
 * images are converted to [0, 1] first (divided by 255, as core's
 * {@link @consistent-avatar/core!toFloatImage | toFloatImage}).
 *
 * @example
 * ```ts
 * const rgb = { data: new Float32Array([1, 0, 0]), height: 1, width: 1, channels: 3 };
 * toGray(rgb, [0.299, 0.587, 0.114]).data[0]; // 0.299
 * ```
 */
export function toGray(image: Image, weights: GrayWeights = CHANNEL_MEAN): GrayPlane {
  const { height, width, channels, data } = floatImage('toGray', 'image', image);
  const n = height * width;
  const out = new Float64Array(n);
  if (channels === 1) {
    for (let i = 0; i < n; i++) out[i] = data[i]!;
  } else if (channels === 3 || channels === 4) {
    const [wr, wg, wb] = weights;
    for (let i = 0, j = 0; i < n; i++, j += channels) out[i] = wr * data[j]! + wg * data[j + 1]! + wb * data[j + 2]!;
  } else {
    throw new ValidationError('toGray', 'image.channels', '1, 3 or 4 channels', channels);
  }
  return { data: out, height, width };
}

/**
 * The metric boundary: validate an {@link Image} and return it as float32 samples in [0, 1] (a byte image is
 * divided by 255 once, exactly as core's `toFloatImage`; a float image is returned as it is).
 *
 * @example
 * ```ts
 * floatImage('mse', 'a', { data: new Uint8Array([255]), height: 1, width: 1, channels: 1 }).data; // Float32Array [1]
 * ```
 */
export function floatImage(fn: string, arg: string, image: Image): FloatImage {
  checkImage(fn, arg, image);
  return toFloatImage(image, fn, arg);
}

/**
 * The data range of a float-domain metric (PSNR, SSIM): `dataRange` (default 1) describes the float samples; byte
 * images are scored after conversion to [0, 1], so with a byte image only 1 is meaningful and anything else (the
 * scikit-image habit `data_range=255` for uint8) is rejected rather than silently mis-scaled.
 *
 * @example
 * ```ts
 * metricDataRange('psnr', undefined, a, b); // 1
 * ```
 */
export function metricDataRange(fn: string, dataRange: number | undefined, a: Image, b: Image): number {
  const range = dataRange ?? 1;
  if (!(typeof range === 'number' && range > 0 && Number.isFinite(range))) {
    throw new ValidationError(fn, 'options.dataRange', 'a finite number > 0', range);
  }
  if (range !== 1 && (isByteImage(a) || isByteImage(b))) {
    throw new ValidationError(fn, 'options.dataRange', '1 or undefined for byte images (they are scored as their [0, 1] float image, v / 255)', range);
  }
  return range;
}

/**
 * Apply a pairwise image metric to aligned frame lists and return per-frame values and their mean.
 *
 * @example
 * ```ts
 * const s = scoreFrames('mseFrames', [imgA], [imgB], (a, b) => mse(a, b)); // { perFrame: [...], mean }
 * ```
 */
export function scoreFrames(
  fn: string,
  generated: readonly Image[],
  reference: readonly Image[],
  metric: (a: Image, b: Image) => number,
): FrameScores {
  if (!Array.isArray(generated) || generated.length === 0) {
    throw new ValidationError(fn, 'generated', 'a non-empty array of frames', generated);
  }
  if (!Array.isArray(reference) || reference.length !== generated.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated.length} frames`, reference);
  }
  const perFrame = generated.map((g, i) => metric(g, reference[i]!));
  const mean = perFrame.reduce((s, v) => s + v, 0) / perFrame.length;
  return { perFrame, mean };
}
