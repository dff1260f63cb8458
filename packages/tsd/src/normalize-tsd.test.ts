import { describe, expect, it } from 'vitest';
import ndarray from 'ndarray';
import { expectValidationError } from '../test/expect-validation.js';
import { normalizeTsd } from './normalize-tsd.js';

describe('normalizeTsd', () => {
  const signedTsd = ndarray(new Float32Array([-0.5, 0, 0.25, 1.5]), [2, 2, 1]);
  const absTsd = ndarray(new Float32Array([0, 0.2, 0.4, 2]), [2, 2, 1]);

  it('fixed scale, signed TSD: [−scale, scale] → [−1, 1] / [0, 1], clipped', () => {
    expect(Array.from(normalizeTsd(signedTsd, '[-1,1]').data)).toEqual([-0.5, 0, 0.25, 1]);
    expect(Array.from(normalizeTsd(signedTsd, '[0,1]').data)).toEqual([0.25, 0.5, 0.625, 1]);
    expect(Array.from(normalizeTsd(signedTsd, '[-1,1]', { scale: 2 }).data)).toEqual([-0.25, 0, 0.125, 0.75]);
  });

  it('fixed scale, unsigned TSD: [0, scale] → the range', () => {
    const u = Array.from(normalizeTsd(absTsd, '[0,1]').data);
    expect(u.map((v) => Number(v.toFixed(6)))).toEqual([0, 0.2, 0.4, 1]);
    const s = Array.from(normalizeTsd(absTsd, '[-1,1]').data);
    expect(s.map((v) => Number(v.toFixed(6)))).toEqual([-1, -0.6, -0.2, 1]);
  });

  it('uint8 release TSD defaults to scale 255 (as ToTensor() for [0, 1])', () => {
    const png = ndarray(new Uint8Array([0, 51, 255, 0, 102, 0]), [1, 2, 3]);
    const out = Array.from(normalizeTsd(png, '[0,1]').data).map((v) => Number(v.toFixed(6)));
    expect(out).toEqual([0, 0.2, 1, 0, 0.4, 0]);
  });

  it('fixed mode maps the same value to the same output in every frame (temporal consistency)', () => {
    // Frame 2 is frame 1 plus one bright pixel: min–max rescales everything, fixed does not.
    const frames = ndarray(new Float32Array([0.1, 0.2, 0.3, 0.4, 0.1, 0.2, 0.3, 0.9]), [2, 2, 2, 1]);
    const fixed = normalizeTsd(frames, '[0,1]').data;
    expect(fixed[1]).toBe(fixed[5]);
    const minmax = normalizeTsd(frames, '[0,1]', { mode: 'minmax' }).data;
    expect(minmax[1]).not.toBe(minmax[5]);
  });

  it('min–max per image of a batch', () => {
    const frames = ndarray(new Float32Array([0, 1, 2, 3, 10, 20, 30, 50]), [2, 2, 2, 1]);
    const out = Array.from(normalizeTsd(frames, '[-1,1]', { mode: 'minmax' }).data).map((v) => Number(v.toFixed(6)));
    expect(out).toEqual([-1, -1 / 3, 1 / 3, 1, -1, -0.5, 0, 1].map((v) => Number(v.toFixed(6))));
    // A constant image has no detail: mid-range for signed, bottom for unsigned.
    const flat = ndarray(new Float32Array(4).fill(0.3), [2, 2, 1]);
    expect(Array.from(normalizeTsd(flat, '[0,1]', { mode: 'minmax' }).data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(normalizeTsd(flat, '[0,1]', { mode: 'minmax', signed: true }).data)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('rejects bad input with ValidationError naming normalizeTsd', () => {
    const bad: [() => unknown, string][] = [
      [() => normalizeTsd(ndarray(new Float32Array(4), [4]), '[0,1]'), 'tsd.shape'],
      [() => normalizeTsd(ndarray(new Float32Array(0), [0, 2, 1]), '[0,1]'), 'tsd.shape'],
      [() => normalizeTsd(ndarray(new Float32Array([NaN, 0, 0, 0]), [2, 2, 1]), '[0,1]'), 'tsd.data'],
      [() => normalizeTsd(signedTsd, '0..1' as '[0,1]'), 'range'],
      [() => normalizeTsd(signedTsd, '[0,1]', { mode: 'zscore' as 'fixed' }), 'options.mode'],
      [() => normalizeTsd(signedTsd, '[0,1]', { scale: 0 }), 'options.scale'],
      [() => normalizeTsd(signedTsd, '[0,1]', { clip: true } as object), 'options.clip'],
    ];
    for (const [run, argument] of bad) expectValidationError(run, 'normalizeTsd', argument);
  });
});
