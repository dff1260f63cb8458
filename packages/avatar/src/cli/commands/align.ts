/**
 * `ca align`: stage 2: generate the aligned TSD′ of the held-out frames with the TSDM.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerAlign(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca align` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerAlign(program);
 * ```
 */
export function registerAlign(program: Command): void {
  registerStageCommand(program, 'align', 'stage 2: generate the aligned TSD′ of the held-out frames with the TSDM');
}
