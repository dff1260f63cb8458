/**
 * Training stage 3 (ConsistentAvatar §4.2, Eq. 9) in two phases, each checkpointed and resumable:
 *
 * 1. **Backbone** (embedded backbone only; the paper starts from pre-trained SD 1.5): the UNet alone learns the
 *    training frames — x_0 the frame (or its residual over the proxy render), x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε, loss
 *    ‖ε̂ − ε‖² (Eq. 9; ‖x̂_0 − x_0‖² with `predictionType: 'sample'`) — with the null text token.
 * 2. **Conditions**: the backbone is frozen; the ControlNet (initialised from the backbone's encoder) on z_c, the
 *    decoupled-attention processors (to_k_ip / to_v_ip) on f_d, the token conditioner and the label embedding train
 *    with the same loss; each f_d condition is dropped (replaced by the null token) with probability
 *    `conditionDropout`.
 *
 * Every draw comes from seeded {@link Rng} streams whose state is checkpointed, so an interrupted run resumed from its
 * checkpoints ends with the same numbers as an uninterrupted one.
 *
 * @example
 * ```ts
 * import { trainFcsd } from '@consistent-avatar/avatar';
 * const { model } = await trainFcsd(data, { controlIterations: 300 }, { train: split.train, checkpointDir: 'runs/fcsd' });
 * model.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { basename, join } from 'node:path';
import { AdamW, checkFinite, CheckpointManager, parseCheckpointStep, Rng, resumeTraining, saveTrainingCheckpoint, tf, TrainingLoopState, ValidationError } from '@consistent-avatar/core';
import { DDPMScheduler } from '@consistent-avatar/diffusion';
import { resolveFcsdConfig, type FcsdConfig } from './config.js';
import type { FcsdData, FcsdFrame } from './data.js';
import { FcsdModel, type FcsdConditionInputs, type FcsdConditions, type PretrainedBackbone } from './fcsd-model.js';

/** Progress of {@link trainFcsd}. */
export interface FcsdProgress {
  phase: 'backbone' | 'conditions';
  step: number;
  iterations: number;
  /** Mean loss of the last `logEvery` steps. */
  loss: number;
}

/** Options of {@link trainFcsd}. */
export interface TrainFcsdOptions {
  /** Training frame indices into `data.frames` (the protocol's train split). */
  train: number[];
  /** Folder of checkpoints (`backbone/step-NNNNNN/`, `conditions/step-NNNNNN/`). */
  checkpointDir?: string;
  /** Resume from the latest checkpoints (default true). */
  resume?: boolean;
  /** Stop after this many steps in total over both phases (an interrupted run; checkpoints are written there). */
  stopAt?: number;
  /** Called every `logEvery` steps of each phase with the mean loss of the window. */
  onProgress?: (p: FcsdProgress) => void;
  /**
   * A pre-trained latent-space backbone (SD 1.5 from `loadPretrainedBackbone`): it is frozen, its pre-training phase
   * is skipped, and the model takes ownership. Default: the embedded pixel-space backbone.
   */
  pretrained?: PretrainedBackbone;
  /**
   * The `backbone/` checkpoint folder of another run of this trainer on the same data whose backbone phase is complete
   * (e.g. `<full run>/backbone`): its backbone weights are loaded and this run's backbone phase is skipped. The
   * backbone phase trains only the backbone with draws that do not depend on the condition switches, so a variant
   * that differs only in {@link FCSD_CONDITION_FIELDS} (the "w/o emotion" / "w/o normal" ablations) gets the same
   * backbone it would have trained itself. Every other config field must equal the checkpoint's.
   */
  sharedBackbone?: string;
}

/**
 * The config fields that only shape the condition phase (what reaches the frozen backbone, and how it is trained):
 * two runs that differ only in these train the same backbone.
 * @example
 * ```ts
 * FCSD_CONDITION_FIELDS.includes('useEmotion'); // true
 * ```
 */
export const FCSD_CONDITION_FIELDS: readonly (keyof FcsdConfig)[] = Object.freeze([
  'useTsd', 'useNormal', 'useEmotion', 'useTsdToken', 'usePoseExpressionTokens', 'trainTsd', 'conditioningScale', 'ipScale', 'conditionDropout',
  'controlIterations', 'controlLr', 'conditioningChannels', 'lcmIterations', 'lcmLr', 'lcmDdimTimesteps', 'lcmTimeCondDim', 'lcmSteps', 'ddimSteps',
  'refiner', 'refinerIterations', 'refinerStart', 'checkpointEvery', 'logEvery',
] as (keyof FcsdConfig)[]);

