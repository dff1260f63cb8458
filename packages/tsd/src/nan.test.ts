/**
 * Issue 19 (reliability), item 10 in stage 2: a NaN test per public numeric entry point not covered by
 * `reliability.test.ts` §10 (trainTsdm, alignTsd, TsdEncoder.forward, tsdErrors) or `validation.test.ts`
 * (extractTsd): the TSD normalisation, the tensor form, the release script's port, the TSDM's image helpers and the
 * model's denoise / condition.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, type FloatImage } from '@consistent-avatar/core';
import { TsdmModel, downsampleImage, extractTsdTensor, normalizeTsd, releaseTsd, releaseTsdMagnitude, tsdmTsd, tsdmWindowInputs, TSDM_DEFAULTS } from './index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const EXPECTED = 'finite numbers (no NaN or ±Infinity)';
const image = (bad?: number, size = 8): FloatImage => {
  const data = new Float32Array(size * size * 3).fill(0.5);
  if (bad !== undefined) data[10] = bad;
  return { data, height: size, width: size, channels: 3 };
};

describe('10. TSD helpers reject NaN / ±Infinity naming the argument and the index', () => {
  it('normalizeTsd, extractTsdTensor, releaseTsd / releaseTsdMagnitude', () => {
    for (const bad of BAD) {
      const data = new Float32Array(12).fill(0.1);
      data[7] = bad;
      expect(() => normalizeTsd({ data, shape: [2, 2, 3] }, '[-1,1]')).toThrow(`normalizeTsd: argument 'tsd.data' expected ${EXPECTED}, got "${bad} at index 7"`);
      const tensor = tf.tensor4d(image(bad).data, [1, 8, 8, 3]);
      const before = tf.memory().numTensors;
      expect(() => extractTsdTensor(tensor)).toThrow(`extractTsdTensor: argument 'image' expected ${EXPECTED}, got "${bad} at index 10"`);
      expect(tf.memory().numTensors).toBe(before);
      tensor.dispose();
      expect(() => releaseTsd(image(bad))).toThrow(/releaseTsd: argument 'image\.data' expected finite samples/);
      expect(() => releaseTsdMagnitude(image(bad))).toThrow(/releaseTsdMagnitude: argument 'image\.data' expected finite samples/);
    }
  });

  it('downsampleImage and tsdmTsd (one NaN sample made its output pixel NaN)', () => {
    for (const bad of BAD) {
      expect(() => downsampleImage(image(bad).data, 8, 8, 3, 4)).toThrow(`downsampleImage: argument 'data' expected ${EXPECTED}, got "${bad} at index 10"`);
      const big = image(bad, 64);
      expect(() => tsdmTsd(big.data, 64, 64, TSDM_DEFAULTS)).toThrow(new RegExp(`^tsdmTsd: argument 'rgb' expected finite numbers .*${bad} at index 10`));
    }
  });
});

describe('10. the TSDM window assembly (per training step) carries, its callers check', () => {
  it('tsdmWindowInputs copies a NaN pose value into the windows that contain its frame only (trainTsdm / alignTsd check the frames first)', () => {
    const config = { size: 2, poseDim: 2, expressionDim: 1, temporalWindow: 1 };
    const frames = [0, 1, 2, 3].map(() => ({ proxy: new Float32Array(12), pose: new Float32Array(2), expression: new Float32Array(1) }));
    frames[3]!.pose[0] = Number.NaN;
    const { pose } = tsdmWindowInputs(frames, [0, 3], config); // [B = 2, W·poseDim = 6]
    expect(Array.from(pose.slice(0, 6)).every(Number.isFinite)).toBe(true);
    expect(Array.from(pose.slice(6)).some(Number.isNaN)).toBe(true);
  });
});

describe('10. the TSDM model', () => {
  it('denoise / predictNoise reject a non-finite timestep; condition carries a NaN pose to its token only (documented)', () => {
    const model = new TsdmModel({ size: 8, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8, seed: 1 });
    const c = model.config;
    const proxy = tf.zeros([1, 8, 8, 3]);
    const W = 2 * c.temporalWindow + 1; // window frames
    const poseValues = new Float32Array(W * c.poseDim);
    poseValues[0] = Number.NaN;
    const pose = tf.tensor2d(poseValues, [1, W * c.poseDim]);
    const expression = tf.zeros([1, W * c.expressionDim]);
    const tokens = model.condition(proxy, pose, expression); // [1, 3, tokenDim]: [E(TSD), Linear(P), Linear(E)]
    const values = Array.from(tokens.dataSync());
    const d = c.tokenDim;
    expect(values.slice(0, d).every(Number.isFinite)).toBe(true);
    expect(values.slice(d, 2 * d).every(Number.isNaN)).toBe(true);
    expect(values.slice(2 * d).every(Number.isFinite)).toBe(true);
    const xt = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    const proxyWindow = c.proxyConcat ? (tf.zeros([1, 8, 8, 3 * W]) as tf.Tensor4D) : undefined;
    const before = tf.memory().numTensors;
    for (const bad of BAD) {
      expect(() => model.denoise(xt, bad, { tokens, proxyWindow })).toThrow(`TsdmModel.denoise: argument 'timestep' expected ${EXPECTED}, got ${bad}`);
      expect(() => model.predictNoise(xt, [bad], tokens, proxyWindow)).toThrow(/TsdmModel\.denoise: argument 'timestep'.*at index 0/);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([proxy, pose, expression, tokens, xt, ...(proxyWindow ? [proxyWindow] : [])]);
    model.dispose();
  });
});
