/**
 * The whole method on one dataset, stages 1 → 2 → 3, under the evaluation protocol (docs/experiments/protocol.md):
 *
 * 1. split: the dataset's test frames are held out, a validation block is carved from the end of its training frames;
 * 2. stage 1: the proxy avatar is fitted on the training frames from the **tracked** parameters and the model's mean
 *    shape (never the synthetic generator's true shape);
 * 3. stage 2: TSD pairs, the TSDM trained on the training frames, aligned TSD′ generated for the held-out block;
 * 4. emotion labels (Eq. 7) of every frame from its tracked expression and a MEAD-layout database;
 * 5. stage 3: the FCSD trained (backbone, then conditions), its LCM student distilled, the held-out frames rendered
 *    for every row: the proxy (stage 1), the baseline without stage 2 (the proxy's TSD into the ControlNet — the
 *    paper's baseline) and the full method (aligned TSD′), plus the oracle with the real frames' TSD as a reference;
 * 6. every row scored (whole frame and face mask, temporal consistency, PE / EE, LPIPS and identity similarity when
 *    their models are given) — the test frames once, at the end;
 * 7. the stage-3 variants (ablations such as "w/o emotion"), when asked: stage 3 retrained on the same stage-1 / 2
 *    outputs with the run's backbone, each rendered and scored as one more row.
 *
 * Each training is checkpointed in the run folder, so re-running the same call resumes. Progress goes to `onLog`.
 *
 * @example
 * ```ts
 * import { runMethod } from '@consistent-avatar/avatar';
 * const result = await runMethod({ data: 'data/synthetic', out: 'runs/demo', seed: 0, onLog: console.log });
 * console.log(result.rows.map((r) => [r.name, r.scores.whole.psnr]));
 * ```
 *
 * @packageDocumentation
 */
import { join } from 'node:path';
import { tf, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { MEAD_EMOTIONS_7, retrieveEmotions, syntheticMeadDatabase } from '@consistent-avatar/emotion';
import { loadEmbeddedPoseExpressionEstimator, type FaceAnalyzer, type Lpips, type PoseExpressionEstimator } from '@consistent-avatar/metrics';
import { fitProxyAvatar, protocolSplit, readInstaDataset, SYNTHETIC_NUM_SHAPE, type ProxyFitOptions } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdErrors, type TsdmConfig } from '@consistent-avatar/tsd';
import { resolveFcsdConfig, type FcsdConfig } from '../fcsd/config.js';
import { prepareFcsdData, withAlignedTsd, type FcsdData } from '../fcsd/data.js';
import { loadPretrainedBackbone } from '../fcsd/fcsd-model.js';
import { distillFcsdLcm } from '../fcsd/lcm.js';
import { trainFcsdRefiner } from '../fcsd/refiner.js';
import { renderFcsd } from '../fcsd/render.js';
import { FCSD_CONDITION_FIELDS, trainFcsd } from '../fcsd/train.js';
import { scoreSequence, type SequenceScores } from '../eval/score-sequence.js';

/** Options of {@link runMethod}. */
export interface RunMethodOptions {
  /** An INSTA-layout dataset folder (e.g. written by `synthesizeDataset` / `ca synth`). */
  data: string;
  /** The run folder (checkpoints go to `<out>/checkpoints/`). */
  out: string;
  /** Seed of every stage. */
  seed: number;
  /** Validation frames carved from the end of the training frames. Default 10 % of them. */
  validationFrames?: number;
  /** Stage-1 options (steps, texture size, …). */
  proxy?: Partial<ProxyFitOptions>;
  /** Stage-2 config. */
  tsdm?: Partial<TsdmConfig>;
  /** Alignment ensemble size (default 8). */
  alignEnsemble?: number;
  /** Stage-3 config. */
  fcsd?: Partial<FcsdConfig>;
  /** Also render the "w/o LCM" row (DDIM on the teacher). Default false. */
  ddimRow?: boolean;
  /**
   * A diffusers Stable Diffusion folder you own (`unet/`, `vae/`; e.g. SD 1.5) to use as the stage-3 backbone instead
   * of the embedded one: it is loaded from disk (nothing is downloaded), frozen, and needs the paper's formulation
   * (`fcsd: { ...FCSD_PAPER }`). Default: the embedded backbone trained here.
   */
  backbone?: string;
  /**
   * Stage-3 variants (the paper's "w/o emotion", "w/o normal", …): each retrains only stage 3 — its FCSD (sharing the
   * main run's trained embedded backbone, see `trainFcsd`'s `sharedBackbone`) and its LCM student — on the same
   * stage-1 / stage-2 outputs, and adds one row rendered from the aligned TSD′. Default none.
   */
  variants?: StageThreeVariant[];
  /** A pose / expression estimator for PE / EE (e.g. DECA); not disposed. Default: the embedded one (frames ≥ 32²). */
  estimator?: PoseExpressionEstimator;
  /** LPIPS weights (`Lpips.fromSafetensors`) to score every row with; not disposed. Default: not computed. */
  lpips?: Lpips;
  /** A face analyser for the identity similarity (CSIM) of every row; not disposed. Default: not computed. */
  faceAnalyzer?: FaceAnalyzer;
  /** Progress lines. */
  onLog?: (line: string) => void;
}

