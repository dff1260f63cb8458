/**
 * Stage 3, §4.3 on wasm: the LCM student (`distillFcsdLcm`) and the refiner (`trainFcsdRefiner`). Short checks on an
 * untrained FCSD (an interrupted + resumed run equals the uninterrupted one, bit for bit; no tensor leaks; input
 * validation), then a small two-mode task — frames in pairs with identical conditions and opposite details, so the
 * teacher's samples depend on the starting noise — where a trained FCSD is distilled and refined: the distilled
 * student's LCM render is closer to the teacher's DDIM render than the undistilled student's, and the refiner lowers
 * the Eq. 9 loss on low-noise batches.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, tf, useBackend, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { lcmStudentFromTeacher, type UNet2DConditionModel } from '@consistent-avatar/diffusion';
import type { FcsdConfig } from './config.js';
import type { FcsdData, FcsdFrame } from './data.js';
import { FcsdModel } from './fcsd-model.js';
import { distillFcsdLcm } from './lcm.js';
import { refinerTimesteps, trainFcsdRefiner } from './refiner.js';
import { renderFcsd } from './render.js';
import { fcsdBatchInputs, fcsdScheduler, fcsdTarget, trainFcsd } from './train.js';

const S = 16;
/** The tiny FCSD of fcsd.test.ts, with short LCM and refiner runs. */
const TINY: Partial<FcsdConfig> = {
  size: S, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8,
  conditioningChannels: [8], batchSize: 2, backboneIterations: 0, controlIterations: 0, checkpointEvery: 2, logEvery: 2, seed: 5,
  lcmIterations: 5, lcmLr: 2e-3, lcmDdimTimesteps: 10, lcmTimeCondDim: 8, refinerIterations: 5, controlLr: 2e-3,
};

/**
 * Eight frames in four pairs: a pair shares proxy, normal map, TSD (a disk mask), P, E and emotion, and its two
 * frames add the opposite detail (±0.2 inside the disk, ∓0.06 outside) to the proxy — two modes per condition set.
 */
function twoModeData(): FcsdData {
  const rng = new Rng(21);
  const labels = ['happy', 'sad'];
  const expressions = Array.from({ length: 4 }, () => Float32Array.from(rng.normal(100, 0, 0.1)));
  const frames = Array.from({ length: 8 }, (_, index): FcsdFrame => {
    const pair = index >> 1, sign = index % 2 ? 1 : -1;
    const cx = 4 + (pair % 4) * 2.5, cy = 6 + (pair % 3) * 2, radius = 4;
    const [proxyRgb, gt, normal, tsd] = [0, 1, 2, 3].map(() => new Float32Array(S * S * 3)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const dx = (x - cx) / radius, dy = (y - cy) / radius, d2 = dx * dx + dy * dy, inside = d2 < 1;
        const detail = sign * (inside ? 1 : -0.3);
        const base = [0.35 + (0.3 * x) / S, 0.45 + (0.2 * y) / S, 0.5];
        const n = inside ? [0.5 + 0.5 * dx, 0.5 + 0.5 * dy, 0.5 + 0.5 * Math.sqrt(1 - d2)] : [0.5, 0.5, 1]; // a bump facing the camera
        for (let ch = 0; ch < 3; ch++) {
          const k = (y * S + x) * 3 + ch;
          proxyRgb[k] = base[ch]!;
          gt[k] = base[ch]! + 0.2 * detail * (ch === 2 ? 0.5 : 1);
          normal[k] = n[ch]!;
          tsd[k] = inside ? 1 : -1;
        }
      }
    }
    return {
      id: String(index).padStart(5, '0'), index, gt, proxyRgb, normal, mask: new Float32Array(S * S).fill(1),
      gtTsd: tsd, proxyTsd: tsd.map((v) => 0.5 * v), alignedTsd: tsd,
      pose: Float32Array.from([cx / S, cy / S, 0, 0, 0, 0]), expression: expressions[pair]!, emotion: labels[pair % 2]!,
    };
  });
  return { size: S, labels, frames };
}

const TRAIN = [0, 1, 2, 3, 4, 5, 6, 7];

/** An FCSD with its conditions attached (untrained: enough for resume and leak checks). */
function untrainedModel(data: FcsdData, config: Partial<FcsdConfig> = {}): FcsdModel {
  const model = new FcsdModel({ ...TINY, ...config }, data.labels);
  model.attachConditions();
  return model;
}

function expectSameWeights(a: UNet2DConditionModel, b: UNet2DConditionModel): void {
  const wa = a.stateDict(), wb = b.stateDict();
  expect(Object.keys(wb).sort()).toEqual(Object.keys(wa).sort());
  for (const [k, t] of Object.entries(wa)) expect(Array.from(wb[k]!.dataSync()), k).toEqual(Array.from(t.dataSync()));
}

