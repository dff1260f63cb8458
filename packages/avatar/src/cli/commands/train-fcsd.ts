/**
 * `ca train-fcsd`: stage 3: train the FCSD (backbone, then the TSD / normal / emotion conditions).
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerTrainFcsd(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca train-fcsd` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerTrainFcsd(program);
 * ```
 */
export function registerTrainFcsd(program: Command): void {
  registerStageCommand(program, 'train-fcsd', 'stage 3: train the FCSD (backbone, then the TSD / normal / emotion conditions)');
}
