/**
 * Rendering a sequence with a trained FCSD: each frame starts from its own noise, drawn from `seed` and the frame's
 * index (the same seed renders the same video, whatever the split), runs the sampler — DDIM on the teacher (the
 * "w/o LCM" path) or LCM on the distilled student in a few steps (§4.3) — optionally hands the last part of the
 * schedule to the refiner, and turns the model's x̂_0 into an image (the proxy plus the generated residual, or the
 * generated frame itself).
 *
 * @example
 * ```ts
 * import { renderFcsd } from '@consistent-avatar/avatar';
 * const frames = renderFcsd(model, data, split.test, { sampler: 'lcm', student, tsdSource: 'aligned', seed: 0 });
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, Rng, tf, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { DDIMScheduler, LCMScheduler, guidanceScaleEmbedding, sample, type Scheduler, type UNet2DConditionModel } from '@consistent-avatar/diffusion';
import type { FcsdConfig } from './config.js';
import type { FcsdData } from './data.js';
import type { FcsdModel } from './fcsd-model.js';
import { fcsdBatchInputs } from './train.js';

/** Options of {@link renderFcsd}. */
export interface RenderFcsdOptions {
  /** `'lcm'` (the student, `lcmSteps` steps; needs `student`) or `'ddim'` (the teacher, `ddimSteps` steps). */
  sampler: 'lcm' | 'ddim';
  /** The LCM student backbone (from `distillFcsdLcm`). */
  student?: UNet2DConditionModel;
  /** Which TSD conditions the frames: `'aligned'` (stage 2's output, the method), `'proxy'` (w/o stage 2), `'gt'` (an oracle). */
  tsdSource: 'aligned' | 'proxy' | 'gt';
  /** Seed of every frame's noise. */
  seed: number;
  /** Sampling steps (default `config.lcmSteps` / `config.ddimSteps`). */
  steps?: number;
  /** A refiner backbone (from `trainFcsdRefiner`): it runs the last `config.refinerStart` of the DDIM schedule (hand-off). */
  refiner?: UNet2DConditionModel;
  /** Frames per batch (default {@link RENDER_BATCH_SIZE}; part of what "same seed" means for the LCM sampler's inner noise). */
  batchSize?: number;
  /** Token conditions dropped for every frame (ablations at generation time). */
  drop?: string[];
  /** Called after each batch with the frames rendered so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Frames per {@link renderFcsd} batch by default. The LCM sampler's inner noise is drawn per batch (forked by the
 * batch's first frame index), so a frame's pixels depend on the batching: shards of a render cut the frames in whole
 * batches (see `renderShardRange`).
 * @example
 * ```ts
 * const batches = Math.ceil(frames.length / RENDER_BATCH_SIZE); // render batches of an unsharded run
 * ```
 */
export const RENDER_BATCH_SIZE = 8;

/** The image of a model output x̂_0: proxy + residualScale·x̂_0, or (x̂_0 + 1) / 2, clamped to [0, 1]. */
function toImage(x0: Float32Array, proxy: Float32Array, c: Pick<FcsdConfig, 'target' | 'residualScale'>): Float32Array {
  const out = new Float32Array(x0.length);
  for (let k = 0; k < out.length; k++) {
    const v = c.target === 'residual' ? proxy[k]! + c.residualScale * x0[k]! : (x0[k]! + 1) / 2;
    out[k] = Math.min(1, Math.max(0, v));
  }
  return out;
}

/**
 * The per-frame initial noise x_T of `frameIndex` under `seed`: `count` standard-normal values (the sample's
 * H·W·C, e.g. 32·32·3 in pixel space).
 * @example
 * ```ts
 * frameNoise(0, 12, 32 * 32 * 3); // the same numbers every time
 * ```
 */
export function frameNoise(seed: number, frameIndex: number, count: number): Float32Array {
  if (!Number.isSafeInteger(seed)) throw new ValidationError('frameNoise', 'seed', 'an integer', seed);
  if (!Number.isSafeInteger(frameIndex) || frameIndex < 0) throw new ValidationError('frameNoise', 'frameIndex', 'a non-negative integer', frameIndex);
  if (!Number.isSafeInteger(count) || count < 1) throw new ValidationError('frameNoise', 'count', 'a positive integer', count);
  return Float32Array.from(new Rng(seed).fork(`frame-${frameIndex}`).normal(count));
}

/**
 * Render frames with a trained FCSD.
 * @param model - the trained model (`trainFcsd`).
 * @param data - the prepared data (frames need `alignedTsd` for `tsdSource: 'aligned'`).
 * @param indices - frame indices to render, in order.
 * @returns one RGB image `[S, S, 3]` in [0, 1] per index. NaN / ±Infinity in a rendered frame's TSD, normal map, proxy
 *   render, pose or expression are refused with a `ValidationError` naming the field (core's non-finite policy).
 * @example
 * ```ts
 * const frames = renderFcsd(model, data, split.test, { sampler: 'ddim', tsdSource: 'proxy', seed: 0 }); // w/o stage 2
 * ```
 */
export function renderFcsd(model: FcsdModel, data: FcsdData, indices: number[], options: RenderFcsdOptions): FloatImage[] {
  const FN = 'renderFcsd';
  const c = model.config, S = c.size;
  if (!Array.isArray(indices) || indices.some((i) => !data.frames[i])) throw new ValidationError(FN, 'indices', `frame indices < ${data.frames.length}`, indices);
  if (options.sampler !== 'lcm' && options.sampler !== 'ddim') throw new ValidationError(FN, 'options.sampler', "'lcm' or 'ddim'", options.sampler);
  if (options.sampler === 'lcm' && !options.student) throw new ValidationError(FN, 'options.student', 'the LCM student (distillFcsdLcm) for sampler lcm', options.student);
  if (!Number.isInteger(options.seed)) throw new ValidationError(FN, 'options.seed', 'an integer', options.seed);
  const steps = options.steps ?? (options.sampler === 'lcm' ? c.lcmSteps : c.ddimSteps);
  if (!Number.isInteger(steps) || steps < 1) throw new ValidationError(FN, 'options.steps', 'a positive integer', steps);
  const batchSize = options.batchSize ?? RENDER_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValidationError(FN, 'options.batchSize', 'a positive integer', batchSize);
  if (!['aligned', 'proxy', 'gt'].includes(options.tsdSource)) throw new ValidationError(FN, 'options.tsdSource', "'aligned', 'proxy' or 'gt'", options.tsdSource);
  // The non-finite policy (core's checkFinite): every number a rendered frame feeds the sampler, before any work.
  const tsdField = options.tsdSource === 'gt' ? 'gtTsd' : options.tsdSource === 'proxy' ? 'proxyTsd' : 'alignedTsd';
  for (const i of indices) {
    const frame = data.frames[i]!;
    for (const field of [tsdField, 'normal', 'proxyRgb', 'pose', 'expression'] as const) {
      const values = frame[field];
      if (values) checkFinite(FN, `data.frames[${i}].${field}`, values); // a missing alignedTsd is fcsdBatchInputs' error
    }
  }
  const out: FloatImage[] = [];
  for (let start = 0; start < indices.length; start += batchSize) {
    const frames = indices.slice(start, start + batchSize).map((i) => data.frames[i]!);
    const B = frames.length;
    const shape = model.sampleShape(B); // pixels, or latents with a VAE
    const n = shape[1] * shape[2] * shape[3];
    const noise = new Float32Array(B * n);
    frames.forEach((f, b) => noise.set(frameNoise(options.seed, f.index, n), b * n));
    const batch = fcsdBatchInputs(model, frames, options.tsdSource);
    const conditions = model.conditions(batch.inputs, batch.proxyRgb, { drop: options.drop });
    const rng = new Rng(options.seed).fork(`batch-${frames[0]!.index}`);
    const latents = tf.tensor4d(noise, shape);
    const schedule = { num_train_timesteps: c.numTrainTimesteps, beta_start: c.betaStart, beta_end: c.betaEnd, beta_schedule: 'scaled_linear' as const, prediction_type: c.predictionType, clip_sample: false };
    const wEmb = options.sampler === 'lcm' ? guidanceScaleEmbedding(new Array<number>(B).fill(0), options.student!.config.time_cond_proj_dim!) : null;
    let x0: tf.Tensor4D;
    try {
      if (options.sampler === 'lcm') {
        const scheduler: Scheduler = new LCMScheduler({ ...schedule, original_inference_steps: c.lcmDdimTimesteps });
        x0 = sample({ denoiser: (x, t) => model.denoise(x, t, conditions, { unet: options.student, timestepCond: wEmb }), conditions: {}, scheduler, numInferenceSteps: steps, latents, rng });
      } else if (options.refiner) {
        // SDXL's ensemble of experts: the base runs t ≥ cut, the refiner the rest (denoising_end / denoising_start).
        const handOff = 1 - c.refinerStart;
        const base = sample({ denoiser: (x, t) => model.denoise(x, t, conditions), conditions: {}, scheduler: new DDIMScheduler(schedule), numInferenceSteps: steps, latents, rng, denoisingEnd: handOff });
        try {
          x0 = sample({ denoiser: (x, t) => model.denoise(x, t, conditions, { unet: options.refiner }), conditions: {}, scheduler: new DDIMScheduler(schedule), numInferenceSteps: steps, initLatents: base, rng, denoisingStart: handOff });
        } finally {
          base.dispose();
        }
      } else {
        x0 = sample({ denoiser: (x, t) => model.denoise(x, t, conditions), conditions: {}, scheduler: new DDIMScheduler(schedule), numInferenceSteps: steps, latents, rng });
      }
    } finally {
      tf.dispose([latents, ...Object.values(batch.inputs), batch.proxyRgb, conditions.tokens, conditions.controlImage, conditions.proxy].filter((t): t is tf.Tensor => t instanceof tf.Tensor));
      wEmb?.dispose();
    }
    if (model.isPretrained) {
      // Latents → images through the VAE's decoder (D of §4.2).
      const images = model.decodeSamples(x0);
      x0.dispose();
      const values = images.dataSync() as Float32Array;
      images.dispose();
      const m = S * S * 3;
      frames.forEach((_, b) => out.push({ data: values.slice(b * m, (b + 1) * m), height: S, width: S, channels: 3 }));
    } else {
      const values = x0.dataSync() as Float32Array;
      x0.dispose();
      frames.forEach((f, b) => out.push({ data: toImage(values.subarray(b * n, (b + 1) * n), f.proxyRgb, c), height: S, width: S, channels: 3 }));
    }
    options.onProgress?.(out.length, indices.length);
  }
  return out;
}
