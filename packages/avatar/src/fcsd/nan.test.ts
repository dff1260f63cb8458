/**
 * Issue 19 (reliability), item 10 in stage 3: a NaN test per public numeric entry point not covered by
 * `reliability.test.ts` §10 here (renderFcsd, frameNoise) or `eval/score-sequence.test.ts` (scoreSequence): the map
 * resize, the aligned-TSD hand-over, the diffusion target, the model's denoise timestep and the ablation statistics.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '@consistent-avatar/core';
import { meanStd } from '../pipeline/ablation-tables.js';
import { mergeScoreShards, scoreShard, type ScoreShardPart } from '../pipeline/eval-shards.js';
import type { FcsdData } from './data.js';
import { resizeMap, withAlignedTsd } from './data.js';
import { FcsdModel } from './fcsd-model.js';
import { fcsdTarget } from './train.js';

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const EXPECTED = 'finite numbers (no NaN or ±Infinity)';
const map = (side: number, bad?: number): Float32Array => {
  const out = new Float32Array(side * side * 3).fill(0.25);
  if (bad !== undefined) out[5] = bad;
  return out;
};

beforeAll(async () => {
  await useBackend('wasm');
});

describe('10. stage-3 data helpers reject NaN / ±Infinity naming the argument', () => {
  it('resizeMap (every path: identity, area average, bilinear) and withAlignedTsd', () => {
    for (const bad of BAD) {
      for (const size of [4, 2, 3]) expect(() => resizeMap(map(4, bad), 4, 3, size)).toThrow(`resizeMap: argument 'data' expected ${EXPECTED}, got "${bad} at index 5"`);
      const data = { size: 4, labels: [], frames: [{ id: 'a' }, { id: 'b' }] } as unknown as FcsdData;
      expect(() => withAlignedTsd(data, [0, 1], [map(4), map(4, bad)], 4)).toThrow(`withAlignedTsd: argument 'aligned[1]' expected ${EXPECTED}, got "${bad} at index 5"`);
    }
    expect(() => resizeMap(map(4), 4, 3, Number.NaN)).toThrow(/resizeMap: argument 'size' expected a positive integer/);
    expect(() => resizeMap(map(4), 5, 3, 2)).toThrow(/resizeMap: argument 'data' expected a Float32Array \[5, 5, 3\]/);
  });

  it('fcsdTarget names the frame field (the residual clip turned ±Infinity into ±1)', () => {
    for (const bad of BAD) {
      expect(() => fcsdTarget({ gt: map(2, bad), proxyRgb: map(2) }, { target: 'image', residualScale: 0.5 })).toThrow(`fcsdTarget: argument 'frame.gt' expected ${EXPECTED}, got "${bad} at index 5"`);
      expect(() => fcsdTarget({ gt: map(2), proxyRgb: map(2, bad) }, { target: 'residual', residualScale: 0.5 })).toThrow(/fcsdTarget: argument 'frame\.proxyRgb'/);
      expect(() => fcsdTarget({ gt: map(2), proxyRgb: map(2) }, { target: 'residual', residualScale: bad })).toThrow(/fcsdTarget: argument 'c\.residualScale' expected a finite number > 0/);
    }
    expect(fcsdTarget({ gt: map(2), proxyRgb: map(2) }, { target: 'residual', residualScale: 0.5 })[0]).toBe(0);
  });

  it('scoreShard names a non-finite mask itself and a frame through mse (one frame: no flow pairs, no OpenCV)', async () => {
    const image = (bad?: number) => ({ data: map(16, bad), height: 16, width: 16, channels: 3 });
    const mask = (bad?: number) => Float32Array.from({ length: 256 }, (_, i) => (i === 9 && bad !== undefined ? bad : 1));
    for (const bad of BAD) {
      await expect(scoreShard([image(), image()], [image(), image()], [mask(bad), mask()], { start: 0, end: 1 })).rejects.toThrow(`scoreShard: argument 'masks[0]' expected ${EXPECTED}, got "${bad} at index 9"`);
      await expect(scoreShard([image(bad), image()], [image(), image()], [mask(), mask()], { start: 0, end: 1 })).rejects.toThrow(/^mse: argument 'a\.data' expected finite samples/);
    }
  });

  it('mergeScoreShards names a NaN frame score or pair value of a part; a frame PSNR of +Infinity (identical frames) is kept', () => {
    const part = (over: Partial<ScoreShardPart['whole']> = {}, pairs: Partial<ScoreShardPart['pairs']> = {}, pe: number = 0.5): ScoreShardPart => ({
      start: 0, end: 2, total: 2,
      whole: { mse: [0.01, 0.02], psnr: [20, 17], ssim: [0.9, 0.8], ...over },
      face: { mse: [0.01, 0.02], psnr: [20, 17], ssim: [0.9, 0.8] },
      poseExpression: [{ pe, ee: 1 }, null],
      pairs: { curve: [0.3], referenceCurve: [0.2], warping: [0.01], referenceWarping: [0.02], ...pairs },
    });
    expect(mergeScoreShards([part()]).whole.mse).toBeCloseTo(0.015, 12);
    expect(mergeScoreShards([part({ psnr: [Number.POSITIVE_INFINITY, 17] })]).whole.psnr).toBe(Number.POSITIVE_INFINITY);
    for (const bad of BAD) {
      expect(() => mergeScoreShards([part({ mse: [0.01, bad] })])).toThrow(`mergeScoreShards: argument 'parts[0].whole.mse' expected ${EXPECTED}, got "${bad} at index 1"`);
      expect(() => mergeScoreShards([part({}, { warping: [bad] })])).toThrow(`mergeScoreShards: argument 'parts[0].pairs.warping' expected ${EXPECTED}`);
      expect(() => mergeScoreShards([part({}, {}, bad)])).toThrow(`mergeScoreShards: argument 'parts[0].poseExpression[0]' expected ${EXPECTED}`);
    }
    expect(() => mergeScoreShards([part({ psnr: [Number.NaN, 17] })])).toThrow(/mergeScoreShards: argument 'parts\[0\]\.whole\.psnr' expected numbers \(\+Infinity for identical frames\), no NaN/);
  });

  it('meanStd names the value (a NaN score would poison the table)', () => {
    for (const bad of BAD) expect(() => meanStd([1, null, bad])).toThrow(`meanStd: argument 'values[2]' expected a finite number or null, got ${bad}`);
  });
});

describe('10. the FCSD model', () => {
  it('denoise rejects a non-finite timestep, naming itself, before any tensor is made', () => {
    const model = new FcsdModel({ size: 16, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8, conditioningChannels: [8], seed: 3 }, ['neutral']);
    const xt = tf.zeros(model.sampleShape(1)) as tf.Tensor4D;
    const proxy = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (const bad of BAD) {
      expect(() => model.denoise(xt, bad, { proxy } as never)).toThrow(`FcsdModel.denoise: argument 'timestep' expected ${EXPECTED}, got ${bad}`);
      expect(() => model.denoise(xt, [1, bad], { proxy } as never)).toThrow(/FcsdModel\.denoise: argument 'timestep'.*at index 1/);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xt, proxy]);
    model.dispose();
  });
});
