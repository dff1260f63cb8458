import { describe, expect, it } from 'vitest';
import ndarray from 'ndarray';
import { extractTsd } from './extract-tsd.js';
import type { TsdOptions } from './tsd-options.js';
import { expectValidationError } from '../test/expect-validation.js';

/** Expect a ValidationError from extractTsd naming `argument`. */
function expectRejected(run: () => unknown, argument: string): void {
  expectValidationError(run, 'extractTsd', argument);
}

const good = { data: new Float32Array(8 * 8 * 3).fill(0.5), shape: [8, 8, 3] };

describe('extractTsd rejects bad input with a ValidationError naming the function and argument', () => {
  it('wrong rank', () => {
    expectRejected(() => extractTsd({ data: new Float32Array(64), shape: [8, 8] }), 'image.shape');
    expectRejected(() => extractTsd({ data: new Float32Array(64), shape: [1, 1, 8, 8, 1] }), 'image.shape');
    expect(() => extractTsd({ data: new Float32Array(64), shape: [8, 8] })).toThrow(/rank 3 \[H, W, C\]/);
  });

  it('unsupported channel count', () => {
    expectRejected(() => extractTsd({ data: new Float32Array(8 * 8 * 2), shape: [8, 8, 2] }), 'image.shape');
  });

  it('empty image', () => {
    expectRejected(() => extractTsd({ data: new Float32Array(0), shape: [0, 8, 3] }), 'image.shape');
    expectRejected(() => extractTsd({ data: new Float32Array(0), shape: [8, 0, 3] }), 'image.shape');
    expectRejected(() => extractTsd([]), 'images');
  });

  it('NaN or infinite pixels', () => {
    const nan = new Float32Array(8 * 8 * 3).fill(0.5);
    nan[5 * 24 + 7] = NaN;
    expectRejected(() => extractTsd({ data: nan, shape: [8, 8, 3] }, { channels: 'rgb' }), 'image');
    expect(() => extractTsd({ data: nan, shape: [8, 8, 3] })).toThrow(/pixel \[5, 2\]/);
    const inf = new Float32Array(8 * 8 * 3).fill(0.5);
    inf[0] = Infinity;
    expectRejected(() => extractTsd({ data: inf, shape: [8, 8, 3] }, { preset: 'release' }), 'image');
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

  it("preset 'release' combined with another option", () => {
    expectRejected(() => extractTsd(good, { preset: 'release', radius: 4 } as unknown as TsdOptions), 'options.radius');
  });

  it("preset 'release' with float values outside [0, 1]", () => {
    const big = { data: new Float32Array(8 * 8 * 3).fill(2), shape: [8, 8, 3] };
    expectRejected(() => extractTsd(big, { preset: 'release' }), 'image');
  });

  it('not an image', () => {
    expectRejected(() => extractTsd(42 as unknown as typeof good), 'image');
    expectRejected(() => extractTsd({ data: [1, 2, 3] as unknown as Float32Array, shape: [1, 1, 3] }), 'image.data');
    expectRejected(() => extractTsd({ data: new Float32Array(10), shape: [8, 8, 3] }), 'image.data');
  });

  it('bad frames in a batch or stream are named by index', () => {
    const bad = { data: new Float32Array(4), shape: [2, 2] };
    expectRejected(() => extractTsd([good, bad]), 'images[1].shape');
    expectRejected(() => [...extractTsd([good, bad].values())], 'frames[1].shape');
  });

  it('options are validated before a stream starts', () => {
    expectRejected(() => extractTsd([good].values(), { radius: -2 }), 'options.radius');
  });

  it('accepts ndarray views and byte images', () => {
    const bytes = ndarray(new Uint8Array(8 * 8 * 3).fill(128), [8, 8, 3]);
    const out = extractTsd(bytes, { channels: 'rgb' });
    expect(out.shape).toEqual([8, 8, 3]);
    // A constant image has no detail.
    expect(Math.max(...Array.from(out.data, Math.abs))).toBeLessThan(1e-9);
  });
});
