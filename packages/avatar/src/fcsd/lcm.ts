/**
 * The LCM student of stage 3 (ConsistentAvatar §4.3, "Latent Consistency Model"): latent consistency distillation
 * (Luo et al. 2023, Algorithm 1; diffusion's `LcmDistillTrainer`) of the whole trained FCSD, so a few LCM steps
 * replace the ~1000-step (here `ddimSteps`-step DDIM) sampling.
 *
 * - Teacher: the FCSD of Eq. 8 — backbone S, ControlNet C on z_c, decoupled attention on f_d — all frozen.
 * - Student θ: a copy of the backbone (its IP-Adapter processors included) with `time_cond_proj_dim =
 *   lcmTimeCondDim` and a zero `cond_proj`, run in the backbone's place inside the same FCSD
 *   (`FcsdModel.denoise(…, { unet, timestepCond })`): the ControlNet and the tokens stay the teacher's.
 * - One step: `batchSize` training frames, x_0 from `fcsdTarget`, the FCSD's noise schedule (`fcsdScheduler`, ε- or
 *   x_0-prediction per `predictionType`), the skipping-step DDIM grid of `lcmDdimTimesteps` points, Adam at `lcmLr`,
 *   EMA target θ⁻ (what is returned and sampled with).
 * - Guidance: none by default (w ∈ [0, 0], one teacher call per step), as `renderFcsd` samples the student with the
 *   embedding of w = 0. `options.guidance` distils a classifier-free-guided teacher instead (the unconditional branch
 *   drops every f_d token for its null token; z_c and the proxy stay); a student distilled that way is rendered by
 *   `renderFcsd` at w = 0 only, so the range should start at 0.
 *
 * Checkpointed every `checkpointEvery` steps (student, EMA, Adam, the trainer's and the data loop's RNG) and resumable:
 * a run stopped at `stopAt` and resumed ends with the same student as an uninterrupted one.
 *
 * @example
 * ```ts
 * import { distillFcsdLcm, renderFcsd } from '@consistent-avatar/avatar';
 * const { student } = await distillFcsdLcm(model, data, { train: split.train, checkpointDir: 'runs/fcsd/lcm' });
 * const frames = renderFcsd(model, data, split.test, { sampler: 'lcm', student, tsdSource: 'aligned', seed: 0 });
 * student.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { CheckpointManager, Rng, tf, TrainingLoopState, ValidationError } from '@consistent-avatar/core';
import { cloneUNet, LcmDistillTrainer, type UNet2DConditionModel } from '@consistent-avatar/diffusion';
import type { FcsdData } from './data.js';
import type { FcsdConditions, FcsdModel } from './fcsd-model.js';
import { disposeFcsdTrainingBatch, drawFcsdTrainingBatch, fcsdScheduler } from './train.js';
import { checkFcsdTrainingInputs, fineTuneLog, recordFcsdStep, type FcsdFineTuneLog, type FcsdFineTuneOptions } from './fine-tune.js';

/**
 * Options of {@link distillFcsdLcm}.
 * @example
 * ```ts
 * const options: DistillFcsdLcmOptions = { train: split.train, checkpointDir: 'runs/fcsd/lcm', stopAt: 50 };
 * ```
 */
export interface DistillFcsdLcmOptions extends FcsdFineTuneOptions {
  /** Guidance range [w_min, w_max] of the distilled teacher (default [0, 0]: unguided, see the file comment). */
  guidance?: [number, number];
}

/**
 * What {@link distillFcsdLcm} returns; the caller owns (disposes) `student`.
 * @example
 * ```ts
 * const { student, lossLog, complete } = await distillFcsdLcm(model, data, { train });
 * ```
 */
export interface DistillFcsdLcmResult extends FcsdFineTuneLog {
  /** The distilled backbone (the EMA target θ⁻), with `time_cond_proj_dim = lcmTimeCondDim`: `renderFcsd`'s `student`. */
  student: UNet2DConditionModel;
}

const FN = 'distillFcsdLcm';

