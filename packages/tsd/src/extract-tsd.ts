/**
 * `extractTsd`: the Temporally-Sensitive Detail (TSD) of a frame, the Fourier high-pass filter of ConsistentAvatar
 * §4.1 (Eqs. 2–3). Per plane x of the image:
 *
 * 1. x: one luma plane `0.299R + 0.587G + 0.114B`, or each RGB channel; float64 in [0, 1].
 * 2. Eq. 2: the spectrum F = fft2(x), of which only the chosen frequencies W are kept: F · M, with M a high-pass
 *    mask around DC (by default gaussian, `M = 1 − exp(−d²/2ω²)` at distance d from DC, with the paper's ω = 10).
 * 3. Eq. 3: back to the image, z = ifft2(F · M).
 * 4. The TSD: `Re z` (signed, zero-mean) or `|z|`, stored as float32 `[H, W, P]`.
 *
 * M is defined on the centred spectrum `fftshift(F)`, as numpy code writes it, and stored `ifftshift`-ed, so that
 * `ifft2(F · ifftshift(M)) = ifft2(ifftshift(fftshift(F) · M))` without moving any data. The FFT is {@link Fft2d}
 * (float64, numpy's conventions). The authors' released script, which differs in several details (8-bit luma, a
 * mask centre one bin off DC, a uint8 PNG), is reproduced separately by `releaseTsd`.
 *
 * @packageDocumentation
 */
import ndarray from 'ndarray';
import { checkImage, toFloatImage, ValidationError, type FloatImage, type Image } from '@consistent-avatar/core';
import { Fft2d } from './fft2d.js';

const FN = 'extractTsd';

/**
 * A TSD: float32 `[H, W, P]`, P = 1 for `channels: 'luma'` (or a grey image), else 3; in the input's units
 * (`real` is signed, `abs` ≥ 0, both roughly within [−1, 1]). Use {@link normalizeTsd} for a network's range.
 *
 * @example
 * ```ts
 * import { extractTsd, type TsdImage } from '@consistent-avatar/tsd';
 * const tsd: TsdImage = extractTsd({ data: new Float32Array(48), height: 4, width: 4, channels: 3 });
 * console.log(tsd.shape, tsd.get(0, 0, 0)); // [ 4, 4, 1 ] 0
 * ```
 */
export type TsdImage = ndarray.NdArray<Float32Array>;

/**
 * Mask shape: `'gaussian'` `M = 1 − exp(−d²/2ω²)`, `'circle'` (ideal: 0 where d ≤ ω), `'box'` (0 where both
 * |Δi| ≤ ω and |Δj| ≤ ω), with d the distance from DC in frequency bins.
 *
 * @example
 * ```ts
 * import type { TsdMaskKind } from '@consistent-avatar/tsd';
 * const kind: TsdMaskKind = 'circle';
 * ```
 */
export type TsdMaskKind = 'gaussian' | 'circle' | 'box';

/**
 * Which planes are filtered: one luma plane `0.299R + 0.587G + 0.114B`, or every colour channel on its own.
 *
 * @example
 * ```ts
 * import type { TsdChannels } from '@consistent-avatar/tsd';
 * const channels: TsdChannels = 'rgb';
 * ```
 */
export type TsdChannels = 'luma' | 'rgb';

/**
 * What is kept of the complex inverse transform z: the real part `Re z` or the magnitude `|z|`.
 *
 * @example
 * ```ts
 * import type { TsdOutput } from '@consistent-avatar/tsd';
 * const output: TsdOutput = 'real'; // signed, zero-mean TSD
 * ```
 */
export type TsdOutput = 'abs' | 'real';

/**
 * Options of {@link extractTsd}; every field is optional. `preset: 'paper'` starts from {@link TSD_PAPER_PRESET}
 * instead of {@link TSD_DEFAULTS}; the explicit fields override it.
 *
 * @example
 * ```ts
 * import type { TsdOptions } from '@consistent-avatar/tsd';
 * const options: TsdOptions = { preset: 'paper', radius: 4 }; // the paper's filter, ω = 4 bins for a small image
 * ```
 */