/**
 * A stage-3 variant of {@link RunMethodOptions.variants}: `fcsd` overrides the run's stage-3 config (condition switches
 * only, e.g. `{ useEmotion: false }`).
 * @example
 * ```ts
 * const withoutEmotion: StageThreeVariant = { name: 'wo-emotion', label: 'w/o emotion', fcsd: { useEmotion: false } };
 * ```
 */
export interface StageThreeVariant {
  /** Row name (letters, digits, `-`), also the checkpoint folder `fcsd-<name>`. */
  name: string;
  /** What it is, in words. */
  label: string;
  /** Overrides of the stage-3 config; only {@link FCSD_CONDITION_FIELDS} may differ (the backbone is shared). */
  fcsd: Partial<FcsdConfig>;
}

/** One row of the results: a way of producing the held-out frames, and its scores. */
export interface MethodRow {
  /** `'proxy'`, `'baseline'` (w/o stage 2), `'full'`, `'full-ddim'` (w/o LCM), `'full-refiner'`, `'oracle-tsd'`, then each variant's name. */
  name: string;
  /** What it is, in words. */
  label: string;
  /** The held-out frames it produced (RGB `[S, S, 3]` in [0, 1]). */
  frames: FloatImage[];
  scores: SequenceScores;
  /** Rendering time per frame in ms (null for the proxy row, whose renders come from stage 1's data preparation). */
  msPerFrame: number | null;
}

/** What {@link runMethod} returns. */
export interface RunMethodResult {
  split: { train: number[]; validation: number[]; test: number[] };
  /** Stage-3 map size and the held-out real frames at that size. */
  size: number;
  reference: FloatImage[];
  rows: MethodRow[];
  /** Stage-2 errors of the held-out TSD maps against the real frames' TSD. */
  tsd: { proxy: ReturnType<typeof tsdErrors>; aligned: ReturnType<typeof tsdErrors> };
  /** The prepared stage-3 data (GT / proxy / aligned TSD per frame) for strips. */
  data: FcsdData;
  /** Loss logs of every training. */
  losses: Record<string, { step: number; loss: number }[]>;
  /** Wall time of each stage in ms. */
  timings: Record<string, number>;
  /** Resolved configs. */
  config: { tsdm: TsdmConfig; fcsd: FcsdConfig; alignEnsemble: number; validationFrames: number };
  /** The estimator used for PE / EE (named in reports). */
  estimator: string;
  /** LPIPS: the network scored with, or `'not computed (…)'`. */
  lpips: string;
  /** Identity similarity: how it was scored, or `'not computed (…)'`. */
  identity: string;
  /** Which stage-3 backbone ran: `'embedded'` or the pre-trained folder. */
  backbone: string;
}

/** Variant names are unique row names and change only the condition fields (they share the backbone). */
function checkVariants(fn: string, variants: StageThreeVariant[], base: FcsdConfig): void {
  if (!Array.isArray(variants)) throw new ValidationError(fn, 'options.variants', 'an array of { name, label, fcsd }', variants);
  const taken = new Set(['proxy', 'baseline', 'full', 'full-ddim', 'full-refiner', 'oracle-tsd']);
  variants.forEach((v, i) => {
    if (!v || typeof v.name !== 'string' || !/^[a-z0-9-]+$/i.test(v.name) || taken.has(v.name)) throw new ValidationError(fn, `options.variants[${i}].name`, `a new row name of letters, digits and '-' (not ${[...taken].join(', ')})`, v?.name);
    if (typeof v.label !== 'string') throw new ValidationError(fn, `options.variants[${i}].label`, 'a string', v.label);
    resolveFcsdConfig({ ...base, ...v.fcsd });
    const other = Object.keys(v.fcsd ?? {}).filter((k) => !FCSD_CONDITION_FIELDS.includes(k as keyof FcsdConfig));
    if (other.length) throw new ValidationError(fn, `options.variants[${i}].fcsd`, `only condition fields (${FCSD_CONDITION_FIELDS.join(', ')})`, other);
    taken.add(v.name);
  });
}

