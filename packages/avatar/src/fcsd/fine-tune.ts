/**
 * What the trainings that start from a trained FCSD (the LCM student, `distillFcsdLcm`; the refiner,
 * `trainFcsdRefiner`) share: their options and results, the input checks, and the per-step batch — `batchSize`
 * training frames drawn with the loop's seeded generator, their diffusion target x_0 and condition inputs (TSD from
 * `config.trainTsd`), and the bookkeeping after each step (loss log, progress, checkpoint, yielding to the event loop).
 *
 * @example
 * ```ts
 * import { drawFcsdTrainingBatch, disposeFcsdTrainingBatch } from '@consistent-avatar/avatar';
 * const batch = drawFcsdTrainingBatch(model, data, split.train, rng); // x0 [B, S, S, 3], inputs, proxyRgb
 * const conditions = model.conditions(batch.inputs, batch.proxyRgb);
 * disposeFcsdTrainingBatch(batch, conditions);
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError, type TrainingLoopState } from '@consistent-avatar/core';
import type { FcsdData } from './data.js';
import { FcsdModel } from './fcsd-model.js';

/**
 * Progress of a fine-tuning run (every `logEvery` steps).
 * @example
 * ```ts
 * const onProgress = (p: FcsdFineTuneProgress) => console.log(`${p.step}/${p.iterations} ${p.loss.toExponential(2)}`);
 * ```
 */
export interface FcsdFineTuneProgress {
  step: number;
  iterations: number;
  /** Mean loss of the last `logEvery` steps. */
  loss: number;
}

/**
 * Options every fine-tuning run takes.
 * @example
 * ```ts
 * const options: FcsdFineTuneOptions = { train: split.train, checkpointDir: 'runs/fcsd/refiner', stopAt: 50 };
 * ```
 */
export interface FcsdFineTuneOptions {
  /** Training frame indices into `data.frames`. */
  train: number[];
  /** Folder of `step-NNNNNN/` checkpoints. */
  checkpointDir?: string;
  /** Resume from the latest checkpoint in `checkpointDir` (default true). */
  resume?: boolean;
  /** Stop after this many steps (an interrupted run; a checkpoint is written there). */
  stopAt?: number;
  /** Called every `logEvery` steps with the mean loss of the window. */
  onProgress?: (p: FcsdFineTuneProgress) => void;
}

/**
 * The log every fine-tuning run returns (with its network).
 * @example
 * ```ts
 * const { lossLog, steps, complete }: FcsdFineTuneLog = await trainFcsdRefiner(model, data, { train });
 * ```
 */
export interface FcsdFineTuneLog {
  /** Mean losses per `logEvery` steps (resumed ones included). */
  lossLog: { step: number; loss: number }[];
  /** Losses of every step run in this call. */
  stepLosses: number[];
  /** Steps done (resumed ones included). */
  steps: number;
  /** True when all iterations are done. */
  complete: boolean;
}

/**
 * Check what a training that starts from a trained FCSD needs: the model with its conditions attached, data of its
 * size, non-empty training indices, and an optional step budget.
 * @param fn - the public function, for the error messages.
 * @example
 * ```ts
 * checkFcsdTrainingInputs('trainFcsdRefiner', model, data, options.train, options.stopAt);
 * ```
 */
export function checkFcsdTrainingInputs(fn: string, model: FcsdModel, data: FcsdData, train: number[], stopAt?: number): void {
  if (!(model instanceof FcsdModel)) throw new ValidationError(fn, 'model', 'an FcsdModel (from trainFcsd)', model);
  if (!model.conditionsAttached) throw new ValidationError(fn, 'model', 'a trained FCSD (trainFcsd attaches its ControlNet and tokens)', 'conditions not attached');
  if (!data || !Array.isArray(data.frames)) throw new ValidationError(fn, 'data', 'FcsdData from prepareFcsdData', data);
  if (data.size !== model.config.size) throw new ValidationError(fn, 'data.size', `the model's config.size (${model.config.size})`, data.size);
  if (!Array.isArray(train) || train.length === 0) throw new ValidationError(fn, 'options.train', 'a non-empty list of training frame indices', train);
  for (const i of train) if (!data.frames[i]) throw new ValidationError(fn, 'options.train', `indices < ${data.frames.length}`, i);
  if (stopAt !== undefined && (!Number.isInteger(stopAt) || stopAt < 0)) throw new ValidationError(fn, 'options.stopAt', 'a non-negative integer', stopAt);
}

/**
 * The bookkeeping after one step: refuse a non-finite loss (naming the learning-rate field), log the loss, report
 * progress, checkpoint every `checkpointEvery` steps and at the budget, and yield to the event loop every 5 steps.
 * @param fn - the public function, for the error message.
 * @param lrField - the config field of the run's learning rate (`'lcmLr'`, `'controlLr'`).
 * @example
 * ```ts
 * await recordFcsdStep('trainFcsdRefiner', 'controlLr', model, loop, loss, { iterations, budget, stepLosses, onProgress, save });
 * ```
 */
export async function recordFcsdStep(
  fn: string,
  lrField: 'lcmLr' | 'controlLr',
  model: FcsdModel,
  loop: TrainingLoopState,
  loss: number,
  run: { iterations: number; budget: number; stepLosses: number[]; onProgress?: (p: FcsdFineTuneProgress) => void; save: () => void },
): Promise<void> {
  const c = model.config;
  if (!Number.isFinite(loss)) throw new ValidationError(fn, `config.${lrField}`, `a learning rate that keeps the loss finite (step ${loop.step + 1}: loss ${loss})`, c[lrField]);
  run.stepLosses.push(loss);
  const mean = loop.record(loss);
  if (mean !== null) run.onProgress?.({ step: loop.step, iterations: run.iterations, loss: mean });
  if (loop.step % c.checkpointEvery === 0 || loop.step === run.budget) run.save();
  if (loop.step % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The log of a finished (or stopped) run.
 * @example
 * ```ts
 * return { refiner, ...fineTuneLog(loop, stepLosses, c.refinerIterations) };
 * ```
 */
export function fineTuneLog(loop: TrainingLoopState, stepLosses: number[], iterations: number): FcsdFineTuneLog {
  return { lossLog: loop.lossLog, stepLosses, steps: loop.step, complete: loop.step === iterations };
}
