#!/usr/bin/env node
/**
 * The `ca` command line, built on `commander`. Library code reports progress through callbacks; this folder is the
 * only place that draws progress bars or prints.
 *
 * How a subcommand is added (the convention every command follows):
 *
 * 1. One file per subcommand, `cli/commands/<name>.ts`, exporting `register<Name>(program: Command): void` that
 *    calls `program.command('<name>')`, declares its options (the shared ones from `cli/options.ts`: `--run`,
 *    `--config`, `--data`, `--backbone`, `--shard`, `--seed`) and an async action.
 * 2. The action is a thin layer over library functions (`src/pipeline/`): it opens the run folder
 *    (`cli/run-folder.ts`: config.json, manifest.json, checkpoints/, logs/, outputs/, the lock), reads the config
 *    file (`cli/config-file.ts`: errors name the field), skips a stage whose `outputs/<stage>/done.json` exists
 *    (saying so), otherwise runs it with `checkpointDir`s under `checkpoints/` so an interrupted run resumes, and
 *    draws bars with `cli/progress.ts`.
 * 3. It throws on failure (a `ValidationError` naming the field or flag, a `FormatError`, an `IoError`); `main`
 *    prints the message on stderr (prefixed `ca: ` unless it names a `ca …` command already) and returns exit code 1. It never calls `process.exit`.
 * 4. Add the register function to {@link COMMANDS} below (its order is the help's order).
 *
 * The method's stage commands share one shape (`stage-command.ts`, over `method-runner.ts`).
 *
 * Unknown options and excess arguments are errors (exit code 1, message on stderr); `ca --help` and
 * `ca <command> --help` print the usage (exit code 0).
 *
 * @example
 * ```ts
 * import { runCli } from '@consistent-avatar/avatar';
 * process.exitCode = await runCli(['synth', '--out', 'data/synthetic', '--frames', '64', '--size', '64']);
 * ```
 *
 * @packageDocumentation
 */
import { Command, CommanderError } from 'commander';
import { registerAblate } from './commands/ablate.js';
import { registerAlign } from './commands/align.js';
import { registerBackend } from './commands/backend.js';
import { registerDistill } from './commands/distill.js';
import { registerEval } from './commands/eval.js';
import { registerFitProxy } from './commands/fit-proxy.js';
import { registerMerge } from './commands/merge.js';
import { registerRender } from './commands/render.js';
import { registerReport } from './commands/report.js';
import { registerRun } from './commands/run.js';
import { registerSynth } from './commands/synth.js';
import { registerTrack } from './commands/track.js';
import { registerTrainFcsd } from './commands/train-fcsd.js';
import { registerTrainTsdm } from './commands/train-tsdm.js';
import { registerTsd } from './commands/tsd.js';

/** The subcommands, in help order: the data, the stages in the order they run, everything at once, the ablation and its merge, the backend. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerSynth,
  registerTrack,
  registerFitProxy,
  registerTsd,
  registerTrainTsdm,
  registerAlign,
  registerTrainFcsd,
  registerDistill,
  registerRender,
  registerEval,
  registerReport,
  registerRun,
  registerAblate,
  registerMerge,
  registerBackend,
];

/** Where {@link buildProgram} writes its output (tests capture it). */
export interface CliOutput {
  /** Help and normal output. Default stdout. */
  writeOut?: (text: string) => void;
  /** Errors. Default stderr. */
  writeErr?: (text: string) => void;
}

/**
 * Build the `ca` program with every subcommand registered; it throws a `CommanderError` instead of exiting.
 * @param output - where help and errors go.
 * @returns the program (parse with `parseAsync(argv, { from: 'user' })`).
 * @example
 * ```ts
 * const program = buildProgram();
 * await program.parseAsync(['backend'], { from: 'user' });
 * ```
 */
export function buildProgram(output: CliOutput = {}): Command {
  const program = new Command('ca')
    .description('ConsistentAvatar (Yang et al., ACM MM 2024): the three stages, run folders that resume, and the evaluation')
    .showSuggestionAfterError(true);
  for (const register of COMMANDS) register(program);
  const configure = (command: Command) => {
    command
      .exitOverride()
      .allowExcessArguments(false)
      .allowUnknownOption(false)
      .configureOutput({
        writeOut: output.writeOut ?? ((text) => process.stdout.write(text)),
        writeErr: output.writeErr ?? ((text) => process.stderr.write(text)),
      });
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/**
 * Run the `ca` command line on `argv` (the arguments after `ca`) and resolve to its exit code: 0 on success and for
 * `--help`, 1 on a usage error or a failure (the message goes to stderr).
 * @param argv - the arguments after `ca`.
 * @param output - where help and errors go (default stdout / stderr).
 * @returns the exit code.
 * @example
 * ```ts
 * import { runCli } from '@consistent-avatar/avatar';
 * process.exitCode = await runCli(['backend']);
 * ```
 */
export async function main(argv: readonly string[], output: CliOutput = {}): Promise<number> {
  const writeErr = output.writeErr ?? ((text: string) => process.stderr.write(text));
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
    writeErr(`ca: expected the arguments as an array of strings\n`);
    return 1;
  }
  const program = buildProgram(output);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    // commander has printed its own message (usage errors) or the help (exit code 0).
    if (error instanceof CommanderError) return error.exitCode;
    const message = (error as Error).message ?? String(error);
    writeErr(`${message.startsWith('ca ') ? '' : 'ca: '}${message}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /[\\/]ca(\.ts|\.js)?$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
