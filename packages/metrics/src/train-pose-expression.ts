/**
 * Training the embedded synthetic-head pose / expression regressor ({@link SyntheticPoseExpressionNet}) on a
 * {@link PoseExpressionRenderSet}:
 * 1. Target statistics: per-dimension mean and std of the training poses and expressions (std < 1e-6, e.g. the
 *    always-zero jaw y / z, is stored as 1), kept in the config so the estimator de-normalises its outputs.
 * 2. Loss on normalised targets, three groups weighted as groups so the 84 weak expression components (small,
 *    often sub-pixel deformations at 64²) do not drown the rest: L = mean_{k<6} (p̂_k − p_k)² +
 *    mean_{k<16} (ê_k − e_k)² + ½·mean_{k≥16} (ê_k − e_k)² over the batch (the synthetic head's 16 named components
 *    are the ones emotions and speech move).
 * 3. AdamW, linear warm-up then cosine decay to `lr · minLrRatio`, global-norm clipping; batches drawn by a seeded
 *    {@link Rng} whose state is checkpointed, so a resumed run continues exactly as the uninterrupted one.
 *
 * @example
 * ```ts
 * import { renderPoseExpressionSet, trainPoseExpressionEstimator } from '@consistent-avatar/metrics';
 * const train = await renderPoseExpressionSet({ count: 2000, seed: 1 });
 * const { estimator } = await trainPoseExpressionEstimator(train, { iterations: 3000, checkpointDir: 'runs/pe' });
 * estimator.save('runs/pe/final');
 * estimator.dispose();
 * ```
 */
import {
  AdamW,
  CheckpointManager,
  checkConfigField,
  checkFinite,
  configField as f,
  resumeTraining,
  Rng,
  saveTrainingCheckpoint,
  tf,
  TrainingLoopState,
  ValidationError,
  type ConfigField,
} from '@consistent-avatar/core';
import { SYNTHETIC_EXPRESSION_NAMES } from '@consistent-avatar/proxy';
import type { PoseExpressionRenderSet } from './pose-expression-renders.js';
import {
  resolveSyntheticPoseExpressionConfig,
  SyntheticPoseExpressionEstimator,
  SyntheticPoseExpressionNet,
  type SyntheticPoseExpressionConfig,
} from './synthetic-pose-expression.js';

/** The synthetic head's named expression components (lips part, smile, frown, …). */
const NAMED_EXPRESSION = SYNTHETIC_EXPRESSION_NAMES.length; // 16

/**
 * Options of {@link trainPoseExpressionEstimator}.
 * @example
 * ```ts
 * const options: TrainPoseExpressionOptions = { iterations: 6000, batchSize: 32, lr: 2e-3, seed: 0 };
 * ```
 */
export interface TrainPoseExpressionOptions {
  /** Network config (its target statistics are computed from the data). */
  readonly config?: Partial<Omit<SyntheticPoseExpressionConfig, 'poseMean' | 'poseStd' | 'expressionMean' | 'expressionStd'>>;
  /** Optimiser steps. Default 3000. */
  readonly iterations?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** Peak learning rate. Default 2e-3. */
  readonly lr?: number;
  /** Final learning rate as a fraction of `lr`. Default 0.02. */
  readonly minLrRatio?: number;
  /** Linear warm-up steps. Default 100. */
  readonly warmup?: number;
  /** AdamW decoupled weight decay. Default 1e-4. */
  readonly weightDecay?: number;
  /** Global gradient-norm clip. Default 5. */
  readonly maxGradNorm?: number;
  /** Seed of the batch draws. Default 0. */
  readonly seed?: number;
  /** Called every `logEvery` steps and at the last step with the window's mean loss. */
  readonly onProgress?: (p: { step: number; iterations: number; loss: number; lr: number }) => void;
  /** Default 50. */
  readonly logEvery?: number;
  /** Folder of checkpoints (`step-NNNNNN/`). */
  readonly checkpointDir?: string;
  /** Steps between checkpoints. Default 500. */
  readonly checkpointEvery?: number;
  /** Resume from the latest checkpoint in `checkpointDir` when there is one. Default true. */
  readonly resume?: boolean;
  /** Checkpoints kept. Default 2. */
  readonly keepLast?: number;
  /** Stop after this step (the checkpoint at this step is written). Default `iterations`. */
  readonly stopAt?: number;
}

/**
 * What {@link trainPoseExpressionEstimator} returns. The caller owns (disposes) `estimator`.
 * @example
 * ```ts
 * const { estimator, lossLog, resumedFrom } = await trainPoseExpressionEstimator(train, { iterations: 100 });
 * ```
 */
