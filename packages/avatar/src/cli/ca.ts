#!/usr/bin/env node
/**
 * The `ca` command line.
 *
 *   ca backend                                   report the tensor backend and why it was chosen
 *   ca synth --out DIR [--frames N] [--size S] [--identity I] [--seed K] [--test-frames T]
 *                                                render an INSTA-layout dataset of the SYNTHETIC head
 *
 * Library code reports progress through callbacks; this is the only place that draws progress bars.
 */
import { initBackend, backendReport, createProgress, writeRunManifest } from '@consistent-avatar/core';
import { synthesizeDataset } from '@consistent-avatar/proxy';
import { parseFlags } from './args.js';

const USAGE = `usage:
  ca backend
  ca synth --out DIR [--frames 400] [--size 128] [--identity 0] [--seed 0] [--test-frames N] [--supersample 2]`;

/**
 * Run the `ca` command line on `argv` (the arguments after `ca`) and resolve to its exit code (0 success, 1 usage
 * error); output goes to the console.
 * @example
 * ```ts
 * import { runCli } from '@consistent-avatar/avatar';
 * process.exitCode = await runCli(['backend']);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  if (command === 'backend') {
    parseFlags('ca backend', rest, {});
    await initBackend();
    console.log(backendReport());
    return 0;
  }
  if (command === 'synth') {
    const flags = parseFlags('ca synth', rest, {
      out: 'string',
      frames: 'int',
      size: 'int',
      identity: 'int',
      seed: 'int',
      'test-frames': 'int',
      supersample: 'int',
    });
    if (!flags.out) {
      console.error(`ca synth: --out DIR is required\n${USAGE}`);
      return 1;
    }
    const info = await initBackend();
    const frames = flags.frames ?? 400;
    const progress = createProgress({ total: frames, label: 'synth (synthetic head)' });
    const t0 = performance.now();
    const { root } = await synthesizeDataset({
      out: flags.out,
      frames,
      size: flags.size,
      identity: flags.identity,
      seed: flags.seed,
      testFrames: flags['test-frames'],
      supersample: flags.supersample,
      onProgress: (done) => progress.update(done),
    });
    progress.done();
    writeRunManifest(root, {
      config: { command: 'ca synth', ...flags },
      seed: flags.seed ?? 0,
      backend: info.name,
      timings: { synthesizeMs: Math.round(performance.now() - t0) },
    }, { fileName: 'synth-manifest.json' });
    console.log(`wrote an INSTA-layout dataset of the SYNTHETIC head to ${root}`);
    return 0;
  }
  console.error(`ca: unknown command '${command}'\n${USAGE}`);
  return 1;
}

const invokedDirectly = process.argv[1] !== undefined && /ca(\.ts|\.js)?$/.test(process.argv[1]) ;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`ca: ${error.message}`);
      process.exit(1);
    },
  );
}
