/**
 * `ca backend`: initialise the tensor backend and print which one runs and why.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerBackend(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { backendReport, initBackend } from '@consistent-avatar/core';

/**
 * Register `ca backend` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerBackend(program);
 * ```
 */
export function registerBackend(program: Command): void {
  program
    .command('backend')
    .description('initialise the tensor backend and print which one runs and why')
    .action(async () => {
      await initBackend();
      console.log(backendReport());
    });
}
