/**
 * The stage trainers and the dataset synthesis that the kill-and-resume tests interrupt (see kill-scenarios.ts for
 * the outcome they return): `trainTsdm`, `trainFcsd` (backbone then conditions phase), `distillFcsdLcm`,
 * `trainFcsdRefiner`, the metrics pose / expression trainer `trainPoseExpressionEstimator`, the proxy fitter
 * `fitProxyAvatar`, and `synthesizeDataset` into a new folder (`synthesis`) or over a previous dataset
 * (`resynthesis`). Tiny and seeded; checkpoints every 2 steps with `keepLast` 2, so the third save prunes.
 *
 * @example
 * ```ts
 * import { STAGE_SCENARIOS } from './kill-scenarios-stages.js';
 * const outcome = await STAGE_SCENARIOS.tsdm!('/tmp/run', {});
 * ```
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Rng, type tf } from '@consistent-avatar/core';
import { fitProxyAvatar, readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { trainTsdm, type TsdmConfig, type TsdmData } from '@consistent-avatar/tsd';
import { FcsdModel, distillFcsdLcm, trainFcsd, trainFcsdRefiner, type FcsdConfig, type FcsdData } from '@consistent-avatar/avatar';
import { renderPoseExpressionSet, trainPoseExpressionEstimator } from '@consistent-avatar/metrics';
import { toyFcsdData } from '../packages/avatar/test/fcsd-toy-data.js';
import { treeDigest, weightsDigest, type Outcome, type Scenario, type ScenarioInputs } from './kill-scenarios.js';

const TSDM: Partial<TsdmConfig> = {
  size: 8, tsdRadius: 1, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8,
  batchSize: 2, lr: 3e-3, iterations: 6, checkpointEvery: 2, logEvery: 2, seed: 3,
};

/** Seeded stand-in stage-2 data (TSD maps in [−1, 1], P of 6, E of 100): what trainTsdm reads, nothing more. */
function tsdmData(): TsdmData {
  const rng = new Rng(7);
  const frames = Array.from({ length: 6 }, (_, i) => ({
    id: String(i).padStart(5, '0'),
    gt: Float32Array.from(rng.uniform(8 * 8 * 3, -1, 1)),
    proxy: Float32Array.from(rng.uniform(8 * 8 * 3, -1, 1)),
    pose: Float32Array.from(rng.normal(6, 0, 0.1)),
    expression: Float32Array.from(rng.normal(100, 0, 0.1)),
  }));
  return { size: 8, frames, split: { train: [0, 1, 2, 3], test: [4, 5] } };
}

async function tsdm(runDir: string): Promise<Outcome> {
  const result = await trainTsdm(tsdmData(), TSDM, { checkpointDir: runDir, keepLast: 2 });
  try {
    return { weights: weightsDigest(result.model.stateDict()), lossLog: result.lossLog, stepLosses: result.stepLosses };
  } finally {
    result.model.dispose();
  }
}

const S = 16;
const FCSD: Partial<FcsdConfig> = {
  size: S, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8,
  conditioningChannels: [8], batchSize: 2, backboneIterations: 6, controlIterations: 2, backboneLr: 2e-3, controlLr: 2e-3,
  checkpointEvery: 2, logEvery: 2, seed: 5, lcmIterations: 6, lcmLr: 2e-3, lcmDdimTimesteps: 10, lcmTimeCondDim: 8, ddimSteps: 3,
};

/** Seeded stand-in stage-3 frames (maps in range, P, E, two emotions). */
const fcsdData = (): FcsdData => toyFcsdData({ size: S, frames: 4, seed: 11 });

/** trainFcsd: the backbone phase (6 steps: saves at 2, 4, 6, pruning at 6) then the conditions phase (2 steps). */
async function fcsd(runDir: string): Promise<Outcome> {
  const result = await trainFcsd(fcsdData(), FCSD, { train: [0, 1, 2, 3], checkpointDir: runDir });
  try {
    return { weights: weightsDigest(result.model.stateDict()), lossLog: result.lossLog, stepLosses: result.stepLosses };
  } finally {
    result.model.dispose();
  }
}

/**
 * A §4.3 fine-tuning (`distillFcsdLcm` or `trainFcsdRefiner`) of an untrained FCSD with its conditions attached:
 * 6 steps, saves at 2, 4, 6; `network` picks the UNet it returns (the caller of the trainer owns and disposes it).
 */
