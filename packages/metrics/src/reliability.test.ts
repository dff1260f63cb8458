/**
 * Issue 19 (reliability), metrics: the non-finite policy of every image metric and of the face and pose / expression
 * estimators (10), FaceAnalyzer in a fresh process (11: it restored the backend `undefined` before) and uncaught errors
 * once opencv.js or human is loaded (11: opencv's crash handler printed its ~11 MB source and exited with code 7).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, initBackend, tf, type FloatImage } from '@consistent-avatar/core';
import {
  DecaEstimator, FaceAnalyzer, SyntheticPoseExpressionEstimator, SyntheticPoseExpressionNet, applySimilarity2d, axisAngleToMatrix, cosineSimilarity,
  curveAgreement, endPointError, flowMagnitudeCurve, meanFlowMagnitude, mse, procrustes2d, psnr, resolveSyntheticPoseExpressionConfig, rotationAngleDeg,
  ssim, temporalConsistency,
} from './index.js';
import { fixture } from '../test/png.js';

const ROOT = path.resolve(__dirname, '../../..');
beforeAll(async () => {
  await initBackend('wasm');
});

const frame = (fill: number, nanAt = -1, size = 32): FloatImage => {
  const data = new Float32Array(size * size * 3).fill(fill);
  if (nanAt >= 0) data[nanAt] = Number.NaN;
  return { data, height: size, width: size, channels: 3 };
};

describe('10. NaN never passes silently through a metric', () => {
  it('mse, psnr, ssim name the image and the sample; temporalConsistency the frame', async () => {
    for (const [name, metric] of [['mse', mse], ['psnr', psnr], ['ssim', ssim]] as const) {
      // psnr is computed through mse, which names itself; the argument and the sample are named either way.
      expect(() => metric(frame(0.5), frame(0.5, 7))).toThrow(new RegExp(`${name === 'psnr' ? 'mse' : name}: argument 'b\\.data' expected finite samples .*NaN at pixel .* sample 7`));
      expect(() => metric(frame(0.5, 0), frame(0.5))).toThrow(ValidationError);
    }
    await expect(temporalConsistency([frame(0.2), frame(0.3, 5)], [frame(0.2), frame(0.3)])).rejects.toThrow(/frames\[1\].*finite samples/);
  });
});

describe('10. NaN in the flow, face-geometry and rotation helpers (they returned NaN)', () => {
  it('each names itself and the argument', () => {
    const flow = (nanAt = -1) => {
      const data = new Float32Array(8 * 8 * 2).fill(1);
      if (nanAt >= 0) data[nanAt] = Number.NaN;
      return { data, height: 8, width: 8 };
    };
    expect(() => meanFlowMagnitude(flow(3))).toThrow(/meanFlowMagnitude: argument 'field\.data' expected finite numbers .*NaN at index 3/);
    expect(() => flowMagnitudeCurve([flow(), flow(5)])).toThrow(ValidationError);
    expect(() => endPointError(flow(), flow(6))).toThrow(/endPointError: argument 'b\.data'.*index 6/);
    expect(meanFlowMagnitude(flow())).toBeCloseTo(Math.SQRT2, 6);
    expect(() => curveAgreement([1, Number.NaN], [1, 2])).toThrow(/curveAgreement: argument 'generated'/);
    expect(() => cosineSimilarity([1, 0], [Number.POSITIVE_INFINITY, 0])).toThrow(/cosineSimilarity: argument 'b'/);
    expect(() => procrustes2d([0, 0, 1, 0, 0, 1], [0, 0, 1, 0, Number.NaN, 1])).toThrow(/procrustes2d: argument 'target'.*index 4/);
    expect(() => applySimilarity2d({ scale: Number.NaN, angle: 0, tx: 0, ty: 0 }, [0, 0])).toThrow(/applySimilarity2d: argument 't'/);
    expect(() => applySimilarity2d({ scale: 1, angle: 0, tx: 0, ty: 0 }, [0, Number.NaN])).toThrow(/applySimilarity2d: argument 'points'/);
    expect(() => axisAngleToMatrix([Number.NaN, 0, 0])).toThrow(/axisAngleToMatrix: argument 'v'/);
    expect(() => rotationAngleDeg([0, 0, 0], [0, Number.NaN, 0])).toThrow(/rotationAngleDeg: argument 'b' expected finite numbers/);
    expect(rotationAngleDeg([0, 0.1, 0], [0, 0, 0])).toBeCloseTo(5.729578, 4);
  });
});

describe('10. NaN never reaches the face and pose / expression estimators', () => {
  it('SyntheticPoseExpressionEstimator.prepare / estimate / predict name the frame and the sample', async () => {
    const config = resolveSyntheticPoseExpressionConfig({ size: 16, channels: [4, 8], groups: 2, hidden: 8, expressionSize: 5, seed: 3 });
    const estimator = new SyntheticPoseExpressionEstimator(new SyntheticPoseExpressionNet(config));
    const before = tf.memory().numTensors;
    expect(() => estimator.prepare([frame(0.5, -1, 16), frame(0.5, 40, 16)])).toThrow(/SyntheticPoseExpressionEstimator\.prepare: argument 'frames\[1\]\.data' expected finite samples .*sample 40/);
    await expect(estimator.estimate([frame(0.5, 3, 16)])).rejects.toThrow(/SyntheticPoseExpressionEstimator\.estimate: argument 'frames\[0\]\.data'/);
    const input = tf.fill([1, 16, 16, 3], Number.NaN) as tf.Tensor4D;
    expect(() => estimator.predict(input)).toThrow(/SyntheticPoseExpressionEstimator\.predict: argument 'input' expected finite numbers/);
    input.dispose();
    expect(tf.memory().numTensors).toBe(before);
    estimator.dispose();
  });

  it('DecaEstimator.estimate and forward name the frame / tensor', async () => {
    const deca = DecaEstimator.fromSafetensors(fixture('deca/encoder.safetensors'));
    await expect(deca.estimate([frame(0.5), frame(0.5, 100)])).rejects.toThrow(/DecaEstimator\.estimate: argument 'frames\[1\]\.data' expected finite samples .*sample 100/);
    const images = tf.fill([1, 224, 224, 3], Number.POSITIVE_INFINITY) as tf.Tensor4D;
    expect(() => deca.forward(images)).toThrow(/DecaEstimator\.forward: argument 'images' expected finite numbers .*Infinity at flat index 0/);
    images.dispose();
    deca.dispose();
  });

  it('FaceAnalyzer.analyze names the image (an Image or a [H, W, 3] tensor)', async () => {
    const analyzer = await FaceAnalyzer.create();
    await expect(analyzer.analyze(frame(0.5, 9))).rejects.toThrow(/FaceAnalyzer\.analyze: argument 'image\.data' expected finite samples .*sample 9/);
    const image = tf.fill([32, 32, 3], Number.NaN) as tf.Tensor3D;
    await expect(analyzer.analyze(image)).rejects.toThrow(/FaceAnalyzer\.analyze: argument 'image' expected finite numbers/);
    image.dispose();
    analyzer.dispose();
  }, 120_000);
});

describe('11. FaceAnalyzer.create in a fresh process', () => {
  it('works without a backend chosen first (it threw "Backend name \'undefined\' not found")', () => {
    const script = "import { FaceAnalyzer } from '@consistent-avatar/metrics'; const a = await FaceAnalyzer.create(); a.dispose(); console.log('created');";
    const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toMatch(/Backend name 'undefined'/);
    expect(r.stdout).toContain('created');
    expect(r.status).toBe(0);
  }, 130_000);
});

/**
 * Run `load` in a fresh process, print `marker`, then throw uncaught: our message and stack must come first (no
 * third-party source dump) and the exit code must be 1.
 */
function expectOurUncaughtError(load: string, marker: string): void {
  const script = `${load} console.log('${marker}'); setTimeout(() => { throw new Error('our message'); });`;
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  expect(r.stdout).toContain(marker);
  expect(r.stderr.trimStart().startsWith('Error: our message')).toBe(true);
  expect(r.stderr.length).toBeLessThan(4000);
  expect(r.status).toBe(1);
}

describe('11. an uncaught error after opencv.js or human is loaded', () => {
  it('opencv.js: prints our message and stack first, no opencv.js source, exit code 1', () => {
    expectOurUncaughtError("import { loadOpenCv } from '@consistent-avatar/metrics'; const cv = await loadOpenCv(); new cv.Mat(2, 2, cv.CV_8UC1).delete();", 'opencv loaded');
  }, 130_000);

  it('human (FaceAnalyzer.create): prints our message and stack first, no tfjs / human source, exit code 1', () => {
    expectOurUncaughtError("import { FaceAnalyzer } from '@consistent-avatar/metrics'; await FaceAnalyzer.create();", 'human loaded');
  }, 130_000);
});
