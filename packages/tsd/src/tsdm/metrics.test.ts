/**
 * tsdErrors against values computed by hand (issue 17): a 4-frame, 2-pixel sequence whose MSE, ΔMSE, change curves
 * and their Pearson correlation are worked out below, plus the edge cases its doc states.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';
import { tsdErrors } from '../index.js';

describe('tsdErrors', () => {
  it('matches the hand computation of a 4-frame sequence', () => {
    const x = [[0, 0], [1, 1], [1, 0], [3, 0]].map((v) => Float32Array.from(v));
    const g = [[0, 1], [1, 1], [0, 0], [0, 2]].map((v) => Float32Array.from(v));
    const r = tsdErrors(x, g);
    // MSE per frame: (0 + 1)/2, 0, (1 + 0)/2, (9 + 4)/2 → mean 7.5 / 4.
    expect(r.mse).toBeCloseTo(1.875, 12);
    // Δx = [1,1], [0,−1], [2,0]; Δg = [1,0], [−1,−1], [0,2] → (0 + 1)/2, (1 + 0)/2, (4 + 4)/2 → mean 5 / 3.
    expect(r.deltaMse).toBeCloseTo(5 / 3, 12);
    // Change curves mean|Δ|: x → [1, 0.5, 1], g → [0.5, 1, 1].
    expect(r.changeCurve).toEqual([1, 0.5, 1]);
    expect(r.changeCurveTruth).toEqual([0.5, 1, 1]);
    // Pearson: deviations [1/6, −1/3, 1/6] and [−1/3, 1/6, 1/6]: (−1/12) / √(1/6 · 1/6) = −0.5.
    expect(r.changeCorrelation).toBeCloseTo(-0.5, 12);
  });

  it('identical sequences: zero errors and correlation 1; a flat curve or one frame gives NaN where documented', () => {
    const a = [[0, 0], [1, 1], [1, 0]].map((v) => Float32Array.from(v));
    const same = tsdErrors(a, a);
    expect([same.mse, same.deltaMse, same.changeCorrelation]).toEqual([0, 0, 1]);
    const flat = [[0, 0], [1, 1], [2, 2]].map((v) => Float32Array.from(v)); // |Δ| = 1 every step: a flat curve
    expect(tsdErrors(flat, a).changeCorrelation).toBeNaN();
    const one = tsdErrors([Float32Array.from([1, 2])], [Float32Array.from([0, 0])]);
    expect(one.mse).toBeCloseTo(2.5, 12);
    expect(one.deltaMse).toBeNaN();
  });

  it('refuses mismatched or empty inputs, naming the argument', () => {
    expect(() => tsdErrors([], [])).toThrow(ValidationError);
    expect(() => tsdErrors([Float32Array.from([1])], [])).toThrow(/truth/);
    expect(() => tsdErrors([Float32Array.from([1, 2])], [Float32Array.from([1])])).toThrow(/sequence\[0\] \/ truth\[0\]/);
  });
});
