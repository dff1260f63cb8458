/**
 * Training the TSDM (ConsistentAvatar §3.2, Eqs. 5–6): for a batch of frames, draw t ~ U{0..T−1} and ε ~ N(0, I),
 * noise the ground-truth TSD x_0 with the DDPM forward process, x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε (Eq. 5), and minimise
 * ‖ε̂(x_t, t, f_c) − ε‖² (Eq. 6) over the UNet (+ IP-Adapter processors), the encoder E, the token linears and the
 * null text token jointly, with AdamW. Every draw comes from one seeded {@link Rng} whose state is checkpointed, so
 * a resumed run continues exactly as the uninterrupted one.
 *
 * @packageDocumentation
 */
import { AdamW, CheckpointManager, Rng, resumeTraining, saveTrainingCheckpoint, tf, TrainingLoopState, ValidationError } from '@consistent-avatar/core';
import { DDPMScheduler } from '@consistent-avatar/diffusion';
import { resolveTsdmConfig, type TsdmConfig } from './config.js';
import type { TsdmData } from './condition.js';
import { legacyTsdmKeysError, TsdmModel } from './tsdm-model.js';
import { checkTsdmFrames, tsdmWindowInputs } from './window.js';

/**
 * Options of {@link trainTsdm}.
 * @example
 * ```ts
 * const options: TrainTsdmOptions = { checkpointDir: 'runs/tsdm', onProgress: (p) => console.log(p.step, p.loss) };
 * ```
 */
export interface TrainTsdmOptions {
  /** Called every `logEvery` steps and at the last step. */
  onProgress?: (p: { step: number; iterations: number; loss: number }) => void;
  /** Folder of checkpoints (`step-NNNNNN/`: model, AdamW moments, RNG state, loss log). */
  checkpointDir?: string;
  /** Resume from the latest checkpoint in `checkpointDir` (default true when it exists). */
  resume?: boolean;
  /** Checkpoints kept (default 2). */
  keepLast?: number;
  /** Stop after this step (for an interrupted run; the checkpoint at this step is written). Default `iterations`. */
  stopAt?: number;
}

/**
 * What {@link trainTsdm} returns. The caller owns (disposes) `model`.
 * @example
 * ```ts
 * const { model, lossLog } = await trainTsdm(data, config);
 * console.log(lossLog.at(-1));
 * model.dispose();
 * ```
 */
export interface TrainTsdmResult {
  model: TsdmModel;
  /** Mean loss of each `logEvery`-step window, by last step of the window. */
  lossLog: { step: number; loss: number }[];
  /** Loss of every step run in this call (steps done before a resume are not included). */
  stepLosses: number[];
  /** Steps done in total (including resumed ones). */
  step: number;
  /** Checkpoint resumed from, if any. */
  resumedFrom: string | null;
}

/**
 * The DDPM forward process of a config (linear betas `betaStart`…`betaEnd` over `numTrainTimesteps`).
 * @example
 * ```ts
 * import { tsdmScheduler, TSDM_DEFAULTS } from '@consistent-avatar/tsd';
 * const xt = tsdmScheduler(TSDM_DEFAULTS).addNoise(x0, noise, [10, 500]); // Eq. 5
 * ```
 */
export function tsdmScheduler(c: Pick<TsdmConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd'> & Partial<Pick<TsdmConfig, 'predictionType'>>): DDPMScheduler {
  return new DDPMScheduler({ num_train_timesteps: c.numTrainTimesteps, beta_start: c.betaStart, beta_end: c.betaEnd, beta_schedule: 'linear', prediction_type: c.predictionType ?? 'epsilon' });
}

function checkData(data: TsdmData, c: TsdmConfig): void {
  const FN = 'trainTsdm';
  if (!data || !Array.isArray(data.frames) || !data.split || !Array.isArray(data.split.train)) throw new ValidationError(FN, 'data', 'TsdmData from prepareTsdmData', data);
  if (data.size !== c.size) throw new ValidationError(FN, 'data.size', `config.size (${c.size})`, data.size);
  if (data.split.train.length === 0) throw new ValidationError(FN, 'data.split.train', 'at least one training frame', data.split.train);
  const n = c.size * c.size * 3;
  // Every frame's conditions (a training frame's temporal window may reach any frame), the training frames' targets.
  checkTsdmFrames(FN, 'data.frames', data.frames, c);
  for (const i of data.split.train) {
    const f = data.frames[i];
    if (!f) throw new ValidationError(FN, 'data.split.train', `indices < ${data.frames.length}`, i);
    if (!f.gt || f.gt.length !== n) throw new ValidationError(FN, `data.frames[${i}].gt`, `${n} values ([${c.size}, ${c.size}, 3])`, f.gt?.length);
    for (const v of f.gt) if (!Number.isFinite(v)) throw new ValidationError(FN, `data.frames[${i}].gt`, 'finite values', v);
  }
}

/**
 * Train a TSDM on prepared stage-2 pairs.
 *
 * @param data - from `prepareTsdmData(dataset, proxy, config)` (synthetic or INSTA-layout dataset); trains on `split.train`.
 * @param config - any subset of {@link TsdmConfig}.
 * @example
 * ```ts
 * import { trainTsdm, prepareTsdmData, resolveTsdmConfig } from '@consistent-avatar/tsd';
 * const config = resolveTsdmConfig({ iterations: 600 });
 * const data = prepareTsdmData(ds, proxy, config);
 * const { model, lossLog } = await trainTsdm(data, config, { checkpointDir: 'runs/tsdm', onProgress: (p) => console.log(p.step, p.loss) });
 * model.dispose();
 * ```
 */
