/**
 * The whole method cut into its stages, so each can run alone (the `ca` stage commands, between which the artifacts
 * live in a run folder) or in one call ({@link runMethod}, which composes exactly these functions). The order and the
 * protocol are those of `runMethod` (docs/experiments/protocol.md):
 *
 * 1. {@link planMethod}: the dataset, the protocol's split (held-out test frames, a validation block carved from the
 *    end of the training frames) and the resolved stage-2 / stage-3 configs;
 * 2. {@link fitProxyStage}: stage 1, the proxy avatar from the tracked parameters and the mean shape;
 * 3. {@link tsdStage}: the TSD of every real frame and proxy render (§3.2); {@link trainTsdmStage}: the TSDM;
 *    {@link alignStage}: the aligned TSD′ of the held-out frames and their errors against the real frames' TSD;
 * 4. {@link emotionStage}: the emotion label of every frame (Eq. 7) from its tracked expression;
 * 5. {@link fcsdDataStage}, {@link trainFcsdStage}, {@link lcmStage} (§4.3), {@link refinerStage} (§4.3): stage 3;
 *    {@link variantStage}: stage 3 retrained for an ablation (w/o emotion, w/o normal) on the same backbone;
 * 6. {@link renderRows} and {@link scoreRows}: every row rendered on the held-out frames and scored.
 *
 * Every training takes its checkpoint folder from the plan (`<out>/checkpoints/<name>`): called again on a finished
 * folder it loads the trained network without a step; on an interrupted one it resumes from the last checkpoint.
 *
 * @example
 * ```ts
 * import { planMethod, fitProxyStage, tsdStage } from '@consistent-avatar/avatar';
 * const plan = planMethod({ data: 'data/synthetic', out: 'runs/a', seed: 0 });
 * const proxy = await fitProxyStage(plan);
 * const tsd = tsdStage(plan, proxy); // TsdmData: the real and proxy TSD of every frame
 * proxy.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { join } from 'node:path';
import { ValidationError, type FloatImage } from '@consistent-avatar/core';
import { MEAD_EMOTIONS_7, retrieveEmotions, syntheticMeadDatabase } from '@consistent-avatar/emotion';
import { loadEmbeddedPoseExpressionEstimator, type PoseExpressionEstimator } from '@consistent-avatar/metrics';
import {
  fitProxyAvatar,
  protocolSplit,
  readImavatarDataset,
  readInstaDataset,
  readFlameFolder,
  readNerfaceDataset,
  SYNTHETIC_NUM_SHAPE,
  type AvatarDataset,
  type ProxyAvatar,
} from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdErrors, type TsdmConfig, type TsdmData, type TsdmModel, type TrainTsdmResult } from '@consistent-avatar/tsd';
import type { UNet2DConditionModel } from '@consistent-avatar/diffusion';
import { resolveFcsdConfig, type FcsdConfig } from '../fcsd/config.js';
import { prepareFcsdData, withAlignedTsd, type FcsdData } from '../fcsd/data.js';
import { loadPretrainedBackbone, type FcsdModel } from '../fcsd/fcsd-model.js';
import { distillFcsdLcm, type DistillFcsdLcmResult } from '../fcsd/lcm.js';
import { trainFcsdRefiner, type TrainFcsdRefinerResult } from '../fcsd/refiner.js';
import { RENDER_BATCH_SIZE, renderFcsd } from '../fcsd/render.js';
import { FCSD_CONDITION_FIELDS, trainFcsd, type FcsdProgress, type TrainFcsdResult } from '../fcsd/train.js';
import { scoreSequence } from '../eval/score-sequence.js';
import { scoreShard, type ScoreShardPart } from './eval-shards.js';
import type { MethodRow, RunMethodOptions, StageThreeVariant } from './run-method.js';

/** The dataset folder layouts the method reads. */
export type DatasetLayout = 'insta' | 'nerface' | 'imavatar';

/**
 * Read a dataset folder of the given layout with the proxy package's reader.
 * @param dir - the folder (INSTA: the actor folder; NeRFace: the person folder; IMAvatar: the sub-folder with
 *   `flame_params.json`).
 * @param layout - default `'insta'`.
 * @returns the dataset (frames in sequence order, its own split).
 * @example
 * ```ts
 * const ds = readMethodDataset('data/person_1', 'nerface');
 * ```
 */
