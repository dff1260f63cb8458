/**
 * `extractTsd`: Temporally-Sensitive Detail (ConsistentAvatar §3.2) of an image, a batch, or a frame stream.
 *
 * TSD = Fourier high-pass of the frame: per plane, the centred spectrum `fftshift(fft2(x))` is multiplied by a
 * high-pass mask `M` (gaussian `1 − exp(−d²/2ω²)` by default, ω = 10) and transformed back,
 * `z = ifft2(ifftshift(F · M))`; the output is `|z|` or `Re z`. Computed in float64, returned as float32.
 *
 * @packageDocumentation
 */
import ndarray from 'ndarray';
import { ValidationError } from '@consistent-avatar/core';
import { planeCount, readPlane, viewImages, type ImageLike, type ImageView } from './image-input.js';
import { releaseTsdFromMagnitude, releaseTsdMagnitudeOfView } from './release-tsd.js';
import { getTsdFilter, type PlaneEmit } from './tsd-filter.js';
import { resolveTsdOptions, type ResolvedTsdOptions, type TsdOptions, type TsdRequest } from './tsd-options.js';

/**
 * A float TSD: `[H, W, P]` (or `[B, H, W, P]` for a rank-4 batch), P = 1 for luma, else the input's C (≤ 3).
 *
 * @example
 * ```ts
 * import { extractTsd, type TsdImage } from '@consistent-avatar/tsd';
 * const tsd: TsdImage = extractTsd({ data: new Float32Array(48), shape: [4, 4, 3] });
 * console.log(tsd.shape, tsd.get(0, 0, 0)); // [ 4, 4, 1 ] 0
 * ```
 */
export type TsdImage = ndarray.NdArray<Float32Array>;
/**
 * The released TSD PNG pixels: uint8 `[H, W, 3]` (or `[B, H, W, 3]`), R = G = scaled magnitude, B = 0.
 *
 * @example
 * ```ts
 * import { extractTsd, type TsdReleaseImage } from '@consistent-avatar/tsd';
 * const png: TsdReleaseImage = extractTsd({ data: new Uint8Array(48), shape: [4, 4, 3] }, { preset: 'release' });
 * console.log(png.get(0, 0, 2)); // 255: an all-black frame has max = min = 0, so everything scales to 255
 * ```
 */
export type TsdReleaseImage = ndarray.NdArray<Uint8Array>;
/**
 * The result type for given options: uint8 for `preset: 'release'`, float32 when the preset cannot be `'release'`,
 * and the union when the options' type leaves it open (e.g. a variable typed `TsdOptions`).
 *
 * @example
 * ```ts
 * import type { TsdOptions, TsdResultFor } from '@consistent-avatar/tsd';
 * type Png = TsdResultFor<{ preset: 'release' }>; // TsdReleaseImage
 * type Float = TsdResultFor<{ channels: 'rgb' }>; // TsdImage
 * type Either = TsdResultFor<TsdOptions>; // TsdImage | TsdReleaseImage
 * ```
 */
export type TsdResultFor<O> = O extends { preset: 'release' }
  ? TsdReleaseImage
  : 'release' extends (O extends { preset?: infer P } ? NonNullable<P> : never)
    ? TsdImage | TsdReleaseImage
    : TsdImage;

const FN = 'extractTsd';

/** Writes a filtered plane into channel `p` of an interleaved `[H, W, P]` float32 output. */
function planeWriter(out: Float32Array, base: number, planes: number, p: number, output: 'abs' | 'real'): PlaneEmit {
  return (re, im) => {
    const n = re.length;
    let o = base + p;
    if (output === 'real') {
      for (let t = 0; t < n; t++, o += planes) out[o] = re[t]!;
    } else if (im === null) {
      for (let t = 0; t < n; t++, o += planes) out[o] = Math.abs(re[t]!);
    } else {
      for (let t = 0; t < n; t++, o += planes) out[o] = Math.sqrt(re[t]! * re[t]! + im[t]! * im[t]!);
    }
  };
}