export interface TsdOptions {
  /** `'paper'`: our recommended settings for conditioning networks ({@link TSD_PAPER_PRESET}). */
  preset?: 'paper';
  /** Mask shape; default `'gaussian'`. */
  mask?: TsdMaskKind;
  /** ω, the cut-off radius in frequency bins, a finite number > 0; default 10 (the paper's). */
  radius?: number;
  /** `'luma'` (default) or `'rgb'`. */
  channels?: TsdChannels;
  /** `'abs'` (default) or `'real'`. */
  output?: TsdOutput;
}

/**
 * Fully resolved filter settings (the type of {@link TSD_DEFAULTS} and {@link TSD_PAPER_PRESET}).
 *
 * @example
 * ```ts
 * import type { TsdSettings } from '@consistent-avatar/tsd';
 * const mine: TsdSettings = { mask: 'circle', radius: 4, channels: 'rgb', output: 'abs' };
 * ```
 */
export type TsdSettings = Readonly<Required<Omit<TsdOptions, 'preset'>>>;

/**
 * Defaults: the released code's filter (gaussian ω = 10 on luma, magnitude), with the mask centred on DC.
 *
 * @example
 * ```ts
 * import { TSD_DEFAULTS } from '@consistent-avatar/tsd';
 * console.log(TSD_DEFAULTS); // { mask: 'gaussian', radius: 10, channels: 'luma', output: 'abs' }
 * ```
 */
export const TSD_DEFAULTS: TsdSettings = Object.freeze({ mask: 'gaussian', radius: 10, channels: 'luma', output: 'abs' });

/**
 * `preset: 'paper'`, our recommended settings for conditioning networks. Why: gaussian ω = 10 is the paper's
 * filter (smooth, so no ringing, unlike `circle` / `box`); `'real'` keeps the sign of each detail, so the TSD is a
 * linear, zero-mean function of the frame (a small change of the frame changes it proportionally), whereas `abs`
 * rectifies every edge into a double ridge; `'rgb'` fills the three channels that the VAE, ControlNet and encoder
 * take with colour detail.
 *
 * @example
 * ```ts
 * import { TSD_PAPER_PRESET } from '@consistent-avatar/tsd';
 * console.log(TSD_PAPER_PRESET); // { mask: 'gaussian', radius: 10, channels: 'rgb', output: 'real' }
 * ```
 */
export const TSD_PAPER_PRESET: TsdSettings = Object.freeze({ mask: 'gaussian', radius: 10, channels: 'rgb', output: 'real' });

/**
 * A mask in the unshifted layout of `fft2` output: row-major `[H, W]` weights, index 0 = DC.
 *
 * @example
 * ```ts
 * import { highPassMask, type HighPassMask } from '@consistent-avatar/tsd';
 * const mask: HighPassMask = highPassMask(6, 9, 'gaussian', 2);
 * console.log(mask.weights.length, mask.hermitian); // 54 true
 * ```
 */
export interface HighPassMask {
  /** `[H, W]` row-major: `ifftshift` of the mask on the centred spectrum. */
  readonly weights: Float64Array;
  readonly height: number;
  readonly width: number;
  /**
   * True when `M(k, l) = M(−k mod H, −l mod W)` for every bin (always for a mask centred on DC): the filtered plane
   * of a real plane is then real.
   */
  readonly hermitian: boolean;
}