/**
 * Load the trained backbone of a finished backbone phase (`dir`, a `backbone/` checkpoint folder) into `model`.
 * 1. the latest checkpoint must be the last backbone step (`config.backboneIterations`);
 * 2. its config must equal `model.config` outside {@link FCSD_CONDITION_FIELDS};
 * 3. every backbone-phase parameter (`FcsdModel.backboneParameters`: the backbone and the null text token) is
 *    loaded, each checked by name and shape first.
 */
function loadSharedBackbone(model: FcsdModel, dir: string): void {
  const FN = 'trainFcsd';
  const manager = new CheckpointManager(dir, { lock: false });
  const last = manager.loadLatest({ optimizer: false });
  if (!last) throw new ValidationError(FN, 'options.sharedBackbone', 'a folder holding a backbone checkpoint', dir);
  try {
    const step = parseCheckpointStep(basename(last.dir));
    if (step !== model.config.backboneIterations) throw new ValidationError(FN, 'options.sharedBackbone', `a finished backbone phase (step ${model.config.backboneIterations})`, `${last.dir} (step ${step})`);
    const strip = (c: unknown) => JSON.stringify(Object.fromEntries(Object.entries(c as Record<string, unknown>).filter(([k]) => !FCSD_CONDITION_FIELDS.includes(k as keyof FcsdConfig))));
    if (strip(last.config) !== strip(model.config)) throw new ValidationError(FN, 'options.sharedBackbone', `a checkpoint whose config equals this one outside the condition fields (${FCSD_CONDITION_FIELDS.join(', ')})`, last.dir);
    // 3. Every backbone-phase parameter (the backbone's weights and the null text token), by name and shape.
    for (const [name, variable] of model.backboneParameters()) {
      const saved = last.tensors[name];
      if (!saved || saved.shape.join(',') !== variable.shape.join(',')) throw new ValidationError(FN, 'options.sharedBackbone', `a checkpoint holding ${name} [${variable.shape}]`, `${last.dir}: ${saved ? `[${saved.shape}]` : 'missing'}`);
    }
    for (const [name, variable] of model.backboneParameters()) variable.assign(last.tensors[name]!);
  } finally {
    tf.dispose(Object.values(last.tensors));
  }
}

/** What {@link trainFcsd} returns; the caller owns (disposes) `model`. */
export interface TrainFcsdResult {
  model: FcsdModel;
  /** Mean losses per `logEvery` steps of each phase. */
  lossLog: { backbone: { step: number; loss: number }[]; conditions: { step: number; loss: number }[] };
  /** Losses of every step run in this call (resumed steps not included). */
  stepLosses: number[];
  /** Steps done per phase (including resumed ones). */
  steps: { backbone: number; conditions: number };
  /** True when both phases reached their iteration counts. */
  complete: boolean;
}

/**
 * The forward process of a config: SD's scaled-linear betas `betaStart` … `betaEnd` over `numTrainTimesteps`.
 * @example
 * ```ts
 * const xt = fcsdScheduler(FCSD_DEFAULTS).addNoise(x0, noise, [10, 500]);
 * ```
 */
export function fcsdScheduler(c: Pick<FcsdConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd' | 'predictionType'>): DDPMScheduler {
  return new DDPMScheduler({ num_train_timesteps: c.numTrainTimesteps, beta_start: c.betaStart, beta_end: c.betaEnd, beta_schedule: 'scaled_linear', prediction_type: c.predictionType, clip_sample: false });
}

/**
 * The diffusion target x_0 of a frame: the frame in [−1, 1] (`target: 'image'`) or its residual over the proxy
 * render, (frame − proxy) / residualScale clipped to [−1, 1] (`'residual'`).
 * @example
 * ```ts
 * const x0 = fcsdTarget(data.frames[0], config); // Float32Array(S·S·3) in [−1, 1]
 * ```
 */
