/**
 * Export the decoding half of an {@link AutoencoderKL} (`post_quant_conv` → `Decoder`) to an ONNX graph with the
 * module emitters, every weight under its diffusers name (`decoder.up_blocks.0.resnets.1.conv2.weight`,
 * `decoder.mid_block.attentions.0.to_q.weight`, …), and run it with {@link OrtVaeDecoder}.
 *
 * Graph input `latent_sample` `[batch, latent_channels, height, width]` (unscaled latents, NCHW); output `sample`
 * `[batch, out_channels, height·f, width·f]`. Batch and size are symbolic.
 *
 * @example
 * ```ts
 * import { OrtVaeDecoder } from '@consistent-avatar/diffusion';
 * const decoder = new OrtVaeDecoder(vae, { intraOpThreads: 2 });
 * const images = decoder.decode(tf.div(latents, vae.scalingFactor) as tf.Tensor4D); // [B, H·8, W·8, 3]
 * decoder.dispose();
 * ```
 */
import { OnnxGraph, emitConv2d, emitGroupNorm, emitSilu, tf, ValidationError, type OrtSyncSession } from '@consistent-avatar/core';
import { emitResnetBlock, emitSpatialSelfAttention, emitUpsample } from './onnx-emitters.js';
import { nhwcToOrt, openOrtSession, ortToNhwc, requireOrt, type OrtSessionPlacement } from './ort-io.js';
import type { AutoencoderKL } from './vae.js';

/**
 * Build the decoder graph of `vae` (its current weights are copied).
 * @returns the graph (input `latent_sample`, output `sample`).
 * @example
 * ```ts
 * const graph = exportVaeDecoderOnnx(vae); // graph.spec('vae_decoder') → encodeOnnxModel / writeOnnxModel
 * ```
 */
export function exportVaeDecoderOnnx(vae: AutoencoderKL): OnnxGraph {
  if (typeof vae !== 'object' || vae === null || !('decoder' in vae) || !('config' in vae)) throw new ValidationError('exportVaeDecoderOnnx', 'vae', 'an AutoencoderKL', vae);
  const c = vae.config;
  const f = vae.downsampleFactor;
  const g = new OnnxGraph();
  let h = g.input('latent_sample', ['batch', c.latent_channels, 'height', 'width']);
  if (vae.post_quant_conv) h = emitConv2d(g, 'post_quant_conv', vae.post_quant_conv, h);
  const d = vae.decoder;
  h = emitConv2d(g, 'decoder.conv_in', d.conv_in, h);
  // Mid block: ResNet, then (self-attention → ResNet)×n.
  const mid = d.mid_block;
  h = emitResnetBlock(g, 'decoder.mid_block.resnets.0', mid.resnets.at(0), h, null);
  for (let i = 1; i < mid.resnets.length; i++) {
    if (mid.attentions) h = emitSpatialSelfAttention(g, `decoder.mid_block.attentions.${i - 1}`, mid.attentions.at(i - 1), h);
    h = emitResnetBlock(g, `decoder.mid_block.resnets.${i}`, mid.resnets.at(i), h, null);
  }
  d.up_blocks.items.forEach((block, i) => {
    block.resnets.items.forEach((r, j) => (h = emitResnetBlock(g, `decoder.up_blocks.${i}.resnets.${j}`, r, h, null)));
    if (block.upsamplers) h = emitUpsample(g, `decoder.up_blocks.${i}.upsamplers.0`, block.upsamplers.at(0), h, null); // ×2
  });
  h = emitConv2d(g, 'decoder.conv_out', d.conv_out, emitSilu(g, emitGroupNorm(g, 'decoder.conv_norm_out', d.conv_norm_out, h)));
  g.output(h, 'sample', ['batch', c.out_channels, `height*${f}`, `width*${f}`]);
  return g;
}

/**
 * The VAE decoder in an ONNX Runtime session, with `AutoencoderKL.decode`'s signature (NHWC). Weights are copied at
 * construction; `dispose()` releases the session.
 * @example
 * ```ts
 * const decoder = new OrtVaeDecoder(vae);
 * decoder.decode(latents).shape; // [B, h·8, w·8, 3]
 * ```
 */
export class OrtVaeDecoder {
  readonly latentChannels: number;
  readonly outChannels: number;
  readonly downsampleFactor: number;
  private session: OrtSyncSession | null;

  /**
   * @param vae - the tfjs autoencoder (not owned; the decoder's weights are copied now).
   * @throws `BackendUnavailableError` when onnxruntime-node cannot load.
   */
  constructor(vae: AutoencoderKL, options: OrtSessionPlacement = {}) {
    if (typeof options !== 'object' || options === null) throw new ValidationError('OrtVaeDecoder', 'options', 'an options object', options);
    requireOrt('OrtVaeDecoder');
    const graph = exportVaeDecoderOnnx(vae);
    this.latentChannels = vae.config.latent_channels;
    this.outChannels = vae.config.out_channels;
    this.downsampleFactor = vae.downsampleFactor;
    this.session = openOrtSession('OrtVaeDecoder', graph.spec('vae_decoder'), options);
  }

  /**
   * Unscaled latents `[B, h, w, latent_channels]` → images `[B, h·f, w·f, out_channels]` (NHWC, owned by the caller).
   */
  decode(latents: tf.Tensor4D): tf.Tensor4D {
    const F = 'OrtVaeDecoder.decode';
    if (!this.session) throw new ValidationError(F, 'this', 'an OrtVaeDecoder that is not disposed', 'disposed');
    if (!(latents instanceof tf.Tensor) || latents.rank !== 4 || latents.shape[3] !== this.latentChannels) {
      throw new ValidationError(F, 'latents', `[B, h, w, ${this.latentChannels}] (NHWC)`, latents);
    }
    const [B, h, w] = latents.shape;
    const f = this.downsampleFactor;
    const dims = [B, this.outChannels, h * f, w * f];
    const out = new Float32Array(dims.reduce((p, q) => p * q, 1));
    this.session.run({ latent_sample: nhwcToOrt(latents) }, { sample: { dims, data: out } });
    return ortToNhwc(out, dims);
  }

  /** Release the native session (idempotent). */
  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}
