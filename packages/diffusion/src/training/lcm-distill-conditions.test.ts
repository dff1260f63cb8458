/**
 * Latent consistency distillation of a teacher that is more than a bare UNet: a UNet with IP-Adapter processors fed
 * condition tokens, plus a ControlNet on a control image, run through a model-call function. The student copies the
 * processors and starts equal to the teacher; a few steps lower the loss; the unconditional teacher call is skipped
 * without guidance; checkpoints continue bit-for-bit; no leaks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nn, Rng, tf, useBackend, ValidationError } from '@consistent-avatar/core';
import {
  AttnProcessor,
  ControlNetModel,
  IPAdapterAttnProcessor,
  LcmDistillTrainer,
  UNet2DConditionModel,
  attachIPAdapter,
  cloneUNet,
  lcmStudentFromTeacher,
  type AttentionProcessor,
  type LcmDistillConditionBatch,
  type LcmModelCall,
} from '../index.js';
import { TOY_CLASS_NOISE, TOY_CLASS_UNET, classBatch, classTokens } from '../../test/toy-tasks.js';

/** The conditions of the toy teacher: class text tokens, two condition tokens for the IP branch, a control map. */
interface ToyConditions {
  text: tf.Tensor3D;
  tokens: tf.Tensor3D;
  control: tf.Tensor4D;
}

let tmp: string;
let teacher: UNet2DConditionModel;
let controlnet: ControlNetModel;

beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lcd-cond-'));
  teacher = new UNet2DConditionModel(TOY_CLASS_UNET, { seed: 1 });
  controlnet = ControlNetModel.fromUnet(teacher, { conditioningChannels: 1, conditioningEmbeddingOutChannels: [16], seed: 3 });
  attachIPAdapter(teacher, { numTokens: 2, scale: 0.8, initFromTextProjections: false, seed: 2 });
  // The ControlNet's zero convolutions get random weights so the control map reaches the output.
  const rng = new Rng(4);
  for (const [name, v] of controlnet.namedParameters()) {
    if (/controlnet_(down|mid)_block|controlnet_cond_embedding\.conv_out/.test(name)) v.assign(tf.tensor(rng.normal(v.size, 0, 0.2), v.shape, 'float32'));
  }
});
afterAll(() => {
  teacher.dispose();
  controlnet.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The teacher as a model call: ControlNet residuals + decoupled attention on the tokens, `unet` in the UNet's place. */
const modelCall: LcmModelCall<ToyConditions> = (unet, x, t, c, timestepCond) =>
  tf.tidy(() => {
    const r = controlnet.forward(x, t, c.text, c.control);
    return unet.forward(x, t, { text: c.text, ipTokens: [c.tokens] }, { timestepCond, downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample });
  });

function conditionsOf(rng: Rng, labels: number[]): ToyConditions {
  const B = labels.length;
  return {
    text: classTokens(labels),
    tokens: tf.tensor3d(rng.normal(B * 2 * 8), [B, 2, 8]),
    control: tf.tensor4d(rng.uniform(B * 64), [B, 8, 8, 1]),
  };
}

function batchOf(rng: Rng, B: number): LcmDistillConditionBatch<ToyConditions> {
  const { x0, labels } = classBatch(rng, B);
  const conditions = conditionsOf(rng, labels);
  // Unconditional: no class, zero tokens, the same control map.
  return { latents: x0, conditions, negativeConditions: { text: tf.zerosLike(conditions.text), tokens: tf.zerosLike(conditions.tokens), control: conditions.control } };
}

function disposeBatch(b: LcmDistillConditionBatch<ToyConditions>): void {
  tf.dispose([b.latents, b.conditions.text, b.conditions.tokens, b.conditions.control, b.negativeConditions!.text, b.negativeConditions!.tokens]);
}

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('lcmStudentFromTeacher / cloneUNet with IP-Adapter processors', () => {
  it('copies the processor layout, scales and weights: the student equals the teacher through the model call for any w', () => {
    const student = lcmStudentFromTeacher(teacher, 16);
    const kinds = (u: UNet2DConditionModel) => Object.entries(u.attentionProcessors()).map(([n, p]) => `${n}:${p.kind}`);
    expect(kinds(student)).toEqual(kinds(teacher));
    expect(kinds(student).filter((k) => k.endsWith(':IPAdapterAttnProcessor'))).toHaveLength(kinds(teacher).filter((k) => k.includes('attn2')).length);
    const ip = Object.values(student.attentionProcessors()).find((p): p is IPAdapterAttnProcessor => p instanceof IPAdapterAttnProcessor)!;
    expect(ip.scale).toEqual([0.8]);
    expect(ip.numTokens).toEqual([2]);
    const rng = new Rng(5);
    const c = conditionsOf(rng, [0, 1]);
    const other = conditionsOf(rng, [0, 1]);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const a = modelCall(teacher, x, [100, 700], c, null);
      const b = modelCall(student, x, [100, 700], c, tf.randomNormal([2, 16], 0, 1, 'float32', 2));
      expect(maxAbsDiff(a, b)).toBe(0);
      // The equality is not vacuous: the tokens and the control map change the output.
      expect(maxAbsDiff(a, modelCall(teacher, x, [100, 700], { ...c, tokens: other.tokens }, null))).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(a, modelCall(teacher, x, [100, 700], { ...c, control: other.control }, null))).toBeGreaterThan(1e-3);
    });
    // The copy is independent of the source.
    const copy = cloneUNet(teacher);
    const key = Object.keys(copy.stateDict()).find((k) => k.includes('to_k_ip'))!;
    tf.tidy(() => (copy.stateDict()[key] as tf.Variable).assign(tf.zerosLike(copy.stateDict()[key]!)));
    expect(maxAbsDiff(teacher.stateDict()[key]!, copy.stateDict()[key]!)).toBeGreaterThan(0);
    tf.dispose(Object.values(c).concat(Object.values(other)));
    copy.dispose();
    student.dispose();
  });

  it('refuses processors it cannot copy and overrides that change weight shapes', () => {
    /** A processor of the user's own (plain attention under another kind). */
    class GatedProcessor extends nn.Module implements AttentionProcessor {
      readonly kind = 'GatedProcessor';
      private readonly plain = this.registerModule('plain', new AttnProcessor());
      process(...args: Parameters<AttentionProcessor['process']>): tf.Tensor {
        return this.plain.process(...args);
      }
    }
    const unet = new UNet2DConditionModel(TOY_CLASS_UNET, { init: 'zeros' });
    const name = Object.keys(unet.attentionProcessors())[0]!;
    unet.setAttentionProcessors({ [name]: new GatedProcessor() });
    expect(() => cloneUNet(unet)).toThrow(ValidationError);
    expect(() => cloneUNet(unet)).toThrow(/GatedProcessor/);
    expect(() => cloneUNet(teacher, { cross_attention_dim: 16 })).toThrow(/overrides/);
    expect(() => lcmStudentFromTeacher(teacher, 0)).toThrow(/timeCondProjDim/);
    unet.dispose();
  });
});

