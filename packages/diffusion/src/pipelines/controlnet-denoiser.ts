/**
 * ControlNet (Zhang, Rao & Agrawala 2023) as a denoiser wrapper: at each call the ControlNet runs on the same noisy
 * latents, timestep and text tokens as the UNet plus its conditioning image, and its residuals reach the wrapped
 * denoiser as the named conditions `downBlockAdditionalResiduals` / `midBlockAdditionalResidual` (which
 * `unetDenoiser` passes to the UNet) — the UNet never knows a ControlNet exists. Stacked wrappers add their residuals.
 *
 * Place it inside guidance (`withGuidance(withControlNet(…))`) so the ControlNet sees both branches, as diffusers does;
 * with guess mode, give the conditioning image the unconditional variant `null` so only the conditional branch is
 * controlled. Place concatenated inputs inside it (`withControlNet(withConcatInput(…))`): the ControlNet takes the
 * latents alone.
 *
 * @example
 * ```ts
 * import { sample, unetDenoiser, withControlNet } from '@consistent-avatar/diffusion';
 * const denoiser = withControlNet(unetDenoiser(unet), { controlnet, conditioningScale: 0.8 });
 * const latents = sample({ denoiser, conditions: { text, controlImage: normalMap }, scheduler, numInferenceSteps: 20, shape: [1, 64, 64, 4] });
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import { ControlNetModel, type ControlNetOutput } from '../controlnet/controlnet-model.js';
import { MultiControlNet } from '../controlnet/multi-controlnet.js';
import { OrtControlNet } from '../controlnet/ort-controlnet.js';
import type { Denoiser, DenoiserConditions } from './denoiser.js';

/**
 * Options of {@link withControlNet}.
 * @example
 * ```ts
 * const options: ControlNetDenoiserOptions = { controlnet, image: 'normals', conditioningScale: 0.8, guessMode: false };
 * ```
 */
export interface ControlNetDenoiserOptions {
  /** One ControlNet (tfjs, or an {@link OrtControlNet} in ONNX Runtime), or several whose residuals add up. Not owned. */
  controlnet: ControlNetModel | OrtControlNet | MultiControlNet;
  /** Name of the condition holding the conditioning image(s) (one per net for a MultiControlNet). Default `'controlImage'`. */
  image?: string;
  /** Name of the condition holding the ControlNet's text tokens. Default `'text'`. */
  text?: string;
  /**
   * Residual scale: one number, one per net, or a function of the timestep (e.g. diffusers' `control_guidance_start` /
   * `control_guidance_end` schedule). A scale of 0 skips the ControlNet for that call. Default 1.
   */
  conditioningScale?: number | number[] | ((timestep: number | number[]) => number | number[]);
  /** Guess mode (log-spaced residual scales). Default false. */
  guessMode?: boolean;
}

const FN = 'withControlNet';

/** Residuals of two stacked ControlNets, skip by skip. */
function addResiduals(a: ControlNetOutput, b: ControlNetOutput): ControlNetOutput {
  return {
    downBlockResSamples: a.downBlockResSamples.map((r, k) => tf.add(r, b.downBlockResSamples[k]!) as tf.Tensor4D),
    midBlockResSample: tf.add(a.midBlockResSample, b.midBlockResSample) as tf.Tensor4D,
  };
}

/**
 * Wrap a denoiser with a ControlNet (or a MultiControlNet).
 *
 * @param denoiser - the UNet denoiser (reads `downBlockAdditionalResiduals` / `midBlockAdditionalResidual`).
 * @returns a denoiser that runs the ControlNet when `conditions[image]` is present and its scale is non-zero, and the
 *   wrapped one as it is otherwise.
 * @example
 * ```ts
 * import { controlnetKeep, withControlNet } from '@consistent-avatar/diffusion';
 * const withEnd = withControlNet(denoiser, { controlnet, conditioningScale: (t) => (t >= 500 ? 1 : 0) }); // first half only
 * ```
 */
export function withControlNet<C extends DenoiserConditions = DenoiserConditions>(denoiser: Denoiser<C>, options: ControlNetDenoiserOptions): Denoiser<C> {
  if (typeof denoiser !== 'function') throw new ValidationError(FN, 'denoiser', 'a denoiser function (x, t, conditions) => output', denoiser);
  if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', '{ controlnet, … }', options);
  const { controlnet } = options;
  const multi = controlnet instanceof MultiControlNet;
  if (!(controlnet instanceof ControlNetModel) && !(controlnet instanceof OrtControlNet) && !multi) {
    throw new ValidationError(FN, 'options.controlnet', 'a ControlNetModel, OrtControlNet or MultiControlNet', controlnet);
  }
  const imageName = options.image ?? 'controlImage';
  const textName = options.text ?? 'text';
  for (const [arg, v] of [['options.image', imageName], ['options.text', textName]] as const) {
    if (typeof v !== 'string' || v.length === 0) throw new ValidationError(FN, arg, 'a condition name (non-empty string)', v);
  }
  const scaleOption = options.conditioningScale ?? 1;
  if (typeof scaleOption !== 'function' && typeof scaleOption !== 'number' && !Array.isArray(scaleOption)) {
    throw new ValidationError(FN, 'options.conditioningScale', 'a number, one number per net, or a function of the timestep', scaleOption);
  }
  return (x, timestep, conditions) => {
    const call = `${FN} denoiser`;
    const image = conditions[imageName];
    if (image === null || image === undefined) return denoiser(x, timestep, conditions); // no control in this branch
    const scale = typeof scaleOption === 'function' ? scaleOption(timestep) : scaleOption;
    const scales = Array.isArray(scale) ? scale : [scale];
    if (scales.some((s) => typeof s !== 'number' || !Number.isFinite(s))) throw new ValidationError(call, 'options.conditioningScale', 'finite numbers', scale);
    if (scales.every((s) => s === 0)) return denoiser(x, timestep, conditions);
    const text = conditions[textName];
    if (!(text instanceof tf.Tensor)) throw new ValidationError(call, `conditions.${textName}`, 'the ControlNet text tokens [B, L, D]', text);
    return tf.tidy(() => {
      // 1. The ControlNet's residuals (it sees the whole conditions record too).
      let residuals: ControlNetOutput;
      if (multi) {
        if (!Array.isArray(image)) throw new ValidationError(call, `conditions.${imageName}`, `${controlnet.nets.length} conditioning images (one per ControlNet)`, image);
        residuals = controlnet.forward(x, timestep, text, image as tf.Tensor4D[], { conditioningScale: scale, guessMode: options.guessMode, conditions });
      } else {
        const single = Array.isArray(image) && image.length === 1 ? image[0] : image;
        if (!(single instanceof tf.Tensor) || Array.isArray(scale)) {
          throw new ValidationError(call, `conditions.${imageName} / options.conditioningScale`, 'one conditioning image and one scale for a single ControlNet', image);
        }
        residuals = (controlnet as ControlNetModel | OrtControlNet).forward(x, timestep, text, single as tf.Tensor4D, { conditioningScale: scale, guessMode: options.guessMode, conditions });
      }
      // 2. Add to the residuals of an outer ControlNet wrapper, if any, and hand them on as named conditions.
      const down = conditions.downBlockAdditionalResiduals;
      const mid = conditions.midBlockAdditionalResidual;
      if (down && mid) residuals = addResiduals({ downBlockResSamples: down, midBlockResSample: mid }, residuals);
      return denoiser(x, timestep, { ...conditions, downBlockAdditionalResiduals: residuals.downBlockResSamples, midBlockAdditionalResidual: residuals.midBlockResSample });
    });
  };
}
