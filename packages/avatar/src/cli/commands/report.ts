/**
 * `ca report`: write results.json, the sequences, strip.png and report.html.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerReport(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { registerStageCommand } from '../stage-command.js';

/**
 * Register `ca report` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerReport(program);
 * ```
 */
export function registerReport(program: Command): void {
  registerStageCommand(program, 'report', 'write results.json, the sequences, strip.png and report.html');
}