export function readMethodDataset(dir: string, layout: DatasetLayout = 'insta'): AvatarDataset {
  if (layout === 'insta') return readInstaDataset(dir);
  if (layout === 'nerface') return readNerfaceDataset(dir);
  if (layout === 'imavatar') return readImavatarDataset(dir);
  throw new ValidationError('readMethodDataset', 'layout', "'insta', 'nerface' or 'imavatar'", layout);
}

/** What {@link planMethod} settles before any stage runs. */
export interface MethodPlan {
  /** The options as given. */
  options: RunMethodOptions;
  dataset: AvatarDataset;
  /** Indices into `dataset.frames`. */
  split: { train: number[]; validation: number[]; test: number[] };
  /** The dataset with only the training frames in its train split (what stage 1 fits). */
  trainSet: AvatarDataset;
  tsdmConfig: TsdmConfig;
  fcsdConfig: FcsdConfig;
  alignEnsemble: number;
  /** `<out>/checkpoints/<name>`. */
  checkpointDir(name: 'proxy' | 'tsdm' | 'fcsd' | 'lcm' | 'refiner' | `fcsd-${string}` | `lcm-${string}`): string;
}

/**
 * Step 1: read the dataset, split it under the protocol and resolve the configs (`seed` is every stage's seed; the
 * stage-3 size defaults to the stage-2 size).
 * @param options - as for {@link runMethod} (`onLog` is not used here).
 * @returns the plan.
 * @throws ValidationError on bad options or configs (naming the field).
 * @example
 * ```ts
 * const plan = planMethod({ data: 'data/synthetic', out: 'runs/a', seed: 0 });
 * plan.split.test; // the held-out frame indices
 * ```
 */
export function planMethod(options: RunMethodOptions): MethodPlan {
  const FN = 'runMethod';
  if (!options || typeof options.data !== 'string' || typeof options.out !== 'string') throw new ValidationError(FN, 'options', '{ data, out, seed }', options);
  if (!Number.isInteger(options.seed)) throw new ValidationError(FN, 'options.seed', 'an integer', options.seed);
  const tsdmConfig = resolveTsdmConfig({ seed: options.seed, ...options.tsdm });
  const fcsdConfig = resolveFcsdConfig({ seed: options.seed, size: tsdmConfig.size, ...options.fcsd });
  checkVariants(FN, options.variants ?? [], fcsdConfig);
  if (options.renderBatchSize !== undefined && (!Number.isInteger(options.renderBatchSize) || options.renderBatchSize < 1)) {
    throw new ValidationError(FN, 'options.renderBatchSize', 'an integer ≥ 1', options.renderBatchSize);
  }
  const dataset = readMethodDataset(options.data, options.layout);
  const split = protocolSplit(dataset, { validationFrames: options.validationFrames });
  return {
    options,
    dataset,
    split,
    trainSet: { ...dataset, split: { ...dataset.split, train: split.train } },
    tsdmConfig,
    fcsdConfig,
    alignEnsemble: options.alignEnsemble ?? 8,
    checkpointDir: (name) => join(options.out, 'checkpoints', name),
  };
}

/** Variant names are new row names and change only the condition fields (they share the backbone). */
function checkVariants(fn: string, variants: StageThreeVariant[], base: FcsdConfig): void {
  if (!Array.isArray(variants)) throw new ValidationError(fn, 'options.variants', 'an array of { name, label, fcsd }', variants);
  const taken = new Set(['proxy', 'baseline', 'full', 'full-ddim', 'full-refiner', 'oracle-tsd']);
  variants.forEach((v, i) => {
    if (!v || typeof v.name !== 'string' || !/^[a-z0-9-]+$/i.test(v.name) || taken.has(v.name)) throw new ValidationError(fn, `options.variants[${i}].name`, `a new row name of letters, digits and '-' (not ${[...taken].join(', ')})`, v?.name);
    if (typeof v.label !== 'string') throw new ValidationError(fn, `options.variants[${i}].label`, 'a string', v.label);
    const other = Object.keys(v.fcsd ?? {}).filter((k) => !FCSD_CONDITION_FIELDS.includes(k as keyof FcsdConfig));
    if (other.length) throw new ValidationError(fn, `options.variants[${i}].fcsd`, `only condition fields (${FCSD_CONDITION_FIELDS.join(', ')})`, other);
    resolveFcsdConfig({ ...base, ...v.fcsd });
    taken.add(v.name);
  });
}

