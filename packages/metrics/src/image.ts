/**
 * The plain image type every metric in this package takes, and its validation.
 *
 * Images are interleaved `[H, W, C]` float arrays in `[0, 1]` (what core's `readPng` returns), so the
 * pixel-level metrics run on typed arrays without touching the tensor engine.
 */
import { tf, ValidationError } from '@consistent-avatar/core';

/**
 * An interleaved image: `data[(y * width + x) * channels + c]`, values nominally in `[0, 1]`.
 *
 * @example
 * ```ts
 * const gray: MetricImage = { data: new Float32Array(64 * 64), height: 64, width: 64, channels: 1 };
 * ```
 */
export interface MetricImage {
  /** `[H, W, C]` interleaved samples. */
  readonly data: Float32Array | Float64Array | Uint8Array | Uint8ClampedArray;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

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
 * Check that `image` is a well-formed {@link MetricImage}; throws a {@link ValidationError} naming `fn` / `arg`.
 *
 * @example
 * ```ts
 * assertImage('ssim', 'a', { data: new Float32Array(12), height: 2, width: 2, channels: 3 });
 * ```
 */
export function assertImage(fn: string, arg: string, image: MetricImage): void {
  if (image === null || typeof image !== 'object' || !ArrayBuffer.isView(image.data)) {
    throw new ValidationError(fn, arg, 'an image {data, height, width, channels}', image);
  }
  const { height, width, channels } = image;
  for (const [name, v] of [['height', height], ['width', width], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ValidationError(fn, `${arg}.${name}`, 'a positive integer', v);
  }
  if (image.data.length !== height * width * channels) {
    throw new ValidationError(fn, `${arg}.data`, `length H*W*C = ${height * width * channels}`, image.data);
  }
}

/**
 * Check that two images have the same `[H, W, C]`.
 *
 * @example
 * ```ts
 * const img = { data: new Float32Array(12), height: 2, width: 2, channels: 3 };
 * assertSameShape('mse', img, img);
 * ```
 */
export function assertSameShape(fn: string, a: MetricImage, b: MetricImage, argA = 'a', argB = 'b'): void {
  assertImage(fn, argA, a);
  assertImage(fn, argB, b);
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
export function assertMask(fn: string, mask: MetricMask, image: MetricImage): void {
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
 * Convert an RGB image to one gray channel (float64) with the given weights; a 1-channel image is copied.
 *
 * @example
 * ```ts
 * const rgb = { data: new Float32Array([1, 0, 0]), height: 1, width: 1, channels: 3 };
 * toGray(rgb, [0.299, 0.587, 0.114]).data[0]; // 0.299
 * ```
 */
export function toGray(image: MetricImage, weights: GrayWeights = CHANNEL_MEAN): MetricImage {
  const { height, width, channels, data } = image;
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
  return { data: out, height, width, channels: 1 };
}

/**
 * Wrap a `[H, W, C]` tensor (values in `[0, 1]`) as a {@link MetricImage} (one synchronous download).
 *
 * @example
 * ```ts
 * const img = imageFromTensor(tf.zeros([8, 8, 3]) as tf.Tensor3D); // { height: 8, width: 8, channels: 3, ... }
 * ```
 */
export function imageFromTensor(tensor: tf.Tensor3D): MetricImage {
  if (!(tensor instanceof tf.Tensor) || tensor.rank !== 3) {
    throw new ValidationError('imageFromTensor', 'tensor', 'a rank-3 [H, W, C] tensor', tensor);
  }
  const [height, width, channels] = tensor.shape;
  return { data: tensor.dataSync() as Float32Array, height, width, channels };
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
  generated: readonly MetricImage[],
  reference: readonly MetricImage[],
  metric: (a: MetricImage, b: MetricImage) => number,
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
