/**
 * The sampler: one plain function (k-diffusion style) that runs the denoising loop of diffusers'
 * `StableDiffusion{,ControlNet,Img2Img}Pipeline` / `LatentConsistencyModelPipeline` / SDXL refiner on latents, for
 * any {@link Scheduler}: UNet + optional ControlNet(s) + optional IP-Adapter tokens, classifier-free guidance batched
 * as [uncond, cond], img2img `strength`, the SDXL ensemble-of-experts hand-off (`denoisingEnd` on the base,
 * `denoisingStart` on the refiner — the handed latent is not re-noised), and LCM's guidance embedding. A callback sees
 * every step. Encoding / decoding images is the caller's business (VAE or {@link IdentityAutoencoder}).
 *
 * Per step i at timestep t (Ho & Salimans 2022, Eq. 6 for the guidance):
 *   1. x_in = [x, x] with CFG (text [uncond, cond]), else x;
 *   2. ControlNet residuals at scale·keep[i] (guess mode with CFG: conditional half only, zeros for the uncond half);
 *   3. ε = UNet(x_in, t, text, residuals, timestepCond);
 *   4. CFG: ε = ε_u + g·(ε_c − ε_u);
 *   5. (x, denoised) = scheduler.step(ε, t, x).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@consistent-avatar/core';
 * import { DDIMScheduler, UNet2DConditionModel, sample } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * const text = tf.randomNormal([1, 7, 32], 0, 1, 'float32', 1), empty = tf.zeros([1, 7, 32]);
 * const latents = sample({ unet, scheduler: new DDIMScheduler(), numInferenceSteps: 10, shape: [1, 16, 16, 4], rng: new Rng(0),
 *   encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 7.5,
 *   callback: (step, t) => console.log(step, t) });   // [1, 16, 16, 4]
 * ```
 */
import { Rng, tf, ValidationError } from '@consistent-avatar/core';
import { ControlNetModel, type ControlNetOutput } from '../controlnet/controlnet-model.js';
import { MultiControlNet } from '../controlnet/multi-controlnet.js';
import type { EncoderHiddenStates } from '../models/attention-processors.js';
import type { UNet2DConditionModel } from '../models/unet-2d-condition.js';
import { splitForDenoisingEnd, splitForDenoisingStart, timestepsForStrength } from '../schedulers/handoff.js';
import type { Scheduler } from '../schedulers/types.js';
import { guidanceScaleEmbedding } from './guidance-embedding.js';

/**
 * Called after every step with the new latents and the step's clean estimate (x̂0, or LCM's `denoised`). The tensors
 * are owned by the sampler and freed after the callback returns: clone what you keep.
 */
export type SamplerCallback = (step: number, timestep: number, latents: tf.Tensor4D, denoised: tf.Tensor4D) => void;

