import { describe, expect, it } from 'vitest';
import { Rng } from '@consistent-avatar/core';
import { FftPlan } from './fft-plan.js';
import { Fft2d, type FftEngine } from './fft2d.js';
import { highPassMask } from './extract-tsd.js';

/** Direct O(n²) DFT `Σ x_j e^{sign·2πi jk/n}`. */
function dft(xr: Float64Array, xi: Float64Array, sign: number): [Float64Array, Float64Array] {
  const n = xr.length;
  const yr = new Float64Array(n);
  const yi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * ((j * k) % n)) / n;
      yr[k] += xr[j]! * Math.cos(a) - xi[j]! * Math.sin(a);
      yi[k] += xr[j]! * Math.sin(a) + xi[j]! * Math.cos(a);
    }
  }
  return [yr, yi];
}

function relativeError(ar: ArrayLike<number>, ai: ArrayLike<number>, br: ArrayLike<number>, bi: ArrayLike<number>): number {
  let err = 0;
  let ref = 0;
  for (let k = 0; k < br.length; k++) {
    err = Math.max(err, Math.abs(ar[k]! - br[k]!), Math.abs(ai[k]! - bi[k]!));
    ref = Math.max(ref, Math.abs(br[k]!), Math.abs(bi[k]!));
  }
  return err / ref;
}

describe('FftPlan (mixed-radix Stockham / Bluestein) against the direct DFT', () => {
  // Radix 4/2 (powers of two), 3, 5, generic 7/11/13, Bluestein (17, 97, 509, 1021 prime; 2·17 mixed).
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 25, 30, 34, 49, 64, 77, 97, 100, 121, 128, 143, 169, 250, 256, 500, 509, 512, 720, 1021];
  for (const n of sizes) {
    it(`n = ${n}, both directions, at an offset`, () => {
      const rng = new Rng(n);
      const xr = Float64Array.from(rng.normal(n));
      const xi = Float64Array.from(rng.normal(n));
      const plan = new FftPlan(n);
      for (const sign of [-1, 1] as const) {
        const re = new Float64Array(n + 7);
        const im = new Float64Array(n + 7);
        re.set(xr, 5);
        im.set(xi, 5);
        plan.transform(re, im, 5, sign);
        const [yr, yi] = dft(xr, xi, sign);
        expect(relativeError(re.subarray(5, 5 + n), im.subarray(5, 5 + n), yr, yi)).toBeLessThan(1e-12);
        // Values around the transformed range are untouched.
        expect([re[4], re[5 + n], im[4], im[5 + n]]).toEqual([0, 0, 0, 0]);
      }
    });
  }
  it('rejects a non-positive length', () => {
    expect(() => new FftPlan(0)).toThrow(RangeError);
  });
});

describe('Fft2d engines against the direct 2-D DFT', () => {
  for (const engine of ['native', 'ndarray-fft'] as FftEngine[]) {
    for (const [h, w] of [[7, 9], [12, 10], [11, 13], [17, 8], [16, 16]] as const) {
      it(`${engine} ${h}×${w}: forward, inverse and filter`, () => {
        const rng = new Rng(h * 100 + w);
        const xr = Float64Array.from(rng.normal(h * w));
        const xi = Float64Array.from(rng.normal(h * w));
        // Separable direct 2-D DFT: rows then columns.
        const yr = new Float64Array(h * w);
        const yi = new Float64Array(h * w);
        for (let i = 0; i < h; i++) {
          const [r, c] = dft(xr.subarray(i * w, (i + 1) * w), xi.subarray(i * w, (i + 1) * w), -1);
          yr.set(r, i * w);
          yi.set(c, i * w);
        }
        for (let j = 0; j < w; j++) {
          const colR = Float64Array.from({ length: h }, (_, i) => yr[i * w + j]!);
          const colI = Float64Array.from({ length: h }, (_, i) => yi[i * w + j]!);
          const [r, c] = dft(colR, colI, -1);
          for (let i = 0; i < h; i++) {
            yr[i * w + j] = r[i]!;
            yi[i * w + j] = c[i]!;
          }
        }
        const plan = new Fft2d(h, w, engine);
        plan.re.set(xr);
        plan.im.set(xi);
        plan.forward();
        expect(relativeError(plan.re, plan.im, yr, yi)).toBeLessThan(1e-12);
        plan.inverse();
        expect(relativeError(plan.re, plan.im, xr, xi)).toBeLessThan(1e-12);
        // filter(M) = inverse(forward(x) · M), M random, not symmetric.
        const mask = Float64Array.from(rng.uniform(h * w));
        const expected = new Fft2d(h, w, engine);
        expected.re.set(xr);
        expected.im.set(xi);
        expected.forward();
        for (let t = 0; t < h * w; t++) {
          expected.re[t]! *= mask[t]!;
          expected.im[t]! *= mask[t]!;
        }
        expected.inverse();
        plan.re.set(xr);
        plan.im.set(xi);
        plan.filter(mask);
        expect(relativeError(plan.re, plan.im, expected.re, expected.im)).toBeLessThan(1e-12);
      });
    }
  }
});

describe('Fft2d.filterReal (real plane, Hermitian mask) equals the complex filter', () => {
  for (const engine of ['native', 'ndarray-fft'] as FftEngine[]) {
    for (const [h, w] of [[7, 9], [12, 10], [17, 8], [16, 16], [1, 5], [5, 1], [6, 1], [3, 2]] as const) {
      it(`${engine} ${h}×${w}`, () => {
        const rng = new Rng(h * 31 + w);
        const x = Float64Array.from(rng.normal(h * w));
        for (const kind of ['gaussian', 'box'] as const) {
          const { weights, hermitian } = highPassMask(h, w, kind, 1.5);
          expect(hermitian).toBe(true);
          const complex = new Fft2d(h, w, engine);
          complex.re.set(x);
          complex.filter(weights);
          const real = new Fft2d(h, w, engine);
          real.re.set(x);
          real.im.fill(123); // work space: its content must not matter
          real.filterReal(weights);
          let err = 0;
          let ref = 0;
          for (let t = 0; t < h * w; t++) {
            err = Math.max(err, Math.abs(real.re[t]! - complex.re[t]!));
            ref = Math.max(ref, Math.abs(complex.re[t]!), Math.abs(x[t]!));
            expect(Math.abs(complex.im[t]!)).toBeLessThan(1e-12 * h * w); // the complex result is real
          }
          expect(err).toBeLessThan(1e-12 * ref);
        }
      });
    }
  }
});