describe('LcmDistillTrainer through a model call', () => {
  const config = { timeCondProjDim: 16, numDdimTimesteps: 5, wMin: 0, wMax: 0, learningRate: 1e-3, seed: 3 };

  it('w = 0 makes one teacher call per step (two with guidance); a few steps lower the loss', () => {
    let teacherCalls = 0;
    const counting: LcmModelCall<ToyConditions> = (unet, ...rest) => {
      if (unet === teacher) teacherCalls++;
      return modelCall(unet, ...rest);
    };
    const guided = new LcmDistillTrainer(teacher, { ...config, wMin: 1, wMax: 2 }, TOY_CLASS_NOISE, { modelCall: counting });
    const b = batchOf(new Rng(6), 4);
    guided.step(b);
    expect(teacherCalls).toBe(2);
    expect(() => guided.step({ latents: b.latents, conditions: b.conditions })).toThrow(/negativeConditions/);
    guided.dispose();
    disposeBatch(b);

    teacherCalls = 0;
    const trainer = new LcmDistillTrainer(teacher, config, TOY_CLASS_NOISE, { modelCall: counting });
    const fixed = batchOf(new Rng(7), 4);
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) losses.push(trainer.step({ latents: fixed.latents, conditions: fixed.conditions }).loss); // no negative needed
    expect(teacherCalls).toBe(20);
    const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;
    console.log('generic LCD loss', mean(losses.slice(0, 5)).toExponential(3), '→', mean(losses.slice(-5)).toExponential(3));
    expect(mean(losses.slice(-5))).toBeLessThan(0.7 * mean(losses.slice(0, 5)));
    disposeBatch(fixed);
    trainer.dispose();
  });

  it('checkpointData / restoreCheckpoint continue bit-for-bit (student weights, losses, caller state); train() frees nested condition tensors; no leaks', () => {
    const trainer = new LcmDistillTrainer(teacher, config, TOY_CLASS_NOISE, { modelCall });
    trainer.train((r) => batchOf(r, 2), 2);
    const dir = path.join(tmp, 'step-000002');
    trainer.saveCheckpoint(dir, { cursor: 17 });
    const dataRng = new Rng(8);
    const batches = [batchOf(dataRng, 2), batchOf(dataRng, 2)];
    const continued = batches.map((b) => trainer.step(b).loss);
    const resumed = new LcmDistillTrainer(teacher, config, TOY_CLASS_NOISE, { modelCall });
    expect(resumed.loadCheckpoint(dir)).toEqual({ cursor: 17 });
    expect(resumed.steps).toBe(2);
    expect(batches.map((b) => resumed.step(b).loss)).toEqual(continued);
    for (const [k, v] of Object.entries(trainer.student.stateDict())) expect(Array.from(resumed.student.stateDict()[k]!.dataSync()), k).toEqual(Array.from(v.dataSync()));
    for (const [k, v] of Object.entries(trainer.target.stateDict())) expect(Array.from(resumed.target.stateDict()[k]!.dataSync()), k).toEqual(Array.from(v.dataSync()));
    // A trainer of another config refuses the checkpoint.
    const other = new LcmDistillTrainer(teacher, { ...config, learningRate: 2e-3 }, TOY_CLASS_NOISE, { modelCall });
    expect(() => other.loadCheckpoint(dir)).toThrow(/config/);
    other.dispose();
    // Steady state: step() keeps nothing; train() disposes the batch's nested tensors (the negative ones included).
    const before = tf.memory().numTensors;
    resumed.step(batches[0]!);
    expect(tf.memory().numTensors).toBe(before);
    resumed.train((r) => batchOf(r, 2), 2);
    expect(tf.memory().numTensors).toBe(before);
    batches.forEach(disposeBatch);
    resumed.dispose();
    trainer.dispose();
  });
});