/**
 * Step 2, stage 1: fit the proxy avatar on the training frames from the tracked parameters and the model's mean
 * shape (never the synthetic generator's true shape); resumes from / loads `checkpoints/proxy`.
 * @param plan - from {@link planMethod}.
 * @param onProgress - `{ step, steps, loss }` every `logEvery` steps.
 * @returns the proxy (the caller disposes it).
 * @example
 * ```ts
 * const proxy = await fitProxyStage(plan);
 * ```
 */
export function fitProxyStage(plan: MethodPlan, onProgress?: (p: { step: number; steps: number; loss: number }) => void): Promise<ProxyAvatar> {
  // The user's FLAME (`options.flame`, its mean shape), else the synthetic head; the proxy owns a loaded model.
  const model = plan.options.flame !== undefined ? readFlameFolder(plan.options.flame).model : undefined;
  const shape = new Float32Array(model ? model.numShape : SYNTHETIC_NUM_SHAPE);
  return fitProxyAvatar(plan.trainSet, { seed: plan.options.seed, shape, checkpointDir: plan.checkpointDir('proxy'), onProgress, ...plan.options.proxy, ...(model ? { model, ownModel: true } : {}) });
}

/**
 * Step 3a, stage 2's data: the TSD of every real frame and proxy render at the TSDM's size, with the protocol's split.
 * @param plan - from {@link planMethod}.
 * @param proxy - from {@link fitProxyStage}.
 * @returns the TSDM data (frames in dataset order).
 * @example
 * ```ts
 * const tsdmData = tsdStage(plan, proxy);
 * ```
 */
export function tsdStage(plan: MethodPlan, proxy: ProxyAvatar): TsdmData {
  const data = prepareTsdmData(plan.dataset, proxy, plan.tsdmConfig);
  data.split = { train: plan.split.train, test: plan.split.test };
  return data;
}

/**
 * Step 3b: train the TSDM on the training frames (resumes from / loads `checkpoints/tsdm`).
 * @param plan - from {@link planMethod}.
 * @param data - from {@link tsdStage}.
 * @param onProgress - `{ step, iterations, loss }`.
 * @returns the trained TSDM (the caller disposes `model`) and its loss log.
 * @example
 * ```ts
 * const { model } = await trainTsdmStage(plan, tsdmData);
 * ```
 */
export function trainTsdmStage(plan: MethodPlan, data: TsdmData, onProgress?: (p: { step: number; iterations: number; loss: number }) => void): Promise<TrainTsdmResult> {
  return trainTsdm(data, plan.tsdmConfig, { checkpointDir: plan.checkpointDir('tsdm'), onProgress });
}

/** What {@link alignStage} returns. */
export interface AlignStageResult {
  /** The aligned TSD′ of each held-out frame (`plan.split.test` order), `[S·S·3]` in [−1, 1]. */
  aligned: Float32Array[];
  /** The held-out proxy TSD and aligned TSD′ against the real frames' TSD. */
  tsd: { proxy: ReturnType<typeof tsdErrors>; aligned: ReturnType<typeof tsdErrors> };
}

/**
 * Step 3c: generate the aligned TSD′ of the held-out frames (an ensemble of `alignEnsemble` seeded samples) and
 * measure both TSDs against the real frames'.
 * @param plan - from {@link planMethod}.
 * @param model - the trained TSDM.
 * @param data - from {@link tsdStage}.
 * @returns the maps and their errors.
 * @example
 * ```ts
 * const { aligned, tsd } = alignStage(plan, tsdm.model, tsdmData);
 * ```
 */
export function alignStage(plan: MethodPlan, model: TsdmModel, data: TsdmData): AlignStageResult {
  const held = plan.split.test.map((i) => data.frames[i]!);
  const aligned = alignTsd(model, held, { seed: plan.options.seed, ensemble: plan.alignEnsemble });
  const truth = held.map((f) => f.gt!);
  return { aligned, tsd: { proxy: tsdErrors(held.map((f) => f.proxy), truth), aligned: tsdErrors(aligned, truth) } };
}

/**
 * Step 4: the emotion label of every frame (Eq. 7: nearest neighbours of its tracked expression in a synthetic
 * MEAD-layout database, k = 5, smoothed over 9 frames).
 * @param plan - from {@link planMethod}.
 * @returns one label per dataset frame.
 * @example
 * ```ts
 * const labels = await emotionStage(plan); // ['neutral', 'neutral', 'happy', …]
 * ```
 */
