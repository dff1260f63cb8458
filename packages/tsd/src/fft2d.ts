/**
 * A reusable 2-D complex FFT of one size on float64 buffers, with two engines:
 * - `'native'` (default): our {@link FftPlan} (mixed-radix Stockham for sizes whose prime factors are ≤ 13,
 *   Bluestein otherwise) per row, columns through a cache-blocked transpose; twiddles precomputed, no allocation
 *   per call. For filtering, the spectrum stays transposed between the forward and inverse transforms (two
 *   transposes instead of four) and the 1/(H·W) scale is folded into the mask.
 * - `'ndarray-fft'`: the `ndarray-fft` package (radix 2 for powers of two, Bluestein otherwise), kept as a second
 *   implementation and as the baseline of `bench/tsd.ts`.
 *
 * The FFT behind `extractTsd` and `releaseTsd`; not part of the package index.
 *
 * @packageDocumentation
 */
import ndarray from 'ndarray';
import ndFft from 'ndarray-fft';
import { FftPlan } from './fft-plan.js';

/**
 * Which FFT implementation a {@link Fft2d} uses: `'native'` ({@link FftPlan}, default) or `'ndarray-fft'`.
 *
 * @example
 * ```ts
 * import { Fft2d, type FftEngine } from './fft2d.js';
 * const engine: FftEngine = 'ndarray-fft';
 * const plan = new Fft2d(64, 64, engine);
 * ```
 */
export type FftEngine = 'native' | 'ndarray-fft';

// Small blocks: with 32×32 blocks a power-of-two row stride (512 doubles = 4 KiB) thrashes the cache sets;
// measured 5 ms (8×8) vs 19 ms (32×32) for a 512² transpose.
const BLOCK = 8;

/** `dst [cols, rows] = srcᵀ` for `src [rows, cols]`, in cache-sized blocks. */
function transpose(
  srcRe: Float64Array,
  srcIm: Float64Array,
  dstRe: Float64Array,
  dstIm: Float64Array,
  rows: number,
  cols: number,
): void {
  for (let i0 = 0; i0 < rows; i0 += BLOCK) {
    const i1 = Math.min(i0 + BLOCK, rows);
    for (let j0 = 0; j0 < cols; j0 += BLOCK) {
      const j1 = Math.min(j0 + BLOCK, cols);
      for (let i = i0; i < i1; i++) {
        let s = i * cols + j0;
        let d = j0 * rows + i;
        for (let j = j0; j < j1; j++, s++, d += rows) {
          dstRe[d] = srcRe[s]!;
          dstIm[d] = srcIm[s]!;
        }
      }
    }
  }
}

function negate(values: Float64Array): void {
  for (let t = 0; t < values.length; t++) values[t] = -values[t]!;
}

/**
 * In-place 2-D FFT of `re + i·im`, both `[H, W]` row-major float64 buffers owned by the plan (reused between calls).
 *
 * Conventions as numpy: `forward` computes `Σ x·e^{−2πi(uk/H + vl/W)}` (no scaling), `inverse` the same with `+`
 * and a `1/(H·W)` factor, so `inverse(forward(x)) = x`. {@link Fft2d.filter} computes `inverse(forward(x) · M)`.
 *
 * @example
 * ```ts
 * import { Fft2d } from './fft2d.js';
 * const plan = new Fft2d(3, 5);
 * plan.re.fill(1);
 * plan.forward();
 * console.log(plan.re[0], Math.abs(plan.re[1]) < 1e-12); // 15 true  (all energy at DC)
 * plan.inverse();
 * console.log(plan.re[7].toFixed(12)); // 1.000000000000
 * ```
 */
export class Fft2d {
  /** Real part, `[H, W]` row-major. */
  readonly re: Float64Array;
  /** Imaginary part, `[H, W]` row-major. */
  readonly im: Float64Array;
  private readonly rowPlan: FftPlan | null = null;
  private readonly colPlan: FftPlan | null = null;
  /** `[W, H]` transposed work buffers (native engine). */
  private readonly tRe: Float64Array | null = null;
  private readonly tIm: Float64Array | null = null;
  private readonly reView: ndarray.NdArray<Float64Array> | null = null;
  private readonly imView: ndarray.NdArray<Float64Array> | null = null;
  /** Mask transposed to `[W, H]` and scaled by 1/(H·W), for the mask last given to {@link filter}. */
  private maskSource: Float64Array | null = null;
  private maskTransposed: Float64Array | null = null;
  /** One row of work space (native engine, {@link filterReal}). */
  private readonly rowRe: Float64Array;
  private readonly rowIm: Float64Array;

