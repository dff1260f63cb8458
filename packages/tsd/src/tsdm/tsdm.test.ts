/**
 * TSDM (stage 2) on a tiny synthetic dataset (16² frames → 8² TSD maps, a tiny UNet / encoder) on wasm: the loss
 * is finite and falls, a run interrupted at a checkpoint and resumed gives exactly the losses and weights of the
 * uninterrupted run, training and alignment leak no tensors, and bad configs / inputs raise ValidationErrors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, loadSafetensorsAsTensors, tf, useBackend, ValidationError, writeSafetensors } from '@consistent-avatar/core';
import { fitProxyAvatar, readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdmWindowInputs, TsdmModel, TSDM_PAPER_CONDITIONING, type TsdmConfig, type TsdmData } from '../index.js';

const TINY: Partial<TsdmConfig> = {
  size: 8, tsdRadius: 1, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8,
  batchSize: 2, lr: 3e-3, iterations: 24, checkpointEvery: 12, logEvery: 4, seed: 3,
};

let tmp: string;
let data: TsdmData;

beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsdm-test-'));
  const { root } = await synthesizeDataset({ out: path.join(tmp, 'data'), frames: 8, size: 16, testFrames: 2, seed: 1, supersample: 1 });
  const ds = readInstaDataset(root);
  const proxy = await fitProxyAvatar(ds, { steps: 5, textureSize: 16, batchPixels: 512 });
  data = prepareTsdmData(ds, proxy, resolveTsdmConfig(TINY));
  proxy.dispose();
}, 120_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('prepareTsdmData', () => {
  it('builds [size, size, 3] ground-truth and proxy TSD in [−1, 1] with P (6) and E (100), split as the dataset', () => {
    expect(data.frames).toHaveLength(8);
    expect(data.split).toEqual({ train: [0, 1, 2, 3, 4, 5], test: [6, 7] });
    for (const f of data.frames) {
      expect(f.gt!.length).toBe(8 * 8 * 3);
      expect(f.proxy.length).toBe(8 * 8 * 3);
      expect(f.pose.length).toBe(6);
      expect(f.expression.length).toBe(100);
      // normalizeTsd clips to [−1, 1], so a bound would test nothing: check that the fixed scale keeps most of the
      // detail inside the range instead (a wrong scale, e.g. 1 for uint8 data, clips nearly every value; these 8²
      // maps clip about a tenth) and that the map carries detail.
      expect(f.gt!.filter((v) => Math.abs(v) >= 1).length).toBeLessThan(0.25 * f.gt!.length);
      expect(f.gt!.some((v) => v !== 0)).toBe(true);
    }
  });
});

describe('trainTsdm', () => {
  it('loss is finite and falls; an interrupted + resumed run equals the uninterrupted one; no leaks', async () => {
    const before = tf.memory().numTensors;
    const full = await trainTsdm(data, TINY);
    expect(full.stepLosses).toHaveLength(24);
    expect(full.stepLosses.every(Number.isFinite)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(full.stepLosses.slice(0, 8)), last = mean(full.stepLosses.slice(-8));
    console.log(`tiny TSDM (default formulation: residual x̂_0): mean loss steps 1–8 ${first.toFixed(4)}, steps 17–24 ${last.toFixed(4)}`);
    expect(last).toBeLessThan(0.8 * first);

    const dir = path.join(tmp, 'ckpt');
    const part = await trainTsdm(data, TINY, { checkpointDir: dir, stopAt: 12 });
    expect(part.step).toBe(12);
    part.model.dispose();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false); // returned means the folder's lock is released
    // A concurrent writer (a live lock from another host, never taken over) is still refused, naming the holder.
    const busy = path.join(tmp, 'ckpt-busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, '.lock'), JSON.stringify({ pid: 1, host: 'another-host', started: new Date().toISOString(), command: 'ca train-tsdm' }));
    await expect(trainTsdm(data, TINY, { checkpointDir: busy })).rejects.toThrow(/another-host/);
    const resumed = await trainTsdm(data, TINY, { checkpointDir: dir });
    expect(resumed.resumedFrom).toMatch(/step-000012$/);
    expect(resumed.step).toBe(24);
    // Same backend, same ops, weights / moments / RNG state restored bit for bit: the losses must agree exactly
    // (1e-6 relative leaves room only for float32 printing, not for a different batch or noise draw).
    resumed.stepLosses.forEach((l, i) => expect(Math.abs(l - full.stepLosses[12 + i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(l)));
    expect(resumed.lossLog).toEqual(full.lossLog);
    const a = full.model.stateDict(), b = resumed.model.stateDict();
    for (const [k, t] of Object.entries(a)) expect(tf.tidy(() => tf.max(tf.abs(tf.sub(t, b[k]!))).dataSync()[0])).toBeLessThanOrEqual(1e-6);

    // 3 held-out frames' alignment runs and leaks nothing on repeated calls.
    const frames = data.split.test.map((i) => data.frames[i]!);
    const out1 = alignTsd(full.model, frames, { steps: 3, seed: 1 });
    const n0 = tf.memory().numTensors;
    const out2 = alignTsd(full.model, frames, { steps: 3, seed: 1 });
    alignTsd(full.model, frames, { sampler: 'lcm', steps: 2, seed: 1 });
    expect(tf.memory().numTensors).toBe(n0);
    expect(out2).toEqual(out1); // seeded
    expect(out1[0]!.length).toBe(8 * 8 * 3);
    // The trained model does change the proxy's TSD (residual target: the output is TSD_proxy + residualScale·x̂0).
    expect(out1.some((m, i) => m.some((v, k) => v !== frames[i]!.proxy[k]))).toBe(true);
    // Ensembling averages k draws: across seeds, ensemble-4 outputs spread about half as much as single samples.
    const spread = (k: number) => {
      const runs = [0, 1, 2, 3].map((seed) => alignTsd(full.model, frames.slice(0, 1), { steps: 3, seed, ensemble: k })[0]!);
      let s2 = 0, m = 0;
      for (let a = 0; a < runs.length; a++) for (let b = a + 1; b < runs.length; b++, m++) s2 += runs[a]!.reduce((acc, v, i) => acc + (v - runs[b]![i]!) ** 2, 0);
      return Math.sqrt(s2 / m);
    };
    const single = spread(1), ens = spread(4);
    console.log(`seed spread of aligned TSD: single sample ${single.toFixed(4)}, ensemble of 4 ${ens.toFixed(4)}`);
    expect(ens).toBeLessThan(0.75 * single);
    expect(alignTsd(full.model, frames, { steps: 3, seed: 1, ensemble: 8 })).toEqual(out1); // the default ensemble
    expect(tf.memory().numTensors).toBe(n0);
    full.model.dispose();
    resumed.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 240_000);
});

describe('TsdmModel conditioning', () => {
  it('proxyConcat feeds the proxy TSD spatially (3 + 3 input channels) and the tokens through the IP-Adapter', () => {
    const model = new TsdmModel({ ...TINY, temporalWindow: 0 });
    const paper = new TsdmModel({ ...TINY, ...TSDM_PAPER_CONDITIONING });
    expect(model.unet.config.in_channels).toBe(6);
    expect(paper.unet.config.in_channels).toBe(3);
    const xt = tf.randomNormal([1, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const proxyA = tf.randomNormal([1, 8, 8, 3], 0, 0.3, 'float32', 2) as tf.Tensor4D;
    const proxyB = tf.randomNormal([1, 8, 8, 3], 0, 0.3, 'float32', 3) as tf.Tensor4D;
    const pose = tf.zeros([1, 6]), expr = tf.zeros([1, 100]);
    const tokens = model.condition(proxyA, pose, expr);
    // Same tokens, different concatenated map: the prediction changes (the map is really an input) ...
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predictNoise(xt, 500, tokens, proxyA), model.predictNoise(xt, 500, tokens, proxyB)))).dataSync()[0]!);
    expect(diff).toBeGreaterThan(1e-4);
    // ... and it is required.
    expect(() => model.predictNoise(xt, 500, tokens)).toThrow(/predictNoise.*proxyTsd/);
    expect(() => resolveTsdmConfig({ proxyConcat: 1 as never })).toThrow(/config\.proxyConcat/);
    const paperTokens = paper.condition(proxyA, pose, expr);
    tf.dispose(paper.predictNoise(xt, 500, paperTokens)); // tokens only: no map needed
    tf.dispose([xt, proxyA, proxyB, pose, expr, tokens, paperTokens]);
    model.dispose();
    paper.dispose();
  });

  it('temporalWindow K packs frames t−K … t+K (clamped at the ends) into the UNet input and the P / E linears', () => {
    const S = 8, n = S * S * 3;
    // Frame i: proxy = i/10 everywhere, pose = 100 + i, expression = 200 + i (so every packed value names its frame).
    const seq = [0, 1, 2, 3].map((i) => ({ proxy: new Float32Array(n).fill(i / 10), pose: new Float32Array(6).fill(100 + i), expression: new Float32Array(100).fill(200 + i) }));
    const c = resolveTsdmConfig({ ...TINY, temporalWindow: 1 });
    const w = tsdmWindowInputs(seq, [0, 2, 3], c);
    const frameOf = (v: number) => Math.round(v * 10);
    for (const [b, want] of [[0, [0, 0, 1]], [1, [1, 2, 3]], [2, [2, 3, 3]]] as const) {
      for (const p of [0, S * S - 1]) {
        expect([0, 1, 2].map((k) => frameOf(w.proxyWindow[(b * S * S + p) * 9 + 3 * k + 2]!))).toEqual(want); // [B, S, S, 3·W]
      }
      expect([0, 1, 2].map((k) => w.pose[(b * 3 + k) * 6]! - 100)).toEqual(want); // [B, W·6]
      expect([0, 1, 2].map((k) => w.expression[(b * 3 + k) * 100 + 99]! - 200)).toEqual(want); // [B, W·100]
      expect(frameOf(w.proxy[b * n]!)).toBe(want[1]); // the frame's own proxy
    }
    expect(() => tsdmWindowInputs(seq, [4], c)).toThrow(/tsdmWindowInputs.*centers/);

    // Through alignTsd: with K = 1 a neighbour's proxy changes a frame's output, with K = 0 it does not.
    const frames = data.frames.slice(0, 3);
    const changed = [frames[0]!, { ...frames[1]!, proxy: frames[1]!.proxy.map((v) => -v) }, frames[2]!];
    for (const K of [0, 1]) {
      const model = new TsdmModel({ ...TINY, temporalWindow: K });
      expect(model.unet.config.in_channels).toBe(3 + 3 * (2 * K + 1));
      expect(model.pose_proj.inFeatures).toBe((2 * K + 1) * 6);
      const a = alignTsd(model, frames, { steps: 1, ensemble: 1 })[0]!;
      const b = alignTsd(model, changed, { steps: 1, ensemble: 1 })[0]!;
      const maxDiff = Math.max(...a.map((v, k) => Math.abs(v - b[k]!)));
      if (K === 0) expect(maxDiff).toBe(0);
      else expect(maxDiff).toBeGreaterThan(1e-5);
      model.dispose();
    }
    expect(() => resolveTsdmConfig({ temporalWindow: -1 })).toThrow(/config\.temporalWindow/);

    // options.indices: frame 1 of the whole sequence = frame 1 of a full run (not the clamped window of a slice).
    const model = new TsdmModel({ ...TINY, temporalWindow: 1 });
    const full = alignTsd(model, frames, { steps: 1, ensemble: 1 });
    const only = alignTsd(model, frames, { steps: 1, ensemble: 1, indices: [1] });
    const sliced = alignTsd(model, frames.slice(1, 2), { steps: 1, ensemble: 1 });
    expect(only).toHaveLength(1);
    expect(Math.max(...only[0]!.map((v, k) => Math.abs(v - full[1]![k]!)))).toBeLessThan(1e-5);
    expect(Math.max(...only[0]!.map((v, k) => Math.abs(v - sliced[0]![k]!)))).toBeGreaterThan(1e-5);
    expect(() => alignTsd(model, frames, { indices: [3] })).toThrow(/options\.indices/);
    model.dispose();
  });
});

describe('TsdmModel.savePretrained / fromPretrained', () => {
  it('round-trips a trained model exactly (same aligned TSD), and refuses corrupt files and other model folders', async () => {
    const before = tf.memory().numTensors;
    const run = await trainTsdm(data, { ...TINY, iterations: 4 });
    const dir = path.join(tmp, 'tsdm-model');
    run.model.savePretrained(dir);
    const loaded = TsdmModel.fromPretrained(dir);
    expect(loaded.toJSON()).toEqual(run.model.toJSON());
    const frames = data.split.test.map((i) => data.frames[i]!);
    expect(alignTsd(loaded, frames, { steps: 2, ensemble: 2 })).toEqual(alignTsd(run.model, frames, { steps: 2, ensemble: 2 }));
    loaded.dispose();
    run.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // A truncated weight file is a FormatError, a folder of another class a ValidationError naming it.
    const weights = path.join(dir, 'diffusion_pytorch_model.safetensors');
    fs.writeFileSync(weights, fs.readFileSync(weights).subarray(0, 1000));
    expect(() => TsdmModel.fromPretrained(dir)).toThrow(FormatError);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ _class_name: 'UNet2DConditionModel', sample_size: 32 }));
    expect(() => TsdmModel.fromPretrained(dir)).toThrow(/TsdmModel folder/);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});

describe('TsdmModel checkpoints from before the token conditioner', () => {
  it('are refused with an error naming the old and the new keys (not loaded wrongly)', () => {
    const model = new TsdmModel(TINY);
    expect(Object.keys(model.stateDict()).filter((k) => !k.startsWith('unet.')).map((k) => k.split('.').slice(0, 2).join('.')).filter((k, i, a) => a.indexOf(k) === i))
      .toEqual(['null_text', 'conditioner.proxy', 'conditioner.pose', 'conditioner.expression']);
    const dir = path.join(tmp, 'tsdm-legacy');
    model.savePretrained(dir);
    model.dispose();
    // Rewrite the weights under the old names (encoder.*, pose_proj.*, expression_proj.*).
    const file = path.join(dir, 'diffusion_pytorch_model.safetensors');
    const tensors = loadSafetensorsAsTensors(file);
    const old = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k.replace(/^conditioner\.proxy\./, 'encoder.').replace(/^conditioner\.pose\./, 'pose_proj.').replace(/^conditioner\.expression\./, 'expression_proj.'), t]));
    writeSafetensors(file, old, { format: 'pt' });
    tf.dispose(Object.values(tensors));
    const before = tf.memory().numTensors;
    expect(() => TsdmModel.fromPretrained(dir)).toThrow(/TsdmModel\.fromPretrained.*conditioner\.proxy.*encoder\.\*, pose_proj\.\*/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the paper formulation (TSDM_PAPER_CONDITIONING)', () => {
  it('trains ε on the TSD itself with tokens only (loss falls) and samples with the scheduler in epsilon mode', async () => {
    const before = tf.memory().numTensors;
    const run = await trainTsdm(data, { ...TINY, ...TSDM_PAPER_CONDITIONING });
    expect(run.model.unet.config.in_channels).toBe(3);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(run.stepLosses.slice(-8))).toBeLessThan(0.8 * mean(run.stepLosses.slice(0, 8)));
    const frames = data.split.test.map((i) => data.frames[i]!);
    const out = alignTsd(run.model, frames, { steps: 2, ensemble: 2 });
    // alignTsd clamps to [−1, 1], so check what can fail: seeded (same seed, same maps; another seed, other maps).
    expect(out).toHaveLength(frames.length);
    expect(alignTsd(run.model, frames, { steps: 2, ensemble: 2 })).toEqual(out);
    expect(alignTsd(run.model, frames, { steps: 2, ensemble: 2, seed: 5 })).not.toEqual(out);
    run.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => resolveTsdmConfig({ predictionType: 'v_prediction' as never })).toThrow(/config\.predictionType/);
  }, 120_000);
});

