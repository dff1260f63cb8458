/**
 * Stage 3 on a tiny synthetic setup (16² maps, a tiny backbone) on wasm: shapes and gradients of the FCSD, no tensor
 * leaks, every condition switch changes exactly the inputs it names, an interrupted + resumed training equals the
 * uninterrupted one, and rendering is deterministic per seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, tf, useBackend, ValidationError } from '@consistent-avatar/core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveFcsdConfig, type FcsdConfig } from './config.js';
import type { FcsdData, FcsdFrame } from './data.js';
import { FcsdModel } from './fcsd-model.js';
import { renderFcsd } from './render.js';
import { toyFcsdData } from '../../test/fcsd-toy-data.js';
import { fcsdBatchInputs, trainFcsd } from './train.js';

const S = 16;
const TINY: Partial<FcsdConfig> = {
  size: S, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8,
  conditioningChannels: [8], batchSize: 2, backboneIterations: 6, controlIterations: 6, backboneLr: 2e-3, controlLr: 2e-3,
  checkpointEvery: 3, logEvery: 3, seed: 5, lcmIterations: 0, ddimSteps: 3,
};

/** Synthetic frames: random maps and vectors (deterministic). */
const toyData = (frames = 6): FcsdData => toyFcsdData({ size: S, frames, seed: 11 });

/** Give the ControlNet's zero convolutions and the IP projections random weights, so every path reaches the output. */
function wake(model: FcsdModel): void {
  const rng = new Rng(99);
  for (const [name, v] of model.namedParameters()) {
    if (/controlnet_(down|mid)_block|controlnet_cond_embedding\.conv_out|to_[kv]_ip/.test(name)) v.assign(tf.tensor(rng.normal(v.size, 0, 0.2), v.shape, 'float32'));
  }
}

let tmp: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fcsd-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('FcsdModel', () => {
  it('forward and backward shapes; f_d has one token per switched-on condition; no leaks', () => {
    const data = toyData();
    const model = new FcsdModel(TINY, data.labels);
    model.attachConditions();
    expect(model.tokenNames).toEqual(['tsd', 'pose', 'expression', 'emotion']);
    const frames = data.frames.slice(0, 2);
    const before = tf.memory().numTensors;
    const { inputs, proxyRgb } = fcsdBatchInputs(model, frames, 'gt');
    const cond = model.conditions(inputs, proxyRgb);
    expect(cond.tokens!.shape).toEqual([2, 4, 16]); // f_d ∈ R^{4×D}
    expect(cond.controlImage!.shape).toEqual([2, S, S, 6]); // z_c = concat(normal, TSD)
    const xt = tf.randomNormal([2, S, S, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const out = model.denoise(xt, [10, 900], cond);
    expect(out.shape).toEqual([2, S, S, 3]);
    const params = model.conditionParameters();
    expect(params.some(([n]) => n.startsWith('backbone.') && !n.includes('_ip.'))).toBe(false); // the backbone is frozen
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.denoise(xt, [10, 900], model.conditions(inputs, proxyRgb)))) as tf.Scalar, params.map(([, v]) => v));
    // Every trainable tensor of the conditioning phase gets a gradient (the null token only under dropout).
    for (const [name, v] of params) if (name !== 'conditioner.null_token') expect(grads[v.name]?.shape, name).toEqual(v.shape);
    tf.dispose([value, xt, out, ...Object.values(grads), ...Object.values(inputs), proxyRgb, cond.tokens!, cond.controlImage!, cond.proxy!]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('each condition switch changes exactly the inputs it names', () => {
    const data = toyData();
    const frames = data.frames.slice(0, 2);
    const other = [data.frames[3]!, data.frames[2]!]; // different maps / vectors, and the other label of each frame
    const xt = tf.randomNormal([2, S, S, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    /** Output change when one input of `frames` is replaced by `other`'s. */
    const sensitivity = (config: Partial<FcsdConfig>, field: keyof FcsdFrame) => {
      const model = new FcsdModel({ ...TINY, ...config }, data.labels);
      model.attachConditions();
      wake(model);
      const run = (fs: FcsdFrame[]) => tf.tidy(() => {
        const { inputs, proxyRgb } = fcsdBatchInputs(model, fs, 'gt');
        return model.denoise(xt, [400, 400], model.conditions(inputs, proxyRgb)).dataSync() as Float32Array;
      });
      const a = run(frames);
      const changed = frames.map((f, k) => ({ ...f, [field]: other[k]![field] }));
      const b = run(changed);
      model.dispose();
      return a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k]!)), 0);
    };
    expect(sensitivity({}, 'normal')).toBeGreaterThan(1e-4);
    expect(sensitivity({ useNormal: false }, 'normal')).toBe(0);
    expect(sensitivity({}, 'emotion')).toBeGreaterThan(1e-4);
    expect(sensitivity({ useEmotion: false }, 'emotion')).toBe(0);
    expect(sensitivity({}, 'expression')).toBeGreaterThan(1e-4);
    expect(sensitivity({ usePoseExpressionTokens: false }, 'expression')).toBe(0);
    // The TSD reaches the output through z_c and E(TSD′): both switches must be off for it to have no effect.
    expect(sensitivity({ useTsd: false }, 'gtTsd')).toBeGreaterThan(1e-4);
    expect(sensitivity({ useTsdToken: false }, 'gtTsd')).toBeGreaterThan(1e-4);
    expect(sensitivity({ useTsd: false, useTsdToken: false }, 'gtTsd')).toBe(0);
    // The proxy RGB enters only by concatenation.
    expect(sensitivity({}, 'proxyRgb')).toBeGreaterThan(1e-4);
    expect(sensitivity({ proxyConcat: false }, 'proxyRgb')).toBe(0);
    xt.dispose();
  });

  it('rejects bad configs and inputs with the field named', () => {
    expect(() => resolveFcsdConfig({ size: 0 })).toThrow(/config.size/);
    expect(() => resolveFcsdConfig({ betaStart: 0.02, betaEnd: 0.01 })).toThrow(/config.betaEnd/);
    expect(() => resolveFcsdConfig({ unetChannels: [12, 16], normGroups: 8 })).toThrow(/config.unetChannels/);
    expect(() => resolveFcsdConfig({ nope: 1 } as never)).toThrow(ValidationError);
    expect(() => new FcsdModel(TINY, [])).toThrow(/labelSet/);
    const model = new FcsdModel(TINY, ['happy']);
    expect(() => model.labelIndices(['sad'])).toThrow(/one of happy/);
    model.dispose();
  });
});

