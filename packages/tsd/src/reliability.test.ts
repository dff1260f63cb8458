/**
 * Issue 19 (reliability), stage 2: trainTsdm with a NaN proxy TSD names the tensor (it blamed config.lr before) (10);
 * config fields of the wrong type are ValidationErrors naming them (5: `tsdm/config.ts` threw a TypeError on a
 * non-array `unetChannels`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, ValidationError } from '@consistent-avatar/core';
import { resolveTsdmConfig, trainTsdm, type TsdmData } from './index.js';

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

describe('5. config fields of the wrong type', () => {
  it('a non-array unetChannels or a string size is a ValidationError naming the field, not a TypeError', () => {
    for (const [field, value] of [['unetChannels', 64], ['unetChannels', { 0: 8 }], ['size', '32'], ['attentionHeads', null]] as const) {
      expect(() => resolveTsdmConfig({ [field]: value } as never), field).toThrow(ValidationError);
      expect(() => resolveTsdmConfig({ [field]: value } as never), field).toThrow(new RegExp(`config\\.${field}`));
    }
  });
});