export interface TrainPoseExpressionResult {
  readonly estimator: SyntheticPoseExpressionEstimator;
  /** Mean loss of each `logEvery`-step window, by last step of the window. */
  readonly lossLog: { step: number; loss: number }[];
  /** Steps done in total (including resumed ones). */
  readonly step: number;
  readonly resumedFrom: string | null;
}

/**
 * Per-dimension mean and std (std < 1e-6 → 1) of `[N, d]` rows.
 * @example
 * ```ts
 * const { mean, std } = columnStats(set.poses, 6);
 * ```
 */
export function columnStats(rows: Float32Array, width: number): { mean: number[]; std: number[] } {
  const fn = 'columnStats';
  if (!Number.isInteger(width) || width < 1) throw new ValidationError(fn, 'width', 'a positive integer', width);
  if (!(rows instanceof Float32Array) || rows.length === 0 || rows.length % width !== 0) {
    throw new ValidationError(fn, 'rows', `a non-empty Float32Array [N, ${width}] (length a multiple of ${width})`, rows);
  }
  checkFinite(fn, 'rows', rows); // a NaN row made its column's mean and std NaN, and the estimator's normalisation
  const n = rows.length / width;
  const mean = new Array<number>(width).fill(0), sq = new Array<number>(width).fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < width; k++) mean[k]! += rows[i * width + k]! / n;
  for (let i = 0; i < n; i++) for (let k = 0; k < width; k++) sq[k]! += (rows[i * width + k]! - mean[k]!) ** 2 / n;
  return { mean, std: sq.map((v) => (Math.sqrt(v) < 1e-6 ? 1 : Math.sqrt(v))) };
}

function checkSet(fn: string, set: PoseExpressionRenderSet, size: number, expressionSize: number): void {
  if (!set || !(set.images instanceof Float32Array) || !(set.poses instanceof Float32Array) || !(set.expressions instanceof Float32Array)) {
    throw new ValidationError(fn, 'train', 'a PoseExpressionRenderSet from renderPoseExpressionSet', set);
  }
  if (set.size !== size) throw new ValidationError(fn, 'train.size', `config.size (${size}); render at that size`, set.size);
  const n = set.count;
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(fn, 'train.count', 'a positive integer', n);
  if (set.images.length !== n * size * size * 3) throw new ValidationError(fn, 'train.images', `${n}·${size}·${size}·3 values`, set.images.length);
  if (set.poses.length !== n * 6) throw new ValidationError(fn, 'train.poses', `${n * 6} values`, set.poses.length);
  if (set.expressions.length !== n * expressionSize) throw new ValidationError(fn, 'train.expressions', `${n * expressionSize} values`, set.expressions.length);
}

/**
 * Train the regressor (see the module docs).
 *
 * @param train - training renders at `config.size`.
 * @example
 * ```ts
 * const { estimator } = await trainPoseExpressionEstimator(train, { iterations: 6000, checkpointDir: 'runs/pe' });
 * ```
 */
