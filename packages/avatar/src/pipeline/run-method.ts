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
 * 6. the stage-3 variants (ablations such as "w/o emotion"), when asked: stage 3 retrained on the same stage-1 / 2
 *    outputs and the run's backbone, each rendered from the aligned TSD′ as one more row;
 * 7. every row scored (whole frame and face mask, temporal consistency, PE / EE; LPIPS and identity similarity when
 *    their models are given) — the test frames once, at the end.
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
import { tf, type FloatImage } from '@consistent-avatar/core';
import type { tsdErrors, TsdmConfig } from '@consistent-avatar/tsd';
import type { ProxyFitOptions } from '@consistent-avatar/proxy';
import type { FcsdConfig } from '../fcsd/config.js';
import type { FcsdData } from '../fcsd/data.js';
import type { SequenceScores } from '../eval/score-sequence.js';
import type { FaceAnalyzer, Lpips, PoseExpressionEstimator } from '@consistent-avatar/metrics';
import {
  alignStage,
  emotionStage,
  fcsdDataStage,
  fitProxyStage,
  lcmStage,
  planMethod,
  refinerStage,
  renderRows,
  scoreRows,
  trainFcsdStage,
  trainTsdmStage,
  tsdStage,
  variantStage,
  type DatasetLayout,
} from './method-stages.js';

/** Options of {@link runMethod}. */
export interface RunMethodOptions {
  /** A dataset folder (INSTA layout unless `layout` says otherwise; e.g. written by `synthesizeDataset` / `ca synth`). */
  data: string;
  /** The folder layout of `data`: `'insta'` (default), `'nerface'` or `'imavatar'`. */
  layout?: DatasetLayout;
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
   * A folder with your FLAME model (`flame2020.npz` converted from FLAME's pkl, UVs in it or in
   * `head_template_mesh.obj`; see `readFlameFolder`) for stage 1 on a real dataset (no `synthetic.json`). Default: the
   * synthetic head of a synthetic (or synthetic-tracked) dataset.
   */
  flame?: string;
  /** Frames per render batch (default `RENDER_BATCH_SIZE`, 8): render shards are whole batches. */
  renderBatchSize?: number;
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
  /** Row name (letters, digits, `-`), also the checkpoint folders `fcsd-<name>` / `lcm-<name>`. */
  name: string;
  /** What it is, in words. */
  label: string;
  /** Overrides of the stage-3 config; only `FCSD_CONDITION_FIELDS` may differ (the backbone is shared). */
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
  /** LPIPS: the network scored with, or `'not computed (…)'` (absent: not computed). */
  lpips?: string;
  /** Identity similarity: how it was scored, or `'not computed (…)'` (absent: not computed). */
  identity?: string;
  /** Which stage-3 backbone ran: `'embedded'` or the pre-trained folder. */
  backbone: string;
}

/**
 * Run stages 1 → 2 → 3 and score the held-out frames.
 * @example
 * ```ts
 * const result = await runMethod({ data: 'data/synthetic', out: 'runs/mine', seed: 0, onLog: console.log });
 * ```
 */
