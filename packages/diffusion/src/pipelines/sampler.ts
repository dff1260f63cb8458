/**
 * The sampler: one plain function (k-diffusion style) that runs the denoising loop of diffusers'
 * `StableDiffusion{,ControlNet,Img2Img}Pipeline` / `LatentConsistencyModelPipeline` / SDXL refiner on latents, for
 * any {@link Scheduler} and any {@link Denoiser} `(x, t, conditions) → model output`: img2img `strength`, the SDXL
 * ensemble-of-experts hand-off (`denoisingEnd` on the base, `denoisingStart` on the refiner — the handed latent is
 * not re-noised), a callback that sees every step. What conditions the model is the denoiser's business, built from
 * wrappers: `withGuidance` (classifier-free guidance over every named condition), `withControlNet`,
 * `withConcatInput` around `unetDenoiser(unet)` or a function of your own. Encoding / decoding images is the caller's
 * business (VAE or {@link IdentityAutoencoder}).
 *
 * The UNet form (`sample({ unet, encoderHiddenStates, negativeEncoderHiddenStates, guidanceScale, ipTokens,
 * controlnet, concatInput, … })`) is kept: it builds exactly that wrapper stack (see {@link UNetSampleOptions}).
 *
 * Per step i at timestep t:
 *   1. x_in = scheduler.scaleModelInput(x, t);
 *   2. output = denoiser(x_in, t, conditions) — with guidance ε_u + g·(ε_c − ε_u) (Ho & Salimans 2022, Eq. 6);
 *   3. (x, denoised) = scheduler.step(output, t, x).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@consistent-avatar/core';
 * import { DDIMScheduler, UNet2DConditionModel, sample, unetDenoiser, withGuidance } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * const text = tf.randomNormal([1, 7, 32], 0, 1, 'float32', 1), empty = tf.zeros([1, 7, 32]);
 * const denoiser = withGuidance(unetDenoiser(unet), { guidanceScale: 7.5, unconditional: { text: empty } });
 * const latents = sample({ denoiser, conditions: { text }, scheduler: new DDIMScheduler(), numInferenceSteps: 10, shape: [1, 16, 16, 4],
 *   rng: new Rng(0), callback: (step, t) => console.log(step, t) });   // [1, 16, 16, 4]
 * // The same run in the UNet form:
 * sample({ unet, encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 7.5, scheduler: new DDIMScheduler(), numInferenceSteps: 10, shape: [1, 16, 16, 4] });
 * ```
 */
import { checkFinite, Rng, tf, ValidationError } from '@consistent-avatar/core';
import { ControlNetModel } from '../controlnet/controlnet-model.js';
import { MultiControlNet } from '../controlnet/multi-controlnet.js';
import type { Conditions } from '../models/conditions.js';
import type { UNet2DConditionModel } from '../models/unet-2d-condition.js';
import { splitForDenoisingEnd, splitForDenoisingStart, timestepsForStrength } from '../schedulers/handoff.js';
import type { Scheduler } from '../schedulers/types.js';
import { withGuidance } from './classifier-free-guidance.js';
import { withControlNet } from './controlnet-denoiser.js';
import { unetDenoiser, withConcatInput, type Denoiser, type DenoiserConditions } from './denoiser.js';
import { guidanceScaleEmbedding } from './guidance-embedding.js';

/**
 * Called after every step with the new latents and the step's clean estimate (x̂0, or LCM's `denoised`). The tensors
 * are owned by the sampler and freed after the callback returns: clone what you keep.
 */
export type SamplerCallback = (step: number, timestep: number, latents: tf.Tensor4D, denoised: tf.Tensor4D) => void;

/**
 * Options of {@link sample} shared by both forms: the schedule, the starting latents, the hook. Tensors are read,
 * never disposed.
 * @example
 * ```ts
 * const loop: SampleLoopOptions = { scheduler: new DDIMScheduler(), numInferenceSteps: 20, shape: [1, 64, 64, 4], rng: new Rng(0) };
 * ```
 */
