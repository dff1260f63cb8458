/**
 * What the `ca` command line prints while it works — the only place in the library that draws progress bars:
 * {@link trainingBar} turns a trainer's `{ step, iterations, loss }` callbacks into one core progress reporter on
 * stderr (a redrawn bar on a terminal, a line every ~5 % elsewhere).
 *
 * @example
 * ```ts
 * import { trainingBar } from './progress.js';
 * const bar = trainingBar('train TSDM');
 * await trainTsdm(data, config, { onProgress: bar.onProgress });
 * bar.done();
 * ```
 *
 * @packageDocumentation
 */
import { createProgress, ValidationError, type ProgressReporter } from '@consistent-avatar/core';

/** The progress a trainer reports (the TSDM, the FCSD phases, the LCM student, the refiner). */
export interface TrainingStep {
  step: number;
  iterations: number;
  loss?: number;
  /** The FCSD's `'backbone'` / `'conditions'`. */
  phase?: string;
}

/** A bar fed by {@link TrainingStep}s. */
export interface TrainingBar {
  /** Pass to the trainer's `onProgress`. */
  onProgress: (event: TrainingStep) => void;
  /** End the bar (prints the last line). */
  done(): void;
}

/**
 * A progress bar on stderr for one or several training phases (a new phase or total starts a new bar).
 * @param label - shown at the start of the line (`'train FCSD'`).
 * @returns the bar.
 * @example
 * ```ts
 * const bar = trainingBar('train FCSD'); bar.onProgress({ step: 1, iterations: 10, loss: 0.3 }); bar.done();
 * ```
 */
export function trainingBar(label: string): TrainingBar {
  if (typeof label !== 'string') throw new ValidationError('trainingBar', 'label', 'a string', label);
  let reporter: ProgressReporter | null = null;
  let key = '';
  return {
    onProgress: ({ step, iterations, loss, phase }) => {
      const next = `${phase ?? ''}/${iterations}`;
      if (reporter === null || next !== key) {
        reporter?.done();
        key = next;
        reporter = createProgress({ total: Math.max(0, iterations), label: phase ? `${label} (${phase})` : label });
      }
      reporter.update(step, loss === undefined ? undefined : { loss });
    },
    done: () => reporter?.done(),
  };
}
