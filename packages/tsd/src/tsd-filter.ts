/**
 * The TSD filter for one image size: per plane, `z = ifft2(ifftshift(fftshift(fft2(x)) · M))`, computed as
 * `ifft2(fft2(x) · ifftshift(M))` with the mask precomputed in the unshifted layout (no data is shifted).
 *
 * When the mask is Hermitian-symmetric (always for the default `'dc'` centre), the filtered plane is real, so two
 * real planes `a`, `b` go through ONE complex transform as `a + i·b` and come back as `Re z = filt(a)`,
 * `Im z = filt(b)`. That halves the FFT work for RGB images and batches.
 *
 * @packageDocumentation
 */
import { Fft2d, type FftEngine } from './fft2d.js';
import { highPassMask, type HighPassMask } from './high-pass-mask.js';
import type { ResolvedTsdOptions } from './tsd-options.js';

/**
 * Fills a `[H, W]` float64 buffer with one input plane.
 *
 * @example
 * ```ts
 * import type { PlaneFill } from '@consistent-avatar/tsd';
 * const ramp: PlaneFill = (target) => target.forEach((_, t) => (target[t] = t / target.length));
 * ```
 */
export type PlaneFill = (target: Float64Array) => void;
/**
 * Receives one filtered plane: `re` (and `im`, or `null` when the result is real by symmetry), `[H, W]` float64.
 * The buffers are reused by the next transform: copy what you need.
 *
 * @example
 * ```ts
 * import type { PlaneEmit } from '@consistent-avatar/tsd';
 * const keep = new Float64Array(64 * 64);
 * const magnitude: PlaneEmit = (re, im) => re.forEach((v, t) => (keep[t] = Math.hypot(v, im ? im[t] : 0)));
 * ```
 */
export type PlaneEmit = (re: Float64Array, im: Float64Array | null) => void;

/**
 * A cached filter plan for one `(H, W, mask, radius, centre)`: the mask and the FFT buffers are built once and
 * reused for every image / frame of that size.
 *
 * @example
 * ```ts
 * import { TsdFilter, TSD_DEFAULTS } from '@consistent-avatar/tsd';
 * const filter = new TsdFilter(4, 4, { ...TSD_DEFAULTS, radius: 1 });
 * const out = new Float64Array(16);
 * filter.filterPlanes([{ fill: (t) => t.fill(0.5), emit: (re) => out.set(re) }]);
 * console.log(Math.max(...out.map(Math.abs)) < 1e-12); // true: a constant image has no detail
 * ```
 */
export class TsdFilter {
  readonly mask: HighPassMask;
  private readonly fft: Fft2d;

  /**
   * @param height - H.
   * @param width - W.
   * @param options - resolved filter options.
   * @param engine - FFT implementation (default `'native'`; `'ndarray-fft'` for comparison).
   */
  constructor(
    readonly height: number,
    readonly width: number,
    readonly options: ResolvedTsdOptions,
    engine: FftEngine = 'native',
  ) {
    this.mask = highPassMask(height, width, options.mask, options.radius, options.centre);
    this.fft = new Fft2d(height, width, engine);
  }

  /** Run the filter on a list of planes (paired two per transform when the mask allows it). */
  filterPlanes(planes: readonly { fill: PlaneFill; emit: PlaneEmit }[]): void {
    const { re, im } = this.fft;
    const step = this.mask.hermitian ? 2 : 1;
    for (let n = 0; n < planes.length; n += step) {
      const a = planes[n]!;
      const b = step === 2 ? planes[n + 1] : undefined;
      // 1. x = a (+ i·b).
      a.fill(re);
      if (b) b.fill(im);
      // 2. z = ifft2(fft2(x) · ifftshift(M)); a lone real plane with a symmetric mask takes the real-input path.
      if (b) this.fft.filter(this.mask.weights);
      else if (this.mask.hermitian) this.fft.filterReal(this.mask.weights);
      else {
        im.fill(0);
        this.fft.filter(this.mask.weights);
      }
      // 3. Hand back filt(a) (= Re z when symmetric) and filt(b) (= Im z).
      if (this.mask.hermitian) {
        a.emit(re, null);
        if (b) b.emit(im, null);
      } else {
        a.emit(re, im);
      }
    }
  }
}

// A 512² plan holds ~12 MB (four float64 work buffers and two masks), a 1024² plan ~50 MB.
const CACHE_LIMIT = 4;
const cache = new Map<string, TsdFilter>();

/**
 * The cached {@link TsdFilter} for a size and options (least-recently-used cache of 4 plans), so a frame stream or
 * repeated calls at one size build the mask and FFT buffers once. {@link clearTsdFilterCache} frees them.
 *
 * @example
 * ```ts
 * import { getTsdFilter, TSD_DEFAULTS } from '@consistent-avatar/tsd';
 * console.log(getTsdFilter(64, 64, TSD_DEFAULTS) === getTsdFilter(64, 64, TSD_DEFAULTS)); // true
 * ```
 */
export function getTsdFilter(height: number, width: number, options: ResolvedTsdOptions): TsdFilter {
  const key = `${height}x${width}|${options.mask}|${options.radius}|${options.centre}|${options.channels}|${options.output}`;
  let filter = cache.get(key);
  if (filter) {
    cache.delete(key); // move to most-recent position
  } else {
    filter = new TsdFilter(height, width, options);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, filter);
  return filter;
}

/**
 * Drop every cached {@link TsdFilter} (their float64 buffers are then garbage-collected).
 *
 * @example
 * ```ts
 * import { clearTsdFilterCache } from '@consistent-avatar/tsd';
 * clearTsdFilterCache(); // e.g. after processing a high-resolution video
 * ```
 */
export function clearTsdFilterCache(): void {
  cache.clear();
}
