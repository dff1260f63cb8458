/**
 * `ca ablate`: the paper's ablations (Tables 1–2, Fig. 7) on synthetic identities — every row (proxy, baseline,
 * full, w/o LCM, refiner, w/o emotion, w/o normal, oracle TSD) and column, mean ± std over identities — written as
 * `outputs/ablate/ablation.{json,md}` and `ablation-fig7*.svg` in the run folder. With `--shard i/n` (or
 * `JOB_COMPLETION_INDEX` / `SLURM_ARRAY_TASK_ID`) it runs only that shard's identities and writes
 * `outputs/ablate/parts/part-<i>-of-<n>.json` for `ca merge`. Killed and re-run, it resumes: finished identities are
 * read back, an interrupted one continues from its checkpoints.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerAblate(new Command('ca'));
 * // ca ablate --run runs/ablate --preset ablate --publish docs/experiments/2026-12-03-ablation
 * ```
 *
 * @packageDocumentation
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { initBackend, ValidationError } from '@consistent-avatar/core';
import { DecaEstimator, FaceAnalyzer, Lpips } from '@consistent-avatar/metrics';
import { ABLATION_PRESETS, ablationOptionsFromConfig, resolveAblationConfig } from '../../pipeline/ablation-config.js';
import { runAblation } from '../../pipeline/ablate.js';
import { writeAblationOutputs } from '../../pipeline/ablation-report.js';
import { parseShard } from '../../pipeline/shard.js';
import { readConfigFileJson, publishTarget } from './ablation-files.js';
import { backboneOption, configOption, runOption, shardOption } from '../options.js';
import { openRunFolder } from '../run-folder.js';
import { errorLines } from '../stage-command.js';

/**
 * Register `ca ablate` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerAblate(program);
 * ```
 */
export function registerAblate(program: Command): void {
  program
    .command('ablate')
    .description("the paper's ablation tables (Tables 1–2, Fig. 7) over synthetic identities, mean ± std; shardable by identity")
    .addOption(runOption())
    .addOption(configOption())
    .addOption(new Option('--preset <name>', 'the base config the file overrides').choices(Object.keys(ABLATION_PRESETS)).default('ablate'))
    .addOption(shardOption())
    .addOption(backboneOption())
    .addOption(new Option('--lpips <file>', 'LPIPS AlexNet weights (safetensors) you own: fills the LPIPS column'))
    .addOption(new Option('--deca <file>', "DECA encoder weights (safetensors) you own: PE / EE by DECA instead of the embedded estimator"))
    .addOption(new Option('--identity', "score identity similarity (CSIM) with human's face analyser (its models ship in the npm package)"))
    .addOption(new Option('--publish <prefix>', 'also write <prefix>.json, <prefix>.md and <prefix>-fig7*.svg (e.g. docs/experiments/2026-12-03-ablation)'))
    .action(async (flags: { run: string; config?: string; preset: 'ablate' | 'tiny'; shard?: string; backbone?: string; lpips?: string; deca?: string; identity?: boolean; publish?: string }, self: Command) => {
      const t0 = performance.now();
      const config = resolveAblationConfig(readConfigFileJson(flags.config), flags.preset);
      const shard = parseShard(flags.shard);
      const publish = flags.publish === undefined ? null : publishTarget(flags.publish);
      if (shard && publish) throw new ValidationError('ca ablate', '--publish', 'an unsharded run (for shards: ca merge --publish)', flags.publish);
      const backend = await initBackend();
      const command = ['ca ablate', `--run ${flags.run}`, flags.config && `--config ${flags.config}`, `--preset ${flags.preset}`, flags.shard && `--shard ${flags.shard}`, flags.backbone && `--backbone ${flags.backbone}`, flags.lpips && `--lpips ${flags.lpips}`, flags.deca && `--deca ${flags.deca}`, flags.identity && '--identity', flags.publish && `--publish ${flags.publish}`].filter(Boolean).join(' ');
      const backbone = flags.backbone === undefined ? undefined : resolve(flags.backbone);
      const run = openRunFolder(flags.run, { command: 'ca ablate', config: { preset: flags.preset, ...config, lpips: flags.lpips ?? null, deca: flags.deca ?? null, ...(flags.identity ? { identity: true } : {}), ...(backbone ? { backbone } : {}) }, seed: config.seed, print: errorLines(self) });
      const lpips = flags.lpips ? Lpips.fromSafetensors(flags.lpips) : undefined;
      const deca = flags.deca ? DecaEstimator.fromSafetensors(flags.deca) : undefined;
      const faceAnalyzer = flags.identity ? await FaceAnalyzer.create() : undefined;
      try {
        run.log(`ca ablate: ${config.identities} synthetic identities (preset ${flags.preset}), backend ${backend.name}${shard ? `, shard ${shard.index}/${shard.count} (from ${shard.source})` : ''}`);
        const out = run.stageDir('ablate');
        const options = ablationOptionsFromConfig(config, out);
        const result = await runAblation({ ...options, method: { ...options.method, backbone }, shard, scoring: { lpips, estimator: deca, faceAnalyzer }, onLog: (line) => run.log(line) });
        const wallMs = performance.now() - t0;
        if (!result.summary) {
          run.log(`shard ${shard!.index}/${shard!.count}: identities ${result.identities.map((i) => i.identity).join(', ') || '(none)'} done; part file in ${out}/parts — combine the parts with ca merge`);
          return;
        }
        const written = writeAblationOutputs(out, result, { command, wallMs });
        if (publish) writeAblationOutputs(publish.dir, result, { command, wallMs, name: publish.name });
        run.finish('ablate', { ms: wallMs, extra: { json: written.json, markdown: written.markdown } });
        run.log(`wrote ${written.markdown}, ${written.json} and ${written.figures.length} Fig. 7 plots${publish ? `; published as ${flags.publish}.{json,md}` : ''} in ${(wallMs / 60000).toFixed(1)} min`);
      } finally {
        lpips?.dispose();
        deca?.dispose();
        faceAnalyzer?.dispose();
        run.close();
      }
    });
}
