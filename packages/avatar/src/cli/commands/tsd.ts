/**
 * `ca tsd`: stage 2: the TSD (temporal surface detail, §3.2) of every real frame and proxy render.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerTsd(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca tsd` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerTsd(program);
 * ```
 */
export function registerTsd(program: Command): void {
  registerStageCommand(program, 'tsd', 'stage 2: the TSD (temporal surface detail, §3.2) of every real frame and proxy render');
}