export function fcsdTarget(frame: Pick<FcsdFrame, 'gt' | 'proxyRgb'>, c: Pick<FcsdConfig, 'target' | 'residualScale'>): Float32Array {
  // The non-finite policy: the residual's clip turned ±Infinity into ±1 silently (CPU arrays: no device read).
  checkFinite('fcsdTarget', 'frame.gt', frame.gt);
  if (c.target === 'residual') {
    checkFinite('fcsdTarget', 'frame.proxyRgb', frame.proxyRgb);
    if (!(c.residualScale > 0 && c.residualScale < Number.POSITIVE_INFINITY)) throw new ValidationError('fcsdTarget', 'c.residualScale', 'a finite number > 0', c.residualScale);
  }
  const out = new Float32Array(frame.gt.length);
  for (let k = 0; k < out.length; k++) {
    out[k] = c.target === 'residual' ? Math.max(-1, Math.min(1, (frame.gt[k]! - frame.proxyRgb[k]!) / c.residualScale)) : 2 * frame.gt[k]! - 1;
  }
  return out;
}

/**
 * The batched condition inputs of frames, with the TSD map from `tsdSource`.
 * @param tsdSource - `'gt'`, `'proxy'` or `'aligned'` (frames must have `alignedTsd`).
 * @example
 * ```ts
 * const { inputs, proxyRgb } = fcsdBatchInputs(model, data.frames.slice(0, 4), 'aligned');
 * ```
 */
export function fcsdBatchInputs(model: FcsdModel, frames: FcsdFrame[], tsdSource: 'gt' | 'proxy' | 'aligned'): { inputs: FcsdConditionInputs; proxyRgb: tf.Tensor4D } {
  const c = model.config, S = c.size, B = frames.length, n = S * S * 3;
  const pack = (get: (f: FcsdFrame) => Float32Array, len: number) => {
    const out = new Float32Array(B * len);
    frames.forEach((f, b) => out.set(get(f), b * len));
    return out;
  };
  const tsdOf = (f: FcsdFrame): Float32Array => {
    const m = tsdSource === 'gt' ? f.gtTsd : tsdSource === 'proxy' ? f.proxyTsd : f.alignedTsd;
    if (!m) throw new ValidationError('fcsdBatchInputs', `frames[${f.id}].alignedTsd`, "the TSDM's aligned TSD (withAlignedTsd) for tsdSource 'aligned'", m);
    return m;
  };
  return {
    inputs: {
      tsd: tf.tensor4d(pack(tsdOf, n), [B, S, S, 3]),
      normal: tf.tensor4d(pack((f) => f.normal, n), [B, S, S, 3]),
      pose: tf.tensor2d(pack((f) => f.pose, c.poseDim), [B, c.poseDim]),
      expression: tf.tensor2d(pack((f) => f.expression, c.expressionDim), [B, c.expressionDim]),
      emotion: tf.tensor1d(model.labelIndices(frames.map((f) => f.emotion)), 'int32'),
    },
    proxyRgb: tf.tensor4d(pack((f) => f.proxyRgb, n), [B, S, S, 3]),
  };
}

/**
 * The diffusion targets x_0 of a batch of frames: with a pre-trained backbone the frames' VAE latents
 * ({@link FcsdModel.encodeImages}), otherwise {@link fcsdTarget} of each frame. No gradients.
 * @returns `model.sampleShape(frames.length)`.
 * @example
 * ```ts
 * const x0 = fcsdBatchTargets(model, frames); // [B, S, S, 3] in pixel space
 * ```
 */
export function fcsdBatchTargets(model: FcsdModel, frames: FcsdFrame[]): tf.Tensor4D {
  const c = model.config, B = frames.length;
  if (model.isPretrained) {
    const gt = new Float32Array(B * c.size * c.size * 3);
    frames.forEach((f, b) => gt.set(f.gt, b * f.gt.length));
    return tf.tidy(() => model.encodeImages(tf.tensor4d(gt, [B, c.size, c.size, 3])));
  }
  const shape = model.sampleShape(B), n = shape[1] * shape[2] * shape[3];
  const x0 = new Float32Array(B * n);
  frames.forEach((f, b) => x0.set(fcsdTarget(f, c), b * n));
  return tf.tensor4d(x0, shape);
}

/**
 * One drawn batch (the caller disposes it with {@link disposeFcsdTrainingBatch}).
 * @example
 * ```ts
 * const { frames, x0 } = drawFcsdTrainingBatch(model, data, train, rng); // x0: [B, S, S, 3]
 * ```
 */
