/**
 * Resuming a training run from its latest checkpoint: the part every trainer repeats — load the newest
 * `step-NNNNNN/` of a {@link CheckpointManager}, refuse it when its config differs from the run's, load the module's
 * weights (strict) and the optimiser's moments, free the loaded tensors, and hand back the JSON `state` (step, RNG
 * state, loss log … whatever {@link saveTrainingCheckpoint} was given).
 *
 * @example
 * ```ts
 * import { AdamW, CheckpointManager, nn, Rng, resumeTraining, saveTrainingCheckpoint } from '@consistent-avatar/core';
 * const model = new nn.Linear(4, 2, { rng: new Rng(0) });
 * const optimizer = new AdamW(model, { lr: 1e-3 });
 * const manager = new CheckpointManager('runs/toy');
 * const config = { lr: 1e-3 };
 * const resumed = resumeTraining(manager, { model, optimizer, config, fn: 'trainToy' });
 * let step = resumed ? (resumed.state.step as number) : 0;
 * // … train …
 * saveTrainingCheckpoint(manager, step, { model, optimizer, config, state: { step } });
 * ```
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import type { CheckpointManager } from '../io/checkpoint.js';
import type { Module } from '../nn/module.js';
import type { Adam } from './adam.js';

/**
 * What {@link resumeTraining} needs and {@link saveTrainingCheckpoint} writes.
 * @example
 * ```ts
 * const run: TrainingRun = { model, optimizer, config, fn: 'trainTsdm' };
 * ```
 */
export interface TrainingRun {
  readonly model: Module;
  readonly optimizer: Adam;
  /** The run's config (any JSON); a checkpoint with a different one is refused. */
  readonly config: unknown;
  /** Function name for the error message. Default `'resumeTraining'`. */
  readonly fn?: string;
}

/**
 * Load the latest checkpoint into `run.model` and `run.optimizer`; `null` when the run has none (a fresh start).
 * Throws {@link ValidationError} when the checkpoint's config is not `run.config` (compared as JSON).
 *
 * @returns the checkpoint folder and its JSON state (the optimiser's part already applied).
 * @example
 * ```ts
 * const resumed = resumeTraining(manager, { model, optimizer, config });
 * if (resumed) rng = Rng.fromState(resumed.state.rng as RngState);
 * ```
 */
export function resumeTraining(manager: CheckpointManager, run: TrainingRun): { dir: string; state: Record<string, unknown> } | null {
  const fn = run.fn ?? 'resumeTraining';
  const last = manager.loadLatest();
  if (!last) return null;
  try {
    if (JSON.stringify(last.config) !== JSON.stringify(run.config)) {
      throw new ValidationError(fn, 'config', `the config of the checkpoint in ${last.dir} (or start a new run)`, run.config);
    }
    run.model.loadStateDict(last.tensors, { strict: true, source: last.dir });
    const state = last.state ?? {};
    run.optimizer.loadState(last.optimizerTensors ?? {}, state.optimizer as { step: number });
    return { dir: last.dir, state };
  } finally {
    tf.dispose([...Object.values(last.tensors), ...Object.values(last.optimizerTensors ?? {})]);
  }
}

/**
 * Save `step-NNNNNN/` with the model's weights, the optimiser's moments and JSON state, and `run.config`.
 *
 * @example
 * ```ts
 * saveTrainingCheckpoint(manager, step, { model, optimizer, config, state: { step, rng: rng.getState() } });
 * ```
 */
export function saveTrainingCheckpoint(
  manager: CheckpointManager,
  step: number,
  run: TrainingRun & { readonly state: Record<string, unknown>; readonly metadata?: Record<string, string> },
): string {
  return manager.save(step, {
    config: run.config,
    tensors: run.model.stateDict(),
    optimizerTensors: run.optimizer.stateTensors(),
    state: { ...run.state, optimizer: run.optimizer.stateJson() },
    ...(run.metadata ? { metadata: run.metadata } : {}),
  });
}