/** Filter same-size images into one `[B, H, W, P]` buffer (planes of all images share transforms pairwise). */
function filterViews(views: readonly ImageView[], options: ResolvedTsdOptions, argument: (b: number) => string): Float32Array {
  const { height, width, channels } = views[0]!;
  const planes = planeCount(options.channels, channels);
  const frame = height * width * planes;
  const out = new Float32Array(views.length * frame);
  const jobs = views.flatMap((view, b) =>
    Array.from({ length: planes }, (_, p) => ({
      fill: (target: Float64Array) =>
        readPlane(FN, argument(b), view, options.channels === 'luma' ? 'luma' : p, target),
      emit: planeWriter(out, b * frame, planes, p, options.output),
    })),
  );
  getTsdFilter(height, width, options).filterPlanes(jobs);
  return out;
}

/** The release preset on same-size images into one `[B, H, W, 3]` uint8 buffer. */
function releaseViews(views: readonly ImageView[], argument: (b: number) => string): Uint8Array {
  const { height, width } = views[0]!;
  const out = new Uint8Array(views.length * height * width * 3);
  views.forEach((view, b) => {
    const magnitude = releaseTsdMagnitudeOfView(FN, argument(b), view);
    out.set(releaseTsdFromMagnitude(magnitude, height, width).data, b * height * width * 3);
  });
  return out;
}

/** One image (rank 3) or a rank-4 batch. */
function extractOne(image: unknown, request: TsdRequest, argument: string): TsdImage | TsdReleaseImage {
  const views = viewImages(FN, argument, image, [3, 4]);
  const rank4 = (image as ImageLike).shape.length === 4;
  const { height, width, channels } = views[0]!;
  const name = (b: number): string => (rank4 ? `${argument}[${b}]` : argument);
  if (request.kind === 'release') {
    const data = releaseViews(views, name);
    return ndarray(data, rank4 ? [views.length, height, width, 3] : [height, width, 3]); // [B?, H, W, 3]
  }
  const planes = planeCount(request.options.channels, channels);
  const data = filterViews(views, request.options, name);
  return ndarray(data, rank4 ? [views.length, height, width, planes] : [height, width, planes]); // [B?, H, W, P]
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return x !== null && typeof x === 'object' && Symbol.asyncIterator in x;
}
function isIterable(x: unknown): x is Iterable<unknown> {
  return x !== null && typeof x === 'object' && Symbol.iterator in x;
}

function* streamSync(frames: Iterable<unknown>, request: TsdRequest): Generator<TsdImage | TsdReleaseImage> {
  let index = 0;
  for (const frame of frames) {
    yield extractOne(frame, request, `frames[${index}]`);
    index++;
  }
}

async function* streamAsync(frames: AsyncIterable<unknown>, request: TsdRequest): AsyncGenerator<TsdImage | TsdReleaseImage> {
  let index = 0;
  for await (const frame of frames) {
    yield extractOne(frame, request, `frames[${index}]`);
    index++;
  }
}

/**
 * Extract the TSD of an image, a batch, or a stream of frames.
 *
 * Input: `[H, W, C]` ndarray-like (`{ data, shape }` or an `ndarray` view), float RGB in [0, 1] or
 * `Uint8Array` 0..255; C = 1, 3 or 4 (alpha ignored). A rank-4 `[B, H, W, C]` array or an array of images is a
 * batch; any other (async) iterable of images is a stream, returned as a (async) generator of TSD frames.
 * Masks and FFT buffers are cached per (H, W, options), so streams and repeated calls reuse them.
 *
 * Output: float32 `[H, W, P]` (P = 1 for `channels: 'luma'`, 3 for `'rgb'`), in the input's units: `abs` is ≥ 0,
 * `real` is signed and zero-mean for the `'dc'` centre; both are roughly within [−1, 1] for [0, 1] input. Use
 * {@link normalizeTsd} to map it to a network's input range. With `preset: 'release'`: uint8 `[H, W, 3]`.
 *
 * @param image - an image, a batch, or an (async) iterable of frames.
 * @param options - see {@link TsdOptions}; defaults {@link TSD_DEFAULTS}.
 * @throws ValidationError (naming `extractTsd` and the argument) for a wrong rank, an empty image, NaN/∞ pixels,
 *   an unknown option or value, or radius ≤ 0.
 *
 * @example
 * ```ts
 * import ndarray from 'ndarray';
 * import { extractTsd } from '@consistent-avatar/tsd';
 * const image = ndarray(new Float32Array(64 * 64 * 3).map((_, i) => ((i * 7919) % 256) / 255), [64, 64, 3]);
 * const tsd = extractTsd(image, { mask: 'gaussian', radius: 10, channels: 'rgb', output: 'real' });
 * console.log(tsd.shape); // [ 64, 64, 3 ]
 * const png = extractTsd(image, { preset: 'release' }); // Uint8Array [64, 64, 3], as the released TSD.py writes
 * for (const frameTsd of extractTsd([image, image][Symbol.iterator](), { preset: 'paper' })) {
 *   console.log(frameTsd.shape); // [ 64, 64, 3 ]
 * }
 * ```
 */
