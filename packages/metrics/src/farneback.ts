/**
 * Dense optical flow by Farnebäck's polynomial expansion (G. Farnebäck, "Two-Frame Motion Estimation Based on
 * Polynomial Expansion", SCIA 2003), run by OpenCV.js `calcOpticalFlowFarneback` — the same C++ code as native
 * OpenCV, so results agree with `cv2.calcOpticalFlowFarneback` on the same 8-bit frames.
 *
 * Frames (core's `Image`, float or byte) are converted to 8-bit gray once, written straight into the wasm heap (no
 * intermediate array); the three `cv.Mat`s are reused across calls and freed by {@link FarnebackFlow.dispose}.
 */
import { checkImage, configField as f, isByteImage, resolveConfig, ValidationError, type ConfigSchema, type Image } from '@consistent-avatar/core';
import { loadOpenCv, type CvMat, type OpenCv } from './opencv.js';

/**
 * Farnebäck parameters (OpenCV argument names in brackets). The defaults are the values of OpenCV's own
 * Farnebäck sample and tutorial (`pyr_scale 0.5, levels 3, winsize 15, iterations 3, poly_n 5, poly_sigma 1.2,
 * flags 0`), which the reference fixtures also use. (`cv::FarnebackOpticalFlow::create()` has different defaults:
 * 5 levels, winsize 13, 10 iterations, poly_sigma 1.1.)
 * @example
 * ```ts
 * const config: FarnebackConfig = { ...FARNEBACK_DEFAULTS, levels: 5 };
 * JSON.parse(JSON.stringify(config)); // round-trips
 * ```
 */
export interface FarnebackConfig {
  /** Image scale between pyramid levels, < 1 [pyr_scale]. Default 0.5. */
  readonly pyrScale: number;
  /** Number of pyramid levels including the full image [levels]. Default 3. */
  readonly levels: number;
  /** Averaging window size [winsize]. Default 15. */
  readonly winSize: number;
  /** Iterations at each pyramid level [iterations]. Default 3. */
  readonly iterations: number;
  /** Pixel neighbourhood for the polynomial expansion, 5 or 7 [poly_n]. Default 5. */
  readonly polyN: number;
  /** Gaussian σ of the polynomial expansion [poly_sigma]. Default 1.2. */
  readonly polySigma: number;
  /** Use a gaussian instead of a box averaging window [flags |= OPTFLOW_FARNEBACK_GAUSSIAN]. Default false. */
  readonly gaussianWindow: boolean;
}

/**
 * The default {@link FarnebackConfig}.
 * @example
 * ```ts
 * const flow = await FarnebackFlow.create(FARNEBACK_DEFAULTS);
 * ```
 */
export const FARNEBACK_DEFAULTS: FarnebackConfig = Object.freeze({
  pyrScale: 0.5,
  levels: 3,
  winSize: 15,
  iterations: 3,
  polyN: 5,
  polySigma: 1.2,
  gaussianWindow: false,
});

/**
 * A dense flow field `[H, W, 2]`: `data[(y·W + x)·2 + 0/1] = (dx, dy)`, meaning the pixel at `(x, y)` of the first
 * frame moves to `(x + dx, y + dy)` in the second.
 *
 * @example
 * ```ts
 * const still: FlowField = { data: new Float32Array(8 * 8 * 2), height: 8, width: 8 };
 * ```
 */
