/**
 * The FCSD on a pre-trained latent-space backbone (the SD 1.5 path) with a tiny diffusers-layout folder: the folder
 * loads, the backbone and the VAE stay frozen through training, samples live in the VAE's latent space and decode to
 * frames of the data's size, rendering is seeded, and the embedded-only variants are refused.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend, ValidationError } from '@consistent-avatar/core';
import type { FcsdConfig } from './config.js';
import type { FcsdData } from './data.js';
import { FcsdModel, loadPretrainedBackbone } from './fcsd-model.js';
import { renderFcsd } from './render.js';
import { toyFcsdData } from '../../test/fcsd-toy-data.js';
import { fcsdBatchTargets, trainFcsd } from './train.js';
import { distillFcsdLcm } from './lcm.js';
import { trainFcsdRefiner } from './refiner.js';

const DIR = fileURLToPath(new URL('../../test/fixtures/sd-tiny', import.meta.url));
const S = 16; // image side; the VAE halves it
const CONFIG: Partial<FcsdConfig> = {
  size: S, target: 'image', proxyConcat: false, predictionType: 'epsilon', tokenDim: 16, textDim: 8, encoderWidth: 8,
  normGroups: 8, conditioningChannels: [16, 24], batchSize: 2, controlIterations: 4, controlLr: 1e-3, ddimSteps: 3,
  lcmIterations: 2, lcmDdimTimesteps: 10, lcmTimeCondDim: 8, refinerIterations: 2, checkpointEvery: 100, logEvery: 2, seed: 1,
};

const toyData = (): FcsdData => toyFcsdData({ size: S, frames: 4, seed: 4, ids: 'plain' });

beforeAll(async () => {
  await useBackend('wasm');
});

describe('FCSD on a pre-trained backbone (SD layout)', () => {
  it('trains the conditions only, samples in latent space and decodes to frames; seeded', async () => {
    const data = toyData();
    const backbone = loadPretrainedBackbone(DIR);
    const before = Object.fromEntries(Object.entries(backbone.unet.stateDict()).slice(0, 6).map(([k, t]) => [k, Array.from(t.dataSync())]));
    const vaeBefore = Array.from(backbone.vae.namedParameters()[0]![1].dataSync());
    const { model, steps, complete } = await trainFcsd(data, CONFIG, { train: [0, 1], pretrained: backbone });
    expect(complete).toBe(true);
    expect(steps).toEqual({ backbone: 0, conditions: 4 });
    expect(model.isPretrained).toBe(true);
    expect(model.sampleShape(2)).toEqual([2, 8, 8, 4]);
    for (const [k, v] of Object.entries(before)) expect(Array.from(model.backbone.stateDict()[k]!.dataSync()), k).toEqual(v);
    expect(Array.from(model.vae!.namedParameters()[0]![1].dataSync())).toEqual(vaeBefore);
    const a = renderFcsd(model, data, [2, 3], { sampler: 'ddim', tsdSource: 'aligned', seed: 7 });
    const b = renderFcsd(model, data, [2, 3], { sampler: 'ddim', tsdSource: 'aligned', seed: 7 });
    expect(a[0]!.height).toBe(S);
    expect(a[0]!.data.length).toBe(S * S * 3);
    expect(a.map((f) => Array.from(f.data))).toEqual(b.map((f) => Array.from(f.data)));
    // The fine-tunings of §4.3 train on the same latent targets: an LCM student and a refiner on the SD backbone.
    const x0 = fcsdBatchTargets(model, data.frames.slice(0, 2));
    expect(x0.shape).toEqual([2, 8, 8, 4]);
    x0.dispose();
    const lcm = await distillFcsdLcm(model, data, { train: [0, 1] });
    expect(lcm.complete).toBe(true);
    const viaLcm = renderFcsd(model, data, [2], { sampler: 'lcm', student: lcm.student, tsdSource: 'aligned', seed: 7, steps: 2 });
    expect(viaLcm[0]!.data.length).toBe(S * S * 3);
    const refined0 = await trainFcsdRefiner(model, data, { train: [0, 1] });
    expect(refined0.complete).toBe(true);
    const refiner = refined0.refiner;
    const refined = renderFcsd(model, data, [2], { sampler: 'ddim', refiner, tsdSource: 'aligned', seed: 7 });
    expect(refined[0]!.height).toBe(S);
    lcm.student.dispose();
    refiner.dispose();
    model.dispose();
  });

  it('refuses the embedded-only formulation and a ControlNet embedding that does not match the VAE factor', () => {
    const data = toyData();
    const count = tf.memory().numTensors;
    const backbone = loadPretrainedBackbone(DIR);
    expect(() => new FcsdModel({ ...CONFIG, target: 'residual' }, data.labels, backbone)).toThrow(/target 'image' and proxyConcat false/);
    expect(() => new FcsdModel({ ...CONFIG, conditioningChannels: [16] }, data.labels, backbone)).toThrow(/config.conditioningChannels/);
    expect(() => loadPretrainedBackbone('/nonexistent/sd')).toThrow();
    expect(() => loadPretrainedBackbone('')).toThrow(ValidationError);
    backbone.unet.dispose();
    backbone.vae.dispose();
    expect(tf.memory().numTensors).toBe(count); // a refused construction holds nothing
  });
});
