/**
 * Issue 19 (reliability), stage 3: the non-finite policy of `renderFcsd` (10). A NaN in a rendered frame's TSD,
 * normal map, proxy render, pose or expression is refused naming the field before any sampling (it ran the sampler and
 * returned clamped images), and `frameNoise` checks its own arguments.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { resolveFcsdConfig } from './config.js';
import type { FcsdData, FcsdFrame } from './data.js';
import { FcsdModel } from './fcsd-model.js';
import { frameNoise, renderFcsd } from './render.js';

const S = 16;
const SMALL = { size: S, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8, conditioningChannels: [8], seed: 3, ddimSteps: 2 };

beforeAll(async () => {
  await useBackend('wasm');
});

/** Three constant frames; each field a fresh array so one can be poisoned. */
function frames(): FcsdData {
  const map = (v: number) => new Float32Array(S * S * 3).fill(v);
  return {
    size: S,
    labels: ['neutral'],
    frames: [0, 1, 2].map((index): FcsdFrame => ({
      id: `f${index}`, index, gt: map(0.5), proxyRgb: map(0.4), normal: map(0.5), mask: new Float32Array(S * S).fill(1),
      gtTsd: map(0), proxyTsd: map(0.1), alignedTsd: map(-0.1), pose: new Float32Array(6), expression: new Float32Array(100), emotion: 'neutral',
    })),
  };
}

describe('10. renderFcsd refuses non-finite frame data before sampling', () => {
  it('names the frame and the field the sampler would have read; frames it does not render are not its concern', () => {
    expect(resolveFcsdConfig(SMALL).size).toBe(S);
    const model = new FcsdModel(SMALL, ['neutral']);
    const before = tf.memory().numTensors;
    const cases: [keyof FcsdFrame, 'proxy' | 'aligned' | 'gt', RegExp][] = [
      ['proxyTsd', 'proxy', /renderFcsd: argument 'data\.frames\[2\]\.proxyTsd' expected finite numbers .*NaN at index 5/],
      ['alignedTsd', 'aligned', /'data\.frames\[2\]\.alignedTsd'.*NaN at index 5/],
      ['normal', 'gt', /'data\.frames\[2\]\.normal'/],
      ['proxyRgb', 'gt', /'data\.frames\[2\]\.proxyRgb'/],
      ['pose', 'gt', /'data\.frames\[2\]\.pose'/],
      ['expression', 'gt', /'data\.frames\[2\]\.expression'/],
    ];
    for (const [field, tsdSource, message] of cases) {
      const data = frames();
      (data.frames[2]![field] as Float32Array)[5] = Number.NaN;
      expect(() => renderFcsd(model, data, [0, 2], { sampler: 'ddim', tsdSource, seed: 0 }), field).toThrow(message);
    }
    const inf = frames();
    inf.frames[1]!.gtTsd[0] = Number.POSITIVE_INFINITY;
    expect(() => renderFcsd(model, inf, [1], { sampler: 'ddim', tsdSource: 'gt', seed: 0 })).toThrow(ValidationError);
    // The proxy TSD is not read when the aligned one conditions the frames: a NaN there does not stop the render.
    const unused = frames();
    unused.frames[0]!.proxyTsd[0] = Number.NaN;
    const [image] = renderFcsd(model, unused, [0], { sampler: 'ddim', tsdSource: 'aligned', seed: 0, steps: 1 });
    expect(image!.data.length).toBe(S * S * 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => renderFcsd(model, frames(), [0], { sampler: 'ddim', tsdSource: 'aligned', seed: 0, steps: Number.NaN })).toThrow(/'options\.steps' expected a positive integer/);
    expect(() => renderFcsd(model, frames(), [0], { sampler: 'ddim', tsdSource: 'oracle' as never, seed: 0 })).toThrow(/'options\.tsdSource'/);
    model.dispose();
  });

  it('frameNoise names itself for a NaN seed, frame index or count (Rng or typed-array errors named other functions)', () => {
    expect(() => frameNoise(Number.NaN, 0, 4)).toThrow(/frameNoise: argument 'seed' expected an integer/);
    expect(() => frameNoise(0, Number.POSITIVE_INFINITY, 4)).toThrow(ValidationError);
    expect(() => frameNoise(0, 0, Number.NaN)).toThrow(/'count'/);
    expect(frameNoise(1, 2, 4)).toEqual(frameNoise(1, 2, 4));
  });
});
