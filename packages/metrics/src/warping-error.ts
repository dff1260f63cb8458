/**
 * Warping error — the standard video temporal-consistency metric (Lai et al., "Learning Blind Video Temporal
 * Consistency", ECCV 2018), which the paper does not report:
 *
 *   E_warp(t) = 1/Σ_x M(x) · Σ_x M(x) · ‖V_t(x) − V_{t+1}(x + F(x))‖²₂
 *
 * where F is the forward flow t → t+1 of the *real* video, V_{t+1}(x + F(x)) is frame t+1 warped back to t with
 * `cv.remap` (bilinear), ‖·‖² sums over channels (as Lai et al.'s evaluation code does), and M masks
 * (1) samples that fall outside the image, (2) occlusions by forward–backward consistency and (3) motion boundaries
 * (Ruder et al., "Artistic style transfer for videos", GCPR 2016):
 *
 *   occluded  ⇔ |F(x) + B(x + F(x))|² > 0.01 (|F(x)|² + |B(x + F(x))|²) + 0.5
 *   boundary  ⇔ |∇F_x|² + |∇F_y|² > 0.01 |F(x)|² + 0.002
 *
 * Frames are core's `Image`: byte frames are compared as their [0, 1] float image (v / 255), so the error is in
 * [0, 1]² units whatever the storage.
 */
import { ValidationError, type Image } from '@consistent-avatar/core';
import { assertSameShape, floatImage } from './image.js';
import type { FlowField } from './farneback.js';
import { flowBorder } from './flow-curve.js';
import { loadOpenCv, type CvMat, type OpenCv } from './opencv.js';

/**
 * Options of {@link warpingError}.
 * @example
 * ```ts
 * const options: WarpingErrorOptions = { backward: flow.compute(real[1], real[0]), border: 8 };
 * ```
 */
export interface WarpingErrorOptions {
  /**
   * Backward flow t+1 → t. When given (default behaviour of {@link temporalConsistency}), occlusions and motion
   * boundaries are masked; without it only out-of-image samples (and `border`) are masked.
   */
  readonly backward?: FlowField;
  /** Pixels dropped on each side. Default 0. */
  readonly border?: number;
}

/**
 * Result of {@link warpingError}.
 * @example
 * ```ts
 * const { error, validFraction }: WarpingErrorResult = await warpingError(g0, g1, forward);
 * ```
 */
export interface WarpingErrorResult {
  /** Mean over valid pixels of the channel-summed squared difference ([0, 1] image units squared). */
  readonly error: number;
  /** Fraction of the (border-cropped) pixels that were valid. */
  readonly validFraction: number;
}

function matFrom(cv: OpenCv, type: number, height: number, width: number, values: ArrayLike<number>): CvMat {
  const mat = new cv.Mat(height, width, type);
  mat.data32F.set(values);
  return mat;
}

/**
 * Warp `frameNext` back to `frameT` with `forward` flow and compare (see the file header for the definition).
 *
 * @param frameT - frame t `[H, W, C]` (float in [0, 1] or bytes, compared as v / 255).
 * @param frameNext - frame t+1, same shape.
 * @param forward - flow t → t+1 `[H, W, 2]` (normally the real video's).
 * @example
 * ```ts
 * const forward = flow.compute(real[0], real[1]);
 * const backward = flow.compute(real[1], real[0]);
 * const { error, validFraction } = await warpingError(generated[0], generated[1], forward, { backward });
 * ```
 */
