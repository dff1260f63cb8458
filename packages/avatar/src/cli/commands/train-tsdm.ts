/**
 * `ca train-tsdm`: stage 2: train the TSDM, the diffusion model from the proxy TSD to the real frames' TSD.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerTrainTsdm(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca train-tsdm` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerTrainTsdm(program);
 * ```
 */
export function registerTrainTsdm(program: Command): void {
  registerStageCommand(program, 'train-tsdm', 'stage 2: train the TSDM, the diffusion model from the proxy TSD to the real frames\' TSD');
}