/**
 * Distil the LCM student of a trained FCSD.
 * @param model - the trained FCSD (`trainFcsd`); `lcmIterations`, `lcmLr`, `lcmDdimTimesteps`, `lcmTimeCondDim`,
 *   `batchSize`, `trainTsd`, `seed`, `checkpointEvery`, `logEvery` come from its config. Not modified.
 * @param data - the prepared data (`prepareFcsdData`).
 * @example
 * ```ts
 * const { model } = await trainFcsd(data, config, { train: split.train });
 * const { student, complete } = await distillFcsdLcm(model, data, { train: split.train, checkpointDir: 'runs/fcsd/lcm', onProgress: console.log });
 * ```
 */
export async function distillFcsdLcm(model: FcsdModel, data: FcsdData, options: DistillFcsdLcmOptions): Promise<DistillFcsdLcmResult> {
  checkFcsdTrainingInputs(FN, model, data, options?.train, options?.stopAt);
  const c = model.config;
  const guidance = options.guidance ?? [0, 0];
  const [wMin, wMax] = Array.isArray(guidance) && guidance.length === 2 ? guidance : [Number.NaN, Number.NaN];
  if (!(Number.isFinite(wMin) && Number.isFinite(wMax) && wMin >= 0 && wMax >= wMin)) throw new ValidationError(FN, 'options.guidance', '[w_min, w_max] with 0 ≤ w_min ≤ w_max', options.guidance);
  const iterations = c.lcmIterations;
  const budget = Math.min(iterations, options.stopAt ?? iterations);
  // The FCSD around whichever backbone-shaped UNet the trainer passes (teacher, student or EMA target).
  const trainer = new LcmDistillTrainer<FcsdConditions>(
    model.backbone,
    { timeCondProjDim: c.lcmTimeCondDim, numDdimTimesteps: c.lcmDdimTimesteps, wMin, wMax, learningRate: c.lcmLr, maxGradNorm: c.maxGradNorm, seed: c.seed },
    fcsdScheduler(c).config,
    { modelCall: (unet, x, t, conditions, timestepCond) => model.denoise(x, t, conditions, { unet, timestepCond }) },
  );
  const loop = new TrainingLoopState(new Rng(c.seed).fork('fcsd-lcm'), c.logEvery, iterations);
  const stepLosses: number[] = [];
  let manager: CheckpointManager | null = null;
  try {
    // The manager takes the folder's lock inside the try: a refused lock (another writer) still releases the trainer.
    manager = options.checkpointDir ? new CheckpointManager(options.checkpointDir, { keepLast: 2 }) : null;
    const last = manager && (options.resume ?? true) ? manager.loadLatest() : null;
    if (last) {
      try {
        const extra = trainer.restoreCheckpoint(last);
        if (JSON.stringify(extra.fcsd) !== JSON.stringify(c)) throw new ValidationError(FN, 'model.config', `the FCSD config of the checkpoint in ${last.dir} (or start a new run)`, c);
        loop.restore(extra.loop as Record<string, unknown>);
      } finally {
        tf.dispose([...Object.values(last.tensors), ...Object.values(last.optimizerTensors ?? {})]);
      }
    }
    const save = () => manager?.save(loop.step, { ...trainer.checkpointData({ fcsd: c, loop: loop.toState() }), metadata: { model: 'FCSD LCM student (ConsistentAvatar §4.3)' } });
    while (loop.step < budget) {
      // 1. Frames and their conditions (f_d, z_c, proxy); the unconditional variant only with guidance.
      const batch = drawFcsdTrainingBatch(model, data, options.train, loop.rng);
      const conditions = model.conditions(batch.inputs, batch.proxyRgb);
      const negative = wMax > 0 ? model.conditions(batch.inputs, batch.proxyRgb, { drop: model.tokenNames }) : undefined;
      // 2. One consistency-distillation step (the trainer draws t, ε and w from its own checkpointed generator).
      let loss: number;
      try {
        ({ loss } = trainer.step({ latents: batch.x0, conditions, negativeConditions: negative }));
      } finally {
        disposeFcsdTrainingBatch(batch, conditions, negative);
      }
      // 3. Log, report, checkpoint.
      await recordFcsdStep(FN, 'lcmLr', model, loop, loss, { iterations, budget, stepLosses, onProgress: options.onProgress, save });
    }
    // The EMA target is the student the LCM authors sample with; copy it out of the trainer.
    return { student: cloneUNet(trainer.target), ...fineTuneLog(loop, stepLosses, iterations) };
  } finally {
    trainer.dispose();
    manager?.close(); // release the checkpoint folder's lock
  }
}