let tmp: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fcsd-lcm-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('distillFcsdLcm', () => {
  it('an interrupted + resumed distillation equals the uninterrupted one; no tensor leaks (guided too); bad inputs are named', async () => {
    const data = twoModeData();
    const model = untrainedModel(data);
    const before = tf.memory().numTensors;
    const full = await distillFcsdLcm(model, data, { train: TRAIN });
    expect(full.complete).toBe(true);
    expect(full.steps).toBe(5);
    expect(full.student.config.time_cond_proj_dim).toBe(8);
    expect(Object.values(full.student.attentionProcessors()).map((p) => p.kind)).toEqual(Object.values(model.backbone.attentionProcessors()).map((p) => p.kind));
    const dir = path.join(tmp, 'lcm');
    const part = await distillFcsdLcm(model, data, { train: TRAIN, checkpointDir: dir, stopAt: 3 });
    expect(part.complete).toBe(false);
    expect(part.stepLosses).toEqual(full.stepLosses.slice(0, 3));
    part.student.dispose();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false); // returned means the folder's lock is released
    const resumed = await distillFcsdLcm(model, data, { train: TRAIN, checkpointDir: dir });
    expect(resumed.complete).toBe(true);
    expect(resumed.stepLosses).toEqual(full.stepLosses.slice(3));
    expect(resumed.lossLog).toEqual(full.lossLog);
    expectSameWeights(full.student, resumed.student);
    // The distillation changed the student (it is not the undistilled copy).
    const fresh = lcmStudentFromTeacher(model.backbone, 8);
    const key = 'time_embedding.cond_proj.weight';
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(full.student.stateDict()[key]!, fresh.stateDict()[key]!))).dataSync()[0]!)).toBeGreaterThan(0);
    fresh.dispose();
    full.student.dispose();
    resumed.student.dispose();
    // Guidance over the f_d tokens (the unconditional branch drops them all).
    const guided = await distillFcsdLcm(model, data, { train: TRAIN, guidance: [0, 2], stopAt: 2 });
    expect(guided.steps).toBe(2);
    guided.student.dispose();
    expect(tf.memory().numTensors).toBe(before);

    await expect(distillFcsdLcm(model, data, { train: TRAIN, guidance: [2, 1] })).rejects.toThrow(/options.guidance/);
    await expect(distillFcsdLcm(model, data, { train: [] })).rejects.toThrow(/options.train/);
    await expect(distillFcsdLcm(model, data, { train: TRAIN, checkpointDir: dir, stopAt: 1.5 })).rejects.toThrow(/options.stopAt/);
    const bare = new FcsdModel(TINY, data.labels);
    await expect(distillFcsdLcm(bare, data, { train: TRAIN })).rejects.toThrow(ValidationError);
    bare.dispose();
    // A checkpoint of another FCSD config is refused.
    const other = untrainedModel(data, { batchSize: 3 });
    await expect(distillFcsdLcm(other, data, { train: TRAIN, checkpointDir: dir })).rejects.toThrow(/config/);
    other.dispose();
    model.dispose();
  }, 120_000);
});

describe('trainFcsdRefiner', () => {
  it('trains on t < refinerStart·T; an interrupted + resumed run equals the uninterrupted one; no tensor leaks', async () => {
    expect(refinerTimesteps({ refinerStart: 0.2, numTrainTimesteps: 1000 })).toBe(200);
    expect(refinerTimesteps({ refinerStart: 0.2005, numTrainTimesteps: 1000 })).toBe(201); // t ≤ 200 < 200.5
    expect(() => refinerTimesteps({ refinerStart: 1, numTrainTimesteps: 1000 })).toThrow(ValidationError);
    const data = twoModeData();
    const model = untrainedModel(data);
    const before = tf.memory().numTensors;
    const full = await trainFcsdRefiner(model, data, { train: TRAIN });
    expect(full.complete).toBe(true);
    expect(full.refiner.config.time_cond_proj_dim).toBeNull();
    const dir = path.join(tmp, 'refiner');
    const part = await trainFcsdRefiner(model, data, { train: TRAIN, checkpointDir: dir, stopAt: 3 });
    expect(part.steps).toBe(3);
    part.refiner.dispose();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false); // returned means the folder's lock is released
    const resumed = await trainFcsdRefiner(model, data, { train: TRAIN, checkpointDir: dir });
    expect(resumed.stepLosses).toEqual(full.stepLosses.slice(3));
    expectSameWeights(full.refiner, resumed.refiner);
    full.refiner.dispose();
    resumed.refiner.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(trainFcsdRefiner(model, { ...data, size: 8 }, { train: TRAIN })).rejects.toThrow(/data.size/);
    model.dispose();
  }, 120_000);
});

