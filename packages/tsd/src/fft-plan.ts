/**
 * A precomputed 1-D complex FFT of one length `n` (any n ≥ 1), on float64 arrays, with no allocation per call.
 *
 * - n whose prime factors are all ≤ 13: mixed-radix Stockham autosort (radix 4, 2, 3, 5 and a generic small-prime
 *   butterfly for 7, 11, 13), so no bit reversal and one twiddle table per stage, built once.
 * - otherwise (a prime factor > 13): Bluestein's chirp-z algorithm on a power-of-two plan of length ≥ 2n − 1, with
 *   the chirp and the transformed chirp filter precomputed.
 *
 * The 1-D transform of `Fft2d`; not part of the package index.
 *
 * Stockham iteration (Govindaraju et al., "High performance discrete Fourier transforms on graphics processors",
 * SC 2008): with `Ns` the length of the sub-transforms done so far and radix R, for each j < n/R, k = j mod Ns:
 * `v_r = src[j + r·n/R] · e^{s·2πi·r·k/(Ns·R)}`, `v ← DFT_R(v)`, `dst[⌊j/Ns⌋·Ns·R + k + r·Ns] = v_r`.
 *
 * @packageDocumentation
 */

const LARGEST_DIRECT_PRIME = 13;

/** Radices for n, largest first as 4s, then 2, 3, 5, 7, 11, 13; null if a prime factor exceeds 13. */
function factorize(n: number): number[] | null {
  const radices: number[] = [];
  let m = n;
  while (m % 4 === 0) {
    radices.push(4);
    m /= 4;
  }
  for (const p of [2, 3, 5, 7, 11, LARGEST_DIRECT_PRIME]) {
    while (m % p === 0) {
      radices.push(p);
      m /= p;
    }
  }
  return m === 1 ? radices : null;
}

interface Stage {
  radix: number;
  /** Sub-transform length before this stage. */
  ns: number;
  /** e^{−2πi·r·k/(ns·R)} at [k·R + r]. */
  twRe: Float64Array;
  twIm: Float64Array;
}

/**
 * 1-D FFT plan. `transform(re, im, offset, stride=1…)` works in place on `n` contiguous values at `offset`.
 *
 * Conventions: `sign = −1` is numpy's `fft` (`Σ x_j e^{−2πi jk/n}`), `sign = +1` the unscaled inverse
 * (`n · ifft`).
 *
 * @example
 * ```ts
 * import { FftPlan } from './fft-plan.js';
 * const plan = new FftPlan(6);
 * const re = Float64Array.from([1, 2, 3, 4, 5, 6]), im = new Float64Array(6);
 * plan.transform(re, im, 0, -1);
 * console.log(re[0], re[3].toFixed(6)); // 21 -3.000000
 * ```
 */
