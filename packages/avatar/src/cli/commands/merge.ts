/**
 * `ca merge`: combine shards into the unsharded run's outputs.
 * - `--stage ablate` (default): the part files of a sharded `ca ablate` (each shard's identities) into the tables of
 *   the unsharded run — `outputs/ablate/ablation.{json,md}` and `ablation-fig7*.svg` in the `--run` folder. Every
 *   part must carry the same settings, and every identity must come exactly once.
 * - `--stage render` / `--stage eval`: the shards of `ca render --shard` / `ca eval --shard` found in the given run
 *   folders (default: the `--run` folder itself) into its `outputs/render/` / `outputs/eval/results.json`, the same
 *   frames and numbers as the unsharded command, and marks that stage finished.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerMerge(new Command('ca'));
 * // ca merge --run runs/ablate runs/ablate-0 runs/ablate-1
 * // ca merge --run runs/a --stage render          (after ca render --run runs/a --shard 0/2 and 1/2)
 * ```
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { ValidationError } from '@consistent-avatar/core';
import { mergeAblation, readAblationPart } from '../../pipeline/ablate.js';
import { writeAblationOutputs } from '../../pipeline/ablation-report.js';
import { partFiles, publishTarget } from './ablation-files.js';
import { mergeStageShards, openMethodRun } from '../method-runner.js';
import { runOption } from '../options.js';
import { openRunFolder } from '../run-folder.js';
import { errorLines } from '../stage-command.js';

/**
 * Register `ca merge` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerMerge(program);
 * ```
 */
export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('combine the shards of ca ablate (part files, or the shards\' run folders) into the unsharded tables, or the shards of ca render / ca eval (--stage) into the unsharded outputs')
    .argument('[parts...]', 'ablate: part files (outputs/ablate/parts/part-i-of-n.json) or shard run folders; render / eval: run folders holding the shards (default: --run)')
    .addOption(runOption())
    .addOption(new Option('--stage <name>', 'what to merge').choices(['ablate', 'render', 'eval']).default('ablate'))
    .addOption(new Option('--publish <prefix>', 'ablate: also write <prefix>.json, <prefix>.md and <prefix>-fig7*.svg'))
    .action(async (args: string[], flags: { run: string; stage: 'ablate' | 'render' | 'eval'; publish?: string }, self: Command) => {
      if (flags.stage !== 'ablate') {
        if (flags.publish !== undefined) throw new ValidationError('ca merge', '--publish', 'no --publish with --stage render / eval', flags.publish);
        const session = await openMethodRun(`ca merge --stage ${flags.stage}`, { run: flags.run }, errorLines(self));
        try {
          await mergeStageShards(session, flags.stage, args.length > 0 ? args : [flags.run]);
        } finally {
          session.close();
        }
        return;
      }
      const t0 = performance.now();
      const files = partFiles(args);
      const publish = flags.publish === undefined ? null : publishTarget(flags.publish);
      const result = mergeAblation(files.map(readAblationPart));
      const command = ['ca merge', `--run ${flags.run}`, flags.publish && `--publish ${flags.publish}`, ...args].filter(Boolean).join(' ');
      const run = openRunFolder(flags.run, { command: 'ca merge', config: { merge: result.settings }, seed: result.settings.seed, print: errorLines(self) });
      try {
        // The time recorded is the shards' compute (every identity's stage timings summed), not a wall time.
        const wallMs = result.identities.reduce((s, id) => s + Object.values(id.timings).reduce((a, b) => a + b, 0), 0);
        const out = run.stageDir('ablate');
        const written = writeAblationOutputs(out, result, { command, wallMs, timeKind: 'summed', title: `Ablation on the synthetic head (merged from ${files.length} parts)` });
        if (publish) writeAblationOutputs(publish.dir, result, { command, wallMs, timeKind: 'summed', name: publish.name, title: `Ablation on the synthetic head (merged from ${files.length} parts)` });
        run.finish('ablate', { ms: performance.now() - t0, extra: { parts: files, json: written.json } });
        run.log(`merged ${files.length} parts (${result.identities.length} identities) into ${written.markdown} and ${written.json}`);
      } finally {
        run.close();
      }
    });
}
