/**
 * `ca eval`: score every rendered row on the held-out frames (whole frame and face mask, temporal, PE / EE).
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerEval(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca eval` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerEval(program);
 * ```
 */
export function registerEval(program: Command): void {
  registerStageCommand(program, 'eval', 'score every rendered row on the held-out frames (whole frame and face mask, temporal, PE / EE)');
}