export async function warpingError(
  frameT: Image,
  frameNext: Image,
  forward: FlowField,
  options: WarpingErrorOptions = {},
): Promise<WarpingErrorResult> {
  const fn = 'warpingError';
  assertSameShape(fn, frameT, frameNext, 'frameT', 'frameNext');
  const border = flowBorder(fn, forward, options.border ?? 0, 'forward');
  const { height, width, channels } = frameT;
  if (forward.height !== height || forward.width !== width) {
    throw new ValidationError(fn, 'forward', `a ${height}×${width} flow field`, `${forward.height}×${forward.width}`);
  }
  if (channels > 4) throw new ValidationError(fn, 'frameT.channels', '1 to 4 channels', channels);
  const backward = options.backward;
  if (backward !== undefined) {
    flowBorder(fn, backward, border, 'options.backward');
    if (backward.height !== height || backward.width !== width) {
      throw new ValidationError(fn, 'options.backward', `a ${height}×${width} flow field`, backward.height);
    }
  }
  // Byte frames become [0, 1] floats here, once.
  const current = floatImage(fn, 'frameT', frameT).data;
  const next = floatImage(fn, 'frameNext', frameNext).data;
  const cv = await loadOpenCv();
  const n = height * width;
  const F = forward.data;
  // 1. Sampling maps x + F(x), y + F_y(x) for cv.remap.   // [H, W] each
  const mapX = new Float32Array(n);
  const mapY = new Float32Array(n);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      mapX[p] = x + F[2 * p]!;
      mapY[p] = y + F[2 * p + 1]!;
    }
  }
  const types = [cv.CV_32FC1, cv.CV_32FC2, cv.CV_32FC3, cv.CV_32FC4];
  const mats: CvMat[] = [];
  let warped: Float32Array;
  let backAtTarget: Float32Array | undefined;
  try {
    const mx = matFrom(cv, cv.CV_32FC1, height, width, mapX);
    mats.push(mx);
    const my = matFrom(cv, cv.CV_32FC1, height, width, mapY);
    mats.push(my);
    // 2. Frame t+1 sampled at x + F(x) (bilinear; outside samples are masked below).
    const src = matFrom(cv, types[channels - 1]!, height, width, next);
    mats.push(src);
    const dst = new cv.Mat(height, width, types[channels - 1]!);
    mats.push(dst);
    cv.remap(src, dst, mx, my, cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Scalar(0, 0, 0, 0));
    warped = dst.data32F.slice();
    // 3. Backward flow sampled at the same positions, for the forward–backward check.
    if (backward !== undefined) {
      const bsrc = matFrom(cv, cv.CV_32FC2, height, width, backward.data);
      mats.push(bsrc);
      const bdst = new cv.Mat(height, width, cv.CV_32FC2);
      mats.push(bdst);
      cv.remap(bsrc, bdst, mx, my, cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Scalar(0, 0, 0, 0));
      backAtTarget = bdst.data32F.slice();
    }
  } finally {
    for (const m of mats) m.delete();
  }
  // 4. Masked, channel-summed squared difference (Lai et al. 2018).
  const a = current;
  let sum = 0;
  let valid = 0;
  for (let y = border; y < height - border; y++) {
    for (let x = border; x < width - border; x++) {
      const p = y * width + x;
      const sx = mapX[p]!;
      const sy = mapY[p]!;
      if (!(sx >= 0 && sx <= width - 1 && sy >= 0 && sy <= height - 1)) continue;
      if (backAtTarget !== undefined) {
        const fx = F[2 * p]!;
        const fy = F[2 * p + 1]!;
        const bx = backAtTarget[2 * p]!;
        const by = backAtTarget[2 * p + 1]!;
        const sumSq = (fx + bx) ** 2 + (fy + by) ** 2;
        if (sumSq > 0.01 * (fx * fx + fy * fy + bx * bx + by * by) + 0.5) continue; // occluded
        // Forward differences of the flow (0 on the last row / column), as in Lai et al.'s code.
        const q = x < width - 1 ? 2 * (p + 1) : 2 * p;
        const r = y < height - 1 ? 2 * (p + width) : 2 * p;
        const dudx = F[q]! - fx;
        const dvdx = F[q + 1]! - fy;
        const dudy = F[r]! - fx;
        const dvdy = F[r + 1]! - fy;
        if (dudx * dudx + dvdx * dvdx + dudy * dudy + dvdy * dvdy > 0.01 * (fx * fx + fy * fy) + 0.002) continue;
      }
      let d2 = 0;
      for (let c = 0, i = p * channels; c < channels; c++, i++) {
        const d = a[i]! - warped[i]!;
        d2 += d * d;
      }
      sum += d2;
      valid++;
    }
  }
  const total = (height - 2 * border) * (width - 2 * border);
  return { error: valid > 0 ? sum / valid : NaN, validFraction: valid / total };
}
