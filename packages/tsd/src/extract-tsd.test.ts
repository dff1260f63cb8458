import { describe, expect, expectTypeOf, it } from 'vitest';
import { Rng } from '@consistent-avatar/core';
import { extractTsd, type TsdImage, type TsdOptions, type TsdSettings } from './extract-tsd.js';
import { fmaExact, releaseTsd, releaseTsdMagnitude } from './release-tsd.js';
import { maxErrors, readCases, readNpyFloat, readPngBytes, readPngFloat } from '../test/fixture-io.js';

describe('extractTsd: parity with the numpy fixtures (test/fixtures/cases.json)', () => {
  for (const c of readCases()) {
    if (c.preset === 'release') {
      it(`${c.input} preset release: identical bytes except pixels on an integer boundary`, () => {
        const input = readPngFloat(c.input);
        const expected = readPngBytes(c.expected);
        const ours = releaseTsd(input);
        expect([ours.height, ours.width, ours.channels]).toEqual([expected.height, expected.width, expected.channels]);
        const [h, w] = [expected.height, expected.width];
        // Exempt pixels: pre-truncation magnitude (float64) within 1e-6 of an integer.
        const magnitude = releaseTsdMagnitude(input);
        const nonExemptMismatches: string[] = [];
        let exemptMismatches = 0;
        let maxExemptDiff = 0;
        for (let t = 0; t < h * w; t++) {
          const exempt = Math.abs(magnitude[t]! - Math.round(magnitude[t]!)) <= 1e-6;
          let pixelDiffers = false;
          for (let c3 = 0; c3 < 3; c3++) {
            const d = Math.abs(ours.data[3 * t + c3]! - expected.data[3 * t + c3]!);
            if (d === 0) continue;
            pixelDiffers = true;
            if (exempt) maxExemptDiff = Math.max(maxExemptDiff, d);
            else nonExemptMismatches.push(`pixel [${Math.floor(t / w)}, ${t % w}] channel ${c3}: ${ours.data[3 * t + c3]} vs ${expected.data[3 * t + c3]}`);
          }
          if (pixelDiffers && exempt) exemptMismatches++;
        }
        expect(nonExemptMismatches.slice(0, 10)).toEqual([]);
        expect(maxExemptDiff).toBeLessThanOrEqual(1); // off by one at most
        expect(exemptMismatches).toBeLessThanOrEqual(1e-4 * h * w);
      });
      continue;
    }
    const options: TsdOptions = { mask: c.mask, radius: c.radius, channels: c.channels, output: c.output };
    it(`${c.expected}: max abs error ≤ 1e-4 · max|reference|`, () => {
      const input = readPngFloat(c.input);
      const expected = readNpyFloat(c.expected);
      const ours = extractTsd(input, options);
      expect(ours.shape).toEqual(expected.shape);
      expect(ours.data).toBeInstanceOf(Float32Array);
      const { err, ref } = maxErrors(ours.data, expected.data);
      expect(ref).toBeCloseTo(Math.max(Math.abs(c.min!), Math.abs(c.max!)), 5);
      expect(err).toBeLessThanOrEqual(1e-4 * ref);
    });
  }

  it('releaseTsd: uint8 input and float input give the same bytes', () => {
    const bytes = readPngBytes('astronaut_64.png');
    const floats = readPngFloat('astronaut_64.png');
    expect(Array.from(releaseTsd(bytes).data)).toEqual(Array.from(releaseTsd(floats).data));
  });

  it('a byte image (0..255) matches the fixture of the same PNG read as floats', () => {
    const expected = readNpyFloat('astronaut_64_gaussian_r10_rgb_real.npy');
    const ours = extractTsd(readPngBytes('astronaut_64.png'), { mask: 'gaussian', radius: 10, channels: 'rgb', output: 'real' });
    expect(ours.shape).toEqual(expected.shape);
    const { err, ref } = maxErrors(ours.data, expected.data);
    expect(err).toBeLessThanOrEqual(1e-4 * ref);
  });
});

