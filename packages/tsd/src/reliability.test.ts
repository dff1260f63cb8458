/**
 * Issue 19 (reliability), stage 2: trainTsdm with a NaN proxy TSD names the tensor (it blamed config.lr before), alignTsd
 * and the TSD encoder refuse NaN / ±Infinity inputs naming the argument (10);
 * config fields of the wrong type are ValidationErrors naming them (5: `tsdm/config.ts` threw a TypeError on a
 * non-array `unetChannels`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, ValidationError } from '@consistent-avatar/core';
import { alignTsd, resolveTsdmConfig, trainTsdm, TsdEncoder, tsdErrors, TsdmModel, type TsdmData } from './index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('10. non-finite training data', () => {
  it('a NaN in one frame\'s proxy TSD is refused naming data.frames[i].proxy, before any training', async () => {
    const c = resolveTsdmConfig({ iterations: 1 });
    const n = c.size * c.size * 3;
    const frames = [0, 1, 2].map((i) => ({
      id: `${i}`, gt: new Float32Array(n), proxy: new Float32Array(n), pose: new Float32Array(c.poseDim), expression: new Float32Array(c.expressionDim),
    }));
    frames[1]!.proxy[17] = Number.NaN;
    const data: TsdmData = { size: c.size, frames, split: { train: [0, 1], test: [2] } };
    const error = await trainTsdm(data, c).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/trainTsdm: argument 'data\.frames\[1\]\.proxy' expected finite numbers .*NaN at index 17/);
    expect((error as Error).message).not.toMatch(/config\.lr/);
  });
});

describe('10. non-finite inputs at inference', () => {
  it('alignTsd names the frame and the field of a NaN / Infinity proxy TSD, pose or expression, before sampling', () => {
    const model = new TsdmModel({ size: 8, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8, seed: 1 });
    const c = model.config;
    const frame = () => ({ proxy: new Float32Array(8 * 8 * 3), pose: new Float32Array(c.poseDim), expression: new Float32Array(c.expressionDim) });
    const before = tf.memory().numTensors;
    for (const field of ['proxy', 'pose', 'expression'] as const) {
      const frames = [frame(), frame()];
      frames[1]![field][2] = field === 'pose' ? Number.NEGATIVE_INFINITY : Number.NaN;
      expect(() => alignTsd(model, frames, { steps: 1, ensemble: 1 }), field).toThrow(new RegExp(`alignTsd: argument 'frames\\[1\\]\\.${field}' expected finite numbers .* at index 2`));
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('TsdEncoder.forward names the tensor and the flat index of a NaN (GroupNorm spread it over the whole code before)', () => {
    const encoder = new TsdEncoder({ width: 8, normGroups: 4, outDim: 4, seed: 2 });
    const values = new Float32Array(2 * 16 * 16 * 3);
    values[16 * 16 * 3 + 7] = Number.NaN; // the second image
    const tsd = tf.tensor4d(values, [2, 16, 16, 3]);
    expect(() => encoder.forward(tsd)).toThrow(/TsdEncoder\.forward: argument 'tsd' expected finite numbers .*NaN at flat index 775 of tensor\[2,16,16,3\]/);
    tsd.dispose();
    const clean = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    const code = encoder.forward(clean);
    expect(code.shape).toEqual([1, 4]);
    tf.dispose([clean, code]);
    encoder.dispose();
  });
});

describe('10. tsdErrors', () => {
  it('names the map holding a NaN (every error came out NaN before)', () => {
    expect(() => tsdErrors([[0, 1], [0, Number.NaN]], [[0, 1], [0, 1]])).toThrow(/tsdErrors: argument 'sequence\[1\]' expected finite numbers .*NaN at index 1/);
    expect(() => tsdErrors([[0, 1]], [[Number.POSITIVE_INFINITY, 1]])).toThrow(/'truth\[0\]'/);
    expect(tsdErrors([[0, 1]], [[0, 1]]).mse).toBe(0);
  });
});

describe('5. config fields of the wrong type', () => {
  it('a non-array unetChannels or a string size is a ValidationError naming the field, not a TypeError', () => {
    for (const [field, value] of [['unetChannels', 64], ['unetChannels', { 0: 8 }], ['size', '32'], ['attentionHeads', null]] as const) {
      expect(() => resolveTsdmConfig({ [field]: value } as never), field).toThrow(ValidationError);
      expect(() => resolveTsdmConfig({ [field]: value } as never), field).toThrow(new RegExp(`config\\.${field}`));
    }
  });
});
