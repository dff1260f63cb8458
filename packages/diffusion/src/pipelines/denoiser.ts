/**
 * The denoiser function every sampler runs (k-diffusion's `model(x, sigma, **extra_args)`): `(x_t, t, conditions) →
 * model output` (ε, x̂0 or v, whatever the network was trained to predict), with the conditions a named record
 * ({@link DenoiserConditions}). A UNet becomes a denoiser with {@link unetDenoiser}; everything that conditions it
 * from outside — classifier-free guidance (`withGuidance`), ControlNet (`withControlNet`), concatenated image inputs
 * ({@link withConcatInput}) — is a wrapper `Denoiser → Denoiser`, so a new condition composes instead of forking the
 * sampler.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { unetDenoiser, withConcatInput, type Denoiser } from '@consistent-avatar/diffusion';
 * const denoiser: Denoiser = withConcatInput(unetDenoiser(unet)); // unet.config.in_channels = latent + mask channels
 * const eps = denoiser(latents, 500, { text, concatInput: mask }); // [B, H, W, C]
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import type { Conditions } from '../models/conditions.js';
import { OrtUNet } from '../models/ort-unet.js';
import { UNet2DConditionModel } from '../models/unet-2d-condition.js';

/**
 * The named per-call conditions of a denoiser: the names the built-in denoiser and wrappers read, plus any of your
 * own (they reach the UNet's attention processors unchanged). Tensors are batched like the latents (axis 0 = B).
 * @example
 * ```ts
 * const conditions: DenoiserConditions = { text: promptTokens, ipTokens: [imageTokens], gaze: gazeTokens };
 * ```
 */
export interface DenoiserConditions extends Conditions {
  /** Text tokens `[B, L, cross_attention_dim]` (the UNet's `encoder_hidden_states`). */
  text?: tf.Tensor;
  /** IP-Adapter tokens, one `[B, N, D]` per adapter branch. */
  ipTokens?: tf.Tensor[];
  /** IP-Adapter scale for this call (one number or one per branch; diffusers `cross_attention_kwargs['scale']`). */
  ipAdapterScale?: number | number[];
  /** `[B, time_cond_proj_dim]`: LCM's guidance embedding (diffusers `timestep_cond`). */
  timestepCond?: tf.Tensor | null;
  /** Image condition concatenated to the UNet input along channels (read by {@link withConcatInput}). */
  concatInput?: tf.Tensor4D;
  /** ControlNet conditioning image(s) (read by `withControlNet`); null = no control in this branch. */
  controlImage?: tf.Tensor4D | tf.Tensor4D[] | null;
  /** ControlNet residuals, one per UNet skip (NHWC; written by `withControlNet`). */
  downBlockAdditionalResiduals?: tf.Tensor4D[];
  /** ControlNet mid-block residual (NHWC; written by `withControlNet`). */
  midBlockAdditionalResidual?: tf.Tensor4D;
}

/**
 * A denoiser: model output for noisy samples `x` `[B, H, W, C]` at `timestep` (one number — what the sampler passes —
 * or one per sample, for a training loss through the same function) under `conditions`. It must not dispose its
 * inputs; the returned tensor belongs to the caller. `C` types the conditions record it reads.
 * @example
 * ```ts
 * const denoiser: Denoiser<{ tokens: tf.Tensor }> = (x, t, { tokens }) => unet.forward(x, t, tokens);
 * ```
 */
export type Denoiser<C extends Conditions = DenoiserConditions> = (x: tf.Tensor4D, timestep: number | number[], conditions: C) => tf.Tensor4D;

/**
 * Options of {@link unetDenoiser}.
 * @example
 * ```ts
 * const options: UNetDenoiserOptions = { text: 'prompt', ipTokens: ['pose', 'gaze'] };
 * ```
 */
export interface UNetDenoiserOptions {
  /** Name of the condition holding the text tokens. Default `'text'`. */
  text?: string;
  /**
   * Names of the conditions whose tokens feed the IP-Adapter branches, in branch order (e.g. `['pose', 'gaze']`).
   * Default: the array under `ipTokens`, if any.
   */
  ipTokens?: string[];
}

function checkName(fn: string, arg: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError(fn, arg, 'a condition name (non-empty string)', name);
}

/**
 * A UNet as a denoiser: text tokens from `conditions.text`, IP-Adapter tokens from `conditions.ipTokens` (or the
 * conditions named in `options.ipTokens`), `timestepCond`, the ControlNet residuals and `ipAdapterScale` from their
 * names, and the whole record as the UNet's `conditions`, so every attention processor sees every condition.
 *
 * @param unet - the UNet (not owned): the tfjs model, or an {@link OrtUNet} running its exported graph in ONNX Runtime.
 * @returns a {@link Denoiser} calling `unet.forward` once per call.
 * @example
 * ```ts
 * import { unetDenoiser } from '@consistent-avatar/diffusion';
 * const denoiser = unetDenoiser(unet, { ipTokens: ['pose', 'gaze'] }); // two IP-Adapter branches
 * const eps = denoiser(latents, 999, { text, pose: poseTokens, gaze: gazeTokens }); // [B, H, W, out_channels]
 * ```
 */
