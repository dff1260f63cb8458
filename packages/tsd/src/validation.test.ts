import { describe, expect, it } from 'vitest';
import type { Image } from '@consistent-avatar/core';
import { extractTsd, highPassMask, type TsdMaskKind, type TsdOptions } from './extract-tsd.js';
import { releaseTsd, releaseTsdMagnitude } from './release-tsd.js';
import { expectValidationError } from '../test/expect-validation.js';

/** Expect a ValidationError from extractTsd naming `argument`. */
function expectRejected(run: () => unknown, argument: string): void {
  expectValidationError(run, 'extractTsd', argument);
}

const good = { data: new Float32Array(8 * 8 * 3).fill(0.5), height: 8, width: 8, channels: 3 };
const asImage = (x: object): Image => x as Image;

describe('extractTsd rejects bad input with a ValidationError naming the function and argument', () => {
  it('missing or malformed dimensions', () => {
    expectRejected(() => extractTsd(asImage({ data: new Float32Array(64), height: 8, width: 8 })), 'image.channels');
    expectRejected(() => extractTsd(asImage({ data: new Float32Array(64), height: 8, width: 8.5, channels: 1 })), 'image.width');
    expect(() => extractTsd(asImage({ data: new Float32Array(64), height: 8, width: 8 }))).toThrow(/a positive integer/);
  });

  it('unsupported channel count', () => {
    expectRejected(() => extractTsd({ data: new Float32Array(8 * 8 * 5), height: 8, width: 8, channels: 5 }), 'image.channels');
  });

  it('empty image', () => {
    expectRejected(() => extractTsd({ data: new Float32Array(0), height: 0, width: 8, channels: 3 }), 'image.height');
    expectRejected(() => extractTsd({ data: new Float32Array(0), height: 8, width: 0, channels: 3 }), 'image.width');
    expectRejected(() => extractTsd([]), 'images');
  });

  it('NaN or infinite samples', () => {
    const nan = new Float32Array(8 * 8 * 3).fill(0.5);
    nan[5 * 24 + 7] = NaN;
    expectRejected(() => extractTsd({ ...good, data: nan }, { channels: 'rgb' }), 'image.data');
    expect(() => extractTsd({ ...good, data: nan })).toThrow(/NaN at pixel \[2, 5\] \(x, y\) channel 1/);
    const inf = new Float32Array(8 * 8 * 3).fill(0.5);
    inf[0] = Infinity;
    expectValidationError(() => releaseTsd({ ...good, data: inf }), 'releaseTsd', 'image.data');
  });

  it('radius ≤ 0 or not a finite number', () => {
    for (const radius of [0, -1, NaN, Infinity, '10' as unknown as number]) {
      expectRejected(() => extractTsd(good, { radius }), 'options.radius');
    }
  });

  it('unknown option or unknown value', () => {
    expectRejected(() => extractTsd(good, { sigma: 3 } as unknown as TsdOptions), 'options.sigma');
    expectRejected(() => extractTsd(good, { mask: 'butterworth' } as unknown as TsdOptions), 'options.mask');
    expectRejected(() => extractTsd(good, { channels: 'bgr' } as unknown as TsdOptions), 'options.channels');
    expectRejected(() => extractTsd(good, { output: 'imag' } as unknown as TsdOptions), 'options.output');
    expectRejected(() => extractTsd(good, { centre: 'middle' } as unknown as TsdOptions), 'options.centre');
    expectRejected(() => extractTsd(good, { preset: 'fast' } as unknown as TsdOptions), 'options.preset');
    expectRejected(() => extractTsd(good, 'gaussian' as unknown as TsdOptions), 'options');
  });

  it("preset 'release' is not an option: it points to releaseTsd", () => {
    expectRejected(() => extractTsd(good, { preset: 'release' } as unknown as TsdOptions), 'options.preset');
    expect(() => extractTsd(good, { preset: 'release' } as unknown as TsdOptions)).toThrow(/releaseTsd\(image\)/);
  });

  it('releaseTsd with float values outside [0, 1]', () => {
    const big = { ...good, data: new Float32Array(8 * 8 * 3).fill(2) };
    expectValidationError(() => releaseTsd(big), 'releaseTsd', 'image');
    expectValidationError(() => releaseTsdMagnitude(big), 'releaseTsdMagnitude', 'image');
  });

  it('not an image', () => {
    expectRejected(() => extractTsd(42 as unknown as Image), 'image');
    expectRejected(() => extractTsd(asImage({ data: [1, 2, 3], height: 1, width: 1, channels: 3 })), 'image.data');
    expectRejected(() => extractTsd({ data: new Float32Array(10), height: 8, width: 8, channels: 3 }), 'image.data');
    expectRejected(() => extractTsd(asImage({ data: new Float64Array(192), height: 8, width: 8, channels: 3 })), 'image.data');
    expectValidationError(() => releaseTsd(asImage({ data: new Float32Array(10), height: 8, width: 8, channels: 3 })), 'releaseTsd', 'image.data');
  });

  it('bad images in a batch are named by index', () => {
    const bad = asImage({ data: new Float32Array(4), height: 2, width: 2 });
    expectRejected(() => extractTsd([good, bad]), 'images[1].channels');
  });

  it('accepts byte images, and grey images with or without alpha', () => {
    const bytes = { data: new Uint8Array(8 * 8 * 3).fill(128), height: 8, width: 8, channels: 3 };
    const out = extractTsd(bytes, { channels: 'rgb' });
    expect(out.shape).toEqual([8, 8, 3]);
    // A constant image has no detail.
    expect(Math.max(...Array.from(out.data, Math.abs))).toBeLessThan(1e-9);
    const greyAlpha = { data: new Float32Array(8 * 8 * 2).fill(0.5), height: 8, width: 8, channels: 2 };
    expect(extractTsd(greyAlpha, { channels: 'rgb' }).shape).toEqual([8, 8, 1]);
  });
});

describe('highPassMask rejects bad input with a ValidationError naming it', () => {
  it('size, kind, radius and centre', () => {
    expectValidationError(() => highPassMask(0, 8, 'gaussian', 1), 'highPassMask', 'height');
    expectValidationError(() => highPassMask(8, 2.5, 'gaussian', 1), 'highPassMask', 'width');
    expectValidationError(() => highPassMask(8, 8, 'ring' as TsdMaskKind, 1), 'highPassMask', 'kind');
    expectValidationError(() => highPassMask(8, 8, 'box', -1), 'highPassMask', 'radius');
    expectValidationError(() => highPassMask(8, 8, 'box', 1, [3.5, 3]), 'highPassMask', 'centre');
  });
});