export interface FcsdTrainingBatch {
  /** The drawn frames, in batch order. */
  frames: FcsdFrame[];
  /** Diffusion targets x_0 (`fcsdBatchTargets`): `[B, S, S, 3]`, or the VAE latents with a pre-trained backbone. */
  x0: tf.Tensor4D;
  /** Condition inputs of the frames (TSD from `config.trainTsd`). */
  inputs: FcsdConditionInputs;
  /** Proxy renders `[B, S, S, 3]` in [0, 1]. */
  proxyRgb: tf.Tensor4D;
}

/**
 * Draw `config.batchSize` frames uniformly (with replacement) from `train` and pack them.
 * @param rng - the loop's generator (one `int` draw per frame).
 * @example
 * ```ts
 * const batch = drawFcsdTrainingBatch(model, data, [0, 1, 2], loop.rng);
 * ```
 */
export function drawFcsdTrainingBatch(model: FcsdModel, data: FcsdData, train: number[], rng: Rng): FcsdTrainingBatch {
  const frames = Array.from({ length: model.config.batchSize }, () => data.frames[train[rng.int(train.length)]!]!);
  const { inputs, proxyRgb } = fcsdBatchInputs(model, frames, model.config.trainTsd);
  return { frames, x0: fcsdBatchTargets(model, frames), inputs, proxyRgb };
}

/**
 * Free a batch and any condition records built from it.
 * @example
 * ```ts
 * disposeFcsdTrainingBatch(batch, conditions);
 * ```
 */
export function disposeFcsdTrainingBatch(batch: FcsdTrainingBatch, ...conditions: Array<FcsdConditions | undefined>): void {
  const list: tf.Tensor[] = [batch.x0, batch.proxyRgb, ...Object.values(batch.inputs)];
  for (const record of conditions) if (record) for (const t of [record.tokens, record.controlImage, record.proxy]) if (t) list.push(t);
  tf.dispose(list);
}

function checkData(data: FcsdData, c: FcsdConfig, train: number[]): void {
  const FN = 'trainFcsd';
  if (!data || !Array.isArray(data.frames)) throw new ValidationError(FN, 'data', 'FcsdData from prepareFcsdData', data);
  if (data.size !== c.size) throw new ValidationError(FN, 'data.size', `config.size (${c.size})`, data.size);
  if (!Array.isArray(train) || train.length === 0) throw new ValidationError(FN, 'options.train', 'a non-empty list of training frame indices', train);
  for (const i of train) if (!data.frames[i]) throw new ValidationError(FN, 'options.train', `indices < ${data.frames.length}`, i);
}

/**
 * Train the FCSD (both phases) on prepared stage-3 data.
 * @param data - from `prepareFcsdData`.
 * @param config - any subset of {@link FcsdConfig}.
 * @example
 * ```ts
 * const { model, lossLog } = await trainFcsd(data, { controlIterations: 300 }, { train: split.train, checkpointDir: 'runs/fcsd' });
 * ```
 */