export function extractTsd<O extends TsdOptions | undefined = undefined>(
  image: ImageLike,
  options?: O,
): TsdResultFor<O>;
export function extractTsd<O extends TsdOptions | undefined = undefined>(
  images: readonly ImageLike[],
  options?: O,
): TsdResultFor<O>[];
export function extractTsd<O extends TsdOptions | undefined = undefined>(
  frames: AsyncIterable<ImageLike>,
  options?: O,
): AsyncGenerator<TsdResultFor<O>>;
export function extractTsd<O extends TsdOptions | undefined = undefined>(
  frames: Iterable<ImageLike>,
  options?: O,
): Generator<TsdResultFor<O>>;
export function extractTsd(
  input: ImageLike | readonly ImageLike[] | Iterable<ImageLike> | AsyncIterable<ImageLike>,
  options?: TsdOptions,
): unknown {
  const request = resolveTsdOptions(FN, options);
  if (Array.isArray(input)) {
    if (input.length === 0) throw new ValidationError(FN, 'images', 'a non-empty array of images', input);
    const views = input.map((im, b) => viewImages(FN, `images[${b}]`, im, [3])[0]!);
    // Consecutive same-size images are filtered together (their planes share transforms).
    const results: unknown[] = [];
    for (let start = 0; start < views.length; ) {
      let end = start + 1;
      const { height, width, channels } = views[start]!;
      while (end < views.length && views[end]!.height === height && views[end]!.width === width && views[end]!.channels === channels) end++;
      const group = views.slice(start, end);
      const name = (b: number): string => `images[${start + b}]`;
      if (request.kind === 'release') {
        const data = releaseViews(group, name);
        group.forEach((_, b) => results.push(ndarray(data.subarray(b * height * width * 3, (b + 1) * height * width * 3), [height, width, 3])));
      } else {
        const planes = planeCount(request.options.channels, channels);
        const data = filterViews(group, request.options, name);
        const frame = height * width * planes;
        group.forEach((_, b) => results.push(ndarray(data.subarray(b * frame, (b + 1) * frame), [height, width, planes])));
      }
      start = end;
    }
    return results;
  }
  if (input !== null && typeof input === 'object' && 'data' in input && 'shape' in input) {
    return extractOne(input, request, 'image');
  }
  if (isAsyncIterable(input)) return streamAsync(input, request);
  if (isIterable(input)) return streamSync(input, request);
  throw new ValidationError(FN, 'image', 'an image [H, W, C], a batch [B, H, W, C], an array or an (async) iterable of images', input);
}

/**
 * The float64 magnitude `|z|` `[H, W]` (0..255 units) of the release filter before its uint8 truncation, for one
 * `[H, W, C]` image: what `preset: 'release'` truncates. Useful to see which pixels sit on an integer boundary.
 *
 * @param image - `[H, W, C]`, float RGB in [0, 1] or uint8.
 * @returns `Float64Array` of length H·W, row-major.
 *
 * @example
 * ```ts
 * import ndarray from 'ndarray';
 * import { releaseTsdMagnitude } from '@consistent-avatar/tsd';
 * const img = ndarray(new Uint8Array(8 * 8 * 3).map((_, i) => (i * 37) % 256), [8, 8, 3]);
 * console.log(releaseTsdMagnitude(img).length); // 64
 * ```
 */
export function releaseTsdMagnitude(image: ImageLike): Float64Array {
  const view = viewImages('releaseTsdMagnitude', 'image', image, [3])[0]!;
  return releaseTsdMagnitudeOfView('releaseTsdMagnitude', 'image', view);
}