export interface SampleLoopOptions {
  scheduler: Scheduler;
  /** Steps of the full schedule (before `strength` / hand-off cuts). */
  numInferenceSteps: number;
  /** Initial noise x_T `[B, H, W, C]` (text-to-image). Scaled by `scheduler.initNoiseSigma`. */
  latents?: tf.Tensor4D;
  /** Shape of x_T to draw from `rng` when `latents` is not given. */
  shape?: [number, number, number, number];
  /** Seeded generator for x_T, img2img noise and stochastic scheduler steps. Default `new Rng(0)`. */
  rng?: Rng;
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

/**
 * The denoiser form: any {@link Denoiser} and the named conditions it is called with at every step.
 * @example
 * ```ts
 * const options: DenoiserSampleOptions = { denoiser: unetDenoiser(unet), conditions: { text }, scheduler, numInferenceSteps: 20, shape: [1, 64, 64, 4] };
 * ```
 */
export interface DenoiserSampleOptions<C extends Conditions = DenoiserConditions> extends SampleLoopOptions {
  /** `(x, t, conditions) → model output` (what the scheduler was configured to expect: ε, x̂0 or v). */
  denoiser: Denoiser<C>;
  /** Passed to every denoiser call (default `{}`). */
  conditions?: C;
  unet?: never;
}

/**
 * The UNet form (the options of the original sampler): a UNet with text tokens and optional CFG, IP-Adapter tokens,
 * ControlNet(s), a concatenated input and LCM's guidance embedding. It runs
 * `withGuidance(withControlNet(withConcatInput(unetDenoiser(unet))))` (each layer only when used) with the conditions
 * `{ text, ipTokens, concatInput, controlImage, timestepCond }`; the unconditional variants are
 * `negativeEncoderHiddenStates`, `negativeIpTokens` (default zeros), the same concatenated input and control image
 * (`null` in guess mode).
 * @example
 * ```ts
 * const options: UNetSampleOptions = { unet, encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 7.5,
 *   scheduler: new DDIMScheduler(), numInferenceSteps: 25, shape: [1, 64, 64, 4] };
 * ```
 */
export interface UNetSampleOptions extends SampleLoopOptions {
  unet: UNet2DConditionModel;
  /** Text tokens `[B, L, cross_attention_dim]`. */
  encoderHiddenStates: tf.Tensor;
  /** Unconditional tokens `[B, L', D]` (the empty-prompt embedding); required when CFG is active. */
  negativeEncoderHiddenStates?: tf.Tensor;
  /**
   * g: CFG is active when g > 1 and the UNet has no `time_cond_proj_dim`. For an LCM student (with
   * `time_cond_proj_dim`) there is no CFG; w = g − 1 goes in through the guidance embedding. Default 1.
   */
  guidanceScale?: number;
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
  denoiser?: never;
}

/**
 * Options of {@link sample}: the denoiser form or the UNet form.
 * @example
 * ```ts
 * const options: SampleOptions = { denoiser: unetDenoiser(unet), conditions: { text }, scheduler, numInferenceSteps: 20, shape: [1, 64, 64, 4] };
 * ```
 */
export type SampleOptions<C extends Conditions = DenoiserConditions> = DenoiserSampleOptions<C> | UNetSampleOptions;

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

/** What the UNet form checks before anything runs (the original sampler's validation, in its order). */
function checkUNetOptions(o: UNetSampleOptions, cfg: boolean): void {
  checkTensor('options.encoderHiddenStates', o.encoderHiddenStates, 3);
  if (cfg) checkTensor('options.negativeEncoderHiddenStates (required for guidanceScale > 1)', o.negativeEncoderHiddenStates, 3);
}

/** The UNet form after the loop options: tensors, ControlNet, concatenated input. */
function checkUNetInputs(o: UNetSampleOptions, cfg: boolean, B: number, spatial: readonly number[] | undefined): void {
  if (o.concatInput !== undefined) checkTensor('options.concatInput', o.concatInput, 4);
  if (o.controlnet && !(o.controlnet instanceof ControlNetModel || o.controlnet instanceof MultiControlNet)) {
    throw new ValidationError(FN, 'options.controlnet', 'a ControlNetModel or MultiControlNet', o.controlnet);
  }
  if (o.controlnet && !o.controlImage) throw new ValidationError(FN, 'options.controlImage', 'the conditioning image(s) for the ControlNet', o.controlImage);
  if (o.encoderHiddenStates.shape[0] !== B) throw new ValidationError(FN, 'options.encoderHiddenStates', `[${B}, L, D] (batch ${B})`, o.encoderHiddenStates);
  if (cfg && o.negativeEncoderHiddenStates!.shape.join() !== o.encoderHiddenStates.shape.join()) {
    throw new ValidationError(FN, 'options.negativeEncoderHiddenStates', `the prompt tokens' shape [${o.encoderHiddenStates.shape.join(', ')}] (they are batched together)`, o.negativeEncoderHiddenStates);
  }
  if (o.concatInput && (o.concatInput.shape[0] !== B || o.concatInput.shape[1] !== spatial?.[1] || o.concatInput.shape[2] !== spatial?.[2])) {
    throw new ValidationError(FN, 'options.concatInput', `[${B}, ${spatial?.[1]}, ${spatial?.[2]}, C_extra] (the latents' batch and size)`, o.concatInput);
  }
  if (o.concatInput && o.concatInput.shape[3]! + spatial![3]! !== o.unet.config.in_channels) {
    throw new ValidationError(FN, 'options.concatInput', `${o.unet.config.in_channels - spatial![3]!} channels (unet in_channels ${o.unet.config.in_channels} − latent channels ${spatial![3]})`, o.concatInput);
  }
  if (o.ipTokens && !Array.isArray(o.ipTokens)) throw new ValidationError(FN, 'options.ipTokens', 'an array of [B, N, D] tensors (one per adapter)', o.ipTokens);
  // The non-finite policy for what the UNet form's wrappers read at every step: checked once here, not per step.
  const controlImages = Array.isArray(o.controlImage) ? o.controlImage : [o.controlImage];
  const perStep: [string, unknown][] = [['options.encoderHiddenStates', o.encoderHiddenStates], ['options.negativeEncoderHiddenStates', o.negativeEncoderHiddenStates], ['options.concatInput', o.concatInput]];
  controlImages.forEach((image, i) => perStep.push([Array.isArray(o.controlImage) ? `options.controlImage[${i}]` : 'options.controlImage', image]));
  for (const [argument, value] of perStep) if (value instanceof tf.Tensor) checkFinite(FN, argument, value);
}

/**
 * The UNet form as a denoiser and its conditions: `unetDenoiser`, then `withConcatInput`, `withControlNet` (scale ×
 * diffusers' keep schedule, by timestep) and `withGuidance` as the options ask. `owned` are tensors made here.
 */
function unetFormDenoiser(o: UNetSampleOptions, cfg: boolean, g: number, B: number, timesteps: number[]): { denoiser: Denoiser; conditions: DenoiserConditions; owned: tf.Tensor[] } {
  const owned: tf.Tensor[] = [];
  const conditions: DenoiserConditions = { text: o.encoderHiddenStates };
  const unconditional: DenoiserConditions = { text: o.negativeEncoderHiddenStates };
  let denoiser: Denoiser = unetDenoiser(o.unet);
  if (o.ipTokens) {
    conditions.ipTokens = o.ipTokens;
    // The unconditional branch's tokens (zeros unless given), only made when guidance runs.
    if (cfg) unconditional.ipTokens = o.ipTokens.map((tok, k) => o.negativeIpTokens?.[k] ?? (owned.push(tf.zerosLike(tok)), owned[owned.length - 1]!));
  }
  const condDim = o.unet.config.time_cond_proj_dim;
  if (condDim) {
    // LCM student: w = g − 1 through the guidance embedding (no CFG batch).
    conditions.timestepCond = guidanceScaleEmbedding(new Array<number>(B).fill(g - 1), condDim);
    owned.push(conditions.timestepCond);
  }
  if (o.concatInput) {
    denoiser = withConcatInput(denoiser);
    conditions.concatInput = unconditional.concatInput = o.concatInput;
  }
  if (o.controlnet) {
    // diffusers' controlnet_keep per step, looked up by timestep (the schedule's timesteps are distinct).
    const keep = controlnetKeep(timesteps.length, o.controlGuidanceStart ?? 0, o.controlGuidanceEnd ?? 1);
    const keepAt = new Map(timesteps.map((t, i) => [t, keep[i]!]));
    const scale = o.controlnetConditioningScale ?? 1;
    denoiser = withControlNet(denoiser, {
      controlnet: o.controlnet,
      conditioningScale: (t) => {
        const k = keepAt.get(t as number) ?? 0; // the sampler passes one timestep per call
        return Array.isArray(scale) ? scale.map((s) => s * k) : scale * k;
      },
      guessMode: o.guessMode,
    });
    conditions.controlImage = o.controlImage;
    // Guess mode with CFG: the ControlNet conditions only the conditional branch (diffusers).
    unconditional.controlImage = o.guessMode ? null : o.controlImage;
  }
  if (cfg) denoiser = withGuidance(denoiser, { guidanceScale: g, unconditional });
  return { denoiser, conditions, owned };
}

/**
 * Run the denoising loop.
 * @example
 * ```ts
 * // A denoiser of your own (here a UNet with two IP-Adapter branches) with guidance on every condition:
 * const denoiser = withGuidance(unetDenoiser(unet, { ipTokens: ['pose', 'gaze'] }), { guidanceScale: 3, unconditional: { text, pose: nullPose, gaze: nullGaze } });
 * const x0 = sample({ denoiser, conditions: { text, pose, gaze }, scheduler: new DDIMScheduler(), numInferenceSteps: 20, shape: [2, 32, 32, 4], rng: new Rng(1) });
 * // LCM student, 4 steps, guidance 8.5 through the w embedding:
 * const lcm = sample({ unet: student, scheduler: new LCMScheduler(), numInferenceSteps: 4, shape: [1, 64, 64, 4], rng: new Rng(1),
 *   encoderHiddenStates: text, guidanceScale: 8.5 });
 * // img2img at strength 0.3, then the refiner half of a hand-off:
 * const edited = sample({ unet, scheduler, numInferenceSteps: 50, encoderHiddenStates: text, initLatents: clean, strength: 0.3 });
 * const refined = sample({ unet: refiner, scheduler, numInferenceSteps: 40, encoderHiddenStates: text, initLatents: handed, denoisingStart: 0.8 });
 * ```
 * @returns the final latents `[B, H, W, C]` (for LCM's last step this is its `denoised`; with `denoisingEnd` the
 *   noisy latent to hand to the refiner).
 */
export function sample<C extends Conditions = DenoiserConditions>(options: SampleOptions<C>): tf.Tensor4D {
  const o = options;
  if (typeof o !== 'object' || o === null) throw new ValidationError(FN, 'options', 'an options object', o);
  const unetForm = o.unet !== undefined;
  if (unetForm && o.denoiser !== undefined) throw new ValidationError(FN, 'options', 'either a denoiser or a unet, not both', Object.keys(o));
  const { scheduler } = o;
  if (unetForm) {
    const unet = o.unet;
    if (typeof unet !== 'object' || unet === null || typeof (unet as { forward?: unknown }).forward !== 'function') throw new ValidationError(FN, 'options.unet', 'a UNet2DConditionModel', unet);
  } else if (typeof o.denoiser !== 'function') {
    throw new ValidationError(FN, 'options.denoiser', 'a denoiser function (x, t, conditions) => model output (or pass options.unet)', (o as { denoiser?: unknown }).denoiser);
  }
  if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.step !== 'function') throw new ValidationError(FN, 'options.scheduler', 'a Scheduler', scheduler);
  if (!Number.isInteger(o.numInferenceSteps) || o.numInferenceSteps < 1) throw new ValidationError(FN, 'options.numInferenceSteps', 'a positive integer', o.numInferenceSteps);
  let g = 1;
  let cfg = false;
  if (unetForm) {
    g = o.guidanceScale ?? 1;
    if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) throw new ValidationError(FN, 'options.guidanceScale', 'a finite number ≥ 0', g);
    cfg = g > 1 && !o.unet.config.time_cond_proj_dim;
    checkUNetOptions(o, cfg);
  } else if (o.conditions !== undefined && (typeof o.conditions !== 'object' || o.conditions === null || Array.isArray(o.conditions))) {
    throw new ValidationError(FN, 'options.conditions', 'a record of named conditions { name: value }', o.conditions);
  }
  const rng = o.rng ?? new Rng(0);
  if (!(rng instanceof Rng)) throw new ValidationError(FN, 'options.rng', 'an Rng', rng);
  if (o.denoisingStart !== undefined) checkFraction('options.denoisingStart', o.denoisingStart, 0, 1);
  if (o.denoisingEnd !== undefined) checkFraction('options.denoisingEnd', o.denoisingEnd, 0, 1);
  if (o.denoisingStart !== undefined && o.denoisingEnd !== undefined && o.denoisingStart >= o.denoisingEnd) {
    throw new ValidationError(FN, 'options.denoisingStart', `a fraction below denoisingEnd (${o.denoisingEnd})`, o.denoisingStart);
  }
  if (o.denoisingStart !== undefined && !o.initLatents) throw new ValidationError(FN, 'options.initLatents', 'the handed-over latent (required with denoisingStart)', o.initLatents);
  if (o.initLatents) checkTensor('options.initLatents', o.initLatents, 4);
  // The non-finite policy, once per call before any work (each step then checks x again).
  for (const [argument, value] of [['options.initLatents', o.initLatents], ['options.latents', o.latents], ['options.noise', o.noise]] as const) {
    if (value instanceof tf.Tensor) checkFinite(FN, argument, value);
  }
  const B = o.initLatents?.shape[0] ?? o.latents?.shape[0] ?? o.shape?.[0];
  if (B === undefined) throw new ValidationError(FN, 'options.latents', 'latents, shape, or initLatents', undefined);
  const spatial = o.initLatents?.shape ?? o.latents?.shape ?? o.shape;
  if (unetForm) checkUNetInputs(o, cfg, B, spatial);

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

  // 3. The denoiser and its conditions (the UNet form builds its wrapper stack).
  let owned: tf.Tensor[] = [];
  try {
    let denoiser: Denoiser<C>;
    let conditions: C;
    if (unetForm) {
      const built = unetFormDenoiser(o, cfg, g, B, timesteps);
      owned = built.owned;
      denoiser = built.denoiser as unknown as Denoiser<C>;
      conditions = built.conditions as C;
    } else {
      denoiser = o.denoiser;
      conditions = o.conditions ?? ({} as C);
    }

    // 4. The loop.
    timesteps.forEach((t, i) => {
      const result = tf.tidy(() => {
        const scaled = scheduler.scaleModelInput(x, t) as tf.Tensor4D;
        const output = denoiser(scaled, t, conditions);
        if (!(output instanceof tf.Tensor) || output.rank !== 4 || output.shape[0] !== x.shape[0] || output.shape[1] !== x.shape[1] || output.shape[2] !== x.shape[2]) {
          throw new ValidationError(FN, 'options.denoiser', `a denoiser returning [${x.shape.slice(0, 3).join(', ')}, C] (the latents' batch and size)`, output);
        }
        const step = scheduler.step(output, t, x, { rng, eta: o.eta });
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
