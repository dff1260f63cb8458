/**
 * Generating the aligned TSD of a sequence with a trained TSDM (ConsistentAvatar §3.2, inference): for every frame,
 * f_c from its proxy TSD, pose and expression (with those of its neighbours, `temporalWindow`), then DDIM (η = 0) or LCM sampling in pixel space from x_T
 * (diffusion's `sample` over the model's denoiser {@link TsdmModel.denoise}).
 *
 * Temporal consistency: every frame of the sequence starts from the SAME x_T (one noise map drawn from `seed`), and
 * with DDIM η = 0 the sampler is then a deterministic, smooth function of f_c — neighbouring frames with similar
 * conditions give similar TSD instead of independent samples. With LCM (which re-noises between steps) each frame
 * also gets the same re-noising draws (a fresh `Rng(seed)` per frame).
 *
 * @packageDocumentation
 */
import { Rng, tf, ValidationError } from '@consistent-avatar/core';
import { DDIMScheduler, LCMScheduler, sample, type Denoiser, type Scheduler } from '@consistent-avatar/diffusion';
import type { TsdmFrame } from './condition.js';
import { TsdmModel, type TsdmConditions } from './tsdm-model.js';
import { checkTsdmFrames, tsdmWindowInputs } from './window.js';

/**
 * Options of {@link alignTsd}.
 * @example
 * ```ts
 * const options: AlignTsdOptions = { sampler: 'lcm', steps: 4, seed: 3 };
 * ```
 */
export interface AlignTsdOptions {
  /** `'ddim'` (η = 0, trailing timesteps; default) or `'lcm'`. */
  sampler?: 'ddim' | 'lcm';
  /** Denoising steps. Default 10 (DDIM), 4 (LCM). */
  steps?: number;
  /** Seed of the shared x_T (and LCM's re-noising). Default 0. */
  seed?: number;
  /**
   * Where sampling starts: 1 (default, the paper's) from pure noise x_T; s < 1 from the proxy TSD noised to the
   * timestep at fraction s of the schedule (SDEdit / img2img, with the same shared noise map).
   */
  strength?: number;
  /**
   * Samples averaged per frame (test-time ensembling, as Marigold does for its diffusion depth maps): k draws from
   * k shared noise maps, then their mean — an estimate of the conditional mean E[TSD | f_c] whose sampling variance
   * falls as 1/k. Default 8 (1 = one sample, the paper's).
   */
  ensemble?: number;
  /** Frames per UNet batch (DDIM). Default 8. */
  batchSize?: number;
  /**
   * Generate only these frames (indices into `frames`, in the order given; default all). Each one's temporal window
   * still reads its neighbours in the whole `frames` array — e.g. pass every frame of a video and `indices` = its
   * held-out segment, so the segment's first frame is conditioned on its real predecessor instead of itself.
   */
  indices?: number[];
}

/** The sampling scheduler for a TSDM's noise schedule. */
function makeScheduler(model: TsdmModel, kind: 'ddim' | 'lcm'): Scheduler {
  const c = model.config;
  const common = { num_train_timesteps: c.numTrainTimesteps, beta_start: c.betaStart, beta_end: c.betaEnd, beta_schedule: 'linear' as const, prediction_type: c.predictionType };
  return kind === 'ddim'
    ? new DDIMScheduler({ ...common, timestep_spacing: 'trailing', clip_sample: true })
    : new LCMScheduler({ ...common, timestep_spacing: 'trailing', clip_sample: true, original_inference_steps: 50 });
}

/**
 * Generate aligned TSD for a sequence of frames.
 *
 * @param frames - a sequence of consecutive frames in time order (the model's `temporalWindow` conditions each
 *   frame on its neighbours in this array, clamped at its ends): per frame `proxy` TSD `[size, size, 3]` in [−1, 1],
 *   `pose`, `expression` (from `prepareTsdmData`).
 * @returns one `[size, size, 3]` map in [−1, 1] per generated frame (all, or `options.indices` in their order),
 *   normalised like the training targets.
 * @example
 * ```ts
 * import { alignTsd } from '@consistent-avatar/tsd';
 * const aligned = alignTsd(model, data.split.test.map((i) => data.frames[i]), { sampler: 'ddim', steps: 20, seed: 7 });
 * ```
 */
