/**
 * `ca track <video|folder> --out DIR`: a researcher's own video (ffmpeg) or folder of PNG frames → an INSTA-layout
 * dataset (face mesh → FLAME / synthetic-head fit → crop, mask, write), so `ca run --data DIR` can follow. See
 * `src/track/track-video.ts`.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * registerTrack(new Command('ca'));
 * ```
 *
 * @packageDocumentation
 */
import { Option, type Command } from 'commander';
import { createProgress, initBackend, writeRunManifest, type ProgressReporter } from '@consistent-avatar/core';
import { TRACK_CONFIG_SPEC, trackVideo, type TrackProgress } from '../../track/track-video.js';
import { readConfigFile } from '../config-file.js';
import { parseInteger } from '../options.js';

/**
 * Register `ca track` on `program`.
 * @param program - the `ca` program.
 * @example
 * ```ts
 * registerTrack(program);
 * ```
 */
export function registerTrack(program: Command): void {
  program
    .command('track')
    .description('track your own video (or a folder of PNG frames) into an INSTA-layout dataset: face mesh, FLAME / synthetic-head fit, crop, mask')
    .argument('<input>', 'a video file (decoded with ffmpeg) or a folder of PNG frames')
    .addOption(new Option('--out <dir>', 'the dataset folder to write').makeOptionMandatory())
    .addOption(new Option('--config <file>', 'a JSON config file: TrackConfig fields (size, cropScale, firstFrame, every, maxFrames, dropMissing, testFrames, the fit’s steps and weights; unknown fields are errors)'))
    .addOption(new Option('--size <n>', 'output frame size in pixels (square; default 512)').argParser(parseInteger('--size')))
    .addOption(new Option('--flame <dir>', "a folder with a FLAME .npz and FLAME's mediapipe_landmark_embedding.npz (default: the SYNTHETIC head)"))
    .addOption(new Option('--max-frames <n>', 'track at most this many frames').argParser(parseInteger('--max-frames')))
    .action(async (input: string, flags: { out: string; config?: string; size?: number; flame?: string; maxFrames?: number }) => {
      const fromFile = readConfigFile(flags.config, { ...TRACK_CONFIG_SPEC, fn: 'ca track' });
      const config = {
        ...fromFile,
        ...(flags.size !== undefined ? { size: flags.size } : {}),
        ...(flags.maxFrames !== undefined ? { maxFrames: flags.maxFrames } : {}),
      };
      const info = await initBackend();
      let bar: ProgressReporter | null = null;
      let stage = '';
      const onProgress = ({ stage: next, done, total }: TrackProgress) => {
        if (next !== stage) {
          bar?.done();
          stage = next;
          bar = createProgress({ total: total ?? 0, label: `track: ${next}`, every: 25 });
        }
        bar!.update(done);
      };
      const t0 = performance.now();
      const result = await trackVideo(input, { out: flags.out, flame: flags.flame ?? null, config, onProgress });
      (bar as ProgressReporter | null)?.done();
      writeRunManifest(result.root, {
        config: { command: 'ca track', input, ...flags, resolved: config },
        seed: 0,
        backend: info.name,
        timings: { totalMs: Math.round(performance.now() - t0), ...Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, Math.round(v)])) },
      }, { fileName: 'track-manifest.json' });
      const dropped = result.dropped.length ? `; left out ${result.dropped.length} frames without a face` : '';
      console.log(`tracked ${result.frames} frames with the ${result.model}; mean landmark error ${result.meanReprojectionErrorPx.toFixed(2)} px${dropped}`);
      console.log(`wrote an INSTA-layout dataset to ${result.root}`);
    });
}