/** Brute-force 2-D DFT `Σ x·e^{sign·2πi(uk/H + vl/W)}` (unscaled) by the O((HW)²) sum. */
function bruteDft2(xr: Float64Array, xi: Float64Array, h: number, w: number, sign: 1 | -1): [Float64Array, Float64Array] {
  const outR = new Float64Array(h * w);
  const outI = new Float64Array(h * w);
  for (let u = 0; u < h; u++) {
    for (let v = 0; v < w; v++) {
      let sr = 0;
      let si = 0;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const a = sign * 2 * Math.PI * ((u * i) / h + (v * j) / w);
          sr += xr[i * w + j]! * Math.cos(a) - xi[i * w + j]! * Math.sin(a);
          si += xr[i * w + j]! * Math.sin(a) + xi[i * w + j]! * Math.cos(a);
        }
      }
      outR[u * w + v] = sr;
      outI[u * w + v] = si;
    }
  }
  return [outR, outI];
}

/** Mask centre: DC (`extractTsd`) or the released script's `(⌊(H−1)/2⌋, ⌊(W−1)/2⌋)` (`releaseTsd`). */
type BruteSettings = Omit<TsdSettings, 'channels'> & { centre: 'dc' | 'release' };

/** Brute-force TSD of one plane, written straight from the definition (centred DFT, explicit fftshift). */
function bruteForceTsd(plane: Float64Array, h: number, w: number, o: BruteSettings): Float64Array {
  // F = fft2(x).
  const [fr, fi] = bruteDft2(plane, new Float64Array(h * w), h, w, -1);
  // Fs = fftshift(F): Fs[i] = F[(i − ⌊n/2⌋) mod n]; multiply by the mask around the centre.
  const ci = o.centre === 'dc' ? Math.floor(h / 2) : Math.floor((h - 1) / 2);
  const cj = o.centre === 'dc' ? Math.floor(w / 2) : Math.floor((w - 1) / 2);
  const gr = new Float64Array(h * w);
  const gi = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const d2 = (i - ci) ** 2 + (j - cj) ** 2;
      let m: number;
      if (o.mask === 'gaussian') m = 1 - Math.exp(-d2 / (2 * o.radius ** 2));
      else if (o.mask === 'circle') m = d2 <= o.radius ** 2 ? 0 : 1;
      else m = Math.abs(i - ci) <= o.radius && Math.abs(j - cj) <= o.radius ? 0 : 1;
      const src = ((((i - Math.floor(h / 2)) % h) + h) % h) * w + ((((j - Math.floor(w / 2)) % w) + w) % w);
      gr[i * w + j] = fr[src]! * m;
      gi[i * w + j] = fi[src]! * m;
    }
  }
  // G = ifftshift(Gs): G[k] = Gs[(k + ⌊n/2⌋) mod n]; z = ifft2(G).
  const ur = new Float64Array(h * w);
  const ui = new Float64Array(h * w);
  for (let k = 0; k < h; k++) {
    for (let l = 0; l < w; l++) {
      const src = ((k + Math.floor(h / 2)) % h) * w + ((l + Math.floor(w / 2)) % w);
      ur[k * w + l] = gr[src]!;
      ui[k * w + l] = gi[src]!;
    }
  }
  const [zr, zi] = bruteDft2(ur, ui, h, w, 1);
  return zr.map((re, t) => (o.output === 'abs' ? Math.hypot(re, zi[t]!) : re) / (h * w));
}