export function alignTsd(model: TsdmModel, frames: readonly Pick<TsdmFrame, 'proxy' | 'pose' | 'expression'>[], options: AlignTsdOptions = {}): Float32Array[] {
  const FN = 'alignTsd';
  if (!(model instanceof TsdmModel)) throw new ValidationError(FN, 'model', 'a TsdmModel', model);
  if (!Array.isArray(frames) || frames.length === 0) throw new ValidationError(FN, 'frames', 'a non-empty array of frames', frames);
  const kind = options.sampler ?? 'ddim';
  if (kind !== 'ddim' && kind !== 'lcm') throw new ValidationError(FN, 'options.sampler', "'ddim' or 'lcm'", kind);
  const steps = options.steps ?? (kind === 'ddim' ? 10 : 4);
  if (!Number.isInteger(steps) || steps < 1) throw new ValidationError(FN, 'options.steps', 'a positive integer', steps);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError(FN, 'options.seed', 'a non-negative integer', seed);
  const strength = options.strength ?? 1;
  if (typeof strength !== 'number' || !(strength > 0 && strength <= 1)) throw new ValidationError(FN, 'options.strength', 'a number in (0, 1]', strength);
  const batch = kind === 'lcm' ? 1 : options.batchSize ?? 8;
  if (!Number.isInteger(batch) || batch < 1) throw new ValidationError(FN, 'options.batchSize', 'a positive integer', batch);
  const ensemble = options.ensemble ?? 8;
  if (!Number.isInteger(ensemble) || ensemble < 1) throw new ValidationError(FN, 'options.ensemble', 'a positive integer', ensemble);
  const indices = options.indices ?? frames.map((_, i) => i);
  if (!Array.isArray(indices) || indices.length === 0 || indices.some((i) => !Number.isInteger(i) || i < 0 || i >= frames.length)) {
    throw new ValidationError(FN, 'options.indices', `a non-empty list of frame indices in [0, ${frames.length})`, options.indices);
  }
  const c = model.config, S = c.size, n = S * S * 3, W = 2 * c.temporalWindow + 1;
  const residual = c.target === 'residual';
  checkTsdmFrames(FN, 'frames', frames, c);

  // 1. One x_T per ensemble member, shared by the whole sequence.
  const xTs = Array.from({ length: ensemble }, (_, e) => Float32Array.from(new Rng(seed).fork(e === 0 ? 'tsdm-xT' : `tsdm-xT-${e}`).normal(n)));
  const scheduler = makeScheduler(model, kind);
  const denoise: Denoiser<TsdmConditions> = (x, t, conditions) => model.denoise(x, t, conditions);
  const out: Float32Array[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < indices.length; start += batch) {
      const centers = indices.slice(start, start + batch);
      const B = centers.length;
      const win = tsdmWindowInputs(frames, centers, c); // each frame with its temporal window, clamped at the sequence ends
      const prox = win.proxy;
      const sum = new Float64Array(B * n);
      // 2. f_c (Eq. 4) and the proxy maps: once per batch, shared by every ensemble member.
      const cond = tf.tidy(() => {
        const proxyT = tf.tensor4d(prox, [B, S, S, 3]);
        const tokens = model.condition(proxyT, tf.tensor2d(win.pose, [B, W * c.poseDim]), tf.tensor2d(win.expression, [B, W * c.expressionDim])); // [B, 3, D]
        const windowT = tf.tensor4d(win.proxyWindow, [B, S, S, 3 * W]);
        return { proxyT, windowT, tokens };
      });
      try {
        for (let e = 0; e < ensemble; e++) {
          const lat = new Float32Array(B * n);
          for (let b = 0; b < B; b++) lat.set(xTs[e]!, b * n);
          const result = tf.tidy(() => {
            // 3. The denoising loop (DDIM η = 0 or LCM), same re-noising stream for every frame.
            const rng = new Rng(seed).fork(e === 0 ? 'tsdm-steps' : `tsdm-steps-${e}`);
            const noise = tf.tensor4d(lat, [B, S, S, 3]);
            // The model's denoiser (its one UNet call) with f_c and the proxy window as named conditions.
            const common = { denoiser: denoise, conditions: { tokens: cond.tokens, proxyWindow: cond.windowT }, scheduler, numInferenceSteps: steps, rng };
            return strength < 1
              ? sample({ ...common, initLatents: residual ? tf.zeros([B, S, S, 3]) as tf.Tensor4D : cond.proxyT, strength, noise }) // SDEdit from the proxy TSD
              : sample({ ...common, latents: noise });
          });
          const values = result.dataSync();
          result.dispose();
          for (let k = 0; k < B * n; k++) sum[k] += values[k]!;
        }
      } finally {
        tf.dispose(Object.values(cond));
      }
      for (let b = 0; b < B; b++) {
        // 4. Back to TSD: the (ensemble-mean) x̂_0 itself, or TSD_proxy + residualScale·x̂_0 for the residual target.
        out.push(Float32Array.from({ length: n }, (_, k) => {
          const v = sum[b * n + k]! / ensemble;
          return Math.max(-1, Math.min(1, residual ? prox[b * n + k]! + c.residualScale * v : v));
        }));
      }
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
