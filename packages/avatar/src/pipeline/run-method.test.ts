/**
 * `runMethod` end to end on a tiny synthetic dataset: the optional rows (w/o LCM, the refiner hand-off) and the
 * pre-trained backbone path (a tiny diffusers SD-layout folder), each scored on the held-out frames; a re-run resumes
 * from the checkpoints to the same scores.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@consistent-avatar/core';
import { synthesizeDataset } from '@consistent-avatar/proxy';
import { FCSD_PAPER_CONDITIONING } from '../fcsd/config.js';
import { runMethod, type RunMethodOptions } from './run-method.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'run-method-'));
  data = (await synthesizeDataset({ out: path.join(tmp, 'data'), frames: 20, size: 32, testFrames: 4, seed: 2, identity: 1, supersample: 1 })).root;
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TINY = (out: string): RunMethodOptions => ({
  data, out, seed: 0, validationFrames: 2,
  proxy: { steps: 5, textureSize: 16, batchPixels: 512 },
  tsdm: { size: 16, tsdRadius: 2, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8, iterations: 4, checkpointEvery: 2, logEvery: 2 },
  alignEnsemble: 1,
  fcsd: { size: 16, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8, conditioningChannels: [8], batchSize: 2,
    backboneIterations: 3, controlIterations: 3, lcmIterations: 2, lcmDdimTimesteps: 10, refiner: true, refinerIterations: 2, ddimSteps: 3, checkpointEvery: 2, logEvery: 1 },
});

describe('runMethod', () => {
  it('renders and scores every row, the optional w/o-LCM and refiner rows included; a re-run resumes to the same scores', async () => {
    const out = path.join(tmp, 'run');
    const first = await runMethod({ ...TINY(out), ddimRow: true });
    expect(first.backbone).toBe('embedded');
    expect(first.rows.map((r) => r.name)).toEqual(['proxy', 'baseline', 'full', 'full-ddim', 'full-refiner', 'oracle-tsd']);
    expect(first.split.test).toEqual([16, 17, 18, 19]);
    expect(first.split.validation).toEqual([14, 15]);
    for (const r of first.rows) {
      expect(r.frames).toHaveLength(4);
      expect(Number.isFinite(r.scores.whole.psnr) && Number.isFinite(r.scores.face.ssim)).toBe(true);
    }
    const again = await runMethod({ ...TINY(out), ddimRow: true });
    expect(again.rows.map((r) => r.scores.whole)).toEqual(first.rows.map((r) => r.scores.whole));
  }, 300_000);

  it('runs stage 3 on a pre-trained backbone folder (the paper formulation) and says so', async () => {
    const sd = fileURLToPath(new URL('../../test/fixtures/sd-tiny', import.meta.url));
    const base = TINY(path.join(tmp, 'sd'));
    const result = await runMethod({
      ...base, backbone: sd,
      fcsd: { ...base.fcsd, ...FCSD_PAPER_CONDITIONING, normGroups: 8, conditioningChannels: [16, 24], refiner: false, lcmIterations: 0 },
    });
    expect(result.backbone).toBe(sd);
    expect(result.rows.map((r) => r.name)).toEqual(['proxy', 'baseline', 'full', 'oracle-tsd']);
    expect(result.rows[2]!.frames[0]!.height).toBe(16);
  }, 300_000);
});
