/**
 * Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004), computed exactly as scikit-image 0.19's
 * `structural_similarity` does, with two named variants:
 *
 * - `'wang'`: 11×11 gaussian window (σ 1.5, truncate 3.5 ⇒ radius 5), population covariance
 *   (`gaussian_weights=True, use_sample_covariance=False`) — the paper's SSIM.
 * - `'skimage-default'`: 7×7 uniform window, sample covariance `N/(N−1)` (scikit-image's defaults).
 *
 * Both: K1 = 0.01, K2 = 0.03, `dataRange` 1 by default, the SSIM map cropped by the window radius (the pixels whose
 * window lies inside the image — so no boundary mode matters) and averaged; RGB is per channel then averaged.
 * Work is float64 on typed arrays; the window filter is separable and only evaluated on the valid region. Images are
 * core's `Image`: byte images are scored as their [0, 1] float image (v / 255), so `dataRange` stays 1.
 */
import { ValidationError, type Image } from '@consistent-avatar/core';
import {
  assertMask,
  assertSameShape,
  floatImage,
  metricDataRange,
  scoreFrames,
  toGray,
  CHANNEL_MEAN,
  type FrameScores,
  type GrayWeights,
  type MetricMask,
} from './image.js';

/**
 * Named SSIM window / covariance conventions (see the file header).
 * @example
 * ```ts
 * const variant: SsimVariant = 'skimage-default';
 * ssim(a, b, { variant });
 * ```
 */
export type SsimVariant = 'wang' | 'skimage-default';

/**
 * Options of {@link ssim}.
 * @example
 * ```ts
 * ssim(a, b, { variant: 'wang', mode: 'gray', mask: faceMask } satisfies SsimOptions);
 * ```
 */
export interface SsimOptions {
  /** Window and covariance convention; default `'wang'`. */
  readonly variant?: SsimVariant;
  /** `'rgb'` (default): per channel then averaged; `'gray'`: on the gray conversion (channel mean by default). */
  readonly mode?: 'rgb' | 'gray';
  /** Gray weights for `mode: 'gray'`; default the channel mean (the fixtures' definition). */
  readonly grayWeights?: GrayWeights;
  /** Data range of the float samples (max − min possible value); default 1. Only 1 with byte images. */
  readonly dataRange?: number;
  /** Optional `[H, W]` weights: the SSIM map is averaged with these weights over the valid (cropped) region. */
  readonly mask?: MetricMask;
}

const K1 = 0.01;
const K2 = 0.03;

interface Window {
  readonly radius: number;
  /** Normalised 1-D weights, length `2·radius + 1`. */
  readonly kernel: Float64Array;
  readonly uniform: boolean;
  /** `N / (N − 1)` for sample covariance, 1 for population covariance. */
  readonly covNorm: number;
}

const windows = new Map<SsimVariant, Window>();

function windowOf(variant: SsimVariant): Window {
  const cached = windows.get(variant);
  if (cached) return cached;
  let w: Window;
  if (variant === 'wang') {
    // scipy.ndimage.gaussian_filter: radius = int(truncate·σ + 0.5) = int(3.5·1.5 + 0.5) = 5.
    const sigma = 1.5;
    const radius = Math.floor(3.5 * sigma + 0.5);
    const kernel = new Float64Array(2 * radius + 1);
    let total = 0;
    for (let k = -radius; k <= radius; k++) total += kernel[k + radius] = Math.exp((-0.5 * k * k) / (sigma * sigma));
    for (let k = 0; k < kernel.length; k++) kernel[k]! /= total;
    w = { radius, kernel, uniform: false, covNorm: 1 };
  } else {
    const size = 7;
    const np = size * size;
    w = { radius: 3, kernel: new Float64Array(size).fill(1 / size), uniform: true, covNorm: np / (np - 1) };
  }
  windows.set(variant, w);
  return w;
}

/**
 * Separable window mean over the valid region: `src` is `[H, W]`, `out` is `[H − 2r, W − 2r]`, `tmp` is
 * `[H, W − 2r]` scratch. Uniform windows use running sums; the gaussian window (radius 5, the only one the
 * variants use) is unrolled with its symmetric taps folded.
 */
