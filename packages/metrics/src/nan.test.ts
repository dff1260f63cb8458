/**
 * Issue 19 (reliability), item 10 in metrics: a NaN test per public numeric entry point not covered by
 * `reliability.test.ts` §10 (the image metrics, flow helpers, estimators) or `flow.test.ts` §10 (Farneback, which
 * needs OpenCV loaded): PE / EE, face comparison, the warping error and EPE, the per-frame helpers, LPIPS over frames,
 * the estimator trainer's statistics and pose sampling. `flowCurveSvg` documents that a non-finite value is a gap.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, initBackend, tf, type FloatImage } from '@consistent-avatar/core';
import {
  Lpips, columnStats, compareFaces, endPointError, evaluate, evaluatePoseExpression, poseExpressionAccuracy, faceConsistency, flowCurveSvg, lpipsFrames, mseFrames, poseExpressionError,
  psnrFrames, samplePoseExpression, ssimFrames, toGray, warpingError, type FaceAnalysis, type PoseExpressionCodes, type PoseExpressionEstimator,
} from './index.js';
import { fixture } from '../test/png.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const codes = (poseValue = 0.1, expressionValue = 0.2): PoseExpressionCodes => ({
  pose: new Float32Array(6).fill(0.1).fill(poseValue, 4, 5),
  expression: new Float32Array(4).fill(0.2).fill(expressionValue, 2, 3),
});
const frame = (bad?: number, size = 8): FloatImage => {
  const data = new Float32Array(size * size * 3).fill(0.5);
  if (bad !== undefined) data[5] = bad;
  return { data, height: size, width: size, channels: 3 };
};

describe('10. pose / expression error (PE / EE came out NaN for the whole video)', () => {
  it('poseExpressionError names the side, the frame and the code', () => {
    for (const bad of BAD) {
      expect(() => poseExpressionError([codes(), codes(bad)], [codes(), codes()])).toThrow(`poseExpressionError: argument 'generated[1].pose' expected finite numbers (no NaN or ±Infinity), got "${bad} at index 4"`);
      expect(() => poseExpressionError([codes()], [codes(0.1, bad)])).toThrow(/poseExpressionError: argument 'reference\[0\]\.expression' expected finite .*index 2/);
    }
    expect(poseExpressionError([codes(), null], [codes(), codes()]).pe).toBe(0); // a frame with no face is not an error
  });

  it('evaluatePoseExpression rejects an estimator of your own that returns a NaN code', async () => {
    const estimator: PoseExpressionEstimator = {
      specificationVersion: 'v1', name: 'returns NaN for the second frame', expressionSize: 4,
      estimate: async (frames) => frames.map((_, i) => (i === 1 ? codes(Number.NaN) : codes())),
    };
    await expect(evaluatePoseExpression(estimator, [frame(), frame()], [frame(), frame()])).rejects.toThrow(/poseExpressionError: argument 'generated\[1\]\.pose'/);
  });

  it('poseExpressionAccuracy names the estimate, the truth or the baseline', () => {
    expect(() => poseExpressionAccuracy([codes(Number.NaN)], [codes()], codes())).toThrow(/poseExpressionAccuracy: argument 'estimates\[0\]\.pose' expected finite/);
    expect(() => poseExpressionAccuracy([codes()], [codes()], codes(0.1, Number.POSITIVE_INFINITY))).toThrow(/poseExpressionAccuracy: argument 'baseline\.expression' expected finite/);
  });

  it('evaluate names the frame before computing anything', async () => {
    await expect(evaluate([frame(undefined, 16)], [frame(Number.NaN, 16)], { temporal: false })).rejects.toThrow(/^evaluate: argument 'reference\[0\]\.data' expected finite samples/);
  });
});

describe('10. face comparison', () => {
  const face = (field?: 'mesh' | 'rotation' | 'embedding', bad = Number.NaN): FaceAnalysis => {
    const mesh = new Float32Array(468 * 3).map((_, i) => ((i * 7919) % 101) / 101); // 468 points, not collinear
    const embedding = new Float32Array(8).fill(0.3);
    const rotation = { pitch: 1, yaw: 2, roll: 3 };
    if (field === 'mesh') mesh[100] = bad;
    if (field === 'embedding') embedding[3] = bad;
    if (field === 'rotation') rotation.yaw = bad;
    return { box: [0, 0, 1, 1], score: 1, rotation, mesh, emotion: { label: null, scores: {} }, embedding };
  };

  it('compareFaces / faceConsistency name the face and the field (mouth / eye distances came out NaN)', () => {
    for (const bad of BAD) {
      expect(() => compareFaces(face('mesh', bad), face())).toThrow(new RegExp(`^compareFaces: argument 'generated\\.mesh' expected finite numbers .*${bad} at index 100`));
      expect(() => compareFaces(face(), face('rotation', bad))).toThrow(/compareFaces: argument 'reference\.rotation' expected finite .*index 1/);
      expect(() => compareFaces(face('embedding', bad), face())).toThrow(/compareFaces: argument 'generated\.embedding'.*index 3/);
    }
    expect(() => faceConsistency([face()], [face('mesh')])).toThrow(/compareFaces: argument 'reference\.mesh'/);
    expect(compareFaces(face(), face()).mouthDistance).toBeCloseTo(0, 6);
  });
});

describe('10. flow-based and per-frame metrics', () => {
  const flow = (bad?: number) => {
    const data = new Float32Array(8 * 8 * 2);
    if (bad !== undefined) data[9] = bad;
    return { data, height: 8, width: 8 };
  };

  it('warpingError names the frame or the flow before loading OpenCV; endPointError names the field', async () => {
    for (const bad of BAD) {
      await expect(warpingError(frame(), frame(bad), flow())).rejects.toThrow(new RegExp(`warpingError: argument 'frameNext\\.data' expected finite samples .*${bad}`));
      await expect(warpingError(frame(), frame(), flow(bad))).rejects.toThrow(/warpingError: argument 'forward\.data' expected finite .*index 9/);
      await expect(warpingError(frame(), frame(), flow(), { backward: flow(bad) })).rejects.toThrow(/warpingError: argument 'options\.backward\.data'/);
      expect(() => endPointError(flow(), flow(bad))).toThrow(/endPointError: argument 'b\.data' expected finite .*index 9/);
    }
  });

  it('mseFrames / psnrFrames / ssimFrames and toGray name the frame and the sample', () => {
    for (const [name, metric] of [['mseFrames', mseFrames], ['psnrFrames', psnrFrames], ['ssimFrames', ssimFrames]] as const) {
      expect(() => metric([frame(undefined, 16), frame(undefined, 16)], [frame(undefined, 16), frame(Number.NaN, 16)])).toThrow(ValidationErrorNamed(name === 'psnrFrames' ? 'mse' : name.replace('Frames', '')));
    }
    expect(() => toGray(frame(Number.NEGATIVE_INFINITY))).toThrow(/toGray: argument 'image\.data' expected finite samples .*-Infinity at pixel \[1, 0\] \(x, y\) channel 2, sample 5/);
  });

  it('lpipsFrames rejects a non-finite frame before building a batch (no tensor left behind)', () => {
    const lpips = Lpips.fromSafetensors(fixture('lpips/alex/model.safetensors.gz'));
    const before = tf.memory().numTensors;
    expect(() => lpipsFrames(lpips, [frame(undefined, 32)], [frame(Number.NaN, 32)])).toThrow(/lpipsFrames: argument 'reference\[i\]\.data' expected finite samples/);
    expect(tf.memory().numTensors).toBe(before);
    lpips.dispose();
  });

  it('flowCurveSvg documents a non-finite value as a gap: the line breaks there (two segments)', () => {
    const svg = flowCurveSvg([{ label: 'generated', values: [1, 2, Number.NaN, 3, 4] }]);
    const path = /<path d="([^"]*)"/.exec(svg)![1]!;
    expect(path.match(/M/g)).toHaveLength(2);
    expect(path.match(/L/g)).toHaveLength(2);
    expect(svg).not.toContain('NaN');
  });
});

describe('10. the estimator trainer and pose sampling', () => {
  it('columnStats names the rows (a NaN row made a column mean NaN); samplePoseExpression its ranges', () => {
    expect(() => columnStats(Float32Array.from([0, 1, Number.NaN, 3]), 2)).toThrow('columnStats: argument \'rows\' expected finite numbers (no NaN or ±Infinity), got "NaN at index 2"');
    expect(() => columnStats(Float32Array.from([0, 1, 2]), 2)).toThrow(/columnStats: argument 'rows' expected a non-empty Float32Array \[N, 2\]/);
    expect(columnStats(Float32Array.from([0, 1, 2, 3]), 2).mean).toEqual([1, 2]);
    const rng = new Rng(0);
    expect(() => samplePoseExpression(rng, { pitch: 20, yaw: Number.NaN, roll: 20 })).toThrow(/samplePoseExpression: argument 'rotationDeg' expected finite .*NaN at index 1/);
    expect(() => samplePoseExpression(rng, undefined, Number.POSITIVE_INFINITY)).toThrow(/samplePoseExpression: argument 'maxJaw' expected finite/);
  });
});

function ValidationErrorNamed(fn: string): RegExp {
  return new RegExp(`^${fn}: argument '[a-z]+(\\[\\d\\])?\\.data' expected finite samples`);
}