export async function emotionStage(plan: MethodPlan): Promise<string[]> {
  const database = syntheticMeadDatabase({ seed: plan.options.seed });
  const frames = plan.dataset.frames;
  const expressions = new Float32Array(frames.length * database.dimension); // [N, D]
  frames.forEach((f, i) => expressions.set(f.expression!.subarray(0, database.dimension), i * database.dimension));
  const { labels } = await retrieveEmotions(expressions, database, { k: 5, smoothingWindow: 9 });
  return labels;
}

/**
 * Step 5a: stage 3's data (real frame, proxy render, normals, mask, TSDs, pose, expression, emotion per frame) with
 * the aligned TSD′ of the held-out frames attached.
 * @param plan - from {@link planMethod}.
 * @param proxy - from {@link fitProxyStage}.
 * @param tsdm - from {@link tsdStage}.
 * @param labels - from {@link emotionStage}.
 * @param aligned - from {@link alignStage} (`plan.split.test` order).
 * @returns the FCSD data.
 * @example
 * ```ts
 * const data = fcsdDataStage(plan, proxy, tsdmData, labels, aligned);
 * ```
 */
export function fcsdDataStage(plan: MethodPlan, proxy: ProxyAvatar, tsdm: TsdmData, labels: string[], aligned: Float32Array[]): FcsdData {
  const data = prepareFcsdData(plan.dataset, proxy, tsdm, plan.fcsdConfig, { emotions: labels, labels: [...MEAD_EMOTIONS_7] });
  withAlignedTsd(data, plan.split.test, aligned, plan.tsdmConfig.size);
  return data;
}

/**
 * Step 5b: train the FCSD (backbone, then conditions) on the training frames, on the embedded backbone or the
 * pre-trained folder `options.backbone` (resumes from / loads `checkpoints/fcsd`).
 * @param plan - from {@link planMethod}.
 * @param data - from {@link fcsdDataStage}.
 * @param onProgress - `{ phase, step, iterations, loss }`.
 * @returns the trained FCSD (the caller disposes `model`) and its loss logs.
 * @example
 * ```ts
 * const fcsd = await trainFcsdStage(plan, data);
 * ```
 */
export function trainFcsdStage(plan: MethodPlan, data: FcsdData, onProgress?: (p: FcsdProgress) => void): Promise<TrainFcsdResult> {
  const pretrained = plan.options.backbone ? loadPretrainedBackbone(plan.options.backbone) : undefined;
  return trainFcsd(data, plan.fcsdConfig, { train: plan.split.train, pretrained, checkpointDir: plan.checkpointDir('fcsd'), onProgress });
}

/**
 * Step 5c (§4.3): distil the LCM student, unless `lcmIterations` is 0 (then the rows sample with DDIM on the
 * teacher and this returns null). Resumes from / loads `checkpoints/lcm`.
 * @param plan - from {@link planMethod}.
 * @param model - the trained FCSD.
 * @param data - from {@link fcsdDataStage}.
 * @param onProgress - `{ step, iterations, loss }`.
 * @returns the student (the caller disposes it) and its log, or null.
 * @example
 * ```ts
 * const lcm = await lcmStage(plan, fcsd.model, data);
 * ```
 */
export async function lcmStage(plan: MethodPlan, model: FcsdModel, data: FcsdData, onProgress?: (p: { step: number; iterations: number; loss: number }) => void): Promise<DistillFcsdLcmResult | null> {
  if (plan.fcsdConfig.lcmIterations === 0) return null;
  return distillFcsdLcm(model, data, { train: plan.split.train, checkpointDir: plan.checkpointDir('lcm'), onProgress });
}

/**
 * Step 5d (§4.3): the refiner, a low-noise expert fine-tuned from the backbone, when `fcsd.refiner` is on (else
 * null). Resumes from / loads `checkpoints/refiner`.
 * @param plan - from {@link planMethod}.
 * @param model - the trained FCSD.
 * @param data - from {@link fcsdDataStage}.
 * @param onProgress - `{ step, iterations, loss }`.
 * @returns the refiner (the caller disposes it) and its log, or null.
 * @example
 * ```ts
 * const refiner = await refinerStage(plan, fcsd.model, data);
 * ```
 */
