/**
 * Refactor fingerprint: a fixed-seed stage-1 → stage-2 run whose numbers must not change when code moves.
 *
 * It synthesises a small dataset, fits the proxy, prepares TSD pairs, trains the TSDM for 30 steps and aligns a few
 * held-out frames — once with a tiny config (the version `packages/avatar/test/refactor-fingerprint.test.ts` re-runs
 * in CI) and once with the default TSDM config at 32² — and writes every loss and aligned value to JSON.
 *
 * This is a regression pin, not a correctness check: the expected numbers are what the code computed at the commit
 * named in the output before a refactor, so a refactor that claims "no arithmetic changed" can prove it.
 *
 *   node --conditions=source --import tsx scripts/regression/refactor-fingerprint.ts --out FILE [--tiny-only]
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitProxyAvatar, readInstaDataset, synthesizeDataset, tf, useBackend } from '@consistent-avatar/core';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, type TsdmConfig } from '@consistent-avatar/tsd';

const args = process.argv.slice(2);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1]! : 'refactor-fingerprint.json';
const tinyOnly = args.includes('--tiny-only');

/** The tiny config (the same numbers as the CI test's). */
export const FINGERPRINT_TINY: Partial<TsdmConfig> = {
  size: 8, tsdRadius: 1, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8,
  batchSize: 2, lr: 3e-3, iterations: 30, checkpointEvery: 100, logEvery: 10, seed: 3,
};

async function run(name: string, config: Partial<TsdmConfig>, data: { frames: number; size: number; test: number }, proxySteps: number) {
  const tmp = mkdtempSync(join(tmpdir(), 'fingerprint-'));
  try {
    const { root } = await synthesizeDataset({ out: join(tmp, 'data'), frames: data.frames, size: data.size, testFrames: data.test, seed: 1, supersample: 1 });
    const ds = readInstaDataset(root);
    const proxy = await fitProxyAvatar(ds, { steps: proxySteps, textureSize: 16, batchPixels: 512, seed: 0 });
    const tsdm = prepareTsdmData(ds, proxy, resolveTsdmConfig(config));
    proxy.dispose();
    const trained = await trainTsdm(tsdm, config);
    const frames = tsdm.split.test.map((i) => tsdm.frames[i]!);
    const aligned = alignTsd(trained.model, frames, { steps: 3, ensemble: 2, seed: 1 });
    trained.model.dispose();
    return {
      name,
      config,
      proxyTsdFirst: Array.from(tsdm.frames[0]!.proxy.slice(0, 12)),
      stepLosses: trained.stepLosses,
      aligned: aligned.map((a) => Array.from(a)),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await useBackend('wasm');
const results = [await run('tiny', FINGERPRINT_TINY, { frames: 8, size: 16, test: 2 }, 5)];
if (!tinyOnly) results.push(await run('default-32', { iterations: 30, seed: 0, checkpointEvery: 100, logEvery: 10 }, { frames: 24, size: 64, test: 3 }, 10));
const commit = execSync('git rev-parse HEAD').toString().trim();
writeFileSync(out, JSON.stringify({ command: `node --conditions=source --import tsx scripts/regression/refactor-fingerprint.ts ${args.join(' ')}`, commit, date: new Date().toISOString(), backend: tf.getBackend(), results }, null, 1) + '\n');
console.log(`wrote ${out} (commit ${commit}); tiny losses ${results[0]!.stepLosses.slice(0, 3).join(', ')} …`);
