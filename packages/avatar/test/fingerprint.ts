/**
 * The refactor fingerprint: a fixed-seed stage-1 → stage-2 run (synthetic dataset, proxy fit, TSD pairs, 30 TSDM
 * steps, alignment of the held-out frames) whose numbers must not change when code moves. Shared by
 * `refactor-fingerprint.test.ts` (tiny config) and `scripts/regression/refactor-fingerprint.ts` (tiny + default).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitProxyAvatar, readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, type TsdmConfig } from '@consistent-avatar/tsd';

/** The tiny TSDM config of the CI version. */
export const FINGERPRINT_TINY: Partial<TsdmConfig> = {
  size: 8, tsdRadius: 1, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8,
  batchSize: 2, lr: 3e-3, iterations: 30, checkpointEvery: 100, logEvery: 10, seed: 3,
};

/** What one fingerprint run records. */
export interface FingerprintResult {
  name: string;
  config: Partial<TsdmConfig>;
  /** First 12 values of frame 0's proxy TSD. */
  proxyTsdFirst: number[];
  /** Every training step's loss. */
  stepLosses: number[];
  /** The aligned TSD of every held-out frame (DDIM 3 steps, ensemble 2, seed 1). */
  aligned: number[][];
}

/** Run one fingerprint (on the current backend). */
export async function runFingerprint(
  name: string,
  config: Partial<TsdmConfig>,
  data: { frames: number; size: number; test: number },
  proxySteps: number,
): Promise<FingerprintResult> {
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
    return { name, config, proxyTsdFirst: Array.from(tsdm.frames[0]!.proxy.slice(0, 12)), stepLosses: trained.stepLosses, aligned: aligned.map((a) => Array.from(a)) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
