/**
 * `ca render`: render every row (proxy, baseline, full method, …) on the held-out frames.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerRender(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca render` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerRender(program);
 * ```
 */
export function registerRender(program: Command): void {
  registerStageCommand(program, 'render', 'render every row (proxy, baseline, full method, …) on the held-out frames');
}
