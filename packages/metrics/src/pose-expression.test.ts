import { describe, expect, it } from 'vitest';
import { ValidationError, type FloatImage } from '@consistent-avatar/core';
import {
  evaluatePoseExpression,
  poseExpressionError,
  type PoseExpressionCodes,
  type PoseExpressionEstimator,
} from './pose-expression.js';

const codes = (p: number[], e: number[]): PoseExpressionCodes => ({ pose: Float32Array.from(p), expression: Float32Array.from(e) });

describe('PE / EE', () => {
  it('mean Euclidean distances over compared frames; failures counted, never imputed', () => {
    const r = poseExpressionError(
      [codes([0, 0, 0, 0, 0, 0], [3, 4]), null, codes([1, 1, 1, 1, 1, 1], [0, 0])],
      [codes([0, 0, 0, 0, 0, 0.5], [0, 0]), codes([0, 0, 0, 0, 0, 0], [0, 0]), codes([1, 1, 1, 1, 1, 1], [0, 2])],
    );
    expect(r.pe).toBeCloseTo(0.25, 6); // (0.5 + 0) / 2
    expect(r.ee).toBeCloseTo(3.5, 6); // (5 + 2) / 2
    expect(r.failures).toEqual({ generated: [1], reference: [] });
    expect(r.perFrame[1]).toBeNull();
    expect(poseExpressionError([null], [null]).pe).toBeNull();
    expect(() => poseExpressionError([codes([0], [0])], [codes([0], [0])])).toThrow(/pose/);
    expect(() => poseExpressionError([codes([0, 0, 0, 0, 0, 0], [0])], [codes([0, 0, 0, 0, 0, 0], [0, 1])])).toThrow(ValidationError);
  });

  it('evaluatePoseExpression runs an estimator on both videos', async () => {
    // A test estimator: pose from the mean intensity, expression from the top-left pixel (a deterministic function).
    const estimator: PoseExpressionEstimator = {
      specificationVersion: 'v1',
      name: 'test: intensity statistics',
      expressionSize: 1,
      async estimate(frames) {
        return frames.map((f) => {
          if (f.data[0] === -1) return null;
          const m = Array.from(f.data).reduce((s, v) => s + v, 0) / f.data.length;
          return codes([m, 0, 0, 0, 0, 0], [f.data[0]!]);
        });
      },
    };
    const img = (v: number[]): FloatImage => ({ data: Float32Array.from(v), height: 1, width: v.length, channels: 1 });
    const r = await evaluatePoseExpression(estimator, [img([1, 1]), img([-1, 0])], [img([0, 0]), img([0, 0])]);
    expect(r.pe).toBeCloseTo(1, 6);
    expect(r.ee).toBeCloseTo(1, 6);
    expect(r.failures.generated).toEqual([1]);
    await expect(evaluatePoseExpression({} as never, [], [])).rejects.toThrow(/evaluatePoseExpression: argument 'estimator'/);
  });
});
