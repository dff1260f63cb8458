/**
 * The shape of every method stage command (`ca fit-proxy`, `ca tsd`, … `ca report`, and `ca run` for all of them):
 * the shared flags, then open the run folder, run the stage(s), close. Each `commands/<stage>.ts` is one call of
 * {@link registerStageCommand}.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerStageCommand(new Command('ca'), 'tsd', 'stage 2: the TSD of every real frame and proxy render');
 * ```
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { parseShard } from '../pipeline/shard.js';
import { METHOD_STAGES, openMethodRun, runStage, runStageShard, type MethodRunFlags, type MethodStage } from './method-runner.js';
import { backboneOption, configOption, dataOption, flameOption, layoutOption, runOption, seedOption, shardOption } from './options.js';

/**
 * Add the flags every method command takes to `command`.
 * @param command - a subcommand.
 * @returns the same command.
 * @example
 * ```ts
 * withMethodOptions(program.command('run'));
 * ```
 */
export function withMethodOptions(command: Command): Command {
  return command
    .addOption(runOption())
    .addOption(configOption())
    .addOption(dataOption())
    .addOption(layoutOption())
    .addOption(backboneOption())
    .addOption(seedOption())
    .addOption(new Option('--backend <name>', 'the tensor backend (default: CA_BACKEND, else the fastest available)').choices(['auto', 'gpu', 'node', 'wasm', 'cpu']));
}

/**
 * Register the stage command `ca <stage>` on `program`.
 * @param program - the `ca` program.
 * @param stage - one of `METHOD_STAGES`.
 * @param description - one line for the help.
 * @returns the command (to add stage-specific options).
 * @example
 * ```ts
 * registerStageCommand(program, 'train-fcsd', 'stage 3: train the FCSD');
 * ```
 */
export function registerStageCommand(program: Command, stage: MethodStage, description: string): Command {
  const command = withMethodOptions(program.command(stage))
    .summary(description)
    .description(`${description}.\nReads the run folder's outputs/ of the stages before it, writes outputs/${stage}/; a finished stage is a no-op, an interrupted one resumes from its last checkpoint.`)
    .action(async (flags: MethodRunFlags, self: Command) => runStages(`ca ${stage}`, flags, [stage], errorLines(self)));
  if (stage === 'report') command.option('--no-browser-check', 'skip the headless-Chromium check of the report');
  if (stage === 'fit-proxy') command.addOption(flameOption());
  if (stage === 'render' || stage === 'eval') {
    command.addOption(shardOption()).addHelpText('after', stage === 'render'
      ? '\nWith --shard i/n: render shard i\'s whole render batches (config renderBatchSize) of the held-out frames into outputs/render-shards/part-i-of-n/; then `ca merge --stage render` writes outputs/render/ (the unsharded frames).'
      : '\nWith --shard i/n: score shard i\'s held-out frames (needs the whole outputs/render/) into outputs/eval-shards/part-i-of-n.json; then `ca merge --stage eval` writes outputs/eval/results.json (the unsharded numbers).');
  }
  return command;
}

/**
 * Open the run folder and run `stages` in order (each skipped when finished), then close it.
 * @param command - named in errors and logs.
 * @param flags - the command's flags.
 * @param stages - the stages to run.
 * @param print - where log lines go besides `logs/` (default stderr).
 * @example
 * ```ts
 * await runStages('ca run', flags, METHOD_STAGES);
 * ```
 */
export async function runStages(command: string, flags: MethodRunFlags, stages: readonly MethodStage[] = METHOD_STAGES, print?: (line: string) => void): Promise<void> {
  // A shard of render / eval (--shard, or a Slurm array's variables) runs that part only and finishes no stage.
  const shardable = stages.length === 1 && (stages[0] === 'render' || stages[0] === 'eval');
  const shard = shardable ? parseShard(flags.shard) : null;
  const session = await openMethodRun(command, flags, print);
  try {
    if (shard) await runStageShard(session, stages[0] as 'render' | 'eval', shard);
    else for (const stage of stages) await runStage(session, stage);
  } finally {
    session.close();
  }
}

/**
 * The program's error stream (`main`'s `writeErr`, stderr by default) as a line printer, for log lines.
 * @param command - the running command (its output configuration is inherited from the program).
 * @returns a function printing one line.
 * @example
 * ```ts
 * program.command('run').action((flags, self) => errorLines(self)('starting'));
 * ```
 */
export function errorLines(command: Command): (line: string) => void {
  const output = command.configureOutput() as { writeErr?: (text: string) => void };
  const write = output.writeErr ?? ((text: string) => process.stderr.write(text));
  return (line) => write(`${line}\n`);
}