describe('§4.3 on a two-mode task (trained FCSD)', () => {
  const data = twoModeData();
  const TASK: Partial<FcsdConfig> = {
    ...TINY, batchSize: 8, backboneIterations: 20, controlIterations: 20, backboneLr: 3e-3, controlLr: 3e-3, checkpointEvery: 1000, logEvery: 10,
    lcmIterations: 40, lcmLr: 5e-3, lcmDdimTimesteps: 4, lcmSteps: 1, ddimSteps: 10, refinerIterations: 20,
  };
  let model: FcsdModel;
  beforeAll(async () => {
    model = (await trainFcsd(data, TASK, { train: TRAIN })).model;
  }, 300_000);
  afterAll(() => model?.dispose());

  const mse = (a: FloatImage[], b: FloatImage[]) => {
    let sum = 0, n = 0;
    a.forEach((f, i) => f.data.forEach((v, k) => ((sum += (v - b[i]!.data[k]!) ** 2), n++)));
    return sum / n;
  };

  it('the distilled student in LCM steps is closer to the teacher\'s DDIM render than the undistilled student in as many steps', async () => {
    const { student, stepLosses } = await distillFcsdLcm(model, data, { train: TRAIN });
    const undistilled = lcmStudentFromTeacher(model.backbone, model.config.lcmTimeCondDim); // the backbone, zero cond_proj
    // One LCM step: the output is the consistency function at x_T itself, not mixed with the LCM sampler's
    // re-injected noise, so the comparison measures the distillation only.
    let distilledError = 0, undistilledError = 0;
    for (const seed of [0, 1]) {
      const teacher = renderFcsd(model, data, TRAIN, { sampler: 'ddim', tsdSource: 'aligned', seed }); // DDIM-ddimSteps
      distilledError += mse(renderFcsd(model, data, TRAIN, { sampler: 'lcm', student, tsdSource: 'aligned', seed }), teacher);
      undistilledError += mse(renderFcsd(model, data, TRAIN, { sampler: 'lcm', student: undistilled, tsdSource: 'aligned', seed }), teacher);
    }
    const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;
    console.log(`LCM-1 MSE to DDIM-10: distilled ${distilledError.toExponential(3)} vs undistilled ${undistilledError.toExponential(3)}; loss ${mean(stepLosses.slice(0, 10)).toExponential(2)} → ${mean(stepLosses.slice(-10)).toExponential(2)}`);
    expect(distilledError).toBeLessThan(0.92 * undistilledError);
    student.dispose();
    undistilled.dispose();
  }, 300_000);

  it('the refiner lowers the Eq. 9 loss on low-noise batches; renderFcsd hands the last steps to it', async () => {
    const { refiner, complete } = await trainFcsdRefiner(model, data, { train: TRAIN });
    expect(complete).toBe(true);
    const c = model.config, scheduler = fcsdScheduler(c), lowT = refinerTimesteps(c);
    /** Eq. 9 (x̂_0 form) over all frames, 4 draws of t < refinerStart·T and ε, with `unet` in the backbone's place. */
    const lowNoiseLoss = (unet: UNet2DConditionModel) => {
      const rng = new Rng(77);
      let total = 0;
      for (let rep = 0; rep < 4; rep++) {
        total += tf.tidy(() => {
          const ts = data.frames.map(() => rng.int(lowT));
          const x0 = tf.tensor4d(Float32Array.from(data.frames.flatMap((f) => Array.from(fcsdTarget(f, c)))), [data.frames.length, S, S, 3]);
          const xt = scheduler.addNoise(x0, tf.tensor4d(rng.normal(x0.size), [data.frames.length, S, S, 3]), ts) as tf.Tensor4D;
          const { inputs, proxyRgb } = fcsdBatchInputs(model, data.frames, 'gt');
          return tf.mean(tf.square(tf.sub(model.denoise(xt, ts, model.conditions(inputs, proxyRgb), { unet }), x0))).dataSync()[0]!;
        });
      }
      return total / 4;
    };
    const base = lowNoiseLoss(model.backbone), refined = lowNoiseLoss(refiner);
    console.log(`low-noise Eq. 9 loss: backbone ${base.toExponential(3)} → refiner ${refined.toExponential(3)}`);
    expect(refined).toBeLessThan(0.85 * base);
    // The hand-off: the same seed with and without the refiner differs, and nothing leaks.
    const before = tf.memory().numTensors;
    const plain = renderFcsd(model, data, [0, 1], { sampler: 'ddim', tsdSource: 'aligned', seed: 3 });
    const handed = renderFcsd(model, data, [0, 1], { sampler: 'ddim', refiner, tsdSource: 'aligned', seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(mse(plain, handed)).toBeGreaterThan(0);
    refiner.dispose();
  }, 300_000);
});
