/**
 * Train the embedded synthetic-head pose / expression regressor and write it into the package:
 * 1. render the training set (seed 1) and two held-out sets — seed 2 on the training identities, seed 3 on
 *    identities never rendered for training;
 * 2. train on wasm with checkpoints (rerunning the command resumes from the last one);
 * 3. score the estimator and the train-mean baseline on the held-out renders;
 * 4. write `weights/synthetic-pose-expression.{safetensors,json}` and `weights/synthetic-pose-expression.results.json`.
 *
 *   node --conditions=source --import tsx packages/metrics/bench/train-pose-expression.ts \
 *     [--train 10000] [--test 1000] [--iterations 4000] [--batch 32] [--run runs/pose-expression] [--out packages/metrics/weights]
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf, writeJsonAtomic } from '@consistent-avatar/core';
import { renderPoseExpressionSet, type PoseExpressionRenderSet } from '../src/pose-expression-renders.js';
import { trainPoseExpressionEstimator } from '../src/train-pose-expression.js';
import { poseExpressionAccuracy } from '../src/pose-expression-accuracy.js';
import type { SyntheticPoseExpressionEstimator } from '../src/synthetic-pose-expression.js';
import type { PoseExpressionCodes } from '../src/pose-expression.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const trainCount = Number(arg('train', '10000'));
const testCount = Number(arg('test', '1000'));
const iterations = Number(arg('iterations', '4000'));
const batchSize = Number(arg('batch', '32'));
const runDir = arg('run', 'runs/pose-expression');
const outDir = arg('out', path.join(here, '..', 'weights'));
const SIZE = 64;
const TRAIN_IDS = [0, 1, 2, 3, 4, 5];
const UNSEEN_IDS = [6, 7];

const info = await initBackend('wasm');
console.log(`backend ${info.name}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`);
const t0 = performance.now();
const seconds = (from: number) => Math.round((performance.now() - from) / 100) / 10;

// 1. Renders.
const render = async (label: string, count: number, seed: number, identities: number[]) => {
  const t = performance.now();
  const set = await renderPoseExpressionSet({
    count, size: SIZE, seed, identities,
    onProgress: (d, n) => { if (d % 1000 < 32 || d === n) process.stdout.write(`\r${label}: ${d}/${n}`); },
  });
  console.log(` (${seconds(t)} s)`);
  return { set, seconds: seconds(t) };
};
const train = await render('train renders', trainCount, 1, TRAIN_IDS);
const heldOut = await render('held-out renders (seed 2)', testCount, 2, TRAIN_IDS);
const unseen = await render('unseen-identity renders (seed 3)', Math.round(testCount / 2), 3, UNSEEN_IDS);

// 2. Training.
const tTrain = performance.now();
const { estimator, lossLog, resumedFrom } = await trainPoseExpressionEstimator(train.set, {
  iterations, batchSize, seed: 0, checkpointDir: runDir, checkpointEvery: 250, logEvery: 50,
  onProgress: (p) => console.log(`step ${p.step}/${p.iterations} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} (${seconds(tTrain)} s)`),
});
if (resumedFrom) console.log(`resumed from ${resumedFrom}`);
const trainSeconds = seconds(tTrain);

// 3. Held-out accuracy against the train-mean baseline.
const codesOf = (set: PoseExpressionRenderSet): PoseExpressionCodes[] =>
  Array.from({ length: set.count }, (_, i) => ({ pose: set.poses.slice(i * 6, i * 6 + 6), expression: set.expressions.slice(i * 100, i * 100 + 100) }));
const baseline: PoseExpressionCodes = { pose: Float32Array.from(estimator.config.poseMean), expression: Float32Array.from(estimator.config.expressionMean) };
const score = async (est: SyntheticPoseExpressionEstimator, set: PoseExpressionRenderSet) => {
  const pixels = set.size * set.size * 3;
  const frames = Array.from({ length: set.count }, (_, i) => ({ data: set.images.subarray(i * pixels, (i + 1) * pixels), height: set.size, width: set.size, channels: 3 }));
  return poseExpressionAccuracy(await est.estimate(frames), codesOf(set), baseline);
};
const heldOutScores = await score(estimator, heldOut.set);
const unseenScores = await score(estimator, unseen.set);
const trainSubset = { ...train.set, count: Math.min(1000, train.set.count) };
const trainScores = await score(estimator, trainSubset);
for (const [label, s] of [['held-out (seed 2, training identities)', heldOutScores], ['unseen identities 6–7 (seed 3)', unseenScores], ['training renders (first 1000)', trainScores]] as const) {
  const m = s.model, b = s.baseline;
  console.log(`${label}, ${s.frames} frames:
  head rotation ° mean ${m.headRotationDeg.mean.toFixed(2)} (baseline ${b.headRotationDeg.mean.toFixed(2)}), median ${m.headRotationDeg.median.toFixed(2)} (${b.headRotationDeg.median.toFixed(2)})
  jaw ° mean ${m.jawDeg.mean.toFixed(2)} (baseline ${b.jawDeg.mean.toFixed(2)})
  pose L2 ${m.poseL2.toFixed(4)} (baseline ${b.poseL2.toFixed(4)})
  expression L2 ${m.expressionL2.toFixed(3)} (baseline ${b.expressionL2.toFixed(3)}), R² ${m.expressionR2.toFixed(3)}, named 0–15 R² ${m.namedExpressionR2.toFixed(3)}`);
}

// 4. Weights and results.
const base = path.join(outDir, 'synthetic-pose-expression');
estimator.save(base);
writeJsonAtomic(`${base}.results.json`, {
  label: 'embedded synthetic-head regressor: accuracy on held-out synthetic renders (not real faces)',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, node: process.version, backend: info.name },
  command: `node --conditions=source --import tsx packages/metrics/bench/train-pose-expression.ts --train ${trainCount} --test ${testCount} --iterations ${iterations} --batch ${batchSize}`,
  renders: { size: SIZE, train: { count: trainCount, seed: 1, identities: TRAIN_IDS, seconds: train.seconds }, heldOut: { count: testCount, seed: 2, identities: TRAIN_IDS }, unseen: { count: unseen.set.count, seed: 3, identities: UNSEEN_IDS } },
  training: { iterations, batchSize, seconds: trainSeconds, resumedFrom, parameters: estimator.network.parameterCount(), finalLoss: lossLog.at(-1)?.loss ?? null },
  baseline: 'the training-set mean code predicted for every frame',
  heldOut: heldOutScores,
  unseenIdentities: unseenScores,
  trainingRenders: trainScores,
  lossLog,
  totalSeconds: seconds(t0),
});
console.log(`wrote ${base}.{safetensors,json,results.json}; ${tf.memory().numTensors} tensors alive; total ${seconds(t0)} s`);
estimator.dispose();