export async function refinerStage(plan: MethodPlan, model: FcsdModel, data: FcsdData, onProgress?: (p: { step: number; iterations: number; loss: number }) => void): Promise<TrainFcsdRefinerResult | null> {
  if (!plan.fcsdConfig.refiner) return null;
  return trainFcsdRefiner(model, data, { train: plan.split.train, checkpointDir: plan.checkpointDir('refiner'), onProgress });
}

/**
 * Step 5e, an ablation (`options.variants`): retrain stage 3 only with the variant's condition switches — the FCSD's
 * condition phase on the run's trained backbone (`sharedBackbone`; with a pre-trained backbone, that backbone), and
 * its LCM student — then render the held-out frames from the aligned TSD′. Resumes from / loads
 * `checkpoints/fcsd-<name>` and `checkpoints/lcm-<name>`; the networks are disposed before it returns.
 * @param plan - from {@link planMethod} (after {@link trainFcsdStage}: the shared backbone is read from its checkpoints).
 * @param data - from {@link fcsdDataStage}.
 * @param variant - one of `plan.options.variants`.
 * @returns the rendered row and the loss logs (`fcsd-conditions-<name>`, `lcm-<name>`).
 * @example
 * ```ts
 * const { row } = await variantStage(plan, data, { name: 'wo-emotion', label: 'w/o emotion', fcsd: { useEmotion: false } });
 * ```
 */
export async function variantStage(plan: MethodPlan, data: FcsdData, variant: StageThreeVariant): Promise<{ row: RenderedRow; losses: Record<string, { step: number; loss: number }[]> }> {
  const c = resolveFcsdConfig({ ...plan.fcsdConfig, ...variant.fcsd });
  const { options, split } = plan;
  const trained = await trainFcsd(data, c, {
    train: split.train,
    pretrained: options.backbone ? loadPretrainedBackbone(options.backbone) : undefined,
    sharedBackbone: options.backbone ? undefined : join(plan.checkpointDir('fcsd'), 'backbone'),
    checkpointDir: plan.checkpointDir(`fcsd-${variant.name}`),
  });
  const losses: Record<string, { step: number; loss: number }[]> = { [`fcsd-conditions-${variant.name}`]: trained.lossLog.conditions };
  try {
    const lcm = c.lcmIterations > 0 ? await distillFcsdLcm(trained.model, data, { train: split.train, checkpointDir: plan.checkpointDir(`lcm-${variant.name}`) }) : null;
    try {
      if (lcm) losses[`lcm-${variant.name}`] = lcm.lossLog;
      const t0 = performance.now();
      const frames = renderFcsd(trained.model, data, split.test, { sampler: lcm ? 'lcm' : 'ddim', student: lcm?.student, tsdSource: 'aligned', seed: options.seed });
      const label = `${variant.label}: aligned TSD′ (${lcm ? `LCM ${c.lcmSteps}` : `DDIM ${c.ddimSteps}`} steps)`;
      return { row: { name: variant.name, label, frames, msPerFrame: (performance.now() - t0) / frames.length }, losses };
    } finally {
      lcm?.student.dispose();
    }
  } finally {
    trained.model.dispose();
  }
}

/** One row rendered on the held-out frames, not yet scored. */
export interface RenderedRow {
  /** `'proxy'`, `'baseline'`, `'full'`, `'full-ddim'`, `'full-refiner'`, `'oracle-tsd'`. */
  name: string;
  label: string;
  /** RGB `[S, S, 3]` in [0, 1], `plan.split.test` order. */
  frames: FloatImage[];
  /** Rendering time per frame in ms (null for the proxy row). */
  msPerFrame: number | null;
}

/** The trained networks {@link renderRows} samples with. */
export interface MethodNetworks {
  fcsd: FcsdModel;
  /** The LCM student (null: the rows sample with DDIM on the teacher). */
  student: UNet2DConditionModel | null;
  refiner: UNet2DConditionModel | null;
}

/**
 * Step 6a: render every row on the held-out frames: the proxy (stage 1), the baseline without stage 2 (the proxy's
 * TSD into the ControlNet — the paper's baseline), the full method (aligned TSD′), the optional w/o-LCM and refiner
 * rows, and the oracle with the real frames' TSD as a reference.
 * @param plan - from {@link planMethod}.
 * @param data - from {@link fcsdDataStage}.
 * @param networks - the trained FCSD, its student and refiner.
 * @param onRow - called as each row starts (its name).
 * @param range - positions `[start, end)` in `plan.split.test` to render (a render shard: whole batches of
 *   `options.renderBatchSize`, see `renderShardRange`); default all of them.
 * @returns the rows in that order, each with the frames of `range`.
 * @example
 * ```ts
 * const rendered = renderRows(plan, data, { fcsd: fcsd.model, student: lcm?.student ?? null, refiner: null });
 * ```
 */