/** Options of {@link sample}. Tensors are read, never disposed. */
export interface SampleOptions {
  unet: UNet2DConditionModel;
  scheduler: Scheduler;
  /** Steps of the full schedule (before `strength` / hand-off cuts). */
  numInferenceSteps: number;
  /** Text tokens `[B, L, cross_attention_dim]`. */
  encoderHiddenStates: tf.Tensor;
  /** Unconditional tokens `[B, L', D]` (the empty-prompt embedding); required when CFG is active. */
  negativeEncoderHiddenStates?: tf.Tensor;
  /**
   * g: CFG is active when g > 1 and the UNet has no `time_cond_proj_dim`. For an LCM student (with
   * `time_cond_proj_dim`) there is no CFG; w = g − 1 goes in through the guidance embedding. Default 1.
   */
  guidanceScale?: number;
  /** Initial noise x_T `[B, H, W, C]` (text-to-image). Scaled by `scheduler.initNoiseSigma`. */
  latents?: tf.Tensor4D;
  /** Shape of x_T to draw from `rng` when `latents` is not given. */
  shape?: [number, number, number, number];
  /** Seeded generator for x_T, img2img noise and stochastic scheduler steps. Default `new Rng(0)`. */
  rng?: Rng;
  /** IP-Adapter image tokens (one `[B, N, D]` per adapter) for the conditional branch. */
  ipTokens?: tf.Tensor[];
  /** IP tokens of the unconditional branch (default zeros). */
  negativeIpTokens?: tf.Tensor[];
  /** One ControlNet or several. */
  controlnet?: ControlNetModel | MultiControlNet;
  /** Conditioning image(s) `[B, H·f, W·f, C_cond]` in [0, 1] (one per ControlNet for a MultiControlNet). */
  controlImage?: tf.Tensor4D | tf.Tensor4D[];
  /** ControlNet residual scale (one per net for a MultiControlNet). Default 1. */
  controlnetConditioningScale?: number | number[];
  /** ControlNet guess mode. Default false. */
  guessMode?: boolean;
  /** Fraction of the steps after which the ControlNet starts acting (diffusers `control_guidance_start`). Default 0. */
  controlGuidanceStart?: number;
  /** Fraction of the steps after which it stops (`control_guidance_end`). Default 1. */
  controlGuidanceEnd?: number;
  /**
   * Image conditioning concatenated to the UNet input along channels at every step, `[B, H, W, C_extra]` (the
   * UNet's `in_channels` = latent channels + C_extra), as diffusers' inpainting and InstructPix2Pix pipelines feed
   * their mask / image latents. Not scaled by the scheduler; duplicated for the CFG batch.
   */
  concatInput?: tf.Tensor4D;
  /** img2img: clean latents to start from (noised at the first kept timestep), or with `denoisingStart` the handed noisy latent. */
  initLatents?: tf.Tensor4D;
  /** img2img strength in (0, 1] (ignored with `denoisingStart`). Default 1. */
  strength?: number;
  /** img2img noise (default drawn from `rng`). */
  noise?: tf.Tensor4D;
  /** Refiner side of the hand-off: run only timesteps < round(T − f·T), on `initLatents` as given. */
  denoisingStart?: number;
  /** Base side of the hand-off: run only timesteps ≥ round(T − f·T); returns the still-noisy latent. */
  denoisingEnd?: number;
  /** DDIM η. Default 0. */
  eta?: number;
  /** Per-step hook. */
  callback?: SamplerCallback;
}

const FN = 'sample';

function checkTensor(name: string, t: unknown, rank: number): void {
  if (!(t instanceof tf.Tensor) || t.rank !== rank) throw new ValidationError(FN, name, `a rank-${rank} tensor`, t);
}

function checkFraction(name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !(v >= lo && v <= hi)) throw new ValidationError(FN, name, `a number in [${lo}, ${hi}]`, v);
}

/**
 * diffusers' `controlnet_keep`: 1 − [i/N < start or (i+1)/N > end] for each of the N steps.
 *
 * @example
 * ```ts
 * import { controlnetKeep } from '@consistent-avatar/diffusion';
 * controlnetKeep(4, 0, 0.5); // [1, 1, 0, 0]
 * ```
 */
export function controlnetKeep(numSteps: number, start = 0, end = 1): number[] {
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new ValidationError('controlnetKeep', 'numSteps', 'a positive integer', numSteps);
  if (!(start >= 0 && end <= 1 && start < end)) throw new ValidationError('controlnetKeep', 'start, end', '0 ≤ start < end ≤ 1', [start, end]);
  return Array.from({ length: numSteps }, (_, i) => 1 - Number(i / numSteps < start || (i + 1) / numSteps > end));
}

