/**
 * The refiner of stage 3 (ConsistentAvatar §4.3, "Refiner", after SDXL's ensemble of expert denoisers, Podell et
 * al. 2023): a copy of the trained backbone — its IP-Adapter processors included — fine-tuned as the low-noise
 * expert, on t < refinerStart·T only, with the stage-3 loss (Eq. 9: ‖ε̂ − ε‖², ‖x̂_0 − x_0‖² with
 * `predictionType: 'sample'`) and the f_d condition dropout of the conditioning phase. It runs in the backbone's
 * place inside the FCSD, so the ControlNet on z_c and the token conditioner stay the trained (frozen) ones.
 * `renderFcsd(…, { sampler: 'ddim', refiner })` hands the last `refinerStart` of the schedule to it (diffusers'
 * `denoising_end` / `denoising_start` = 1 − refinerStart).
 *
 * `refinerIterations` steps at `controlLr` (the stage-3 fine-tuning rate; AdamW, `maxGradNorm`), batches of
 * `batchSize` training frames with `trainTsd` as the TSD; checkpointed and resumable (a run stopped at `stopAt` and
 * resumed ends with the same weights as an uninterrupted one).
 *
 * @example
 * ```ts
 * import { renderFcsd, trainFcsdRefiner } from '@consistent-avatar/avatar';
 * const { refiner } = await trainFcsdRefiner(model, data, { train: split.train, checkpointDir: 'runs/fcsd/refiner' });
 * const frames = renderFcsd(model, data, split.test, { sampler: 'ddim', refiner, tsdSource: 'aligned', seed: 0 });
 * refiner.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { AdamW, CheckpointManager, Rng, resumeTraining, saveTrainingCheckpoint, tf, TrainingLoopState, ValidationError } from '@consistent-avatar/core';
import { cloneUNet, type UNet2DConditionModel } from '@consistent-avatar/diffusion';
import type { FcsdConfig } from './config.js';
import type { FcsdData } from './data.js';
import type { FcsdModel } from './fcsd-model.js';
import { disposeFcsdTrainingBatch, drawFcsdTrainingBatch, fcsdScheduler } from './train.js';
import { checkFcsdTrainingInputs, fineTuneLog, recordFcsdStep, type FcsdFineTuneLog, type FcsdFineTuneOptions } from './fine-tune.js';

/**
 * Options of {@link trainFcsdRefiner}.
 * @example
 * ```ts
 * const options: TrainFcsdRefinerOptions = { train: split.train, checkpointDir: 'runs/fcsd/refiner' };
 * ```
 */
export type TrainFcsdRefinerOptions = FcsdFineTuneOptions;

/**
 * What {@link trainFcsdRefiner} returns; the caller owns (disposes) `refiner`.
 * @example
 * ```ts
 * const { refiner, stepLosses, complete } = await trainFcsdRefiner(model, data, { train });
 * ```
 */
export interface TrainFcsdRefinerResult extends FcsdFineTuneLog {
  /** The low-noise expert: a backbone-shaped UNet for `renderFcsd`'s `refiner`. */
  refiner: UNet2DConditionModel;
}

const FN = 'trainFcsdRefiner';

/**
 * The number of low-noise timesteps the refiner trains on: t ∈ {0, …, n − 1} with n = ⌈refinerStart·T⌉, i.e.
 * exactly the t < refinerStart·T that `renderFcsd` hands to it.
 * @example
 * ```ts
 * refinerTimesteps({ refinerStart: 0.2, numTrainTimesteps: 1000 }); // 200
 * ```
 */
export function refinerTimesteps(c: Pick<FcsdConfig, 'refinerStart' | 'numTrainTimesteps'>): number {
  if (!(c?.refinerStart > 0 && c.refinerStart < 1) || !Number.isInteger(c.numTrainTimesteps) || c.numTrainTimesteps < 1) {
    throw new ValidationError('refinerTimesteps', 'c', '{ refinerStart in (0, 1), numTrainTimesteps ≥ 1 }', c);
  }
  return Math.max(1, Math.ceil(c.refinerStart * c.numTrainTimesteps));
}