/**
 * Run stages 1 → 2 → 3 and score the held-out frames.
 * @example
 * ```ts
 * const result = await runMethod({ data: 'data/synthetic', out: 'runs/mine', seed: 0, onLog: console.log });
 * ```
 */
export async function runMethod(options: RunMethodOptions): Promise<RunMethodResult> {
  const FN = 'runMethod';
  if (!options || typeof options.data !== 'string' || typeof options.out !== 'string') throw new ValidationError(FN, 'options', '{ data, out, seed }', options);
  if (!Number.isInteger(options.seed)) throw new ValidationError(FN, 'options.seed', 'an integer', options.seed);
  const log = options.onLog ?? (() => {});
  const timings: Record<string, number> = {};
  const losses: RunMethodResult['losses'] = {};
  const time = async <T>(name: string, f: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await f();
    timings[name] = Math.round(performance.now() - t0);
    return out;
  };
  const secs = (name: string) => `${(timings[name]! / 1000).toFixed(1)} s`;
  const ckpt = (name: string) => join(options.out, 'checkpoints', name);
  const tsdmConfig = resolveTsdmConfig({ seed: options.seed, ...options.tsdm });
  const fcsdConfig = resolveFcsdConfig({ seed: options.seed, size: tsdmConfig.size, ...options.fcsd });
  const alignEnsemble = options.alignEnsemble ?? 8;
  const variants = options.variants ?? [];
  checkVariants(FN, variants, fcsdConfig);

  // 1. The protocol's split.
  const ds = readInstaDataset(options.data);
  const split = protocolSplit(ds, { validationFrames: options.validationFrames });
  const trainSet = { ...ds, split: { ...ds.split, train: split.train } };
  log(`dataset: ${ds.frames.length} frames ${ds.width}², train ${split.train.length}, validation ${split.validation.length}, test ${split.test.length}`);

  // 2. Stage 1 from the tracked parameters and the mean shape.
  const proxy = await time('stage1', () => fitProxyAvatar(trainSet, { seed: options.seed, shape: new Float32Array(SYNTHETIC_NUM_SHAPE), checkpointDir: ckpt('proxy'), ...options.proxy }));
  log(`stage 1: proxy fitted on the training frames in ${secs('stage1')} (mean shape, tracked parameters)`);
  try {
    // 3. Stage 2.
    const tsdmData = await time('tsd', () => prepareTsdmData(ds, proxy, tsdmConfig));
    tsdmData.split = { train: split.train, test: split.test };
    log(`stage 2: TSD (${tsdmConfig.size}², ω = ${tsdmConfig.tsdRadius}) of ${tsdmData.frames.length} frames in ${secs('tsd')}; training the TSDM (${tsdmConfig.iterations} steps) …`);
    const tsdm = await time('stage2', () => trainTsdm(tsdmData, tsdmConfig, { checkpointDir: ckpt('tsdm'), onProgress: ({ step, iterations, loss }) => step % (tsdmConfig.logEvery * 10) === 0 && log(`  TSDM step ${step}/${iterations} loss ${loss.toFixed(4)}`) }));
    losses.tsdm = tsdm.lossLog;
    const heldTsd = split.test.map((i) => tsdmData.frames[i]!);
    const aligned = await time('align', () => alignTsd(tsdm.model, heldTsd, { seed: options.seed, ensemble: alignEnsemble }));
    tsdm.model.dispose();
    const truthTsd = heldTsd.map((f) => f.gt!);
    const tsd = { proxy: tsdErrors(heldTsd.map((f) => f.proxy), truthTsd), aligned: tsdErrors(aligned, truthTsd) };
    log(`stage 2: TSDM trained in ${secs('stage2')}, ${split.test.length} held-out frames aligned in ${secs('align')}: TSD MSE ${tsd.aligned.mse.toFixed(5)} (proxy's ${tsd.proxy.mse.toFixed(5)})`);

    // 4. Emotion labels (Eq. 7) from the tracked expressions and a MEAD-layout database.
    const database = syntheticMeadDatabase({ seed: options.seed });
    const expressions = new Float32Array(ds.frames.length * database.dimension);
    ds.frames.forEach((f, i) => expressions.set(f.expression!.subarray(0, database.dimension), i * database.dimension));
    const { labels } = await time('emotion', () => retrieveEmotions(expressions, database, { k: 5, smoothingWindow: 9 }));
    log(`emotion: labels of ${labels.length} frames from a synthetic MEAD-layout database (${database.size} vectors) in ${secs('emotion')}`);

    // 5. Stage 3.
    const data = await time('stage3-data', () => prepareFcsdData(ds, proxy, tsdmData, fcsdConfig, { emotions: labels, labels: [...MEAD_EMOTIONS_7] }));
    withAlignedTsd(data, split.test, aligned, tsdmConfig.size);
    log(`stage 3: training the FCSD (backbone ${fcsdConfig.backboneIterations} + conditions ${fcsdConfig.controlIterations} steps) …`);
    const backbone = options.backbone ? loadPretrainedBackbone(options.backbone) : undefined;
    log(`stage 3 backbone: ${options.backbone ? `pre-trained, from ${options.backbone} (frozen)` : 'the embedded one, trained here on the training frames'}`);
    const fcsd = await time('stage3', () => trainFcsd(data, fcsdConfig, {
      train: split.train,
      pretrained: backbone,
      checkpointDir: ckpt('fcsd'),
      onProgress: ({ phase, step, iterations, loss }) => step % (fcsdConfig.logEvery * 10) === 0 && log(`  FCSD ${phase} step ${step}/${iterations} loss ${loss.toFixed(4)}`),
    }));
    losses['fcsd-backbone'] = fcsd.lossLog.backbone;
    losses['fcsd-conditions'] = fcsd.lossLog.conditions;
    // LCM (§4.3) unless switched off (lcmIterations 0: the rows sample with DDIM on the teacher).
    const useLcm = fcsdConfig.lcmIterations > 0;
    log(`stage 3: FCSD trained in ${secs('stage3')}${useLcm ? `; distilling the LCM student (${fcsdConfig.lcmIterations} steps) …` : ''}`);
    const lcm = useLcm ? await time('lcm', () => distillFcsdLcm(fcsd.model, data, { train: split.train, checkpointDir: ckpt('lcm') })) : null;
    if (lcm) {
      losses.lcm = lcm.lossLog;
      log(`stage 3: LCM student distilled in ${secs('lcm')}`);
    }
    const sampler = useLcm ? `LCM ${fcsdConfig.lcmSteps} steps` : `DDIM ${fcsdConfig.ddimSteps} steps`;
    // The refiner (§4.3), when switched on: a low-noise expert fine-tuned from the backbone, handed the end of the DDIM schedule.
    const refiner = fcsdConfig.refiner ? await time('refiner', () => trainFcsdRefiner(fcsd.model, data, { train: split.train, checkpointDir: ckpt('refiner') })) : null;
    if (refiner) {
      losses.refiner = refiner.lossLog;
      log(`stage 3: refiner trained in ${secs('refiner')}`);
    }
    try {
      // 6. The rows, rendered and scored on the held-out frames.
      // PE / EE with the embedded estimator (trained on ≥ 32² synthetic renders); smaller frames are not scored for them.
      const S = data.size;
      const embedded = !options.estimator && S >= 32 ? loadEmbeddedPoseExpressionEstimator() : null;
      const estimator = options.estimator ?? embedded;
      try {
        const reference = split.test.map((i) => ({ data: data.frames[i]!.gt, height: S, width: S, channels: 3 }));
        const masks = split.test.map((i) => data.frames[i]!.mask);
        const rows: MethodRow[] = [];
        const addRow = async (name: string, label: string, produce: () => FloatImage[], timed = true) => {
          const t0 = performance.now();
          const frames = produce();
          const msPerFrame = timed ? (performance.now() - t0) / frames.length : null;
          const scores = await scoreSequence(frames, reference, masks, { estimator: estimator ?? undefined, lpips: options.lpips, faceAnalyzer: options.faceAnalyzer });
          rows.push({ name, label, frames, scores, msPerFrame });
          log(`  ${name.padEnd(10)} PSNR ${scores.whole.psnr.toFixed(2)} dB (face ${scores.face.psnr.toFixed(2)})  SSIM ${scores.whole.ssim.toFixed(3)}  flow-curve corr ${scores.temporal?.curvePearson.toFixed(3) ?? '—'}`);
        };
        const render = (tsdSource: 'aligned' | 'proxy' | 'gt', kind: 'lcm' | 'ddim' = useLcm ? 'lcm' : 'ddim') => () =>
          renderFcsd(fcsd.model, data, split.test, { sampler: kind, student: lcm?.student, tsdSource, seed: options.seed });
        log(`scoring ${split.test.length} held-out frames (${S}²) per row:`);
        await time('rows', async () => {
          await addRow('proxy', 'stage 1: the proxy render', () => split.test.map((i) => ({ data: data.frames[i]!.proxyRgb, height: S, width: S, channels: 3 })), false);
          await addRow('baseline', `w/o stage 2: the proxy TSD into the ControlNet (${sampler})`, render('proxy'));
          await addRow('full', `full method: aligned TSD′ (${sampler})`, render('aligned'));
          if (options.ddimRow && useLcm) await addRow('full-ddim', `w/o LCM: aligned TSD′, DDIM ${fcsdConfig.ddimSteps} steps`, render('aligned', 'ddim'));
          if (refiner) {
            await addRow('full-refiner', `aligned TSD′, DDIM ${fcsdConfig.ddimSteps} steps with the refiner on the last ${fcsdConfig.refinerStart} of the schedule`, () =>
              renderFcsd(fcsd.model, data, split.test, { sampler: 'ddim', refiner: refiner.refiner, tsdSource: 'aligned', seed: options.seed }));
          }
          await addRow('oracle-tsd', `reference: the real frames' TSD, not a method (${sampler})`, render('gt'));
        });
        // 7. The stage-3 variants: retrain stage 3 only (backbone shared), render from the aligned TSD′, score.
        for (const variant of variants) {
          const vc = resolveFcsdConfig({ ...fcsdConfig, ...variant.fcsd });
          log(`stage 3 variant ${variant.name} (${variant.label}): training the conditions (${vc.controlIterations} steps) on the shared backbone …`);
          const trained = await time(`stage3-${variant.name}`, () => trainFcsd(data, vc, {
            train: split.train,
            pretrained: options.backbone ? loadPretrainedBackbone(options.backbone) : undefined,
            sharedBackbone: options.backbone ? undefined : join(ckpt('fcsd'), 'backbone'),
            checkpointDir: ckpt(`fcsd-${variant.name}`),
          }));
          losses[`fcsd-conditions-${variant.name}`] = trained.lossLog.conditions;
          try {
            const student = vc.lcmIterations > 0 ? await time(`lcm-${variant.name}`, () => distillFcsdLcm(trained.model, data, { train: split.train, checkpointDir: ckpt(`lcm-${variant.name}`) })) : null;
            if (student) losses[`lcm-${variant.name}`] = student.lossLog;
            try {
              const kind = student ? 'lcm' : 'ddim';
              await time(`rows-${variant.name}`, () => addRow(variant.name, `${variant.label}: aligned TSD′ (${student ? `LCM ${vc.lcmSteps}` : `DDIM ${vc.ddimSteps}`} steps)`, () =>
                renderFcsd(trained.model, data, split.test, { sampler: kind, student: student?.student, tsdSource: 'aligned', seed: options.seed })));
            } finally {
              student?.student.dispose();
            }
          } finally {
            trained.model.dispose();
          }
        }
        return {
          split, size: S, reference, rows, tsd, data, losses, timings,
          config: { tsdm: tsdmConfig, fcsd: fcsdConfig, alignEnsemble, validationFrames: split.validation.length },
          estimator: estimator ? estimator.name : `not computed (frames of ${S}² are below the embedded estimator's 32²)`,
          lpips: options.lpips ? `LPIPS (${options.lpips.net}, user-supplied weights)` : 'not computed (no LPIPS weights given)',
          identity: options.faceAnalyzer ? "cosine similarity of human's face embeddings (faces found in both frames only)" : 'not computed (no face analyser given)',
          backbone: options.backbone ?? 'embedded',
        };
      } finally {
        embedded?.dispose?.();
      }
    } finally {
      fcsd.model.dispose();
      lcm?.student.dispose();
      refiner?.refiner.dispose();
    }
  } finally {
    proxy.dispose();
    if (tf.memory().numTensors > 1000) log(`(tensors still held: ${tf.memory().numTensors})`);
  }
}