export class FftPlan {
  private readonly stages: Stage[] = [];
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;
  /** Bluestein only. */
  private readonly bluestein: {
    inner: FftPlan;
    m: number;
    chirpRe: Float64Array; // e^{−iπ j²/n}
    chirpIm: Float64Array;
    filterRe: Float64Array; // FFT_m of conj(chirp), circularly extended
    filterIm: Float64Array;
    workRe: Float64Array;
    workIm: Float64Array;
  } | null = null;
  /** Roots of unity e^{−2πi t/R} for the generic radices. */
  private readonly roots = new Map<number, { re: Float64Array; im: Float64Array }>();
  /** Work space of the generic butterfly (R ≤ 13). */
  private readonly butterflyRe = new Float64Array(LARGEST_DIRECT_PRIME);
  private readonly butterflyIm = new Float64Array(LARGEST_DIRECT_PRIME);

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`FftPlan: length must be a positive integer, got ${n}`);
    this.scratchRe = new Float64Array(n);
    this.scratchIm = new Float64Array(n);
    const radices = factorize(n);
    if (radices) {
      let ns = 1;
      for (const radix of radices) {
        const twRe = new Float64Array(ns * radix);
        const twIm = new Float64Array(ns * radix);
        for (let k = 0; k < ns; k++) {
          for (let r = 0; r < radix; r++) {
            const angle = (-2 * Math.PI * r * k) / (ns * radix);
            twRe[k * radix + r] = Math.cos(angle);
            twIm[k * radix + r] = Math.sin(angle);
          }
        }
        this.stages.push({ radix, ns, twRe, twIm });
        if (radix > 5 && !this.roots.has(radix)) {
          const re = new Float64Array(radix);
          const im = new Float64Array(radix);
          for (let t = 0; t < radix; t++) {
            re[t] = Math.cos((-2 * Math.PI * t) / radix);
            im[t] = Math.sin((-2 * Math.PI * t) / radix);
          }
          this.roots.set(radix, { re, im });
        }
        ns *= radix;
      }
      return;
    }
    // Bluestein: X_k = c_k · Σ_j (x_j c_j) · conj(c_{k−j}), c_j = e^{−iπ j²/n}.
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    const inner = new FftPlan(m);
    const chirpRe = new Float64Array(n);
    const chirpIm = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const angle = (-Math.PI * ((j * j) % (2 * n))) / n; // j² mod 2n keeps the angle exact for large j
      chirpRe[j] = Math.cos(angle);
      chirpIm[j] = Math.sin(angle);
    }
    const filterRe = new Float64Array(m);
    const filterIm = new Float64Array(m);
    for (let j = 0; j < n; j++) {
      filterRe[j] = chirpRe[j]!;
      filterIm[j] = -chirpIm[j]!;
      if (j > 0) {
        filterRe[m - j] = chirpRe[j]!;
        filterIm[m - j] = -chirpIm[j]!;
      }
    }
    inner.transform(filterRe, filterIm, 0, -1);
    this.bluestein = { inner, m, chirpRe, chirpIm, filterRe, filterIm, workRe: new Float64Array(m), workIm: new Float64Array(m) };
  }

  /**
   * Transform `re/im[offset … offset + n)` in place.
   *
   * @param sign - −1 forward (numpy `fft`), +1 unscaled inverse.
   */
  transform(re: Float64Array, im: Float64Array, offset: number, sign: 1 | -1): void {
    if (this.bluestein) {
      this.transformBluestein(re, im, offset, sign);
      return;
    }
    // Ping-pong between the caller's array (at offset) and the scratch (at 0).
    let srcRe = re;
    let srcIm = im;
    let srcOff = offset;
    let dstRe = this.scratchRe;
    let dstIm = this.scratchIm;
    let dstOff = 0;
    for (const stage of this.stages) {
      this.stage(stage, srcRe, srcIm, srcOff, dstRe, dstIm, dstOff, sign);
      [srcRe, dstRe] = [dstRe, srcRe];
      [srcIm, dstIm] = [dstIm, srcIm];
      [srcOff, dstOff] = [dstOff, srcOff];
    }
    if (srcRe !== re) {
      re.set(srcRe.subarray(0, this.n), offset);
      im.set(srcIm.subarray(0, this.n), offset);
    }
  }

  private stage(
    { radix, ns, twRe, twIm }: Stage,
    sRe: Float64Array,
    sIm: Float64Array,
    sOff: number,
    dRe: Float64Array,
    dIm: Float64Array,
    dOff: number,
    sign: number,
  ): void {
    const n = this.n;
    const stride = n / radix; // distance between the R inputs of one butterfly
    const groups = stride / ns;
    if (radix === 4) {
      for (let q = 0; q < groups; q++) {
        for (let k = 0; k < ns; k++) {
          const j = sOff + q * ns + k;
          const t = k * 4;
          // v_r = src[j + r·stride] · twiddle_r (twiddle_0 = 1); unrolled on purpose: this is the hot loop.
          const a0r = sRe[j]!;
          const a0i = sIm[j]!;
          let xr = sRe[j + stride]!;
          let xi = sIm[j + stride]!;
          let wr = twRe[t + 1]!;
          let wi = -sign * twIm[t + 1]!;
          const a1r = xr * wr - xi * wi;
          const a1i = xr * wi + xi * wr;
          xr = sRe[j + 2 * stride]!;
          xi = sIm[j + 2 * stride]!;
          wr = twRe[t + 2]!;
          wi = -sign * twIm[t + 2]!;
          const a2r = xr * wr - xi * wi;
          const a2i = xr * wi + xi * wr;
          xr = sRe[j + 3 * stride]!;
          xi = sIm[j + 3 * stride]!;
          wr = twRe[t + 3]!;
          wi = -sign * twIm[t + 3]!;
          const a3r = xr * wr - xi * wi;
          const a3i = xr * wi + xi * wr;
          // DFT_4 with w = e^{s·iπ/2} = s·i: y1 = (a0 − a2) + w(a1 − a3), y3 = (a0 − a2) − w(a1 − a3).
          const b0r = a0r + a2r;
          const b0i = a0i + a2i;
          const b1r = a0r - a2r;
          const b1i = a0i - a2i;
          const c0r = a1r + a3r;
          const c0i = a1i + a3i;
          const c1r = a1r - a3r;
          const c1i = a1i - a3i;
          // w·(c1) = s·i·(c1r + i c1i) = s·(−c1i + i c1r)
          const wc1r = -sign * c1i;
          const wc1i = sign * c1r;
          const d = dOff + q * ns * 4 + k;
          dRe[d] = b0r + c0r;
          dIm[d] = b0i + c0i;
          dRe[d + ns] = b1r + wc1r;
          dIm[d + ns] = b1i + wc1i;
          dRe[d + 2 * ns] = b0r - c0r;
          dIm[d + 2 * ns] = b0i - c0i;
          dRe[d + 3 * ns] = b1r - wc1r;
          dIm[d + 3 * ns] = b1i - wc1i;
        }
      }
    } else if (radix === 2) {
      for (let q = 0; q < groups; q++) {
        for (let k = 0; k < ns; k++) {
          const j = sOff + q * ns + k;
          const wr = twRe[k * 2 + 1]!;
          const wi = -sign * twIm[k * 2 + 1]!;
          const xr = sRe[j + stride]!;
          const xi = sIm[j + stride]!;
          const a1r = xr * wr - xi * wi;
          const a1i = xr * wi + xi * wr;
          const d = dOff + q * ns * 2 + k;
          dRe[d] = sRe[j]! + a1r;
          dIm[d] = sIm[j]! + a1i;
          dRe[d + ns] = sRe[j]! - a1r;
          dIm[d + ns] = sIm[j]! - a1i;
        }
      }
    } else if (radix === 3) {
      const h = sign * (Math.sqrt(3) / 2); // Im e^{s·2πi/3}
      for (let q = 0; q < groups; q++) {
        for (let k = 0; k < ns; k++) {
          const j = sOff + q * ns + k;
          const t = k * 3;
          let wr = twRe[t + 1]!;
          let wi = -sign * twIm[t + 1]!;
          const a1r = sRe[j + stride]! * wr - sIm[j + stride]! * wi;
          const a1i = sRe[j + stride]! * wi + sIm[j + stride]! * wr;
          wr = twRe[t + 2]!;
          wi = -sign * twIm[t + 2]!;
          const a2r = sRe[j + 2 * stride]! * wr - sIm[j + 2 * stride]! * wi;
          const a2i = sRe[j + 2 * stride]! * wi + sIm[j + 2 * stride]! * wr;
          const sr = a1r + a2r;
          const si = a1i + a2i;
          const mr = sRe[j]! - 0.5 * sr;
          const mi = sIm[j]! - 0.5 * si;
          // ±i·h·(a1 − a2)
          const er = -h * (a1i - a2i);
          const ei = h * (a1r - a2r);
          const d = dOff + q * ns * 3 + k;
          dRe[d] = sRe[j]! + sr;
          dIm[d] = sIm[j]! + si;
          dRe[d + ns] = mr + er;
          dIm[d + ns] = mi + ei;
          dRe[d + 2 * ns] = mr - er;
          dIm[d + 2 * ns] = mi - ei;
        }
      }
    } else if (radix === 5) {
      // DFT_5: y0 = a0 + t1 + t2; y1,4 = a0 + c1·t1 + c2·t2 ± i·s(s1·t3 + s2·t4); y2,3 = a0 + c2·t1 + c1·t2 ± i·s(s2·t3 − s1·t4)
      // with t1 = a1 + a4, t2 = a2 + a3, t3 = a1 − a4, t4 = a2 − a3.
      const c1 = Math.cos((2 * Math.PI) / 5);
      const c2 = Math.cos((4 * Math.PI) / 5);
      const s1 = sign * Math.sin((2 * Math.PI) / 5);
      const s2 = sign * Math.sin((4 * Math.PI) / 5);
      const ar = this.butterflyRe;
      const ai = this.butterflyIm;
      for (let q = 0; q < groups; q++) {
        for (let k = 0; k < ns; k++) {
          const j = sOff + q * ns + k;
          ar[0] = sRe[j]!;
          ai[0] = sIm[j]!;
          for (let r = 1; r < 5; r++) {
            const wr = twRe[k * 5 + r]!;
            const wi = -sign * twIm[k * 5 + r]!;
            const xr = sRe[j + r * stride]!;
            const xi = sIm[j + r * stride]!;
            ar[r] = xr * wr - xi * wi;
            ai[r] = xr * wi + xi * wr;
          }
          const t1r = ar[1]! + ar[4]!;
          const t1i = ai[1]! + ai[4]!;
          const t2r = ar[2]! + ar[3]!;
          const t2i = ai[2]! + ai[3]!;
          const t3r = ar[1]! - ar[4]!;
          const t3i = ai[1]! - ai[4]!;
          const t4r = ar[2]! - ar[3]!;
          const t4i = ai[2]! - ai[3]!;
          const m1r = ar[0]! + c1 * t1r + c2 * t2r;
          const m1i = ai[0]! + c1 * t1i + c2 * t2i;
          const m2r = ar[0]! + c2 * t1r + c1 * t2r;
          const m2i = ai[0]! + c2 * t1i + c1 * t2i;
          // i·n for n = s1·t3 + s2·t4 and s2·t3 − s1·t4: i·(nr + i·ni) = −ni + i·nr
          const n1r = s1 * t3r + s2 * t4r;
          const n1i = s1 * t3i + s2 * t4i;
          const n2r = s2 * t3r - s1 * t4r;
          const n2i = s2 * t3i - s1 * t4i;
          const d = dOff + q * ns * 5 + k;
          dRe[d] = ar[0]! + t1r + t2r;
          dIm[d] = ai[0]! + t1i + t2i;
          dRe[d + ns] = m1r - n1i;
          dIm[d + ns] = m1i + n1r;
          dRe[d + 2 * ns] = m2r - n2i;
          dIm[d + 2 * ns] = m2i + n2r;
          dRe[d + 3 * ns] = m2r + n2i;
          dIm[d + 3 * ns] = m2i - n2r;
          dRe[d + 4 * ns] = m1r + n1i;
          dIm[d + 4 * ns] = m1i - n1r;
        }
      }
    } else {
      // Generic odd prime radix: direct R-point DFT.
      const roots = this.roots.get(radix)!;
      const vr = this.butterflyRe;
      const vi = this.butterflyIm;
      for (let q = 0; q < groups; q++) {
        for (let k = 0; k < ns; k++) {
          const j = sOff + q * ns + k;
          for (let r = 0; r < radix; r++) {
            const wr = twRe[k * radix + r]!;
            const wi = -sign * twIm[k * radix + r]!;
            const xr = sRe[j + r * stride]!;
            const xi = sIm[j + r * stride]!;
            vr[r] = xr * wr - xi * wi;
            vi[r] = xr * wi + xi * wr;
          }
          const d = dOff + q * ns * radix + k;
          for (let m = 0; m < radix; m++) {
            let yr = 0;
            let yi = 0;
            for (let r = 0; r < radix; r++) {
              const t = (r * m) % radix;
              const cr = roots.re[t]!;
              const ci = -sign * roots.im[t]!;
              yr += vr[r]! * cr - vi[r]! * ci;
              yi += vr[r]! * ci + vi[r]! * cr;
            }
            dRe[d + m * ns] = yr;
            dIm[d + m * ns] = yi;
          }
        }
      }
    }
  }

  private transformBluestein(re: Float64Array, im: Float64Array, offset: number, sign: 1 | -1): void {
    const { inner, m, chirpRe, chirpIm, filterRe, filterIm, workRe, workIm } = this.bluestein!;
    const n = this.n;
    // The chirp for sign +1 is the conjugate one: conjugate input and output around the sign −1 algorithm.
    const s = sign === -1 ? 1 : -1;
    // 1. a_j = x_j · c_j, zero-padded to m.
    for (let j = 0; j < n; j++) {
      const xr = re[offset + j]!;
      const xi = s * im[offset + j]!;
      workRe[j] = xr * chirpRe[j]! - xi * chirpIm[j]!;
      workIm[j] = xr * chirpIm[j]! + xi * chirpRe[j]!;
    }
    workRe.fill(0, n);
    workIm.fill(0, n);
    // 2. Circular convolution with conj(c) through FFT_m.
    inner.transform(workRe, workIm, 0, -1);
    for (let t = 0; t < m; t++) {
      const ar = workRe[t]!;
      const ai = workIm[t]!;
      workRe[t] = ar * filterRe[t]! - ai * filterIm[t]!;
      workIm[t] = ar * filterIm[t]! + ai * filterRe[t]!;
    }
    inner.transform(workRe, workIm, 0, 1);
    // 3. X_k = c_k · conv_k / m.
    for (let k = 0; k < n; k++) {
      const cr = workRe[k]! / m;
      const ci = workIm[k]! / m;
      re[offset + k] = cr * chirpRe[k]! - ci * chirpIm[k]!;
      im[offset + k] = s * (cr * chirpIm[k]! + ci * chirpRe[k]!);
    }
  }
}