/**
 * The high-pass mask M of Eq. 2 for an `H × W` spectrum, stored `ifftshift`-ed so that filtering is
 * `ifft2(fft2(x) · weights)`.
 *
 * @param height - H, an integer ≥ 1.
 * @param width - W, an integer ≥ 1.
 * @param kind - `'gaussian'`, `'circle'` or `'box'` (see {@link TsdMaskKind}).
 * @param radius - ω > 0, in frequency bins.
 * @param centre - `[ci, cj]`, where the mask is centred in the fftshift-ed spectrum; default `[⌊H/2⌋, ⌊W/2⌋]`,
 *   which is DC (so M(DC) = 0). `releaseTsd` passes the released script's `[⌊(H−1)/2⌋, ⌊(W−1)/2⌋]`.
 * @throws ValidationError naming `highPassMask` for a bad size, kind, radius or centre.
 *
 * @example
 * ```ts
 * import { highPassMask } from '@consistent-avatar/tsd';
 * const m = highPassMask(8, 8, 'gaussian', 2);
 * console.log(m.weights[0], m.hermitian); // 0 true  (DC removed)
 * const offByOne = highPassMask(8, 8, 'gaussian', 2, [3, 3]);
 * console.log(offByOne.weights[0].toFixed(4), offByOne.hermitian); // 0.2212 false
 * ```
 */
export function highPassMask(
  height: number,
  width: number,
  kind: TsdMaskKind,
  radius: number,
  centre: readonly [number, number] = [Math.floor(height / 2), Math.floor(width / 2)],
): HighPassMask {
  const fn = 'highPassMask';
  if (!Number.isInteger(height) || height < 1) throw new ValidationError(fn, 'height', 'an integer ≥ 1', height);
  if (!Number.isInteger(width) || width < 1) throw new ValidationError(fn, 'width', 'an integer ≥ 1', width);
  if (!MASKS.includes(kind)) throw new ValidationError(fn, 'kind', "'gaussian', 'circle' or 'box'", kind);
  if (typeof radius !== 'number' || !Number.isFinite(radius) || radius <= 0) {
    throw new ValidationError(fn, 'radius', 'a finite number > 0', radius);
  }
  if (!Array.isArray(centre) || centre.length !== 2 || !centre.every((c) => Number.isInteger(c))) {
    throw new ValidationError(fn, 'centre', 'two integers [ci, cj]', centre);
  }
  const [ci, cj] = centre;
  const value = (di: number, dj: number): number => {
    if (kind === 'gaussian') return 1 - Math.exp(-(di * di + dj * dj) / (2 * radius * radius));
    if (kind === 'circle') return di * di + dj * dj <= radius * radius ? 0 : 1;
    return Math.abs(di) <= radius && Math.abs(dj) <= radius ? 0 : 1;
  };
  // Unshifted bin k sits at index (k + ⌊H/2⌋) mod H of the centred spectrum (ifftshift = roll by −⌊H/2⌋).
  const weights = new Float64Array(height * width);
  for (let k = 0; k < height; k++) {
    const di = ((k + Math.floor(height / 2)) % height) - ci;
    for (let l = 0; l < width; l++) weights[k * width + l] = value(di, ((l + Math.floor(width / 2)) % width) - cj);
  }
  let hermitian = true;
  for (let k = 0; k < height && hermitian; k++) {
    const mirror = ((height - k) % height) * width;
    for (let l = 0; l < width && hermitian; l++) hermitian = weights[k * width + l] === weights[mirror + ((width - l) % width)];
  }
  return { weights, height, width, hermitian };
}

/**
 * Steps 2–4 on float64 planes, in place: each `[H, W]` plane x becomes `Re z` or `|z|`, z = ifft2(fft2(x) · M).
 * Shared with `releaseTsd`; not part of the package index.
 *
 * With a Hermitian mask the filtered plane is real, so two planes a, b go through one complex transform of a + i·b
 * (Re z = filt a, Im z = filt b) and a lone last plane through the real-input path (about half the work). Each
 * image is filtered on its own, so an image's TSD does not depend on what else is in a batch.
 *
 * @param planes - `[H, W]` row-major planes, overwritten with their TSD.
 * @param mask - from {@link highPassMask}, of the planes' size.
 * @param output - `'real'` or `'abs'`.
 * @param fft - an FFT plan of that size (pass one to reuse its buffers across images).
 * @internal
 *
 * @example
 * ```ts
 * import { filterPlanes, highPassMask } from './extract-tsd.js';
 * const plane = new Float64Array(16).fill(0.5);
 * filterPlanes([plane], highPassMask(4, 4, 'gaussian', 1), 'real');
 * console.log(Math.max(...plane.map(Math.abs)) < 1e-12); // true: a constant plane has no detail
 * ```
 */
