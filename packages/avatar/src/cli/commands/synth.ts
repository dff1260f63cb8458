/**
 * `ca synth`: render an INSTA-layout dataset of the SYNTHETIC head (a test subject, not a person), with a
 * `synth-manifest.json` (seed, backend, timings).
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerSynth(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { createProgress, initBackend, writeRunManifest } from '@consistent-avatar/core';
import { synthesizeDataset } from '@consistent-avatar/proxy';
import { parseInteger } from '../options.js';

/**
 * Register `ca synth` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerSynth(program);
 * ```
 */
export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('render an INSTA-layout dataset of the SYNTHETIC head (frames, masks, tracked FLAME parameters)')
    .addOption(new Option('--out <dir>', 'the dataset folder to write').makeOptionMandatory())
    .addOption(new Option('--frames <n>', 'number of frames').argParser(parseInteger('--frames')).default(400))
    .addOption(new Option('--size <n>', 'frame size in pixels').argParser(parseInteger('--size')))
    .addOption(new Option('--identity <n>', 'which synthetic identity').argParser(parseInteger('--identity')))
    .addOption(new Option('--seed <n>', 'the seed').argParser(parseInteger('--seed')).default(0))
    .addOption(new Option('--test-frames <n>', 'held-out frames at the end').argParser(parseInteger('--test-frames')))
    .addOption(new Option('--supersample <n>', 'anti-aliasing factor').argParser(parseInteger('--supersample')))
    .action(async (flags: { out: string; frames: number; size?: number; identity?: number; seed: number; testFrames?: number; supersample?: number }) => {
      const info = await initBackend();
      const progress = createProgress({ total: flags.frames, label: 'synth (synthetic head)' });
      const t0 = performance.now();
      const { root } = await synthesizeDataset({
        out: flags.out,
        frames: flags.frames,
        size: flags.size,
        identity: flags.identity,
        seed: flags.seed,
        testFrames: flags.testFrames,
        supersample: flags.supersample,
        onProgress: (done) => progress.update(done),
      });
      progress.done();
      writeRunManifest(root, {
        config: { command: 'ca synth', ...flags },
        seed: flags.seed,
        backend: info.name,
        timings: { synthesizeMs: Math.round(performance.now() - t0) },
      }, { fileName: 'synth-manifest.json' });
      console.log(`wrote an INSTA-layout dataset of the SYNTHETIC head to ${root}`);
    });
}