export function unetDenoiser(unet: UNet2DConditionModel | OrtUNet, options: UNetDenoiserOptions = {}): Denoiser<DenoiserConditions> {
  const FN = 'unetDenoiser';
  if (!(unet instanceof UNet2DConditionModel) && !(unet instanceof OrtUNet)) throw new ValidationError(FN, 'unet', 'a UNet2DConditionModel or an OrtUNet', unet);
  if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', 'an options object', options);
  const textName = options.text ?? 'text';
  checkName(FN, 'options.text', textName);
  const ipNames = options.ipTokens;
  if (ipNames !== undefined) {
    if (!Array.isArray(ipNames) || ipNames.length === 0) throw new ValidationError(FN, 'options.ipTokens', 'a non-empty array of condition names', ipNames);
    ipNames.forEach((n, i) => checkName(FN, `options.ipTokens[${i}]`, n));
  }
  return (x, timestep, conditions) => {
    const call = `${FN} denoiser`;
    if (typeof conditions !== 'object' || conditions === null) throw new ValidationError(call, 'conditions', 'a record of named conditions', conditions);
    const text = conditions[textName];
    if (!(text instanceof tf.Tensor)) throw new ValidationError(call, `conditions.${textName}`, 'the text tokens [B, L, cross_attention_dim]', text);
    const ip = ipNames ? ipNames.map((n) => conditions[n]) : conditions.ipTokens;
    if (ip !== undefined && (!Array.isArray(ip) || !ip.every((t) => t instanceof tf.Tensor))) {
      throw new ValidationError(call, ipNames ? `conditions.${ipNames.join(', ')}` : 'conditions.ipTokens', 'one [B, N, D] token tensor per IP-Adapter branch', ip);
    }
    return unet.forward(x, timestep, ip ? { text, ipTokens: ip as tf.Tensor[] } : text, {
      timestepCond: conditions.timestepCond ?? null,
      downBlockAdditionalResiduals: conditions.downBlockAdditionalResiduals ?? null,
      midBlockAdditionalResidual: conditions.midBlockAdditionalResidual ?? null,
      crossAttentionKwargs: conditions.ipAdapterScale === undefined ? undefined : { scale: conditions.ipAdapterScale },
      conditions,
    });
  };
}

/**
 * Options of {@link withConcatInput}.
 * @example
 * ```ts
 * const options: ConcatInputOptions = { condition: 'maskedImage' }; // reads conditions.maskedImage [B, H, W, C_extra]
 * ```
 */
export interface ConcatInputOptions {
  /** Name of the condition holding the image to concatenate. Default `'concatInput'`. */
  condition?: string;
}

/**
 * Feed an image condition by concatenation (diffusers' inpainting / InstructPix2Pix UNets): the wrapped denoiser
 * gets `concat[x, conditions.concatInput]` along channels, `[B, H, W, C + C_extra]`, at every call. The condition is
 * not scaled by the scheduler; it travels with the other conditions (so guidance batches it like them).
 *
 * @param denoiser - the model that takes the wider input.
 * @example
 * ```ts
 * import { sample, unetDenoiser, withConcatInput } from '@consistent-avatar/diffusion';
 * const latents = sample({ denoiser: withConcatInput(unetDenoiser(inpaintUnet)), conditions: { text, concatInput: maskAndImage },
 *   scheduler, numInferenceSteps: 20, shape: [1, 64, 64, 4] });
 * ```
 */
export function withConcatInput<C extends Conditions = DenoiserConditions>(denoiser: Denoiser<C>, options: ConcatInputOptions = {}): Denoiser<C> {
  const FN = 'withConcatInput';
  if (typeof denoiser !== 'function') throw new ValidationError(FN, 'denoiser', 'a denoiser function (x, t, conditions) => output', denoiser);
  const name = options.condition ?? 'concatInput';
  checkName(FN, 'options.condition', name);
  return (x, timestep, conditions) => {
    const extra = conditions[name];
    if (!(extra instanceof tf.Tensor) || extra.rank !== 4 || extra.shape[0] !== x.shape[0] || extra.shape[1] !== x.shape[1] || extra.shape[2] !== x.shape[2]) {
      throw new ValidationError(`${FN} denoiser`, `conditions.${name}`, `[${x.shape[0]}, ${x.shape[1]}, ${x.shape[2]}, C_extra] (the latents' batch and size)`, extra);
    }
    return tf.tidy(() => denoiser(tf.concat([x, extra], 3) as tf.Tensor4D, timestep, conditions)); // [B, H, W, C + C_extra]
  };
}