export function filterPlanes(
  planes: readonly Float64Array[],
  mask: HighPassMask,
  output: TsdOutput,
  fft: Fft2d = new Fft2d(mask.height, mask.width),
): void {
  const { re, im } = fft;
  if (!mask.hermitian) {
    for (const x of planes) {
      re.set(x);
      im.fill(0);
      fft.filter(mask.weights); // Eqs. 2–3: z = ifft2(fft2(x) · M)
      for (let t = 0; t < x.length; t++) x[t] = output === 'real' ? re[t]! : Math.sqrt(re[t]! * re[t]! + im[t]! * im[t]!);
    }
    return;
  }
  for (let n = 0; n < planes.length; n += 2) {
    const a = planes[n]!;
    const b = planes[n + 1];
    re.set(a);
    if (b) {
      im.set(b);
      fft.filter(mask.weights); // Eqs. 2–3 on a + i·b: Re z = filt a, Im z = filt b
      b.set(im);
    } else {
      fft.filterReal(mask.weights); // Eqs. 2–3 on a real plane
    }
    a.set(re);
  }
  if (output === 'abs') for (const x of planes) for (let t = 0; t < x.length; t++) x[t] = Math.abs(x[t]!);
}

/**
 * Extract the TSD of an image, or of each image of a batch.
 *
 * @param image - a core `Image` `[H, W, C]`: `Float32Array` samples in [0, 1] or `Uint8Array` in [0, 255]
 *   (converted once with `toFloatImage`); C = 1 or 2 (grey, alpha ignored), 3 (RGB) or 4 (RGBA, alpha ignored).
 *   An array of images is a batch. The mask and FFT buffers of the last size are kept for the next image.
 * @param options - see {@link TsdOptions}; defaults {@link TSD_DEFAULTS}.
 * @returns float32 `[H, W, P]` (an array of them for a batch), P = 1 for `'luma'` or a grey image, else 3.
 * @throws ValidationError naming `extractTsd` and the argument (`image`, `images[3].data`, `options.radius`, …) for
 *   a malformed image, NaN / infinite samples, an unknown option or value, or a radius that is not > 0.
 *
 * @example
 * ```ts
 * import { extractTsd } from '@consistent-avatar/tsd';
 * const data = Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => ((i * 7919) % 256) / 255);
 * const image = { data, height: 64, width: 64, channels: 3 };
 * console.log(extractTsd(image, { preset: 'paper' }).shape); // [ 64, 64, 3 ]
 * console.log(extractTsd([image, image]).length); // 2: a batch, each [64, 64, 1]
 * ```
 */
export function extractTsd(image: Image, options?: TsdOptions): TsdImage;
export function extractTsd(images: readonly Image[], options?: TsdOptions): TsdImage[];
export function extractTsd(input: Image | readonly Image[], options?: TsdOptions): TsdImage | TsdImage[] {
  const settings = resolveOptions(options);
  if (!Array.isArray(input)) return tsdOfImage(toFloatImage(input as Image, FN, 'image'), 'image', settings);
  if (input.length === 0) throw new ValidationError(FN, 'images', 'a non-empty array of images', input);
  const images = input.map((image: Image, b) => toFloatImage(image, FN, `images[${b}]`)); // every image checked first
  return images.map((image, b) => tsdOfImage(image, `images[${b}]`, settings));
}