async function fineTuned<R extends { lossLog: Outcome['lossLog']; stepLosses: number[] }>(
  runDir: string,
  trainer: (model: FcsdModel, data: FcsdData, options: { train: number[]; checkpointDir: string }) => Promise<R>,
  network: (result: R) => { stateDict(): Record<string, tf.Tensor>; dispose(): void },
): Promise<Outcome> {
  const data = fcsdData();
  const model = new FcsdModel({ ...FCSD, backboneIterations: 0, controlIterations: 0, refinerIterations: 6 }, data.labels);
  model.attachConditions();
  try {
    const result = await trainer(model, data, { train: [0, 1, 2, 3], checkpointDir: runDir });
    const unet = network(result);
    try {
      return { weights: weightsDigest(unet.stateDict()), lossLog: result.lossLog, stepLosses: result.stepLosses };
    } finally {
      unet.dispose();
    }
  } finally {
    model.dispose();
  }
}

/** distillFcsdLcm: the LCM student. */
const lcm = (runDir: string): Promise<Outcome> => fineTuned(runDir, distillFcsdLcm, (r) => r.student);

/** trainFcsdRefiner: the low-noise refiner. */
const refiner = (runDir: string): Promise<Outcome> => fineTuned(runDir, trainFcsdRefiner, (r) => r.refiner);

/**
 * The metrics package's pose / expression trainer on 12 synthetic-head renders of 16²: 6 steps, saves at 2, 4, 6
 * (`keepLast` 2). It reports no per-step losses; the loss log (every 2 steps) and the weights are compared.
 */
async function poseExpression(runDir: string): Promise<Outcome> {
  const set = await renderPoseExpressionSet({ count: 12, size: 16, seed: 21, identities: [0] });
  const result = await trainPoseExpressionEstimator(set, {
    config: { size: 16, channels: [4, 8], groups: 2, hidden: 16 },
    iterations: 6, batchSize: 4, lr: 3e-3, warmup: 2, logEvery: 2, checkpointEvery: 2, keepLast: 2, seed: 5, checkpointDir: runDir,
  });
  try {
    return { weights: weightsDigest(result.estimator.network.stateDict()), lossLog: result.lossLog, stepLosses: [] };
  } finally {
    result.estimator.dispose();
  }
}

/** fitProxyAvatar on a synthetic dataset (made by {@link prepareProxyDataset}): 6 steps, saves at 2, 4, 6 + loss.json. */
async function proxy(runDir: string, inputs: ScenarioInputs): Promise<Outcome> {
  const ds = readInstaDataset(inputs.dataset!);
  const avatar = await fitProxyAvatar(ds, { steps: 6, batchPixels: 256, textureSize: 16, checkpointEvery: 2, seed: 2, checkpointDir: runDir });
  try {
    const hash = createHash('sha256');
    hash.update(Buffer.from(avatar.texture.data.buffer));
    hash.update(Buffer.from(avatar.sh.buffer));
    return { weights: hash.digest('hex'), lossLog: avatar.lossLog, stepLosses: [] };
  } finally {
    avatar.dispose();
  }
}

/** The dataset the proxy scenario fits (written once by the test, outside the folder whose writes are killed). */
export async function prepareProxyDataset(out: string): Promise<string> {
  return (await synthesizeDataset({ out, frames: 6, size: 16, testFrames: 2, seed: 1, supersample: 1 })).root;
}

/** synthesizeDataset into `<runDir>/dataset` (8 frames of 16², replacing the dataset there if any). */
async function synthesis(runDir: string): Promise<Outcome> {
  const { root } = await synthesizeDataset({ out: path.join(runDir, 'dataset'), frames: 8, size: 16, testFrames: 2, seed: 4, supersample: 1 });
  return { weights: treeDigest(root), lossLog: null, stepLosses: [] };
}

/** Over a previous dataset: synthesise seed 3, then seed 4 into the same folder (the second replaces the first). */
async function resynthesis(runDir: string): Promise<Outcome> {
  await synthesizeDataset({ out: path.join(runDir, 'dataset'), frames: 8, size: 16, testFrames: 2, seed: 3, supersample: 1 });
  return synthesis(runDir);
}

/** The stage scenarios by name. */
export const STAGE_SCENARIOS: Record<string, Scenario> = { tsdm, fcsd, lcm, refiner, 'pose-expression': poseExpression, proxy, synthesis, resynthesis };