function filterValid(
  src: Float64Array,
  height: number,
  width: number,
  win: Window,
  tmp: Float64Array,
  out: Float64Array,
): void {
  const r = win.radius;
  const size = 2 * r + 1;
  const wv = width - 2 * r;
  const hv = height - 2 * r;
  const kernel = win.kernel;
  // 1. horizontal pass, every row, valid columns: tmp[y, x] = Σ_k w_k · src[y, x + k]   // [H, W − 2r]
  if (win.uniform) {
    const inv = 1 / size;
    for (let y = 0; y < height; y++) {
      const row = y * width;
      const o = y * wv;
      let s = 0;
      for (let k = 0; k < size; k++) s += src[row + k]!;
      tmp[o] = s * inv;
      for (let x = 1; x < wv; x++) {
        s += src[row + x + size - 1]! - src[row + x - 1]!;
        tmp[o + x] = s * inv;
      }
    }
  } else {
    // Radius-5 gaussian ('wang'), unrolled with symmetric taps folded: 6 multiplies per output.
    const [k0, k1, k2, k3, k4, k5] = [kernel[5]!, kernel[6]!, kernel[7]!, kernel[8]!, kernel[9]!, kernel[10]!];
    for (let y = 0; y < height; y++) {
      const o = y * wv;
      for (let x = 0, c = y * width + 5; x < wv; x++, c++) {
        tmp[o + x] =
          k0 * src[c]! +
          k1 * (src[c - 1]! + src[c + 1]!) +
          k2 * (src[c - 2]! + src[c + 2]!) +
          k3 * (src[c - 3]! + src[c + 3]!) +
          k4 * (src[c - 4]! + src[c + 4]!) +
          k5 * (src[c - 5]! + src[c + 5]!);
      }
    }
  }
  // 2. vertical pass, valid rows: out[y, x] = Σ_k w_k · tmp[y + k, x]   // [H − 2r, W − 2r]
  if (win.uniform) {
    const inv = 1 / size;
    const acc = out.subarray(0, wv);
    acc.fill(0);
    for (let k = 0; k < size; k++) for (let x = 0, t = k * wv; x < wv; x++) acc[x]! += tmp[t + x]!;
    for (let y = 1; y < hv; y++) {
      const o = y * wv;
      const add = (y + size - 1) * wv;
      const sub = (y - 1) * wv;
      const prev = o - wv;
      for (let x = 0; x < wv; x++) out[o + x] = out[prev + x]! + tmp[add + x]! - tmp[sub + x]!;
    }
    for (let i = 0; i < hv * wv; i++) out[i]! *= inv;
  } else {
    const [k0, k1, k2, k3, k4, k5] = [kernel[5]!, kernel[6]!, kernel[7]!, kernel[8]!, kernel[9]!, kernel[10]!];
    const s1 = wv;
    const [s2, s3, s4, s5] = [2 * wv, 3 * wv, 4 * wv, 5 * wv];
    for (let y = 0; y < hv; y++) {
      const o = y * wv;
      for (let x = 0, c = (y + 5) * wv; x < wv; x++, c++) {
        out[o + x] =
          k0 * tmp[c]! +
          k1 * (tmp[c - s1]! + tmp[c + s1]!) +
          k2 * (tmp[c - s2]! + tmp[c + s2]!) +
          k3 * (tmp[c - s3]! + tmp[c + s3]!) +
          k4 * (tmp[c - s4]! + tmp[c + s4]!) +
          k5 * (tmp[c - s5]! + tmp[c + s5]!);
      }
    }
  }
}

/**
 * Mean SSIM of one channel pair (planes `[H, W]`, float64) over the valid region, optionally mask-weighted.
 */
/** Scratch buffers for one image size, reused across channels (allocation dominates at small sizes). */
interface Workspace {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly xx: Float64Array;
  readonly yy: Float64Array;
  readonly xy: Float64Array;
  readonly tmp: Float64Array;
  readonly mx: Float64Array;
  readonly my: Float64Array;
  readonly mxx: Float64Array;
  readonly myy: Float64Array;
  readonly mxy: Float64Array;
}

function workspace(height: number, width: number, r: number): Workspace {
  const n = height * width;
  const nv = (height - 2 * r) * (width - 2 * r);
  const f = (len: number) => new Float64Array(len);
  return {
    x: f(n), y: f(n), xx: f(n), yy: f(n), xy: f(n), tmp: f(height * (width - 2 * r)),
    mx: f(nv), my: f(nv), mxx: f(nv), myy: f(nv), mxy: f(nv),
  };
}

/** Copy channel `c` of both images (or their gray planes) into `ws.x` / `ws.y` with the products. */
function loadPlanes(ws: Workspace, a: ArrayLike<number>, b: ArrayLike<number>, channels: number, c: number): void {
  const { x, y, xx, yy, xy } = ws;
  for (let i = 0, j = c; i < x.length; i++, j += channels) {
    const u = a[j]!;
    const v = b[j]!;
    x[i] = u;
    y[i] = v;
    xx[i] = u * u;
    yy[i] = v * v;
    xy[i] = u * v;
  }
}

/**
 * Mean SSIM of the planes loaded in `ws` (`[H, W]`, float64) over the valid region, optionally mask-weighted.
 */
