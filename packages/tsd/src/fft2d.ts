/**
 * A reusable 2-D complex FFT of one size on float64 buffers, backed by `ndarray-fft` (radix 2 for powers of two,
 * Bluestein's algorithm for every other length, so any H × W works).
 *
 * @packageDocumentation
 */
import ndarray from 'ndarray';
import fft from 'ndarray-fft';

/**
 * In-place 2-D FFT of `re + i·im`, both `[H, W]` row-major float64 buffers owned by the plan (reused between calls:
 * no per-call allocation of the image-sized arrays).
 *
 * Conventions as numpy: `forward` computes `Σ x·e^{−2πi(uk/H + vl/W)}` (no scaling), `inverse` the same with `+`
 * and a `1/(H·W)` factor, so `inverse(forward(x)) = x`.
 *
 * @example
 * ```ts
 * import { Fft2d } from '@consistent-avatar/tsd';
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
  private readonly reView: ndarray.NdArray<Float64Array>;
  private readonly imView: ndarray.NdArray<Float64Array>;

  constructor(
    readonly height: number,
    readonly width: number,
  ) {
    this.re = new Float64Array(height * width);
    this.im = new Float64Array(height * width);
    this.reView = ndarray(this.re, [height, width]); // [H, W]
    this.imView = ndarray(this.im, [height, width]); // [H, W]
  }

  /** Forward transform of `re + i·im`, in place. */
  forward(): void {
    // ndarray-fft's direction 1 uses e^{+2πi…} (unscaled): conj(fft(conj x)) gives numpy's e^{−2πi…}.
    negate(this.im);
    fft(1, this.reView, this.imView);
    negate(this.im);
  }

  /** Inverse transform (scaled by 1/(H·W)), in place. */
  inverse(): void {
    // ndarray-fft's direction −1 uses e^{−2πi…} with the 1/N scale: conjugate around it for numpy's ifft2.
    negate(this.im);
    fft(-1, this.reView, this.imView);
    negate(this.im);
  }
}

function negate(values: Float64Array): void {
  for (let t = 0; t < values.length; t++) values[t] = -values[t]!;
}