export async function runMethod(options: RunMethodOptions): Promise<RunMethodResult> {
  // 1. The protocol's split and the configs.
  const plan = planMethod(options);
  const { split, tsdmConfig, fcsdConfig, alignEnsemble } = plan;
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
  const ds = plan.dataset;
  log(`dataset: ${ds.frames.length} frames ${ds.width}², train ${split.train.length}, validation ${split.validation.length}, test ${split.test.length}`);

  // 2. Stage 1 from the tracked parameters and the mean shape.
  const proxy = await time('stage1', () => fitProxyStage(plan));
  log(`stage 1: proxy fitted on the training frames in ${secs('stage1')} (mean shape, tracked parameters)`);
  try {
    // 3. Stage 2.
    const tsdmData = await time('tsd', () => tsdStage(plan, proxy));
    log(`stage 2: TSD (${tsdmConfig.size}², ω = ${tsdmConfig.tsdRadius}) of ${tsdmData.frames.length} frames in ${secs('tsd')}; training the TSDM (${tsdmConfig.iterations} steps) …`);
    const tsdm = await time('stage2', () => trainTsdmStage(plan, tsdmData, ({ step, iterations, loss }) => step % (tsdmConfig.logEvery * 10) === 0 && log(`  TSDM step ${step}/${iterations} loss ${loss.toFixed(4)}`)));
    losses.tsdm = tsdm.lossLog;
    const { aligned, tsd } = await time('align', () => alignStage(plan, tsdm.model, tsdmData));
    tsdm.model.dispose();
    log(`stage 2: TSDM trained in ${secs('stage2')}, ${split.test.length} held-out frames aligned in ${secs('align')}: TSD MSE ${tsd.aligned.mse.toFixed(5)} (proxy's ${tsd.proxy.mse.toFixed(5)})`);

    // 4. Emotion labels (Eq. 7) from the tracked expressions and a MEAD-layout database.
    const labels = await time('emotion', () => emotionStage(plan));
    log(`emotion: labels of ${labels.length} frames from a synthetic MEAD-layout database in ${secs('emotion')}`);

    // 5. Stage 3.
    const data = await time('stage3-data', () => fcsdDataStage(plan, proxy, tsdmData, labels, aligned));
    log(`stage 3: training the FCSD (backbone ${fcsdConfig.backboneIterations} + conditions ${fcsdConfig.controlIterations} steps) …`);
    log(`stage 3 backbone: ${options.backbone ? `pre-trained, from ${options.backbone} (frozen)` : 'the embedded one, trained here on the training frames'}`);
    const fcsd = await time('stage3', () => trainFcsdStage(plan, data, ({ phase, step, iterations, loss }) => step % (fcsdConfig.logEvery * 10) === 0 && log(`  FCSD ${phase} step ${step}/${iterations} loss ${loss.toFixed(4)}`)));
    losses['fcsd-backbone'] = fcsd.lossLog.backbone;
    losses['fcsd-conditions'] = fcsd.lossLog.conditions;
    // LCM (§4.3) unless switched off (lcmIterations 0: the rows sample with DDIM on the teacher).
    const useLcm = fcsdConfig.lcmIterations > 0;
    log(`stage 3: FCSD trained in ${secs('stage3')}${useLcm ? `; distilling the LCM student (${fcsdConfig.lcmIterations} steps) …` : ''}`);
    const lcm = useLcm ? await time('lcm', () => lcmStage(plan, fcsd.model, data)) : null;
    if (lcm) {
      losses.lcm = lcm.lossLog;
      log(`stage 3: LCM student distilled in ${secs('lcm')}`);
    }
    // The refiner (§4.3), when switched on: a low-noise expert fine-tuned from the backbone, handed the end of the DDIM schedule.
    const refiner = fcsdConfig.refiner ? await time('refiner', () => refinerStage(plan, fcsd.model, data)) : null;
    if (refiner) {
      losses.refiner = refiner.lossLog;
      log(`stage 3: refiner trained in ${secs('refiner')}`);
    }
    try {
      // 6. The rows, rendered and scored on the held-out frames.
      log(`scoring ${split.test.length} held-out frames (${data.size}²) per row:`);
      const scored = await time('rows', async () => {
        const rendered = renderRows(plan, data, { fcsd: fcsd.model, student: lcm?.student ?? null, refiner: refiner?.refiner ?? null });
        // 7. The stage-3 variants: stage 3 retrained on the shared backbone, rendered from the aligned TSD′.
        for (const variant of plan.options.variants ?? []) {
          log(`stage 3 variant ${variant.name} (${variant.label}): training the conditions on the shared backbone …`);
          const t0 = performance.now();
          const out = await variantStage(plan, data, variant);
          timings[`stage3-${variant.name}`] = Math.round(performance.now() - t0);
          Object.assign(losses, out.losses);
          rendered.push(out.row);
        }
        return scoreRows(plan, data, rendered, ({ name, scores }) =>
          log(`  ${name.padEnd(10)} PSNR ${scores.whole.psnr.toFixed(2)} dB (face ${scores.face.psnr.toFixed(2)})  SSIM ${scores.whole.ssim.toFixed(3)}  flow-curve corr ${scores.temporal?.curvePearson.toFixed(3) ?? '—'}`));
      });
      return {
        split, size: data.size, reference: scored.reference, rows: scored.rows, tsd, data, losses, timings,
        config: { tsdm: tsdmConfig, fcsd: fcsdConfig, alignEnsemble, validationFrames: split.validation.length },
        estimator: scored.estimator,
        lpips: scored.lpips,
        identity: scored.identity,
        backbone: options.backbone ?? 'embedded',
      };
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