function ssimPlane(
  ws: Workspace,
  height: number,
  width: number,
  win: Window,
  dataRange: number,
  mask: MetricMask | undefined,
): number {
  const r = win.radius;
  const wv = width - 2 * r;
  const hv = height - 2 * r;
  const { tmp, mx, my, mxx, myy, mxy } = ws;
  filterValid(ws.x, height, width, win, tmp, mx);
  filterValid(ws.y, height, width, win, tmp, my);
  filterValid(ws.xx, height, width, win, tmp, mxx);
  filterValid(ws.yy, height, width, win, tmp, myy);
  filterValid(ws.xy, height, width, win, tmp, mxy);
  const c1 = (K1 * dataRange) ** 2;
  const c2 = (K2 * dataRange) ** 2;
  const cov = win.covNorm;
  const m = mask?.data;
  let sum = 0;
  let weight = 0;
  for (let j = 0; j < hv; j++) {
    for (let i = 0; i < wv; i++) {
      const p = j * wv + i;
      const wp = m === undefined ? 1 : m[(j + r) * width + i + r]!;
      if (wp === 0) continue;
      const ux = mx[p]!;
      const uy = my[p]!;
      // Eq. 13 of Wang et al. with the local (co)variances of the window.
      const vx = cov * (mxx[p]! - ux * ux);
      const vy = cov * (myy[p]! - uy * uy);
      const vxy = cov * (mxy[p]! - ux * uy);
      const s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
      sum += wp * s;
      weight += wp;
    }
  }
  if (weight === 0) {
    throw new ValidationError('ssim', 'options.mask', 'a non-zero pixel inside the cropped valid region', m);
  }
  return sum / weight;
}

/**
 * Mean structural similarity of two images (scikit-image 0.19 `structural_similarity`, see the file header).
 *
 * @param a - `[H, W, C]` image (floats in [0, 1] or bytes); H and W must exceed the window (11 for `'wang'`, 7 otherwise).
 * @param b - image of the same shape.
 * @returns mean SSIM in `[-1, 1]` (1 for identical images).
 * @example
 * ```ts
 * const data = new Float32Array(32 * 32 * 3).map((_, i) => (i % 7) / 7);
 * const img = { data, height: 32, width: 32, channels: 3 };
 * ssim(img, img); // 1
 * ssim(img, img, { variant: 'skimage-default', mode: 'gray' }); // 1
 * ```
 */
export function ssim(a: Image, b: Image, options: SsimOptions = {}): number {
  assertSameShape('ssim', a, b);
  const variant = options.variant ?? 'wang';
  if (variant !== 'wang' && variant !== 'skimage-default') {
    throw new ValidationError('ssim', 'options.variant', "'wang' or 'skimage-default'", variant);
  }
  const mode = options.mode ?? 'rgb';
  if (mode !== 'rgb' && mode !== 'gray') throw new ValidationError('ssim', 'options.mode', "'rgb' or 'gray'", mode);
  const dataRange = metricDataRange('ssim', options.dataRange, a, b);
  const win = windowOf(variant);
  const size = 2 * win.radius + 1;
  if (a.height < size || a.width < size) {
    throw new ValidationError('ssim', 'a', `an image of at least ${size}×${size} pixels`, `${a.height}×${a.width}`);
  }
  if (options.mask !== undefined) assertMask('ssim', options.mask, a);
  if (mode === 'gray') {
    const w = options.grayWeights ?? CHANNEL_MEAN;
    const ws = workspace(a.height, a.width, win.radius);
    loadPlanes(ws, toGray(a, w).data, toGray(b, w).data, 1, 0);
    return ssimPlane(ws, a.height, a.width, win, dataRange, options.mask);
  }
  const ws = workspace(a.height, a.width, win.radius);
  // Byte images become [0, 1] floats here, once.
  const x = floatImage('ssim', 'a', a).data;
  const y = floatImage('ssim', 'b', b).data;
  let total = 0;
  for (let c = 0; c < a.channels; c++) {
    loadPlanes(ws, x, y, a.channels, c);
    total += ssimPlane(ws, a.height, a.width, win, dataRange, options.mask);
  }
  return total / a.channels;
}

/**
 * {@link ssim} of aligned frame lists: per-frame values and their mean.
 *
 * @example
 * ```ts
 * const { perFrame, mean } = ssimFrames(generatedFrames, realFrames, { variant: 'wang' });
 * ```
 */
export function ssimFrames(
  generated: readonly Image[],
  reference: readonly Image[],
  options: SsimOptions = {},
): FrameScores {
  return scoreFrames('ssimFrames', generated, reference, (g, r) => ssim(g, r, options));
}