describe('trainFcsd', () => {
  it('an interrupted + resumed run equals the uninterrupted one (losses, weights); rendering is seeded', async () => {
    const data = toyData();
    const train = [0, 1, 2, 3];
    const full = await trainFcsd(data, TINY, { train });
    expect(full.complete).toBe(true);
    expect(full.stepLosses).toHaveLength(12);
    const dir = path.join(tmp, 'ckpt');
    const part = await trainFcsd(data, TINY, { train, checkpointDir: dir, stopAt: 8 }); // inside the conditions phase
    expect(part.complete).toBe(false);
    expect(part.steps).toEqual({ backbone: 6, conditions: 2 });
    part.model.dispose();
    // Returned means released: neither phase folder keeps its lock (a later run, in any process, may take it).
    expect(fs.existsSync(path.join(dir, 'backbone', '.lock'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'conditions', '.lock'))).toBe(false);
    const resumed = await trainFcsd(data, TINY, { train, checkpointDir: dir });
    expect(resumed.complete).toBe(true);
    expect(resumed.stepLosses).toEqual(full.stepLosses.slice(8));
    const a = full.model.stateDict(), b = resumed.model.stateDict();
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const [k, t] of Object.entries(a)) expect(Array.from(b[k]!.dataSync()), k).toEqual(Array.from(t.dataSync()));

    const before = tf.memory().numTensors;
    const r1 = renderFcsd(full.model, data, [4, 5], { sampler: 'ddim', tsdSource: 'aligned', seed: 3 });
    const r2 = renderFcsd(full.model, data, [4, 5], { sampler: 'ddim', tsdSource: 'aligned', seed: 3 });
    const r3 = renderFcsd(full.model, data, [4, 5], { sampler: 'ddim', tsdSource: 'aligned', seed: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r1.map((f) => Array.from(f.data))).toEqual(r2.map((f) => Array.from(f.data)));
    expect(Array.from(r1[0]!.data)).not.toEqual(Array.from(r3[0]!.data));
    expect(r1[0]!.height).toBe(S);
    full.model.dispose();
    resumed.model.dispose();
  });

  it('a variant on a shared backbone (w/o emotion and normal) trains exactly as it would from scratch; mismatched or unfinished backbones are refused', async () => {
    const data = toyData();
    const train = [0, 1, 2, 3];
    const full = await trainFcsd(data, TINY, { train, checkpointDir: path.join(tmp, 'share-full') });
    full.model.dispose();
    const variant = { ...TINY, useEmotion: false, useNormal: false };
    const before = tf.memory().numTensors;
    const scratch = await trainFcsd(data, variant, { train, checkpointDir: path.join(tmp, 'share-scratch') });
    const shared = await trainFcsd(data, variant, { train, checkpointDir: path.join(tmp, 'share-variant'), sharedBackbone: path.join(tmp, 'share-full', 'backbone') });
    try {
      expect(shared.steps).toEqual({ backbone: 6, conditions: 6 });
      expect(shared.complete).toBe(true);
      expect(shared.lossLog.backbone).toEqual([]); // not trained again
      expect(shared.stepLosses).toEqual(scratch.stepLosses.slice(6)); // the same condition phase, step for step
      const a = scratch.model.stateDict(), b = shared.model.stateDict();
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      for (const k of Object.keys(a)) expect(Array.from(b[k]!.dataSync())).toEqual(Array.from(a[k]!.dataSync()));
      expect(fs.existsSync(path.join(tmp, 'share-variant', 'backbone'))).toBe(false);
    } finally {
      scratch.model.dispose();
      shared.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    // Another backbone recipe, or a backbone phase that has not finished, is refused by name.
    await expect(trainFcsd(data, { ...variant, backboneLr: 1e-3 }, { train, sharedBackbone: path.join(tmp, 'share-full', 'backbone') })).rejects.toThrow(/sharedBackbone.*outside the condition fields/);
    await expect(trainFcsd(data, { ...variant, backboneIterations: 7 }, { train, sharedBackbone: path.join(tmp, 'share-full', 'backbone') })).rejects.toThrow(/sharedBackbone.*finished backbone phase \(step 7\)/);
    await expect(trainFcsd(data, variant, { train, sharedBackbone: path.join(tmp, 'nothing-here') })).rejects.toThrow(ValidationError);
    expect(tf.memory().numTensors).toBe(before);
  }, 240_000);
});
