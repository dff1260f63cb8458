import { describe, expect, it } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';
import { axisAngleToMatrix, poseExpressionAccuracy, rotationAngleDeg } from './pose-expression-accuracy.js';
import type { PoseExpressionCodes } from './pose-expression.js';

const codes = (p: number[], e: number[]): PoseExpressionCodes => ({ pose: Float32Array.from(p), expression: Float32Array.from(e) });

describe('rotation angle between axis-angle rotations', () => {
  it('matches hand-computed angles', () => {
    // Same axis: angles subtract. 0.1 rad = 5.7296°.
    expect(rotationAngleDeg([0, 0.1, 0], [0, 0, 0])).toBeCloseTo(5.729578, 4);
    expect(rotationAngleDeg([0, 0.3, 0], [0, 0.1, 0])).toBeCloseTo(11.459156, 4);
    // 90° about x vs 90° about y: R_xᵀR_y has trace 0 → arccos(−1/2) = 120°.
    expect(rotationAngleDeg([Math.PI / 2, 0, 0], [0, Math.PI / 2, 0])).toBeCloseTo(120, 4);
    expect(rotationAngleDeg([0.2, -0.1, 0.3], [0.2, -0.1, 0.3])).toBeCloseTo(0, 3);
  });

  it('Rodrigues: 90° about z maps x to y', () => {
    const r = axisAngleToMatrix([0, 0, Math.PI / 2]);
    // Row-major R·[1, 0, 0] = first column.
    expect([r[0], r[3], r[6]].map((v) => Math.round(v! * 1e9) / 1e9)).toEqual([0, 1, 0]);
  });
});

describe('poseExpressionAccuracy', () => {
  const truth = [codes([0, 0.1, 0, 0.2, 0, 0], [1, 0]), codes([0, -0.1, 0, 0, 0, 0], [-1, 2])];
  const mean = codes([0, 0, 0, 0.1, 0, 0], [0, 1]);

  it('perfect estimates: zero errors, R² 1; the baseline: R² 0 and its own errors', () => {
    const acc = poseExpressionAccuracy(truth, truth, mean);
    expect(acc.frames).toBe(2);
    expect(acc.model.headRotationDeg.mean).toBeCloseTo(0, 3);
    expect(acc.model.expressionR2).toBe(1);
    expect(acc.baseline.expressionR2).toBe(0);
    // Baseline head error: 0.1 rad on both frames = 5.7296°; jaw: 0.1 rad on both.
    expect(acc.baseline.headRotationDeg.mean).toBeCloseTo(5.729578, 3);
    expect(acc.baseline.jawDeg.median).toBeCloseTo(5.729578, 3);
    // Baseline expression distances: ‖(0,1)−(1,0)‖ = √2, ‖(0,1)−(−1,2)‖ = √2.
    expect(acc.baseline.expressionL2).toBeCloseTo(Math.SQRT2, 6);
  });

  it('R² below 0 for estimates worse than the mean; rejects misaligned input', () => {
    const bad = [codes([0, 0, 0, 0, 0, 0], [3, -2]), codes([0, 0, 0, 0, 0, 0], [-3, 4])];
    expect(poseExpressionAccuracy(bad, truth, mean).model.expressionR2).toBeLessThan(0);
    expect(() => poseExpressionAccuracy([truth[0]!], truth, mean)).toThrow(ValidationError);
    expect(() => poseExpressionAccuracy([null, truth[1]!], truth, mean)).toThrow(/estimates\[0\]/);
    expect(() => poseExpressionAccuracy(truth, truth, codes([0], [0, 0]))).toThrow(/baseline/);
  });
});