  constructor(
    readonly height: number,
    readonly width: number,
    readonly engine: FftEngine = 'native',
  ) {
    this.re = new Float64Array(height * width);
    this.im = new Float64Array(height * width);
    this.rowRe = new Float64Array(width);
    this.rowIm = new Float64Array(width);
    if (engine === 'native') {
      this.rowPlan = new FftPlan(width);
      this.colPlan = width === height ? this.rowPlan : new FftPlan(height);
      this.tRe = new Float64Array(height * width);
      this.tIm = new Float64Array(height * width);
    } else {
      this.reView = ndarray(this.re, [height, width]); // [H, W]
      this.imView = ndarray(this.im, [height, width]); // [H, W]
    }
  }

  /** Row transforms of a `[rows, length]` buffer pair. */
  private rows(plan: FftPlan, re: Float64Array, im: Float64Array, rows: number, sign: 1 | -1): void {
    for (let i = 0; i < rows; i++) plan.transform(re, im, i * plan.n, sign);
  }

  /** Native: `re/im [H, W]` → 2-D spectrum transposed in `tRe/tIm [W, H]`. */
  private forwardToTransposed(): void {
    this.rows(this.rowPlan!, this.re, this.im, this.height, -1); // along W
    transpose(this.re, this.im, this.tRe!, this.tIm!, this.height, this.width); // [W, H]
    this.rows(this.colPlan!, this.tRe!, this.tIm!, this.width, -1); // along H
  }

  /** Native: transposed spectrum `tRe/tIm [W, H]` → `re/im [H, W]`, unscaled inverse. */
  private inverseFromTransposed(): void {
    this.rows(this.colPlan!, this.tRe!, this.tIm!, this.width, 1); // along H
    transpose(this.tRe!, this.tIm!, this.re, this.im, this.width, this.height); // [H, W]
    this.rows(this.rowPlan!, this.re, this.im, this.height, 1); // along W
  }

  /** Forward transform of `re + i·im`, in place. */
  forward(): void {
    if (this.engine === 'native') {
      this.forwardToTransposed();
      transpose(this.tRe!, this.tIm!, this.re, this.im, this.width, this.height); // [H, W]
      return;
    }
    // ndarray-fft's direction 1 uses e^{+2πi…} (unscaled): conj(fft(conj x)) gives numpy's e^{−2πi…}.
    negate(this.im);
    ndFft(1, this.reView!, this.imView!);
    negate(this.im);
  }

  /** Inverse transform (scaled by 1/(H·W)), in place. */
  inverse(): void {
    if (this.engine === 'native') {
      transpose(this.re, this.im, this.tRe!, this.tIm!, this.height, this.width); // [W, H]
      this.inverseFromTransposed();
      const scale = 1 / (this.height * this.width);
      for (let t = 0; t < this.re.length; t++) {
        this.re[t]! *= scale;
        this.im[t]! *= scale;
      }
      return;
    }
    // ndarray-fft's direction −1 uses e^{−2πi…} with the 1/N scale: conjugate around it for numpy's ifft2.
    negate(this.im);
    ndFft(-1, this.reView!, this.imView!);
    negate(this.im);
  }

  /**
   * `re + i·im ← ifft2(fft2(re + i·im) · weights)` for a real `[H, W]` mask in the unshifted `fft2` layout.
   *
   * @example
   * ```ts
   * import { Fft2d } from './fft2d.js';
   * const plan = new Fft2d(4, 6);
   * plan.re.fill(2);
   * plan.filter(new Float64Array(24).fill(1).fill(0, 0, 1)); // remove DC only
   * console.log(Math.abs(plan.re[5]) < 1e-12); // true
   * ```
   */
  filter(weights: Float64Array): void {
    const { height, width } = this;
    if (this.engine !== 'native') {
      this.forward();
      for (let t = 0; t < weights.length; t++) {
        this.re[t]! *= weights[t]!;
        this.im[t]! *= weights[t]!;
      }
      this.inverse();
      return;
    }
    this.forwardToTransposed();
    const m = this.transposedMask(weights);
    const tRe = this.tRe!;
    const tIm = this.tIm!;
    for (let t = 0; t < m.length; t++) {
      tRe[t]! *= m[t]!;
      tIm[t]! *= m[t]!;
    }
    this.inverseFromTransposed();
  }

