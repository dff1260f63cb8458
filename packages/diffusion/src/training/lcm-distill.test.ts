/**
 * Latent consistency distillation: the DDIM solver grid, the student initialised from the teacher, checkpoint
 * resume, Huber loss, no leaks (short, default suite), and the toy distillation check (CA_HEAVY=1: a student
 * sampled with LCM in 4 steps is closer to the teacher's 50-step DDIM samples than the teacher's own 4-step DDIM).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { DDPMScheduler, LcmDistillTrainer, UNet2DConditionModel, ddimSolverGrid, ddimSolverStep, lcmStudentFromTeacher, type LcmDistillBatch } from '../index.js';
import { TOY_CLASS_UNET, TOY_NOISE, classBatch, classTokens, distillationToy, runHeavySeeds } from '../../test/toy-tasks.js';

const HEAVY = process.env.CA_HEAVY === '1';

beforeAll(async () => {
  await useBackend('wasm');
});

function batchOf(rng: Rng, B: number): LcmDistillBatch {
  const { x0, labels } = classBatch(rng, B);
  return { latents: x0, encoderHiddenStates: classTokens(labels), negativeEncoderHiddenStates: tf.zeros([B, 1, 8]) };
}

describe('DDIM solver (skipping-step grid)', () => {
  it('t_i = (1..N)·(T/N) − 1, ᾱ_prev shifted with ᾱ[0] first, and x_prev = √ᾱ_prev·x̂0 + √(1−ᾱ_prev)·ε̂', () => {
    const ac = new DDPMScheduler(TOY_NOISE).alphasCumprod;
    const grid = ddimSolverGrid(ac, 50);
    expect(grid.timesteps.slice(0, 3)).toEqual([19, 39, 59]);
    expect(grid.timesteps[49]).toBe(999);
    expect(grid.skip).toBe(20);
    expect(grid.alphaCumprodPrev[0]).toBe(ac[0]);
    expect(grid.alphaCumprodPrev[10]).toBe(ac[199]);
    const x = ddimSolverStep(grid, tf.fill([2, 1, 1, 1], 2), tf.fill([2, 1, 1, 1], 3), [0, 10]);
    const v = x.dataSync();
    expect(v[0]).toBeCloseTo(Math.sqrt(ac[0]!) * 2 + Math.sqrt(1 - ac[0]!) * 3, 5);
    expect(v[1]).toBeCloseTo(Math.sqrt(ac[199]!) * 2 + Math.sqrt(1 - ac[199]!) * 3, 5);
    x.dispose();
    expect(() => ddimSolverGrid(ac, 0)).toThrow(ValidationError);
  });
});

describe('LcmDistillTrainer', () => {
  it('student = teacher weights + zero cond_proj (same output for any w); trains; resumes from a checkpoint bit-for-bit; no leaks', () => {
    const teacher = new UNet2DConditionModel(TOY_CLASS_UNET, { seed: 1 });
    const student = lcmStudentFromTeacher(teacher, 16);
    expect(student.config.time_cond_proj_dim).toBe(16);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const text = classTokens([0, 1]);
      const a = teacher.forward(x, [100, 700], text);
      const b = student.forward(x, [100, 700], text, { timestepCond: tf.randomNormal([2, 16], 0, 1, 'float32', 2) });
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    });
    student.dispose();

    const config = { timeCondProjDim: 16, numDdimTimesteps: 10, wMin: 1, wMax: 3, learningRate: 1e-3, seed: 3 };
    const trainer = new LcmDistillTrainer(teacher, config, TOY_NOISE);
    const first = trainer.train((r) => batchOf(r, 4), 2);
    expect(first.every((r) => Number.isFinite(r.loss) && r.loss >= 0)).toBe(true);
    // The target is the EMA of the student: after a step it moved, but less than the student.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lcd-'));
    trainer.saveCheckpoint(dir);
    const dataRng = new Rng(11);
    const batches = [batchOf(dataRng, 4), batchOf(dataRng, 4)];
    const continued = batches.map((b) => trainer.step(b).loss);
    const resumed = new LcmDistillTrainer(teacher, config, TOY_NOISE);
    resumed.loadCheckpoint(dir);
    expect(resumed.steps).toBe(2);
    const again = batches.map((b) => resumed.step(b).loss);
    expect(again).toEqual(continued);
    fs.rmSync(dir, { recursive: true });
    // Leaks: steady state across steps (Huber variant).
    const huber = new LcmDistillTrainer(teacher, { ...config, lossType: 'huber' }, TOY_NOISE);
    huber.step(batches[0]!);
    const before = tf.memory().numTensors;
    huber.step(batches[1]!);
    huber.step(batches[0]!);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => huber.step({ ...batches[0]!, negativeEncoderHiddenStates: tf.zeros([3, 1, 8]) })).toThrow(/negativeEncoderHiddenStates/);
    expect(() => new LcmDistillTrainer(teacher, { lossType: 'l1' as never })).toThrow(/lossType/);
    for (const b of batches) tf.dispose([b.latents, b.encoderHiddenStates, b.negativeEncoderHiddenStates]);
    huber.dispose();
    resumed.dispose();
    trainer.dispose();
    teacher.dispose();
  });

  it.skipIf(HEAVY)('short toy run (30 teacher + 30 distillation steps): distillation moves the LCM-4 student toward the teacher DDIM-50 samples', async () => {
    // Too short for the teacher to be good or for the student to beat DDIM-4 (see the CA_HEAVY run); the looser
    // check: the distilled student is closer to the teacher's 50-step samples than the undistilled one (= teacher).
    const r = await distillationToy({ teacherSteps: 30, distillSteps: 30, batch: 8, evalCount: 8, guidance: 3, seed: 0 });
    console.log(JSON.stringify(r));
    expect(r.distillLossLast).toBeLessThan(r.distillLossFirst);
    expect(r.mseStudentLcm4).toBeLessThan(r.mseInitialStudentLcm4);
  }, 900_000); // ~1.5 min on a lightly loaded 2-core VM

  it.runIf(HEAVY)('toy task: the distilled student in 4 LCM steps beats the teacher in 4 DDIM steps (MSE to teacher DDIM-50)', async () => {
    // One run per seed (CA_HEAVY_SEEDS, default 0,1,2); the result file (lcm-distill-toy.json in CA_HEAVY_OUT_DIR, default
    // .runs/heavy) is written after every seed, before any assertion, so a failing seed is still recorded.
    const setup = { teacherSteps: 200, distillSteps: 500, batch: 8, evalCount: 16, guidance: 3 };
    const { file, perSeed } = await runHeavySeeds('lcm-distill-toy', 'packages/diffusion/src/training/lcm-distill.test.ts', setup, async (seed) => {
      const r = await distillationToy({ ...setup, seed, onLog: console.log });
      console.log(JSON.stringify(r));
      const { mseTeacherDdim4, mseStudentLcm4, mseInitialStudentLcm4, teacherLoss, distillLossFirst, distillLossLast } = r;
      return { mseTeacherDdim4, mseStudentLcm4, mseInitialStudentLcm4, ratioStudentLcm4ToTeacherDdim4: mseStudentLcm4 / mseTeacherDdim4, teacherLoss, distillLossFirst, distillLossLast };
    });
    console.log(`wrote ${file}`);
    // The 2026-12-03 run (bench/results/lcm-distill-toy.json) fails this in seed 1 (ratio 1.107): a finding, reported
    // in the README, not a reason to loosen the bound.
    for (const r of perSeed) expect.soft(r.mseStudentLcm4, `seed ${r.seed}: student LCM-4 < teacher DDIM-4`).toBeLessThan(r.mseTeacherDdim4);
  }, 3 * 3_600_000);
});
