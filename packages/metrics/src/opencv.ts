/**
 * Loads `@techstark/opencv-js` (OpenCV 4.12 compiled to wasm by emscripten) once per process.
 *
 * The module is a thenable emscripten `Module`: awaiting it directly loops forever (its `then` resolves with
 * itself), so we wait through `then` and delete it. Nothing is loaded on import; the first call of
 * {@link loadOpenCv} pays ~1–3 s.
 */
import { createRequire } from 'node:module';
import { guardCrashHandlers } from '@consistent-avatar/core';

/**
 * An OpenCV `cv.Mat` (only the members this package uses). Free it with `delete()`.
 * @example
 * ```ts
 * const cv = await loadOpenCv();
 * const m: CvMat = new cv.Mat(2, 2, cv.CV_32FC1);
 * m.data32F.set([1, 2, 3, 4]);
 * m.delete();
 * ```
 */
export interface CvMat {
  readonly rows: number;
  readonly cols: number;
  /** Views on the wasm heap (re-read after any allocation: heap growth detaches older views). */
  readonly data: Uint8Array;
  readonly data32F: Float32Array;
  /** OpenCV type code (e.g. `cv.CV_32FC2`). */
  type(): number;
  /** Free the matrix on the wasm heap (it is not garbage-collected). */
  delete(): void;
}

/**
 * The subset of the OpenCV.js namespace this package uses.
 * @example
 * ```ts
 * const cv: OpenCv = await loadOpenCv();
 * ```
 */
export interface OpenCv {
  Mat: new (rows: number, cols: number, type: number) => CvMat;
  CV_8UC1: number;
  CV_32FC1: number;
  CV_32FC2: number;
  CV_32FC3: number;
  CV_32FC4: number;
  INTER_LINEAR: number;
  BORDER_CONSTANT: number;
  OPTFLOW_FARNEBACK_GAUSSIAN: number;
  Scalar: new (...values: number[]) => unknown;
  /**
   * `cv.calcOpticalFlowFarneback`: dense flow from `prev` to `next` (8-bit single-channel) into `flow`
   * (`CV_32FC2`, per pixel (dx, dy)).
   */
  calcOpticalFlowFarneback(
    prev: CvMat,
    next: CvMat,
    flow: CvMat,
    pyrScale: number,
    levels: number,
    winSize: number,
    iterations: number,
    polyN: number,
    polySigma: number,
    flags: number,
  ): void;
  /** `cv.remap`: `dst(x, y) = src(map1(x, y), map2(x, y))` with the given interpolation and border handling. */
  remap(
    src: CvMat,
    dst: CvMat,
    map1: CvMat,
    map2: CvMat,
    interpolation: number,
    borderMode?: number,
    borderValue?: unknown,
  ): void;
}

let loading: Promise<OpenCv> | undefined;

/**
 * The OpenCV.js namespace, loaded on first call and shared afterwards.
 *
 * @example
 * ```ts
 * const cv = await loadOpenCv();
 * const m = new cv.Mat(4, 4, cv.CV_8UC1);
 * m.delete();
 * ```
 */
export function loadOpenCv(): Promise<OpenCv> {
  loading ??= new Promise<OpenCv>((resolve, reject) => {
    // opencv.js installs crash handlers that print its ~11 MB source on any uncaught error (exit code 7): replace them.
    const done = guardCrashHandlers();
    try {
      const require = createRequire(import.meta.url);
      const mod = require('@techstark/opencv-js') as OpenCv & { then?: (cb: (m: OpenCv) => void) => void };
      if (typeof mod.then !== 'function') {
        done();
        resolve(mod);
        return;
      }
      mod.then((ready) => {
        done();
        delete (ready as { then?: unknown }).then; // otherwise `await` would chase the thenable forever
        resolve(ready);
      });
    } catch (error) {
      done();
      loading = undefined;
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
  return loading;
}