export async function trainPoseExpressionEstimator(train: PoseExpressionRenderSet, options: TrainPoseExpressionOptions = {}): Promise<TrainPoseExpressionResult> {
  const FN = 'trainPoseExpressionEstimator';
  const base = resolveSyntheticPoseExpressionConfig(options.config ?? {});
  checkSet(FN, train, base.size, base.expressionSize);
  const iterations = options.iterations ?? 3000;
  const B = options.batchSize ?? 32;
  const lr = options.lr ?? 2e-3;
  const minLrRatio = options.minLrRatio ?? 0.02;
  const warmup = options.warmup ?? 100;
  const logEvery = options.logEvery ?? 50;
  const checkpointEvery = options.checkpointEvery ?? 500;
  const seed = options.seed ?? 0;
  const checks: Array<[string, ConfigField, unknown]> = [
    ['iterations', f.positiveInt(), iterations], ['batchSize', f.positiveInt(), B], ['logEvery', f.positiveInt(), logEvery],
    ['checkpointEvery', f.positiveInt(), checkpointEvery], ['lr', f.positiveNumber(), lr],
    ['minLrRatio', f.number({ min: 0, minOpen: true, max: 1 }), minLrRatio], ['warmup', f.nonNegativeInt(), warmup], ['seed', f.nonNegativeInt(), seed],
  ];
  for (const [name, field, v] of checks) checkConfigField(FN, `options.${name}`, field, v);
  const stopAt = options.stopAt ?? iterations;
  if (!Number.isInteger(stopAt) || stopAt < 0 || stopAt > iterations) throw new ValidationError(FN, 'options.stopAt', `an integer in [0, ${iterations}]`, stopAt);

  // 1. Target statistics → the config the estimator is saved with.
  const n = base.expressionSize;
  const poseStats = columnStats(train.poses, 6);
  const exprStats = columnStats(train.expressions, n);
  const config = resolveSyntheticPoseExpressionConfig({
    ...base,
    poseMean: poseStats.mean, poseStd: poseStats.std, expressionMean: exprStats.mean, expressionStd: exprStats.std,
    training: { renders: train.count, size: train.size, iterations, batchSize: B, lr, minLrRatio, warmup, weightDecay: options.weightDecay ?? 1e-4, seed },
  });
  const net = new SyntheticPoseExpressionNet(config);
  const optimizer = new AdamW(net, { lr, weightDecay: options.weightDecay ?? 1e-4, maxGradNorm: options.maxGradNorm ?? 5 });
  const manager = options.checkpointDir ? new CheckpointManager(options.checkpointDir, { keepLast: options.keepLast ?? 2 }) : null;
  const loop = new TrainingLoopState(new Rng(seed).fork('pose-expression-train'), logEvery, iterations);
  let resumedFrom: string | null = null;
  const lrAt = (s: number) => {
    if (s < warmup) return (lr * (s + 1)) / warmup;
    const progress = Math.min(1, (s - warmup) / Math.max(1, iterations - warmup));
    return lr * (minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  };
  try {
    // Resume: weights, moments, step, RNG state, loss log (the config, data statistics included, must match).
    const run = { model: net, optimizer, config, fn: FN, validateState: (state: Record<string, unknown>) => loop.checkState(state, FN) };
    const resumed = manager && (options.resume ?? true) ? resumeTraining(manager, run) : null;
    if (resumed) {
      loop.restore(resumed.state);
      resumedFrom = resumed.dir;
    }
    const save = () => manager && saveTrainingCheckpoint(manager, loop.step, {
      ...run, state: loop.toState(), metadata: { model: 'synthetic-pose-expression' },
    });

    // 2–3. The loop.
    const S = config.size, pixels = S * S * 3;
    const tMean = [...config.poseMean, ...config.expressionMean], tStd = [...config.poseStd, ...config.expressionStd];
    const images = new Float32Array(B * pixels), targets = new Float32Array(B * (6 + n));
    const named = Math.min(NAMED_EXPRESSION, n);
    const rng = loop.rng; // the resumed stream, if any
    while (loop.step < stopAt) {
      for (let b = 0; b < B; b++) {
        const i = rng.int(train.count);
        images.set(train.images.subarray(i * pixels, (i + 1) * pixels), b * pixels);
        for (let k = 0; k < 6; k++) targets[b * (6 + n) + k] = (train.poses[i * 6 + k]! - tMean[k]!) / tStd[k]!;
        for (let k = 0; k < n; k++) targets[b * (6 + n) + 6 + k] = (train.expressions[i * n + k]! - tMean[6 + k]!) / tStd[6 + k]!;
      }
      optimizer.setLearningRate(lrAt(loop.step));
      const x = tf.tensor4d(images, [B, S, S, 3]);
      const y = tf.tensor2d(targets, [B, 6 + n]);
      let loss: number;
      try {
        ({ loss } = optimizer.step(() => tf.tidy(() => {
          const out = net.forward(x); // [B, 6 + n]
          const sq = tf.square(tf.sub(out, y));
          const poseLoss = tf.mean(sq.slice([0, 0], [B, 6]));
          const namedLoss = tf.mean(sq.slice([0, 6], [B, named]));
          if (named === n) return tf.add(poseLoss, namedLoss) as tf.Scalar;
          const weakLoss = tf.mean(sq.slice([0, 6 + named], [B, n - named]));
          return tf.addN([poseLoss, namedLoss, tf.mul(weakLoss, 0.5)]) as tf.Scalar;
        })));
      } finally {
        x.dispose();
        y.dispose();
      }
      if (!Number.isFinite(loss)) throw new ValidationError(FN, 'options.lr', `a learning rate that keeps the loss finite (step ${loop.step + 1} loss ${loss})`, lr);
      const mean = loop.record(loss);
      if (mean !== null) options.onProgress?.({ step: loop.step, iterations, loss: mean, lr: lrAt(loop.step - 1) });
      if (loop.step % checkpointEvery === 0 || loop.step === stopAt) save();
      if (loop.step % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return { estimator: new SyntheticPoseExpressionEstimator(net.eval()), lossLog: loop.lossLog, step: loop.step, resumedFrom };
  } catch (error) {
    net.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
}
