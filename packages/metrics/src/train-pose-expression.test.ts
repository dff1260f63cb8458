import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, ValidationError } from '@consistent-avatar/core';
import { renderPoseExpressionSet, type PoseExpressionRenderSet } from './pose-expression-renders.js';
import { columnStats, trainPoseExpressionEstimator, type TrainPoseExpressionOptions } from './train-pose-expression.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-pe-'));
let set: PoseExpressionRenderSet;
// A tiny network on 16² renders: the test is about the loop, checkpoints and resume, not accuracy.
const base: TrainPoseExpressionOptions = {
  config: { size: 16, channels: [4, 8], groups: 2, hidden: 16 },
  iterations: 8, batchSize: 4, lr: 3e-3, warmup: 2, logEvery: 2, checkpointEvery: 4, seed: 5,
};

beforeAll(async () => {
  await initBackend('wasm');
  set = await renderPoseExpressionSet({ count: 12, size: 16, seed: 21, identities: [0] });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const weightsOf = (est: { network: { stateDict(): Record<string, tf.Tensor> } }) =>
  Object.fromEntries(Object.entries(est.network.stateDict()).map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('trainPoseExpressionEstimator', () => {
  it('columnStats: mean and population std per column; constant columns get std 1', () => {
    const { mean, std } = columnStats(Float32Array.from([1, 5, 3, 5]), 2); // rows (1, 5), (3, 5)
    expect(mean).toEqual([2, 5]);
    expect(std).toEqual([1, 1]);
    expect(columnStats(Float32Array.from([0, 2, 0, 6]), 2).std).toEqual([1, 2]);
  });

  it('stores the target statistics, logs the loss, and a resumed run ends where the uninterrupted one does', async () => {
    const full = await trainPoseExpressionEstimator(set, { ...base, checkpointDir: path.join(tmp, 'full') });
    expect(full.step).toBe(8);
    expect(full.lossLog.map((l) => l.step)).toEqual([2, 4, 6, 8]);
    expect(full.lossLog.every((l) => Number.isFinite(l.loss))).toBe(true);
    const stats = columnStats(set.poses, 6);
    expect(full.estimator.config.poseMean).toEqual(stats.mean);
    expect(full.estimator.config.poseStd[4]).toBe(1); // jaw y is always 0
    expect(full.estimator.config.training).toMatchObject({ renders: 12, iterations: 8, batchSize: 4 });

    const dir = path.join(tmp, 'split');
    const first = await trainPoseExpressionEstimator(set, { ...base, checkpointDir: dir, stopAt: 4 });
    expect(first.step).toBe(4);
    first.estimator.dispose();
    const before = tf.memory().numTensors;
    const second = await trainPoseExpressionEstimator(set, { ...base, checkpointDir: dir });
    expect(second.resumedFrom).toMatch(/step-000004$/);
    expect(second.step).toBe(8);
    expect(second.lossLog).toEqual(full.lossLog);
    expect(weightsOf(second.estimator)).toEqual(weightsOf(full.estimator));
    second.estimator.dispose();
    expect(tf.memory().numTensors).toBe(before); // training leaves nothing behind but the returned weights
    full.estimator.dispose();
  });

  it('rejects data at the wrong size and a checkpoint from another config', async () => {
    await expect(trainPoseExpressionEstimator(set, { ...base, config: { ...base.config, size: 32 } })).rejects.toThrow(/train\.size/);
    await expect(trainPoseExpressionEstimator(set, { ...base, iterations: 0 })).rejects.toThrow(ValidationError);
    await expect(trainPoseExpressionEstimator(set, { ...base, lr: 1e-3, checkpointDir: path.join(tmp, 'full') })).rejects.toThrow(/checkpoint/);
  });
});
