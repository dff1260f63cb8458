/**
 * `ca fit-proxy`: stage 1: fit the proxy avatar (texture, lighting) on the training frames from the tracked FLAME parameters.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerFitProxy(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca fit-proxy` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerFitProxy(program);
 * ```
 */
export function registerFitProxy(program: Command): void {
  registerStageCommand(program, 'fit-proxy', 'stage 1: fit the proxy avatar (texture, lighting) on the training frames from the tracked FLAME parameters');
}
