/**
 * `ca run`: every stage in order (fit-proxy → tsd → train-tsdm → align → train-fcsd → distill → render → eval →
 * report) in one run folder, each skipped when it has finished, so killing it and running the same command again
 * continues from the last checkpoint. It gives the numbers `runMethod` gives with the same config.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerRun(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { METHOD_STAGES, type MethodRunFlags } from '../method-runner.js';
import { flameOption } from '../options.js';
import { errorLines, runStages, withMethodOptions } from '../stage-command.js';

/**
 * Register `ca run` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerRun(program);
 * ```
 */
export function registerRun(program: Command): void {
  withMethodOptions(program.command('run'))
    .description(`the whole method, every stage in order (${METHOD_STAGES.join(' → ')}), in one run folder; resumes`)
    .option('--no-browser-check', 'skip the headless-Chromium check of the report')
    .addOption(flameOption())
    .action(async (flags: MethodRunFlags, self: Command) => runStages('ca run', flags, METHOD_STAGES, errorLines(self)));
}
