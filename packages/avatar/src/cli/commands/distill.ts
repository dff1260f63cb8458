/**
 * `ca distill`: stage 3 (§4.3): distil the LCM student, and train the refiner when the config switches it on.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerDistill(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca distill` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerDistill(program);
 * ```
 */
export function registerDistill(program: Command): void {
  registerStageCommand(program, 'distill', 'stage 3 (§4.3): distil the LCM student, and train the refiner when the config switches it on');
}