export interface FlowField {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** How each parameter is checked (core's config validator); unknown keys are rejected. */
const FARNEBACK_FIELDS: ConfigSchema<FarnebackConfig> = {
  pyrScale: f.number({ min: 0, max: 1, minOpen: true, maxOpen: true }),
  levels: f.positiveInt(),
  winSize: f.positiveInt(),
  iterations: f.positiveInt(),
  polyN: f.oneOf([5, 7]),
  polySigma: f.positiveNumber(),
  gaussianWindow: f.boolean(),
};

/**
 * Validate and complete a partial config (unknown keys are rejected, so a JSON round trip is lossless).
 *
 * @example
 * ```ts
 * resolveFarnebackConfig({ levels: 5 }); // { pyrScale: 0.5, levels: 5, winSize: 15, ... }
 * ```
 */
export function resolveFarnebackConfig(config: Partial<FarnebackConfig> = {}): FarnebackConfig {
  return Object.freeze(resolveConfig<FarnebackConfig>({ fn: 'resolveFarnebackConfig', fields: FARNEBACK_FIELDS, defaults: FARNEBACK_DEFAULTS }, config));
}

/** BT.601 luma weights, as `cv2.cvtColor(..., COLOR_RGB2GRAY)`. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * Write a frame as 8-bit gray into `dst` (a view on the wasm heap): round(255 · v) of the frame's [0, 1] samples,
 * RGB(A) through BT.601 luma first. A byte frame is read as the float image `toFloatImage` makes of it
 * (fround(v / 255) per sample), so a `ByteImage` and its `FloatImage` give the same gray frame and the same flow.
 */
function writeGray8(frame: Image, dst: Uint8Array): void {
  const { data, channels } = frame;
  const n = frame.height * frame.width;
  const at = isByteImage(frame) ? (j: number) => Math.fround(data[j]! / 255) : (j: number) => data[j]!;
  if (channels === 1) {
    for (let i = 0; i < n; i++) {
      const v = at(i) * 255;
      dst[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v); // clamp: a Uint8Array would wrap modulo 256
    }
  } else if (channels === 3 || channels === 4) {
    const [wr, wg, wb] = LUMA;
    for (let i = 0, j = 0; i < n; i++, j += channels) {
      const v = (wr * at(j) + wg * at(j + 1) + wb * at(j + 2)) * 255;
      dst[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  } else {
    throw new ValidationError('FarnebackFlow.compute', 'frame.channels', '1, 3 or 4 channels', channels);
  }
}

/**
 * Farnebäck dense optical flow through OpenCV.js. Create with {@link FarnebackFlow.create}, call
 * {@link FarnebackFlow.compute} or {@link FarnebackFlow.computeSequence}, then {@link FarnebackFlow.dispose}.
 *
 * @example
 * ```ts
 * const flow = await FarnebackFlow.create();          // OpenCV defaults (see FARNEBACK_DEFAULTS)
 * const field = flow.compute(frame0, frame1);          // [H, W, 2] (dx, dy)
 * const fields = flow.computeSequence(videoFrames);    // T − 1 fields between adjacent frames
 * flow.dispose();
 * ```
 */
export class FarnebackFlow {
  readonly config: FarnebackConfig;
  private readonly cv: OpenCv;
  private disposed = false;
  private mats: { prev: CvMat; next: CvMat; flow: CvMat; height: number; width: number } | undefined;

  private constructor(cv: OpenCv, config: FarnebackConfig) {
    this.cv = cv;
    this.config = config;
  }

  /**
   * Load OpenCV.js (once per process) and build an estimator.
   *
   * @example
   * ```ts
   * const flow = await FarnebackFlow.create({ levels: 5, winSize: 13 });
   * ```
   */
  static async create(config: Partial<FarnebackConfig> = {}): Promise<FarnebackFlow> {
    const resolved = resolveFarnebackConfig(config);
    return new FarnebackFlow(await loadOpenCv(), resolved);
  }

  private ensureMats(height: number, width: number): NonNullable<FarnebackFlow['mats']> {
    if (this.mats && this.mats.height === height && this.mats.width === width) return this.mats;
    this.freeMats();
    const cv = this.cv;
    this.mats = {
      prev: new cv.Mat(height, width, cv.CV_8UC1),
      next: new cv.Mat(height, width, cv.CV_8UC1),
      flow: new cv.Mat(height, width, cv.CV_32FC2),
      height,
      width,
    };
    return this.mats;
  }

  private freeMats(): void {
    if (!this.mats) return;
    this.mats.prev.delete();
    this.mats.next.delete();
    this.mats.flow.delete();
    this.mats = undefined;
  }

  private run(m: NonNullable<FarnebackFlow['mats']>): FlowField {
    const c = this.config;
    try {
      this.cv.calcOpticalFlowFarneback(
        m.prev,
        m.next,
        m.flow,
        c.pyrScale,
        c.levels,
        c.winSize,
        c.iterations,
        c.polyN,
        c.polySigma,
        c.gaussianWindow ? this.cv.OPTFLOW_FARNEBACK_GAUSSIAN : 0,
      );
    } catch (error) {
      // OpenCV.js throws C++ exceptions as bare numbers (heap pointers); give them a readable message.
      const what = typeof error === 'number' ? `OpenCV C++ exception (pointer ${error})` : String(error);
      throw new Error(`FarnebackFlow: calcOpticalFlowFarneback failed on ${m.height}×${m.width} frames: ${what}`);
    }
    // The one necessary copy: out of the wasm heap, which the next call overwrites.
    return { data: m.flow.data32F.slice(), height: m.height, width: m.width };
  }

  private check(fn: string, frames: readonly Image[]): void {
    if (this.disposed) throw new ValidationError(fn, 'this', 'an undisposed FarnebackFlow', 'disposed');
    const first = frames[0]!;
    frames.forEach((f, i) => {
      checkImage(fn, `frames[${i}]`, f);
      if (f.height !== first.height || f.width !== first.width) {
        throw new ValidationError(fn, `frames[${i}]`, `a ${first.height}×${first.width} frame`, `${f.height}×${f.width}`);
      }
    });
  }

  /**
   * Flow from `prev` to `next` (both `[H, W, C]` images, float in [0, 1] or bytes; RGB is converted to BT.601 gray).
   *
   * @example
   * ```ts
   * const { data, height, width } = flow.compute(frame0, frame1); // data[(y*width + x)*2] = dx
   * ```
   */
  compute(prev: Image, next: Image): FlowField {
    this.check('FarnebackFlow.compute', [prev, next]);
    const m = this.ensureMats(prev.height, prev.width);
    writeGray8(prev, m.prev.data);
    writeGray8(next, m.next.data);
    return this.run(m);
  }

  /**
   * Flows between adjacent frames (`T − 1` fields for `T` frames); each frame is converted to gray once.
   *
   * @example
   * ```ts
   * const fields = flow.computeSequence(frames); // fields[t]: frames[t] → frames[t + 1]
   * ```
   */
  computeSequence(frames: readonly Image[]): FlowField[] {
    const fn = 'FarnebackFlow.computeSequence';
    if (!Array.isArray(frames) || frames.length < 2) {
      throw new ValidationError(fn, 'frames', 'an array of at least 2 frames', frames);
    }
    this.check(fn, frames);
    const m = this.ensureMats(frames[0]!.height, frames[0]!.width);
    const out: FlowField[] = [];
    writeGray8(frames[0]!, m.prev.data);
    for (let t = 1; t < frames.length; t++) {
      writeGray8(frames[t]!, m.next.data);
      out.push(this.run(m));
      [m.prev, m.next] = [m.next, m.prev]; // the current "next" is the following pair's "prev"
    }
    return out;
  }

  /** Free the OpenCV matrices (the OpenCV module itself stays loaded for the process). */
  dispose(): void {
    this.freeMats();
    this.disposed = true;
  }
}