describe('errors', () => {
  it('bad configs, data and options raise ValidationError naming the argument', async () => {
    expect(() => resolveTsdmConfig({ batchSize: 0 })).toThrow(/config\.batchSize/);
    expect(() => resolveTsdmConfig({ size: 30, unetChannels: [8, 16, 32] })).toThrow(/config\.size/);
    expect(() => resolveTsdmConfig({ lr: Number.NaN })).toThrow(/config\.lr/);
    expect(() => resolveTsdmConfig({ target: 'image' as never })).toThrow(/config\.target/);
    expect(() => resolveTsdmConfig({ unetChannels: [6, 16], normGroups: 4 })).toThrow(/config\.unetChannels/);
    expect(() => resolveTsdmConfig({ textDim: 3 } as never)).toThrow(/resolveTsdmConfig: argument 'config.textDim' expected a known field \(size, tsdRadius, /);
    expect(() => resolveTsdmConfig({ encoderBlocks: [1, 1, 0, 1] })).toThrow("resolveTsdmConfig: argument 'config.encoderBlocks[2]' expected a positive integer, got 0");
    expect(() => resolveTsdmConfig({ ipScale: -0.5 })).toThrow("resolveTsdmConfig: argument 'config.ipScale' expected a finite number ≥ 0, got -0.5");
    expect(() => resolveTsdmConfig({ betaStart: 0.1, betaEnd: 0.01 })).toThrow(/config\.betaEnd/);
    const again = resolveTsdmConfig(JSON.parse(JSON.stringify(resolveTsdmConfig(TINY))));
    expect(again).toEqual(resolveTsdmConfig(TINY));
    await expect(trainTsdm(data, { ...TINY, size: 16 })).rejects.toThrow(/data\.size/);
    await expect(trainTsdm({ ...data, split: { train: [], test: [] } }, TINY)).rejects.toThrow(/split\.train/);
    const model = new TsdmModel(TINY);
    expect(() => alignTsd(model, [], {})).toThrow(/frames/);
    expect(() => alignTsd(model, [data.frames[0]!], { sampler: 'euler' as never })).toThrow(/options\.sampler/);
    expect(() => alignTsd(model, [{ ...data.frames[0]!, pose: new Float32Array(3) }])).toThrow(/pose/);
    expect(() => alignTsd(model, [data.frames[0]!], { ensemble: 0 })).toThrow(/options\.ensemble/);
    expect(() => model.condition(tf.zeros([1, 8, 8, 3]), tf.zeros([1, 5]), tf.zeros([1, 100]))).toThrow(/pose/);
    model.dispose();
    // A checkpoint of another config is not resumed silently.
    const dir = path.join(tmp, 'ckpt-other');
    (await trainTsdm(data, { ...TINY, iterations: 1 }, { checkpointDir: dir })).model.dispose();
    await expect(trainTsdm(data, { ...TINY, iterations: 2 }, { checkpointDir: dir })).rejects.toThrow(/config/);
  }, 60_000);
});
