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
import { checkFinite } from '../finite.js';
import type { CheckpointManager } from '../io/checkpoint.js';
import { jsonDepth, readLimits } from '../io/limits.js';
import { Rng, type RngState } from '../random.js';
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
  /**
   * Checks the checkpoint's JSON state before anything is applied (throw {@link ValidationError} naming the field);
   * e.g. `(state) => loop.checkState(state)`. The optimiser's part is always checked.
   */
  readonly validateState?: (state: Record<string, unknown>) => void;
}

/**
 * `config` as JSON for the comparison, or a {@link ValidationError}: a config nested deeper than the read policy's
 * `maxJsonDepth` (its checkpoint could never be read back) or one that cannot be serialised (a cycle, a BigInt).
 * Issue 19: `JSON.stringify` of a deeply nested config overflowed the stack with an untyped RangeError.
 */
function configJson(fn: string, config: unknown): string {
  const maxDepth = readLimits().maxJsonDepth;
  if (jsonDepth(config, maxDepth) > maxDepth) throw new ValidationError(fn, 'config', `a JSON config nesting at most ${maxDepth} levels (maxJsonDepth)`, config);
  try {
    return JSON.stringify(config);
  } catch (error) {
    throw new ValidationError(fn, 'config', `a JSON-serialisable config (${(error as Error).message.slice(0, 80)})`, config);
  }
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
    // All-or-nothing: every check runs before the first assignment, and loadStateDict checks all keys before it
    // assigns any, so a bad checkpoint leaves the model and the optimiser untouched.
    if (JSON.stringify(last.config) !== configJson(fn, run.config)) {
      throw new ValidationError(fn, 'config', `the config of the checkpoint in ${last.dir} (or start a new run)`, run.config);
    }
    const state = last.state ?? {};
    run.validateState?.(state);
    if (state.optimizer === null || typeof state.optimizer !== 'object') {
      throw new ValidationError(fn, `${last.dir}/state.json: optimizer`, '{ step, config } from the optimiser', state.optimizer);
    }
    run.optimizer.checkState(last.optimizerTensors ?? {}, state.optimizer as { step: number });
    run.model.loadStateDict(last.tensors, { strict: true, source: last.dir });
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

/**
 * The bookkeeping every seeded training loop here carries, kept as checkpoint state: the step count, the {@link Rng}
 * of every draw, the log of mean losses per `logEvery` steps and the losses of the still-open window.
 * `toState()` is what {@link saveTrainingCheckpoint} stores (fields `step`, `rng`, `lossLog`, `window`) and
 * `restore(resumed.state)` puts it back, so a resumed run continues exactly as the uninterrupted one.
 *
 * @example
 * ```ts
 * import { Rng, TrainingLoopState, resumeTraining, saveTrainingCheckpoint } from '@consistent-avatar/core';
 * const loop = new TrainingLoopState(new Rng(0).fork('train'), 10, 100); // logEvery 10, 100 iterations
 * const resumed = resumeTraining(manager, run);
 * if (resumed) loop.restore(resumed.state);
 * while (loop.step < 100) {
 *   const loss = trainStep(loop.rng);
 *   const mean = loop.record(loss); // the window's mean every 10 steps, else null
 *   if (mean !== null) console.log(loop.step, mean);
 *   if (loop.step % 50 === 0) saveTrainingCheckpoint(manager, loop.step, { ...run, state: loop.toState() });
 * }
 * ```
 */
export class TrainingLoopState {
  /** Steps done (including resumed ones). */
  step = 0;
  /** Mean loss of each `logEvery`-step window, by the window's last step. */
  lossLog: { step: number; loss: number }[] = [];
  private window: number[] = [];

  /**
   * @param rng - the loop's random stream (replaced by the checkpoint's on {@link TrainingLoopState.restore}).
   * @param logEvery - log period in steps (a window also closes at step `iterations`).
   * @param iterations - the run's total steps.
   */
  constructor(public rng: Rng, private readonly logEvery: number, private readonly iterations: number) {
    if (!Number.isInteger(logEvery) || logEvery < 1) throw new ValidationError('TrainingLoopState', 'logEvery', 'a positive integer', logEvery);
    if (!Number.isInteger(iterations) || iterations < 0) throw new ValidationError('TrainingLoopState', 'iterations', 'an integer ≥ 0', iterations);
  }

  /**
   * Check a checkpoint's loop state without applying it: `step` an integer in [0, iterations], `rng` a valid
   * {@link RngState}, `lossLog` entries `{ step ≤ state.step, loss finite }` at increasing steps, `window` the finite
   * losses of the open window (fewer than `logEvery`). Throws {@link ValidationError} naming the field.
   *
   * @example
   * ```ts
   * resumeTraining(manager, { ...run, validateState: (s) => loop.checkState(s) });
   * ```
   */
  checkState(state: Record<string, unknown>, fn = 'TrainingLoopState.restore'): void {
    if (state === null || typeof state !== 'object') throw new ValidationError(fn, 'state', 'the checkpoint state object', state);
    const { step, lossLog, window } = state as { step: unknown; lossLog: unknown; window: unknown };
    if (!Number.isSafeInteger(step) || (step as number) < 0 || (step as number) > this.iterations) {
      throw new ValidationError(fn, 'state.step', `an integer in [0, ${this.iterations}] (the run's iterations)`, step);
    }
    Rng.fromState(state.rng as RngState); // throws naming state.words / state.seed / state.spareNormal
    if (!Array.isArray(lossLog)) throw new ValidationError(fn, 'state.lossLog', 'an array of { step, loss }', lossLog);
    let previous = 0;
    lossLog.forEach((entry: unknown, i) => {
      const e = entry as { step?: unknown; loss?: unknown } | null;
      if (e === null || typeof e !== 'object' || !Number.isSafeInteger(e.step) || (e.step as number) <= previous || (e.step as number) > (step as number)) {
        throw new ValidationError(fn, `state.lossLog[${i}].step`, `an integer in (${previous}, ${step as number}]`, e?.step);
      }
      if (typeof e.loss !== 'number' || !Number.isFinite(e.loss)) throw new ValidationError(fn, `state.lossLog[${i}].loss`, 'a finite number', e.loss);
      previous = e.step as number;
    });
    if (!Array.isArray(window) || window.length >= this.logEvery || !window.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new ValidationError(fn, 'state.window', `fewer than ${this.logEvery} finite losses`, window);
    }
  }

  /**
   * Put back the state of a resumed checkpoint (`resumeTraining(...).state`), checked first
   * ({@link TrainingLoopState.checkState}); a bad state throws and leaves the loop as it was.
   *
   * @example
   * ```ts
   * if (resumed) loop.restore(resumed.state);
   * ```
   */
  restore(state: Record<string, unknown>): void {
    this.checkState(state);
    const st = state as { step: number; rng: RngState; lossLog: { step: number; loss: number }[]; window: number[] };
    this.step = st.step;
    this.rng = Rng.fromState(st.rng);
    this.lossLog = st.lossLog.map((e) => ({ step: e.step, loss: e.loss }));
    this.window = [...st.window];
  }

  /** The JSON state to checkpoint. */
  toState(): { step: number; rng: RngState; lossLog: { step: number; loss: number }[]; window: number[] } {
    return { step: this.step, rng: this.rng.getState(), lossLog: this.lossLog, window: this.window };
  }

  /**
   * Count one finished step and its loss. Returns the mean loss of the window when a log period closes (every
   * `logEvery` steps and at step `iterations`; the mean is also appended to `lossLog`), otherwise `null`.
   */
  record(loss: number): number | null {
    checkFinite('TrainingLoopState.record', 'loss', loss); // a NaN loss would make the logged window mean NaN
    this.step += 1;
    this.window.push(loss);
    if (this.step % this.logEvery !== 0 && this.step !== this.iterations) return null;
    const mean = this.window.reduce((a, b) => a + b, 0) / this.window.length;
    this.lossLog.push({ step: this.step, loss: mean });
    this.window = [];
    return mean;
  }
}