export async function trainTsdm(data: TsdmData, config: Partial<TsdmConfig> = {}, options: TrainTsdmOptions = {}): Promise<TrainTsdmResult> {
  const FN = 'trainTsdm';
  const c = resolveTsdmConfig(config);
  checkData(data, c);
  const stopAt = options.stopAt ?? c.iterations;
  if (!Number.isInteger(stopAt) || stopAt < 0 || stopAt > c.iterations) throw new ValidationError(FN, 'options.stopAt', `an integer in [0, ${c.iterations}]`, stopAt);

  const model = new TsdmModel(c);
  const optimizer = new AdamW(model, { lr: c.lr, weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm > 0 ? c.maxGradNorm : undefined });
  const scheduler = tsdmScheduler(c);
  const loop = new TrainingLoopState(new Rng(c.seed).fork('tsdm-train'), c.logEvery, c.iterations);
  let resumedFrom: string | null = null;
  let manager: CheckpointManager | null = null;
  try {
    // The manager takes the folder's lock inside the try: a refused lock (another writer) still releases the model.
    manager = options.checkpointDir ? new CheckpointManager(options.checkpointDir, { keepLast: options.keepLast ?? 2 }) : null;
    // 1. Resume: weights, AdamW moments (refused for another config), then step, RNG state, loss log.
    const run = { model, optimizer, config: c, fn: FN, validateState: (state: Record<string, unknown>) => loop.checkState(state, FN) };
    let resumed: ReturnType<typeof resumeTraining> = null;
    try {
      resumed = manager && (options.resume ?? true) ? resumeTraining(manager, run) : null;
    } catch (e) {
      throw legacyTsdmKeysError(FN, 'options.checkpointDir', e);
    }
    if (resumed) {
      loop.restore(resumed.state);
      resumedFrom = resumed.dir;
    }
    const save = () => manager && saveTrainingCheckpoint(manager, loop.step, { ...run, state: loop.toState(), metadata: { model: 'TSDM (ConsistentAvatar stage 2)' } });

    // 2. The loop (Eqs. 5–6).
    const S = c.size, n = S * S * 3, B = c.batchSize, T = c.numTrainTimesteps, W = 2 * c.temporalWindow + 1;
    const train = data.split.train;
    const stepLosses: number[] = [];
    const rng = loop.rng; // the resumed stream, if any
    while (loop.step < stopAt) {
      const centers = Array.from({ length: B }, () => train[rng.int(train.length)]!);
      const ts = Array.from({ length: B }, () => rng.int(T));
      const noiseData = Float32Array.from(rng.normal(B * n));
      // The batch's conditions with their temporal window (neighbours from the whole sequence, clamped at its ends).
      const win = tsdmWindowInputs(data.frames, centers, c);
      const x0 = new Float32Array(B * n);
      centers.forEach((i, b) => {
        const f = data.frames[i]!;
        if (c.target === 'residual') {
          // x_0 = (TSD − TSD_proxy) / residualScale, clipped to the [−1, 1] the sampler clips to.
          for (let k = 0; k < n; k++) x0[b * n + k] = Math.max(-1, Math.min(1, (f.gt![k]! - f.proxy[k]!) / c.residualScale));
        } else {
          x0.set(f.gt!, b * n);
        }
      });
      const inputs = tf.tidy(() => {
        const noise = tf.tensor4d(noiseData, [B, S, S, 3]);
        // Eq. 5; x0 was checked at the entry (data.frames) and the noise is drawn here: no per-step device read.
        const xt = scheduler.addNoise(tf.tensor4d(x0, [B, S, S, 3]), noise, ts, { allowNonFinite: true }) as tf.Tensor4D;
        return {
          noise, xt,
          x0T: tf.tensor4d(x0, [B, S, S, 3]),
          proxyT: tf.tensor4d(win.proxy, [B, S, S, 3]),
          windowT: tf.tensor4d(win.proxyWindow, [B, S, S, 3 * W]),
          poseT: tf.tensor2d(win.pose, [B, W * c.poseDim]),
          exprT: tf.tensor2d(win.expression, [B, W * c.expressionDim]),
        };
      });
      let loss: number;
      try {
        ({ loss } = optimizer.step(() => tf.tidy(() => {
          const tokens = model.condition(inputs.proxyT, inputs.poseT, inputs.exprT); // f_c, Eq. 4: [B, 3, D]
          const eps = model.predictNoise(inputs.xt, ts, tokens, inputs.windowT); // [B, S, S, 3]
          const target = c.predictionType === 'sample' ? inputs.x0T : inputs.noise; // ε (Eq. 6) or x_0
          return tf.mean(tf.square(tf.sub(eps, target))) as tf.Scalar; // Eq. 6
        })));
      } finally {
        tf.dispose(Object.values(inputs));
      }
      stepLosses.push(loss);
      const mean = loop.record(loss);
      if (mean !== null) options.onProgress?.({ step: loop.step, iterations: c.iterations, loss: mean });
      if (loop.step % c.checkpointEvery === 0 || loop.step === stopAt) save();
      if (loop.step % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return { model, lossLog: loop.lossLog, stepLosses, step: loop.step, resumedFrom };
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    optimizer.dispose();
    manager?.close(); // release the checkpoint folder's lock
  }
}