/**
 * Fine-tune the refiner of a trained FCSD.
 * @param model - the trained FCSD (`trainFcsd`); not modified.
 * @param data - the prepared data (`prepareFcsdData`).
 * @example
 * ```ts
 * const { refiner } = await trainFcsdRefiner(model, data, { train: split.train, checkpointDir: 'runs/fcsd/refiner' });
 * renderFcsd(model, data, split.test, { sampler: 'ddim', refiner, tsdSource: 'aligned', seed: 0 });
 * ```
 */
export async function trainFcsdRefiner(model: FcsdModel, data: FcsdData, options: TrainFcsdRefinerOptions): Promise<TrainFcsdRefinerResult> {
  checkFcsdTrainingInputs(FN, model, data, options?.train, options?.stopAt);
  const c = model.config;
  const iterations = c.refinerIterations;
  const budget = Math.min(iterations, options.stopAt ?? iterations);
  const lowT = refinerTimesteps(c);
  const scheduler = fcsdScheduler(c);
  const refiner = cloneUNet(model.backbone); // every weight trains, the IP processors' included
  const optimizer = new AdamW(refiner, { lr: c.controlLr, maxGradNorm: c.maxGradNorm > 0 ? c.maxGradNorm : undefined });
  const loop = new TrainingLoopState(new Rng(c.seed).fork('fcsd-refiner'), c.logEvery, iterations);
  const run = { model: refiner, optimizer, config: c, fn: FN, validateState: (state: Record<string, unknown>) => loop.checkState(state, FN) };
  const stepLosses: number[] = [];
  let manager: CheckpointManager | null = null;
  try {
    // The manager takes the folder's lock inside the try: a refused lock (another writer) still releases the refiner.
    manager = options.checkpointDir ? new CheckpointManager(options.checkpointDir, { keepLast: 2 }) : null;
    const resumed = manager && (options.resume ?? true) ? resumeTraining(manager, run) : null;
    if (resumed) loop.restore(resumed.state);
    const save = () => manager && saveTrainingCheckpoint(manager, loop.step, { ...run, state: loop.toState(), metadata: { model: 'FCSD refiner (ConsistentAvatar §4.3)' } });
    const B = c.batchSize, rng = loop.rng;
    const shape = model.sampleShape(B); // [B, S, S, 3], or the latent shape with a VAE
    while (loop.step < budget) {
      // 1. Frames, low-noise timesteps t < refinerStart·T and noise; x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε.
      const batch = drawFcsdTrainingBatch(model, data, options.train, rng);
      const ts = Array.from({ length: B }, () => rng.int(lowT));
      const noiseData = Float32Array.from(rng.normal(shape.reduce((a, b) => a * b, 1)));
      const dropRng = rng.fork(`dropout-${loop.step}`);
      const noise = tf.tensor4d(noiseData, shape);
      const xt = scheduler.addNoise(batch.x0, noise, ts, { allowNonFinite: true }) as tf.Tensor4D; // per step: the loss check fails fast
      let loss: number;
      try {
        // 2. Eq. 9 with the refiner in the backbone's place (ControlNet and tokens frozen: not in the optimiser).
        ({ loss } = optimizer.step(() => tf.tidy(() => {
          const conditions = model.conditions(batch.inputs, batch.proxyRgb, { dropout: c.conditionDropout, rng: dropRng });
          const out = model.denoise(xt, ts, conditions, { unet: refiner }); // like x_t
          return tf.mean(tf.square(tf.sub(out, c.predictionType === 'sample' ? batch.x0 : noise))) as tf.Scalar;
        })));
      } finally {
        disposeFcsdTrainingBatch(batch);
        tf.dispose([noise, xt]);
      }
      // 3. Log, report, checkpoint.
      await recordFcsdStep(FN, 'controlLr', model, loop, loss, { iterations, budget, stepLosses, onProgress: options.onProgress, save });
    }
    return { refiner, ...fineTuneLog(loop, stepLosses, iterations) };
  } catch (error) {
    refiner.dispose();
    throw error;
  } finally {
    optimizer.dispose();
    manager?.close(); // release the checkpoint folder's lock
  }
}
