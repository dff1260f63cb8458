/**
 * Named per-call conditions (diffusers' `cross_attention_kwargs`, opened up): one record that the caller passes to
 * the UNet (`forward(…, { conditions })`), a ControlNet (`forward(…, { conditions })`) or a sampler denoiser, and that
 * every block hands, untouched, to every attention processor. A processor reads the names it knows and ignores the
 * rest, so a new condition needs a processor (or a denoiser wrapper) and a name — never an edit of the UNet.
 *
 * The record is an open interface: a package or a script that adds a condition can type it by declaration merging.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import type { Conditions } from '@consistent-avatar/diffusion';
 * declare module '@consistent-avatar/diffusion' {
 *   interface Conditions { audio?: tf.Tensor } // [B, frames, D] audio-like tokens read by your processor
 * }
 * const conditions: Conditions = { audio: tf.zeros([2, 4, 16]) };
 * // unet.forward(latents, t, text, { conditions }) → every processor sees options.conditions.audio
 * ```
 */
export interface Conditions {
  [name: string]: unknown;
}