describe('extractTsd: any H × W (odd and non-power-of-two sizes) against a brute-force DFT', () => {
  const h = 17; // prime > 13: Bluestein; 18 = 2·3·3: mixed radix
  const w = 18;
  const rgb = new Rng(11).uniform(h * w * 3); // [H, W, 3] in [0, 1)
  const image = { data: rgb, height: h, width: w, channels: 3 };
  const settings: TsdSettings[] = [
    { mask: 'gaussian', radius: 3, channels: 'rgb', output: 'real' },
    { mask: 'gaussian', radius: 2.5, channels: 'luma', output: 'abs' },
    { mask: 'circle', radius: 4, channels: 'rgb', output: 'abs' },
    { mask: 'box', radius: 2, channels: 'luma', output: 'real' },
  ];
  for (const o of settings) {
    it(`${h}×${w} ${o.mask} r${o.radius} ${o.channels} ${o.output}`, () => {
      const ours = extractTsd(image, o);
      const planes = o.channels === 'luma' ? 1 : 3;
      expect(ours.shape).toEqual([h, w, planes]);
      for (let p = 0; p < planes; p++) {
        const plane = new Float64Array(h * w);
        for (let t = 0; t < h * w; t++) {
          plane[t] =
            o.channels === 'luma' ? 0.299 * rgb[3 * t]! + 0.587 * rgb[3 * t + 1]! + 0.114 * rgb[3 * t + 2]! : rgb[3 * t + p]!;
        }
        const expected = bruteForceTsd(plane, h, w, { ...o, centre: 'dc' });
        const actual = Float64Array.from({ length: h * w }, (_, t) => ours.data[t * planes + p]!);
        const { err, ref } = maxErrors(actual, expected);
        // float32 output of float64 math: relative 1e-6 of the range.
        expect(err).toBeLessThanOrEqual(1e-6 * ref);
      }
    });
  }

  it(`${h}×${w} releaseTsdMagnitude: gaussian r10 abs, centre one bin off DC (a mask that is not Hermitian)`, () => {
    const grey = Uint8Array.from(new Rng(12).uniform(h * w), (v) => Math.floor(v * 256)); // [H, W, 1] bytes
    const ours = releaseTsdMagnitude({ data: grey, height: h, width: w, channels: 1 });
    const expected = bruteForceTsd(Float64Array.from(grey), h, w, { mask: 'gaussian', radius: 10, output: 'abs', centre: 'release' });
    const { err, ref } = maxErrors(ours, expected);
    expect(err).toBeLessThanOrEqual(1e-6 * ref);
  });
});

describe('extractTsd: a batch (array of images) agrees with single images', () => {
  const rng = new Rng(5);
  const frames = Array.from({ length: 3 }, () => ({ data: rng.uniform(20 * 24 * 3), height: 20, width: 24, channels: 3 }));
  const options = { channels: 'luma', output: 'abs', radius: 4 } as const satisfies TsdOptions;
  const singles = frames.map((f) => extractTsd(f, options));
  const close = (a: TsdImage, b: TsdImage): void => {
    expect(a.shape).toEqual(b.shape);
    const { err, ref } = maxErrors(a.data, b.data);
    expect(err).toBeLessThanOrEqual(1e-6 * ref);
  };

  it('array of images', () => {
    const out = extractTsd(frames, options);
    expect(out).toHaveLength(3);
    out.forEach((o, b) => close(o, singles[b]!));
  });

  it('mixed sizes in one batch', () => {
    const small = { data: rng.uniform(9 * 7 * 3), height: 9, width: 7, channels: 3 };
    const out = extractTsd([frames[0]!, small, frames[1]!], options);
    expect(out.map((o) => o.shape)).toEqual([[20, 24, 1], [9, 7, 1], [20, 24, 1]]);
    close(out[0]!, singles[0]!);
    close(out[1]!, extractTsd(small, options));
    close(out[2]!, singles[1]!);
  });
});

describe('fmaExact', () => {
  it('rounds a·b + c once', () => {
    expect(fmaExact(0.1, 10, -1)).toBe(5.551115123125783e-17);
    expect(fmaExact(3, 4, 5)).toBe(17);
    expect(fmaExact(-1.5, 2, 0.25)).toBe(-2.75);
    // (1 + 2⁻⁵²)² − 1 = 2⁻⁵¹ + 2⁻¹⁰⁴ exactly; plain arithmetic loses the 2⁻¹⁰⁴ term.
    const x = 1 + 2 ** -52;
    expect(fmaExact(x, x, -1)).toBe(2 ** -51 + 2 ** -104);
  });
});

describe('result types', () => {
  it('one image gives one TSD, an array of images an array', () => {
    const image = { data: new Float32Array(4 * 4 * 3).fill(0.25), height: 4, width: 4, channels: 3 };
    expectTypeOf(extractTsd(image, { channels: 'rgb', output: 'real' })).toEqualTypeOf<TsdImage>();
    expectTypeOf(extractTsd([image])).toEqualTypeOf<TsdImage[]>();
    expect(extractTsd([image])).toHaveLength(1);
  });
});