/**
 * Run the denoising loop.
 * @example
 * ```ts
 * // LCM student, 4 steps, guidance 8.5 through the w embedding:
 * const x0 = sample({ unet: student, scheduler: new LCMScheduler(), numInferenceSteps: 4, shape: [1, 64, 64, 4], rng: new Rng(1),
 *   encoderHiddenStates: text, guidanceScale: 8.5 });
 * // img2img at strength 0.3, then the refiner half of a hand-off:
 * const edited = sample({ unet, scheduler, numInferenceSteps: 50, encoderHiddenStates: text, initLatents: clean, strength: 0.3 });
 * const refined = sample({ unet: refiner, scheduler, numInferenceSteps: 40, encoderHiddenStates: text, initLatents: handed, denoisingStart: 0.8 });
 * ```
 * @returns the final latents `[B, H, W, C]` (for LCM's last step this is its `denoised`; with `denoisingEnd` the
 *   noisy latent to hand to the refiner).
 */
export function sample(options: SampleOptions): tf.Tensor4D {
  const o = options;
  if (typeof o !== 'object' || o === null) throw new ValidationError(FN, 'options', 'an options object', o);
  const { unet, scheduler } = o;
  if (typeof unet !== 'object' || unet === null || typeof (unet as { forward?: unknown }).forward !== 'function') throw new ValidationError(FN, 'options.unet', 'a UNet2DConditionModel', unet);
  if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.step !== 'function') throw new ValidationError(FN, 'options.scheduler', 'a Scheduler', scheduler);
  if (!Number.isInteger(o.numInferenceSteps) || o.numInferenceSteps < 1) throw new ValidationError(FN, 'options.numInferenceSteps', 'a positive integer', o.numInferenceSteps);
  checkTensor('options.encoderHiddenStates', o.encoderHiddenStates, 3);
  const g = o.guidanceScale ?? 1;
  if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) throw new ValidationError(FN, 'options.guidanceScale', 'a finite number ≥ 0', g);
  const condDim = unet.config.time_cond_proj_dim;
  const cfg = g > 1 && !condDim;
  if (cfg) checkTensor('options.negativeEncoderHiddenStates (required for guidanceScale > 1)', o.negativeEncoderHiddenStates, 3);
  const rng = o.rng ?? new Rng(0);
  if (!(rng instanceof Rng)) throw new ValidationError(FN, 'options.rng', 'an Rng', rng);
  if (o.denoisingStart !== undefined) checkFraction('options.denoisingStart', o.denoisingStart, 0, 1);
  if (o.denoisingEnd !== undefined) checkFraction('options.denoisingEnd', o.denoisingEnd, 0, 1);
  if (o.denoisingStart !== undefined && o.denoisingEnd !== undefined && o.denoisingStart >= o.denoisingEnd) {
    throw new ValidationError(FN, 'options.denoisingStart', `a fraction below denoisingEnd (${o.denoisingEnd})`, o.denoisingStart);
  }
  if (o.denoisingStart !== undefined && !o.initLatents) throw new ValidationError(FN, 'options.initLatents', 'the handed-over latent (required with denoisingStart)', o.initLatents);
  if (o.initLatents) checkTensor('options.initLatents', o.initLatents, 4);
  if (o.concatInput !== undefined) checkTensor('options.concatInput', o.concatInput, 4);
  if (o.controlnet && !(o.controlnet instanceof ControlNetModel || o.controlnet instanceof MultiControlNet)) {
    throw new ValidationError(FN, 'options.controlnet', 'a ControlNetModel or MultiControlNet', o.controlnet);
  }
  if (o.controlnet && !o.controlImage) throw new ValidationError(FN, 'options.controlImage', 'the conditioning image(s) for the ControlNet', o.controlImage);
  const B = o.initLatents?.shape[0] ?? o.latents?.shape[0] ?? o.shape?.[0];
  if (B === undefined) throw new ValidationError(FN, 'options.latents', 'latents, shape, or initLatents', undefined);
  if (o.encoderHiddenStates.shape[0] !== B) throw new ValidationError(FN, 'options.encoderHiddenStates', `[${B}, L, D] (batch ${B})`, o.encoderHiddenStates);
  if (cfg && o.negativeEncoderHiddenStates!.shape.join() !== o.encoderHiddenStates.shape.join()) {
    throw new ValidationError(FN, 'options.negativeEncoderHiddenStates', `the prompt tokens' shape [${o.encoderHiddenStates.shape.join(', ')}] (they are batched together)`, o.negativeEncoderHiddenStates);
  }

  const spatial = o.initLatents?.shape ?? o.latents?.shape ?? o.shape;
  if (o.concatInput && (o.concatInput.shape[0] !== B || o.concatInput.shape[1] !== spatial?.[1] || o.concatInput.shape[2] !== spatial?.[2])) {
    throw new ValidationError(FN, 'options.concatInput', `[${B}, ${spatial?.[1]}, ${spatial?.[2]}, C_extra] (the latents' batch and size)`, o.concatInput);
  }
  if (o.concatInput && o.concatInput.shape[3]! + spatial![3]! !== unet.config.in_channels) {
    throw new ValidationError(FN, 'options.concatInput', `${unet.config.in_channels - spatial![3]!} channels (unet in_channels ${unet.config.in_channels} − latent channels ${spatial![3]})`, o.concatInput);
  }

  // 1. The schedule: full, img2img strength, or a hand-off piece.
  const T = scheduler.config.num_train_timesteps;
  let timesteps: number[];
  const img2img = o.initLatents !== undefined && o.denoisingStart === undefined;
  if (o.denoisingStart !== undefined) {
    scheduler.setTimesteps(o.numInferenceSteps);
    const split = splitForDenoisingStart(scheduler.timesteps, o.denoisingStart, T, scheduler.order);
    scheduler.setBeginIndex(split.beginIndex);
    timesteps = split.timesteps;
  } else if (img2img) {
    timesteps = timestepsForStrength(scheduler, o.numInferenceSteps, o.strength ?? 1).timesteps;
  } else {
    scheduler.setTimesteps(o.numInferenceSteps);
    timesteps = [...scheduler.timesteps];
  }
  if (o.denoisingEnd !== undefined) timesteps = splitForDenoisingEnd(timesteps, o.denoisingEnd, T).timesteps;
  if (timesteps.length === 0) throw new ValidationError(FN, 'options', 'settings that leave at least one timestep to run', { numInferenceSteps: o.numInferenceSteps, strength: o.strength, denoisingStart: o.denoisingStart, denoisingEnd: o.denoisingEnd });

  // 2. Initial latents.
  let x: tf.Tensor4D;
  if (o.denoisingStart !== undefined) {
    x = o.initLatents!.clone(); // already noisy: no re-noising (diffusers add_noise = False)
  } else if (img2img) {
    const init = o.initLatents!;
    const noise = o.noise ?? (tf.tensor(rng.normal(init.size), init.shape, 'float32') as tf.Tensor4D);
    x = scheduler.addNoise(init, noise, timesteps[0]!) as tf.Tensor4D; // q(x_t0 | x_0) at the first kept timestep
    if (!o.noise) noise.dispose();
  } else if (o.latents) {
    checkTensor('options.latents', o.latents, 4);
    x = tf.mul(o.latents, scheduler.initNoiseSigma) as tf.Tensor4D;
  } else {
    const s = o.shape;
    if (!Array.isArray(s) || s.length !== 4 || s.some((d) => !Number.isInteger(d) || d <= 0)) throw new ValidationError(FN, 'options.shape', '[B, H, W, C] positive integers', s);
    x = tf.tidy(() => tf.mul(tf.tensor(rng.normal(s[0] * s[1] * s[2] * s[3]), s, 'float32'), scheduler.initNoiseSigma) as tf.Tensor4D);
  }

  // 3. Constant per-call tensors: text batch, IP tokens, LCM w embedding, control images.
  const keep = controlnetKeep(timesteps.length, o.controlGuidanceStart ?? 0, o.controlGuidanceEnd ?? 1);
  const owned: tf.Tensor[] = [];
  const keepT = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  try {
    const text = cfg ? keepT(tf.concat([o.negativeEncoderHiddenStates!, o.encoderHiddenStates], 0)) : o.encoderHiddenStates; // [2B, L, D]
    let context: EncoderHiddenStates = text;
    if (o.ipTokens) {
      if (!Array.isArray(o.ipTokens)) throw new ValidationError(FN, 'options.ipTokens', 'an array of [B, N, D] tensors (one per adapter)', o.ipTokens);
      const ip = cfg
        ? o.ipTokens.map((tok, k) => keepT(tf.tidy(() => tf.concat([o.negativeIpTokens?.[k] ?? tf.zerosLike(tok), tok], 0))))
        : o.ipTokens;
      context = { text, ipTokens: ip };
    }
    const timestepCond = condDim ? keepT(guidanceScaleEmbedding(new Array<number>(B).fill(g - 1), condDim)) : null;
    const images = o.controlImage ? (Array.isArray(o.controlImage) ? o.controlImage : [o.controlImage]) : [];
    const guessCfg = !!o.guessMode && cfg;
    const concatIn = o.concatInput ? (cfg ? keepT(tf.concat([o.concatInput, o.concatInput], 0)) : o.concatInput) : null; // [(2)B, H, W, C_extra]
    const controlInputs = images.map((img) => (cfg && !guessCfg ? keepT(tf.concat([img, img], 0)) : img));

    // 4. The loop.
    timesteps.forEach((t, i) => {
      const result = tf.tidy(() => {
        const scaled = scheduler.scaleModelInput(x, t) as tf.Tensor4D;
        const modelInput = cfg ? (tf.concat([scaled, scaled], 0) as tf.Tensor4D) : scaled; // [2B, H, W, C] = [uncond, cond]
        let residuals: ControlNetOutput | null = null;
        if (o.controlnet && keep[i]! > 0) {
          const netIn = guessCfg ? scaled : modelInput;
          const netText = guessCfg ? o.encoderHiddenStates : text;
          const scale = o.controlnetConditioningScale ?? 1;
          const keptScale = Array.isArray(scale) ? scale.map((s) => s * keep[i]!) : scale * keep[i]!;
          residuals = o.controlnet instanceof MultiControlNet
            ? o.controlnet.forward(netIn, t, netText, controlInputs, { conditioningScale: keptScale, guessMode: o.guessMode })
            : o.controlnet.forward(netIn, t, netText, controlInputs[0]!, { conditioningScale: keptScale as number, guessMode: o.guessMode });
          if (guessCfg) {
            // Guess mode with CFG: the ControlNet only conditions the conditional half (diffusers).
            const r = residuals;
            residuals = {
              downBlockResSamples: r.downBlockResSamples.map((d) => tf.concat([tf.zerosLike(d), d], 0) as tf.Tensor4D),
              midBlockResSample: tf.concat([tf.zerosLike(r.midBlockResSample), r.midBlockResSample], 0) as tf.Tensor4D,
            };
          }
        }
        const unetInput = concatIn ? (tf.concat([modelInput, concatIn], 3) as tf.Tensor4D) : modelInput; // [(2)B, H, W, C + C_extra]
        let eps = unet.forward(unetInput, t, context, {
          timestepCond,
          downBlockAdditionalResiduals: residuals?.downBlockResSamples ?? null,
          midBlockAdditionalResidual: residuals?.midBlockResSample ?? null,
        });
        if (cfg) {
          const [uncond, cond] = tf.split(eps, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
          eps = tf.add(uncond, tf.mul(tf.sub(cond, uncond), g)) as tf.Tensor4D; // Eq. 6: ε_u + g·(ε_c − ε_u)
        }
        const step = scheduler.step(eps, t, x, { rng, eta: o.eta });
        return { prev: step.prevSample as tf.Tensor4D, denoised: step.denoised as tf.Tensor4D };
      });
      x.dispose();
      x = result.prev;
      try {
        o.callback?.(i, t, x, result.denoised);
      } finally {
        result.denoised.dispose();
      }
    });
    return x;
  } catch (e) {
    x.dispose();
    throw e;
  } finally {
    tf.dispose(owned);
  }
}