  /** The mask in the spectrum's `[W, H]` layout with the inverse's 1/(H·W) folded in (built once per mask). */
  private transposedMask(weights: Float64Array): Float64Array {
    if (this.maskSource !== weights) {
      const { height, width } = this;
      const scaled = new Float64Array(height * width);
      const scale = 1 / (height * width);
      for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) scaled[j * height + i] = weights[i * width + j]! * scale;
      this.maskSource = weights;
      this.maskTransposed = scaled;
    }
    return this.maskTransposed!;
  }

  /**
   * `re ← ifft2(fft2(re) · weights)` for a REAL plane `re` and a Hermitian-symmetric mask (so the result is real);
   * `im` is used as work space. About half the work of {@link filter}: rows are transformed two at a time as one
   * complex row (`row_i + i·row_{i+1}`, separated by Hermitian symmetry), and only the ⌊W/2⌋ + 1 non-redundant
   * spectrum columns are transformed and filtered.
   *
   * @example
   * ```ts
   * import { Fft2d } from './fft2d.js';
   * import { highPassMask } from './extract-tsd.js';
   * const plan = new Fft2d(6, 8);
   * plan.re.fill(3);
   * plan.filterReal(highPassMask(6, 8, 'gaussian', 1).weights);
   * console.log(Math.abs(plan.re[10]) < 1e-12); // true: DC removed
   * ```
   */
  filterReal(weights: Float64Array): void {
    if (this.engine !== 'native') {
      this.im.fill(0);
      this.filter(weights);
      return;
    }
    const { height: h, width: w, re, rowRe, rowIm } = this;
    const tRe = this.tRe!;
    const tIm = this.tIm!;
    const half = Math.floor(w / 2) + 1; // non-redundant columns k = 0 … ⌊W/2⌋
    const m = this.transposedMask(weights); // [W, H]; its first `half` rows are the columns kept
    // 1. Rows two at a time: Z = fft(row_a + i·row_b); A_k = (Z_k + conj Z_{−k})/2, B_k = (Z_k − conj Z_{−k})/(2i).
    for (let a = 0; a < h; a += 2) {
      const b = a + 1;
      rowRe.set(re.subarray(a * w, (a + 1) * w));
      if (b < h) rowIm.set(re.subarray(b * w, (b + 1) * w));
      else rowIm.fill(0);
      this.rowPlan!.transform(rowRe, rowIm, 0, -1);
      for (let k = 0; k < half; k++) {
        const kk = (w - k) % w;
        const zr = rowRe[k]!;
        const zi = rowIm[k]!;
        const cr = rowRe[kk]!;
        const ci = rowIm[kk]!;
        tRe[k * h + a] = 0.5 * (zr + cr); // [half, H] transposed half-spectrum
        tIm[k * h + a] = 0.5 * (zi - ci);
        if (b < h) {
          tRe[k * h + b] = 0.5 * (zi + ci);
          tIm[k * h + b] = -0.5 * (zr - cr);
        }
      }
    }
    // 2. Columns: forward, mask (scaled by 1/(H·W)), inverse — only the `half` kept columns.
    for (let k = 0; k < half; k++) {
      this.colPlan!.transform(tRe, tIm, k * h, -1);
      for (let t = k * h; t < (k + 1) * h; t++) {
        tRe[t]! *= m[t]!;
        tIm[t]! *= m[t]!;
      }
      this.colPlan!.transform(tRe, tIm, k * h, 1);
    }
    // 3. Rows two at a time back: rebuild A, B on all W bins (A_{W−k} = conj A_k: the result is real), Z = A + i·B,
    //    z = ifft(Z): Re z = row_a, Im z = row_b.
    for (let a = 0; a < h; a += 2) {
      const b = a + 1;
      for (let k = 0; k < w; k++) {
        const mirrored = k >= half;
        const kk = mirrored ? w - k : k;
        const sign = mirrored ? -1 : 1;
        const ar = tRe[kk * h + a]!;
        const ai = sign * tIm[kk * h + a]!;
        const br = b < h ? tRe[kk * h + b]! : 0;
        const bi = b < h ? sign * tIm[kk * h + b]! : 0;
        rowRe[k] = ar - bi;
        rowIm[k] = ai + br;
      }
      this.rowPlan!.transform(rowRe, rowIm, 0, 1);
      re.set(rowRe, a * w);
      if (b < h) re.set(rowIm, b * w);
    }
  }
}