/**
 * The mask, FFT and plane buffers of the last size and settings, reused by the next image of that size (the frames
 * of a video): building them (and touching fresh memory) costs about as much as filtering a frame. One plan at most
 * is held (≈ 18 MB at 512²).
 */
let lastPlan: { key: string; mask: HighPassMask; fft: Fft2d; planes: Float64Array[] } | null = null;

/** The TSD of one checked float image. */
function tsdOfImage(image: FloatImage, argument: string, settings: TsdSettings): TsdImage {
  const { data, height, width, channels } = image;
  const n = height * width;
  const key = `${height}x${width}|${settings.mask}|${settings.radius}`;
  if (lastPlan?.key !== key) {
    lastPlan = { key, mask: highPassMask(height, width, settings.mask, settings.radius), fft: new Fft2d(height, width), planes: [] };
  }
  const { mask, fft } = lastPlan;
  // 1. The planes x, float64 [H, W] in [0, 1]: luma, or each colour channel (grey images have one).
  const count = settings.channels === 'rgb' && channels >= 3 ? 3 : 1;
  while (lastPlan.planes.length < count) lastPlan.planes.push(new Float64Array(n));
  const planes = lastPlan.planes.slice(0, count);
  for (let t = 0, p = 0; t < n; t++, p += channels) {
    for (let k = 0; k < count; k++) {
      const v = count === 1 && channels >= 3 ? 0.299 * data[p]! + 0.587 * data[p + 1]! + 0.114 * data[p + 2]! : data[p + k]!;
      if (!Number.isFinite(v)) {
        throw new ValidationError(FN, argument, `finite sample values (pixel [${Math.floor(t / width)}, ${t % width}] is not)`, v);
      }
      planes[k]![t] = v;
    }
  }
  // 2.–3. Eqs. 2–3: z = ifft2(fft2(x) · M); 4. Re z or |z|.
  filterPlanes(planes, mask, settings.output, fft);
  // 4. Interleave the planes into float32 [H, W, P].
  const out = new Float32Array(n * count);
  planes.forEach((x, k) => {
    for (let t = 0; t < n; t++) out[t * count + k] = x[t]!;
  });
  return ndarray(out, [height, width, count]); // [H, W, P]
}

const MASKS: readonly string[] = ['gaussian', 'circle', 'box'];
const ALLOWED: Record<'preset' | 'mask' | 'channels' | 'output', readonly string[]> = {
  preset: ['paper'],
  mask: MASKS,
  channels: ['luma', 'rgb'],
  output: ['abs', 'real'],
};

/** Validate the user's options and resolve the preset and defaults. */
function resolveOptions(options: TsdOptions | undefined): TsdSettings {
  if (options === undefined) return TSD_DEFAULTS;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValidationError(FN, 'options', 'an options object (or undefined)', options);
  }
  const known = ['radius', ...Object.keys(ALLOWED)];
  for (const [key, value] of Object.entries(options)) {
    if (!known.includes(key)) throw new ValidationError(FN, `options.${key}`, `no such option (known: ${known.join(', ')})`, key);
    if (value === undefined) continue;
    if (key === 'radius') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ValidationError(FN, 'options.radius', 'a finite number > 0', value);
      continue;
    }
    const allowed = ALLOWED[key as keyof typeof ALLOWED];
    if (typeof value !== 'string' || !allowed.includes(value)) {
      const hint = key === 'preset' && value === 'release' ? " (the released script's PNG is releaseTsd(image))" : '';
      throw new ValidationError(FN, `options.${key}`, `one of ${allowed.map((v) => `'${v}'`).join(', ')}${hint}`, value);
    }
  }
  const base = options.preset === 'paper' ? TSD_PAPER_PRESET : TSD_DEFAULTS;
  return {
    mask: options.mask ?? base.mask,
    radius: options.radius ?? base.radius,
    channels: options.channels ?? base.channels,
    output: options.output ?? base.output,
  };
}
