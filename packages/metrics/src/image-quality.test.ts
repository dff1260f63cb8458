import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { toByteImage, toFloatImage, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { mse, mseFrames } from './mse.js';
import { psnr, psnrFrames } from './psnr.js';
import { ssim, ssimFrames } from './ssim.js';
import { fixture, readPngImage } from '../test/png.js';

interface Case {
  reference: string;
  distorted: string;
  mse: number;
  psnr: number | null;
  ssim_gaussian: number;
  ssim_uniform7: number;
  ssim_gaussian_gray: number;
}
const cases = (JSON.parse(readFileSync(fixture('metrics/astronaut256_cases.json'), 'utf8')) as { cases: Case[] }).cases;
const load = (name: string) => readPngImage(fixture(`metrics/${name}`));

// scikit-image computes in float64 from the same 8-bit PNGs; we also work in float64. What the README claims is what
// is tested: MSE and PSNR within 1e-7 of the reference relative to its value (MSE values are ~1e-3, so an absolute
// tolerance would say little; measured ≤ 3e-8), SSIM within 1e-8 absolute (measured ≤ 4e-9).
const MSE_RELATIVE = 1e-7;
const SSIM_ABSOLUTE = 1e-8;
const nearRelative = (ours: number, reference: number) => Math.abs(ours - reference) <= MSE_RELATIVE * Math.abs(reference);
const nearSsim = (ours: number, reference: number) => Math.abs(ours - reference) <= SSIM_ABSOLUTE;

describe('image quality vs scikit-image 0.19 fixtures', () => {
  for (const c of cases) {
    it(`${c.distorted}`, () => {
      const ref = load(c.reference);
      const dist = load(c.distorted);
      expect(nearRelative(mse(dist, ref), c.mse)).toBe(true);
      if (c.psnr === null) expect(psnr(dist, ref)).toBe(Infinity);
      else expect(nearRelative(psnr(dist, ref), c.psnr)).toBe(true);
      expect(nearSsim(ssim(dist, ref, { variant: 'wang' }), c.ssim_gaussian)).toBe(true);
      expect(nearSsim(ssim(dist, ref, { variant: 'skimage-default' }), c.ssim_uniform7)).toBe(true);
      expect(nearSsim(ssim(dist, ref, { variant: 'wang', mode: 'gray' }), c.ssim_gaussian_gray)).toBe(true);
    });
  }
});

describe('byte images (uint8 in [0, 255]) score as their float image (v / 255)', () => {
  // The fixtures are 8-bit PNGs and scikit-image scored them as img_as_float (v / 255): the byte images must hit the
  // same numbers (the old behaviour scored bytes with data range 1: PSNR about −16 dB).
  for (const c of cases.slice(0, 3)) {
    it(`${c.distorted}: MSE / PSNR / SSIM of the bytes equal scikit-image's and the float image's`, () => {
      const [ref, dist] = [load(c.reference), load(c.distorted)];
      const [refBytes, distBytes] = [toByteImage(ref), toByteImage(dist)];
      expect(distBytes.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(toFloatImage(distBytes).data)).toEqual(Array.from(dist.data)); // the PNG's own 8-bit values
      expect(nearRelative(mse(distBytes, refBytes), c.mse)).toBe(true);
      if (c.psnr !== null) expect(nearRelative(psnr(distBytes, refBytes), c.psnr)).toBe(true);
      expect(nearSsim(ssim(distBytes, refBytes), c.ssim_gaussian)).toBe(true);
      expect(nearSsim(ssim(distBytes, refBytes, { variant: 'wang', mode: 'gray' }), c.ssim_gaussian_gray)).toBe(true);
      // Bitwise the same as the float image, and storages mix freely.
      expect(mse(distBytes, refBytes)).toBe(mse(dist, ref));
      expect(psnr(distBytes, ref)).toBe(psnr(dist, ref));
      expect(ssim(dist, refBytes, { variant: 'skimage-default' })).toBe(ssim(dist, ref, { variant: 'skimage-default' }));
      expect(mse(distBytes, refBytes, { mode: 'gray' })).toBe(mse(dist, ref, { mode: 'gray' }));
    });
  }

  it("a data range other than 1 with byte images is rejected, not applied to [0, 1] data", () => {
    const ref = toByteImage(load('astronaut256_ref.png'));
    expect(() => psnr(ref, ref, { dataRange: 255 })).toThrow(/psnr: argument 'options.dataRange' expected 1 or undefined for byte images/);
    expect(() => ssim(ref, ref, { dataRange: 255 })).toThrow(/ssim: argument 'options.dataRange' expected 1 or undefined for byte images/);
    expect(psnr(ref, ref, { dataRange: 1 })).toBe(Infinity);
    expect(() => mse(ref, { ...ref, data: new Uint8ClampedArray(ref.data.length) } as never)).toThrow(/mse: argument 'b.data' expected Float32Array samples in \[0, 1\] or Uint8Array/);
  });
});

describe('image quality: masks, frames and validation', () => {
  const ref = load('astronaut256_ref.png');
  const noisy = load('astronaut256_noise005.png');
  const blur = load('astronaut256_blur2.png');
  const ones = { data: new Float32Array(256 * 256).fill(1), height: 256, width: 256 };

  it('an all-ones mask changes nothing; a half mask averages only that half', () => {
    expect(mse(noisy, ref, { mask: ones })).toBeCloseTo(mse(noisy, ref), 12);
    expect(ssim(noisy, ref, { mask: ones })).toBeCloseTo(ssim(noisy, ref), 12);
    // Left half from the noisy image, right half from the blurred one: masking each half recovers that half.
    const mixed = new Float32Array(ref.data.length);
    const left = new Float32Array(256 * 256);
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const p = y * 256 + x;
        left[p] = x < 128 ? 1 : 0;
        for (let c = 0; c < 3; c++) mixed[p * 3 + c] = (x < 128 ? noisy : blur).data[p * 3 + c]!;
      }
    }
    const mixedImg: FloatImage = { data: mixed, height: 256, width: 256, channels: 3 };
    const leftMask = { data: left, height: 256, width: 256 };
    const leftNoise = mse(noisy, ref, { mask: leftMask });
    expect(mse(mixedImg, ref, { mask: leftMask })).toBeCloseTo(leftNoise, 12);
    expect(mse(mixedImg, ref, { mask: leftMask })).not.toBeCloseTo(mse(mixedImg, ref), 4);
    // SSIM windows within 5 px of the seam see both halves; keep the mask clear of it.
    const farLeft = { data: left.map((v, p) => (p % 256 < 120 ? v : 0)), height: 256, width: 256 };
    expect(ssim(mixedImg, ref, { mask: farLeft })).toBeCloseTo(ssim(noisy, ref, { mask: farLeft }), 12);
  });

  it('frames: per-frame values and their mean', () => {
    const s = ssimFrames([noisy, blur], [ref, ref], { variant: 'skimage-default' });
    expect(s.perFrame).toHaveLength(2);
    expect(s.perFrame[0]).toBeCloseTo(ssim(noisy, ref, { variant: 'skimage-default' }), 12);
    expect(s.mean).toBeCloseTo((s.perFrame[0]! + s.perFrame[1]!) / 2, 12);
    expect(mseFrames([noisy], [ref]).mean).toBeCloseTo(mse(noisy, ref), 12);
    expect(psnrFrames([noisy], [ref]).perFrame[0]).toBeCloseTo(psnr(noisy, ref), 12);
  });

  it('psnr honours dataRange; gray mode equals the channel mean', () => {
    const scaled = (img: FloatImage): FloatImage => ({ ...img, data: img.data.map((v) => v * 255) });
    expect(psnr(scaled(noisy), scaled(ref), { dataRange: 255 })).toBeCloseTo(psnr(noisy, ref), 5); // float32 rounding of v·255
    expect(ssim(scaled(noisy), scaled(ref), { dataRange: 255 })).toBeCloseTo(ssim(noisy, ref), 8);
    // Gray MSE written out in float64: the mean over pixels of (mean_c a − mean_c b)².
    let sum = 0;
    for (let p = 0; p < 256 * 256; p++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d += noisy.data[3 * p + c]! - ref.data[3 * p + c]!;
      sum += (d / 3) ** 2;
    }
    expect(mse(noisy, ref, { mode: 'gray' })).toBeCloseTo(sum / (256 * 256), 14);
  });

  it('rejects bad input with ValidationError naming the function and argument', () => {
    const small = { data: new Float32Array(8 * 8 * 3), height: 8, width: 8, channels: 3 };
    expect(() => ssim(small, small)).toThrow(/ssim: argument 'a' expected an image of at least 11×11/);
    expect(() => mse(ref, small)).toThrow(ValidationError);
    expect(() => mse(ref, { ...ref, data: new Float32Array(5) })).toThrow(/mse: argument 'b.data'/);
    expect(() => psnr(ref, noisy, { dataRange: 0 })).toThrow(/psnr: argument 'options.dataRange'/);
    expect(() => ssim(ref, noisy, { variant: 'gauss' as never })).toThrow(/options.variant/);
    expect(() => ssim(ref, noisy, { mask: { data: new Float32Array(4), height: 2, width: 2 } })).toThrow(
      /options.mask/,
    );
    expect(() => mseFrames([ref], [])).toThrow(/mseFrames: argument 'reference'/);
  });
});