export async function trainFcsd(data: FcsdData, config: Partial<FcsdConfig>, options: TrainFcsdOptions): Promise<TrainFcsdResult> {
  const FN = 'trainFcsd';
  const c = resolveFcsdConfig(config);
  checkData(data, c, options?.train);
  const stopAt = options.stopAt ?? c.backboneIterations + c.controlIterations;
  if (!Number.isInteger(stopAt) || stopAt < 0) throw new ValidationError(FN, 'options.stopAt', 'a non-negative integer', stopAt);
  const model = new FcsdModel(c, data.labels, options.pretrained);
  const scheduler = fcsdScheduler(c);
  const stepLosses: number[] = [];
  const lossLog: TrainFcsdResult['lossLog'] = { backbone: [], conditions: [] };
  const steps = { backbone: 0, conditions: 0 };
  try {
    for (const phase of ['backbone', 'conditions'] as const) {
      const iterations = phase === 'backbone' ? c.backboneIterations : c.controlIterations;
      const budget = Math.min(iterations, stopAt - (phase === 'conditions' ? c.backboneIterations : 0));
      if (phase === 'backbone' && options.sharedBackbone !== undefined && !model.isPretrained && iterations > 0) {
        loadSharedBackbone(model, options.sharedBackbone);
        steps.backbone = iterations;
        continue;
      }
      if (phase === 'conditions') model.attachConditions();
      const params = phase === 'backbone' ? model.backboneParameters() : model.conditionParameters();
      if (iterations === 0 || params.length === 0) continue; // nothing to train (every condition switched off)
      const optimizer = new AdamW(params, { lr: phase === 'backbone' ? c.backboneLr : c.controlLr, maxGradNorm: c.maxGradNorm > 0 ? c.maxGradNorm : undefined });
      const loop = new TrainingLoopState(new Rng(c.seed).fork(`fcsd-${phase}`), c.logEvery, iterations);
      const run = { model, optimizer, config: c, fn: FN, validateState: (state: Record<string, unknown>) => loop.checkState(state, FN) };
      let manager: CheckpointManager | null = null;
      try {
        // The manager takes the phase folder's lock inside the try: a refused lock still releases the optimizer.
        manager = options.checkpointDir ? new CheckpointManager(join(options.checkpointDir, phase), { keepLast: 2 }) : null;
        const resumed = manager && (options.resume ?? true) ? resumeTraining(manager, run) : null;
        if (resumed) loop.restore(resumed.state);
        const save = () => manager && saveTrainingCheckpoint(manager, loop.step, { ...run, state: loop.toState(), metadata: { model: `FCSD (ConsistentAvatar stage 3), ${phase}` } });
        const rng = loop.rng;
        const B = c.batchSize, T = c.numTrainTimesteps;
        const shape = model.sampleShape(B); // [B, S, S, 3] in pixel space, the latent shape with a VAE
        const n = shape[1] * shape[2] * shape[3];
        while (loop.step < Math.max(0, budget)) {
          // 1. A batch of training frames, timesteps and noise (Eq. 9's t and ε).
          const batch = drawFcsdTrainingBatch(model, data, options.train, rng);
          const ts = Array.from({ length: B }, () => rng.int(T));
          const noiseData = Float32Array.from(rng.normal(B * n));
          const dropRng = rng.fork(`dropout-${loop.step}`);
          const tensors = tf.tidy(() => {
            const noise = tf.tensor4d(noiseData, shape);
            return { noise, xt: scheduler.addNoise(batch.x0, noise, ts, { allowNonFinite: true }) as tf.Tensor4D }; // per step: the loss check fails fast
          });
          let loss: number;
          try {
            ({ loss } = optimizer.step(() => tf.tidy(() => {
              // 2. The conditions (f_d with dropout, z_c, proxy) and the prediction (Eq. 8).
              const conditions = model.conditions(batch.inputs, batch.proxyRgb, phase === 'conditions' ? { dropout: c.conditionDropout, rng: dropRng } : {});
              const out = model.denoise(tensors.xt, ts, conditions); // [B, S, S, 3] (latents with a VAE)
              const target = c.predictionType === 'sample' ? batch.x0 : tensors.noise;
              return tf.mean(tf.square(tf.sub(out, target))) as tf.Scalar; // Eq. 9
            })));
          } finally {
            disposeFcsdTrainingBatch(batch);
            tf.dispose(Object.values(tensors));
          }
          if (!Number.isFinite(loss)) throw new ValidationError(FN, `config.${phase === 'backbone' ? 'backboneLr' : 'controlLr'}`, `a learning rate that keeps the loss finite (${phase} step ${loop.step + 1}: loss ${loss})`, phase === 'backbone' ? c.backboneLr : c.controlLr);
          stepLosses.push(loss);
          const mean = loop.record(loss);
          if (mean !== null) options.onProgress?.({ phase, step: loop.step, iterations, loss: mean });
          if (loop.step % c.checkpointEvery === 0 || loop.step === budget) save();
          if (loop.step % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        lossLog[phase] = loop.lossLog;
        steps[phase] = loop.step;
      } finally {
        optimizer.dispose();
        manager?.close(); // release the phase folder's lock: a later run in this process (or another) may take it
      }
      if (steps[phase] < iterations) break; // interrupted (stopAt)
    }
    const conditionsDone = steps.conditions === c.controlIterations || model.conditionParameters().length === 0;
    const backboneDone = steps.backbone === c.backboneIterations || model.isPretrained;
    return { model, lossLog, stepLosses, steps, complete: backboneDone && conditionsDone };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