export function renderRows(plan: MethodPlan, data: FcsdData, networks: MethodNetworks, onRow?: (name: string) => void, range?: { start: number; end: number }): RenderedRow[] {
  const { fcsdConfig: c, options } = plan;
  const batchSize = options.renderBatchSize ?? RENDER_BATCH_SIZE;
  const total = plan.split.test.length;
  if (range !== undefined && (!Number.isInteger(range?.start) || !Number.isInteger(range.end) || range.start < 0 || range.end > total || range.start > range.end || range.start % batchSize !== 0)) {
    throw new ValidationError('renderRows', 'range', `[start, end) within the ${total} held-out frames, start a multiple of ${batchSize} (whole render batches)`, range);
  }
  // The rendered frames: the held-out ones, or a shard's whole batches of them (then each frame's noise and its
  // batch's inner noise are the unsharded run's).
  const split = { test: plan.split.test.slice(range?.start ?? 0, range?.end ?? total) };
  const S = data.size;
  const useLcm = networks.student !== null;
  const sampler = useLcm ? `LCM ${c.lcmSteps} steps` : `DDIM ${c.ddimSteps} steps`;
  const rows: RenderedRow[] = [];
  const add = (name: string, label: string, produce: () => FloatImage[], timed = true) => {
    onRow?.(name);
    const t0 = performance.now();
    const frames = produce();
    rows.push({ name, label, frames, msPerFrame: timed ? (performance.now() - t0) / frames.length : null });
  };
  const render = (tsdSource: 'aligned' | 'proxy' | 'gt', kind: 'lcm' | 'ddim' = useLcm ? 'lcm' : 'ddim') => () =>
    renderFcsd(networks.fcsd, data, split.test, { sampler: kind, student: networks.student ?? undefined, tsdSource, seed: options.seed, batchSize });
  add('proxy', 'stage 1: the proxy render', () => split.test.map((i) => ({ data: data.frames[i]!.proxyRgb, height: S, width: S, channels: 3 })), false);
  add('baseline', `w/o stage 2: the proxy TSD into the ControlNet (${sampler})`, render('proxy'));
  add('full', `full method: aligned TSD′ (${sampler})`, render('aligned'));
  if (options.ddimRow && useLcm) add('full-ddim', `w/o LCM: aligned TSD′, DDIM ${c.ddimSteps} steps`, render('aligned', 'ddim'));
  if (networks.refiner) {
    const refiner = networks.refiner;
    add('full-refiner', `aligned TSD′, DDIM ${c.ddimSteps} steps with the refiner on the last ${c.refinerStart} of the schedule`, () =>
      renderFcsd(networks.fcsd, data, split.test, { sampler: 'ddim', refiner, tsdSource: 'aligned', seed: options.seed, batchSize }));
  }
  add('oracle-tsd', `reference: the real frames' TSD, not a method (${sampler})`, render('gt'));
  return rows;
}

/** What {@link scoreRows} returns. */
export interface ScoredRows {
  /** The held-out real frames at the stage-3 size. */
  reference: FloatImage[];
  rows: MethodRow[];
  /** The estimator used for PE / EE, or why they were not computed. */
  estimator: string;
  /** LPIPS: the network scored with, or why not. */
  lpips: string;
  /** Identity similarity: how it was scored, or why not. */
  identity: string;
}

/**
 * Step 6b: score every rendered row on the held-out frames (whole frame and face mask, temporal consistency, PE / EE
 * with the embedded estimator when the frames are at least 32²) — the test frames once, at the end.
 * @param plan - from {@link planMethod}.
 * @param data - from {@link fcsdDataStage} (the real frames and masks).
 * @param rendered - from {@link renderRows} (or read back from a run folder).
 * @param onRow - called with each scored row.
 * @returns the scored rows.
 * @example
 * ```ts
 * const { rows } = await scoreRows(plan, data, rendered);
 * ```
 */
