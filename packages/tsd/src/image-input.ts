/**
 * Reading `[H, W, C]` / `[B, H, W, C]` images (ndarray views or plain `{ data, shape }` objects) into float64
 * planes, with validation at the public boundary.
 *
 * Value convention (as the fixtures): float data is RGB in [0, 1]; `Uint8Array` / `Uint8ClampedArray` data is
 * 0..255 and divided by 255. Channels: C = 1 (grey), 3 (RGB) or 4 (RGBA, alpha ignored).
 *
 * @packageDocumentation
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * Pixel storage accepted by the TSD functions.
 *
 * @example
 * ```ts
 * import type { PixelData } from '@consistent-avatar/tsd';
 * const bytes: PixelData = new Uint8Array(12); // 0..255, divided by 255 on read
 * ```
 */
export type PixelData = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray;

/**
 * An image or batch: an `ndarray` (any strides) or a plain object with contiguous row-major `data` and `shape`
 * `[H, W, C]` (one image) or `[B, H, W, C]` (a batch).
 *
 * @example
 * ```ts
 * import ndarray from 'ndarray';
 * import type { ImageLike } from '@consistent-avatar/tsd';
 * const plain: ImageLike = { data: new Float32Array(2 * 2 * 3), shape: [2, 2, 3] };
 * const view: ImageLike = ndarray(new Float32Array(2 * 2 * 3), [2, 2, 3]).transpose(1, 0, 2);
 * ```
 */
export interface ImageLike {
  readonly data: PixelData;
  readonly shape: readonly number[];
  /** Element strides; row-major contiguous when absent. */
  readonly stride?: readonly number[];
  /** Index of element (0, …, 0) in `data`; 0 when absent. */
  readonly offset?: number;
}

/** A validated view of one `[H, W, C]` image inside some storage. */
export interface ImageView {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly data: PixelData;
  readonly offset: number;
  /** Strides of the H, W and C axes. */
  readonly strides: readonly [number, number, number];
  /** True for 0..255 byte storage. */
  readonly bytes: boolean;
}

function isPixelData(data: unknown): data is PixelData {
  return (
    data instanceof Float32Array ||
    data instanceof Float64Array ||
    data instanceof Uint8Array ||
    data instanceof Uint8ClampedArray
  );
}

/**
 * Validate an image or batch and return one view per image.
 *
 * @param fn - public function name for errors.
 * @param argument - argument name for errors (`'image'`, `'frames[3]'`).
 * @param image - the input.
 * @param ranks - accepted ranks (3 = one image, 4 = batch).
 */
export function viewImages(fn: string, argument: string, image: unknown, ranks: readonly (3 | 4)[]): ImageView[] {
  const expectedRank = ranks.map((r) => (r === 3 ? 'rank 3 [H, W, C]' : 'rank 4 [B, H, W, C]')).join(' or ');
  if (image === null || typeof image !== 'object' || !('data' in image) || !('shape' in image)) {
    throw new ValidationError(fn, argument, `an ndarray-like { data, shape } of ${expectedRank}`, image);
  }
  const { data, shape, stride, offset } = image as ImageLike;
  if (!isPixelData(data)) {
    throw new ValidationError(fn, `${argument}.data`, 'a Float32Array, Float64Array, Uint8Array or Uint8ClampedArray', data);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ValidationError(fn, `${argument}.shape`, 'an array of non-negative integers', shape);
  }
  if (!(ranks as readonly number[]).includes(shape.length)) {
    throw new ValidationError(fn, `${argument}.shape`, expectedRank, `[${shape.join(', ')}]`);
  }
  if (shape.some((d) => d === 0)) {
    throw new ValidationError(fn, `${argument}.shape`, 'a non-empty image (every dimension ≥ 1)', `[${shape.join(', ')}]`);
  }
  const channels = shape[shape.length - 1]!;
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new ValidationError(fn, `${argument}.shape`, 'C = 1, 3 or 4 channels in the last axis', `[${shape.join(', ')}]`);
  }
  // Row-major strides when none are given.
  const strides: number[] = [];
  if (stride === undefined) {
    let s = 1;
    for (let a = shape.length - 1; a >= 0; a--) {
      strides[a] = s;
      s *= shape[a]!;
    }
  } else {
    if (!Array.isArray(stride) || stride.length !== shape.length || !stride.every((s) => Number.isInteger(s))) {
      throw new ValidationError(fn, `${argument}.stride`, `${shape.length} integer strides`, stride);
    }
    strides.push(...stride);
  }
  const base = offset ?? 0;
  // Bounds: the smallest and largest element index must lie inside data.
  let lo = base;
  let hi = base;
  for (let a = 0; a < shape.length; a++) {
    const span = (shape[a]! - 1) * strides[a]!;
    if (span < 0) lo += span;
    else hi += span;
  }
  if (!Number.isInteger(base) || lo < 0 || hi >= data.length) {
    throw new ValidationError(
      fn,
      `${argument}.data`,
      `storage covering shape [${shape.join(', ')}] (elements ${lo}..${hi})`,
      data,
    );
  }
  const bytes = data instanceof Uint8Array || data instanceof Uint8ClampedArray;
  const rank3 = (o: number): ImageView => ({
    height: shape[shape.length - 3]!,
    width: shape[shape.length - 2]!,
    channels,
    data,
    offset: o,
    strides: [strides[strides.length - 3]!, strides[strides.length - 2]!, strides[strides.length - 1]!],
    bytes,
  });
  if (shape.length === 3) return [rank3(base)];
  return Array.from({ length: shape[0]! }, (_, b) => rank3(base + b * strides[0]!));
}

/** Which plane of an image to read: a channel index, or `'luma'` (0.299R + 0.587G + 0.114B). */
export type PlaneSelector = number | 'luma';

/**
 * Write one plane of `view` into `target` (`[H, W]` row-major, float64, values in [0, 1] units).
 *
 * @throws ValidationError when a value read is NaN or infinite.
 */
export function readPlane(fn: string, argument: string, view: ImageView, plane: PlaneSelector, target: Float64Array): void {
  const { height, width, data, offset, bytes } = view;
  const [sh, sw, sc] = view.strides;
  const lumaFromRgb = plane === 'luma' && view.channels >= 3;
  const c0 = plane === 'luma' ? 0 : plane;
  let t = 0;
  for (let i = 0; i < height; i++) {
    let p = offset + i * sh + c0 * sc;
    for (let j = 0; j < width; j++, p += sw, t++) {
      let v: number;
      if (lumaFromRgb) {
        const r = bytes ? data[p]! / 255 : data[p]!;
        const g = bytes ? data[p + sc]! / 255 : data[p + sc]!;
        const b = bytes ? data[p + 2 * sc]! / 255 : data[p + 2 * sc]!;
        v = 0.299 * r + 0.587 * g + 0.114 * b;
      } else {
        v = bytes ? data[p]! / 255 : data[p]!;
      }
      if (!Number.isFinite(v)) {
        throw new ValidationError(fn, argument, `finite pixel values (pixel [${i}, ${j}] is not)`, v);
      }
      target[t] = v;
    }
  }
}

/** Number of planes the filter produces for `channels` on a C-channel image. */
export function planeCount(channelsOption: 'luma' | 'rgb', channels: number): number {
  return channelsOption === 'luma' ? 1 : Math.min(channels, 3);
}
