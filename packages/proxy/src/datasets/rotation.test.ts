import { describe, expect, it } from 'vitest';
import { ValidationError, Rng } from '@consistent-avatar/core';
import { axisAngleToMatrix, matrixToAxisAngle, matrixToRotation6d, rotation6dToMatrix } from './rotation.js';

describe('rotation conversions', () => {
  it('axis-angle → matrix → axis-angle round-trips, near 0 and near π included', () => {
    const rng = new Rng(5);
    const cases: number[][] = [[0, 0, 0], [1e-9, 0, 0], [Math.PI - 1e-6, 0, 0], [0, 0, -(Math.PI - 1e-3)]];
    for (let i = 0; i < 50; i++) {
      const axis = Array.from(rng.normal(3));
      const n = Math.hypot(...axis);
      const angle = rng.next() * (Math.PI - 1e-3);
      cases.push(axis.map((v) => (v / n) * angle));
    }
    for (const r of cases) {
      const back = matrixToAxisAngle(axisAngleToMatrix(r));
      const same = r.every((v, k) => Math.abs(v - back[k]!) < 1e-6);
      const flipped = Math.abs(Math.hypot(...r) - Math.PI) < 1e-2 && r.every((v, k) => Math.abs(v + back[k]!) < 1e-2); // ±π: the same rotation
      expect(same || flipped, `${r} → ${Array.from(back)}`).toBe(true);
    }
    // Rodrigues against a hand-computed rotation: 90° about y maps x to −z.
    const R = axisAngleToMatrix([0, Math.PI / 2, 0]);
    expect(Array.from(R).map((v) => Math.round(v * 1e12) / 1e12 + 0)).toEqual([0, 0, 1, 0, 1, 0, -1, 0, 0]);
  });

  it('6D = the first two rows; decoding orthonormalises (Gram–Schmidt) and is refused on degenerate input', () => {
    const R = axisAngleToMatrix([0.3, -0.2, 0.5]);
    expect(Array.from(matrixToRotation6d(R))).toEqual(Array.from(R.subarray(0, 6)));
    const noisy = Array.from(matrixToRotation6d(R), (v, i) => v * (i < 3 ? 2 : 1) + (i === 4 ? 0.01 : 0));
    const back = rotation6dToMatrix(noisy);
    expect(Array.from(back.subarray(0, 3)).every((v, k) => Math.abs(v - R[k]!) < 1e-12)).toBe(true); // first row: only normalised
    let worst = 0;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) worst = Math.max(worst, Math.abs(back[a * 3]! * back[b * 3]! + back[a * 3 + 1]! * back[b * 3 + 1]! + back[a * 3 + 2]! * back[b * 3 + 2]! - (a === b ? 1 : 0)));
    expect(worst).toBeLessThan(1e-12);
    expect(() => rotation6dToMatrix([0, 0, 0, 0, 1, 0])).toThrow(ValidationError);
    expect(() => rotation6dToMatrix([1, 0, 0, 2, 0, 0])).toThrow(/linearly independent/);
    expect(() => axisAngleToMatrix([0, NaN, 0])).toThrow(ValidationError);
  });
});