export async function scoreRows(plan: MethodPlan, data: FcsdData, rendered: RenderedRow[], onRow?: (row: MethodRow) => void): Promise<ScoredRows> {
  const S = data.size;
  const { test } = plan.split;
  const { lpips, faceAnalyzer } = plan.options;
  const { estimator, embedded } = rowEstimator(plan, S);
  try {
    const reference = test.map((i) => ({ data: data.frames[i]!.gt, height: S, width: S, channels: 3 }));
    const masks = test.map((i) => data.frames[i]!.mask);
    const rows: MethodRow[] = [];
    for (const r of rendered) {
      if (r.frames.length !== test.length) throw new ValidationError('scoreRows', `rendered.${r.name}.frames`, `${test.length} frames (the held-out ones)`, r.frames.length);
      const scores = await scoreSequence(r.frames, reference, masks, { estimator: estimator ?? undefined, lpips, faceAnalyzer });
      const row: MethodRow = { ...r, scores };
      rows.push(row);
      onRow?.(row);
    }
    return {
      reference, rows,
      estimator: estimatorName(estimator, S),
      lpips: lpips ? `LPIPS (${lpips.net}, user-supplied weights)` : 'not computed (no LPIPS weights given)',
      identity: faceAnalyzer ? "cosine similarity of human's face embeddings (frames with a face found in both only)" : "not computed (no face analyser given; ca ablate --identity runs human's)",
    };
  } finally {
    embedded?.dispose?.();
  }
}

/** The PE / EE estimator of a run: the plan's, else the embedded one for frames ≥ 32² (`embedded`: dispose it). */
function rowEstimator(plan: MethodPlan, S: number): { estimator: PoseExpressionEstimator | null; embedded: PoseExpressionEstimator | null } {
  const embedded = !plan.options.estimator && S >= 32 ? loadEmbeddedPoseExpressionEstimator() : null;
  return { estimator: plan.options.estimator ?? embedded, embedded };
}

function estimatorName(estimator: PoseExpressionEstimator | null, S: number): string {
  return estimator ? estimator.name : `not computed (frames of ${S}² are below the embedded estimator's 32²)`;
}

/** One row's part of a sharded eval. */
export interface ShardScoredRow {
  name: string;
  label: string;
  msPerFrame: number | null;
  part: ScoreShardPart;
}

/**
 * Step 6b for one eval shard: score the held-out frames `[start, end)` of every rendered row, keeping the per-frame
 * and per-pair values `mergeScoreShards` turns into {@link scoreRows}'s scores. The rows are the whole rendered
 * sequences (the pair before `start` needs frame `start − 1`). LPIPS and identity similarity are not sharded.
 * @param plan - from {@link planMethod} (no `lpips` / `faceAnalyzer`).
 * @param data - from {@link fcsdDataStage}.
 * @param rendered - every row, all held-out frames.
 * @param range - the shard's frame positions (`shardRange(test.length, shard)`).
 * @returns the rows' parts and the estimator's name.
 * @example
 * ```ts
 * const { rows } = await scoreRowsShard(plan, data, rendered, shardRange(plan.split.test.length, shard));
 * ```
 */
export async function scoreRowsShard(plan: MethodPlan, data: FcsdData, rendered: RenderedRow[], range: { start: number; end: number }): Promise<{ rows: ShardScoredRow[]; estimator: string }> {
  const FN = 'scoreRowsShard';
  if (plan.options.lpips || plan.options.faceAnalyzer) throw new ValidationError(FN, 'plan.options', 'no LPIPS / face analyser (a sharded eval merges L2 / PSNR / SSIM, PE / EE and the temporal measures only)', 'lpips or faceAnalyzer set');
  const S = data.size;
  const { test } = plan.split;
  const { estimator, embedded } = rowEstimator(plan, S);
  try {
    const reference = test.map((i) => ({ data: data.frames[i]!.gt, height: S, width: S, channels: 3 }));
    const masks = test.map((i) => data.frames[i]!.mask);
    const rows: ShardScoredRow[] = [];
    for (const r of rendered) {
      if (r.frames.length !== test.length) throw new ValidationError(FN, `rendered.${r.name}.frames`, `${test.length} frames (the held-out ones)`, r.frames.length);
      rows.push({ name: r.name, label: r.label, msPerFrame: r.msPerFrame, part: await scoreShard(r.frames, reference, masks, range, { estimator: estimator ?? undefined }) });
    }
    return { rows, estimator: estimatorName(estimator, S) };
  } finally {
    embedded?.dispose?.();
  }
}
