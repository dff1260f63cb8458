/**
 * Export the two halves of an {@link AutoencoderKL} to ONNX graphs with the module emitters, every weight under its
 * diffusers name (`decoder.up_blocks.0.resnets.1.conv2.weight`, `encoder.down_blocks.0.downsamplers.0.conv.weight`,
 * `decoder.mid_block.attentions.0.to_q.weight`, …), and run them with {@link OrtVaeDecoder} / {@link OrtVaeEncoder}.
 *
 * Decoder (`post_quant_conv` → `Decoder`): input `latent_sample` `[batch, latent_channels, height, width]` (unscaled
 * latents, NCHW); output `sample` `[batch, out_channels, height·f, width·f]`. Encoder (`Encoder` → `quant_conv`):
 * input `sample` `[batch, in_channels, height, width]`; output `moments` `[batch, 2·latent_channels, height/f,
 * width/f]` (mean, then logvar, as `DiagonalGaussianDistribution` takes them). Batch and size are symbolic.
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
import { emitDownsample, emitResnetBlock, emitSpatialSelfAttention, emitUpsample } from './onnx-emitters.js';
import { nhwcToOrt, openOrtSession, ortToNhwc, requireOrt, type OrtSessionPlacement } from './ort-io.js';
import { DiagonalGaussianDistribution, type AutoencoderKL } from './vae.js';

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
  h = emitVaeMidBlock(g, 'decoder.mid_block', d.mid_block, h);
  d.up_blocks.items.forEach((block, i) => {
    block.resnets.items.forEach((r, j) => (h = emitResnetBlock(g, `decoder.up_blocks.${i}.resnets.${j}`, r, h, null)));
    if (block.upsamplers) h = emitUpsample(g, `decoder.up_blocks.${i}.upsamplers.0`, block.upsamplers.at(0), h, null); // ×2
  });
  h = emitConv2d(g, 'decoder.conv_out', d.conv_out, emitSilu(g, emitGroupNorm(g, 'decoder.conv_norm_out', d.conv_norm_out, h)));
  g.output(h, 'sample', ['batch', c.out_channels, `height*${f}`, `width*${f}`]);
  return g;
}

/** The VAE's `UNetMidBlock2D`: ResNet, then (self-attention → ResNet)×n. */
function emitVaeMidBlock(g: OnnxGraph, name: string, mid: AutoencoderKL['encoder']['mid_block'], x: string): string {
  let h = emitResnetBlock(g, `${name}.resnets.0`, mid.resnets.at(0), x, null);
  for (let i = 1; i < mid.resnets.length; i++) {
    if (mid.attentions) h = emitSpatialSelfAttention(g, `${name}.attentions.${i - 1}`, mid.attentions.at(i - 1), h);
    h = emitResnetBlock(g, `${name}.resnets.${i}`, mid.resnets.at(i), h, null);
  }
  return h;
}

/**
 * Build the encoder graph of `vae` (its current weights are copied).
 * @returns the graph (input `sample`, output `moments`).
 * @example
 * ```ts
 * const graph = exportVaeEncoderOnnx(vae); // graph.spec('vae_encoder') → encodeOnnxModel / writeOnnxModel
 * ```
 */
export function exportVaeEncoderOnnx(vae: AutoencoderKL): OnnxGraph {
  if (typeof vae !== 'object' || vae === null || !('encoder' in vae) || !('config' in vae)) throw new ValidationError('exportVaeEncoderOnnx', 'vae', 'an AutoencoderKL', vae);
  const c = vae.config;
  const f = vae.downsampleFactor;
  const g = new OnnxGraph();
  const e = vae.encoder;
  let h = emitConv2d(g, 'encoder.conv_in', e.conv_in, g.input('sample', ['batch', c.in_channels, 'height', 'width']));
  e.down_blocks.items.forEach((block, i) => {
    block.resnets.items.forEach((r, j) => (h = emitResnetBlock(g, `encoder.down_blocks.${i}.resnets.${j}`, r, h, null)));
    if (block.downsamplers) h = emitDownsample(g, `encoder.down_blocks.${i}.downsamplers.0`, block.downsamplers.at(0), h); // ÷2
  });
  h = emitVaeMidBlock(g, 'encoder.mid_block', e.mid_block, h);
  h = emitConv2d(g, 'encoder.conv_out', e.conv_out, emitSilu(g, emitGroupNorm(g, 'encoder.conv_norm_out', e.conv_norm_out, h)));
  if (vae.quant_conv) h = emitConv2d(g, 'quant_conv', vae.quant_conv, h);
  g.output(h, 'moments', ['batch', 2 * c.latent_channels, `height/${f}`, `width/${f}`]);
  return g;
}

/**
 * The VAE encoder in an ONNX Runtime session, with `AutoencoderKL.encode`'s signature (NHWC in, the posterior out).
 * Weights are copied at construction; `dispose()` releases the session.
 * @example
 * ```ts
 * const encoder = new OrtVaeEncoder(vae);
 * const posterior = encoder.encode(images); // images [B, H, W, 3] in [−1, 1]; posterior.mean [B, H/8, W/8, 4]
 * posterior.dispose(); encoder.dispose();
 * ```
 */
export class OrtVaeEncoder {
  readonly inChannels: number;
  readonly latentChannels: number;
  readonly downsampleFactor: number;
  private session: OrtSyncSession | null;

  /**
   * @param vae - the tfjs autoencoder (not owned; the encoder's weights are copied now).
   * @throws `BackendUnavailableError` when onnxruntime-node cannot load.
   */
  constructor(vae: AutoencoderKL, options: OrtSessionPlacement = {}) {
    if (typeof options !== 'object' || options === null) throw new ValidationError('OrtVaeEncoder', 'options', 'an options object', options);
    requireOrt('OrtVaeEncoder');
    const graph = exportVaeEncoderOnnx(vae);
    this.inChannels = vae.config.in_channels;
    this.latentChannels = vae.config.latent_channels;
    this.downsampleFactor = vae.downsampleFactor;
    this.session = openOrtSession('OrtVaeEncoder', graph.spec('vae_encoder'), options);
  }

  /**
   * Images `[B, H, W, in_channels]` (NHWC, H and W divisible by the downsampling factor) → the posterior over
   * unscaled latents `[B, H/f, W/f, latent_channels]` (owned by the caller: `dispose()` it).
   */
  encode(images: tf.Tensor4D): DiagonalGaussianDistribution {
    const F = 'OrtVaeEncoder.encode';
    if (!this.session) throw new ValidationError(F, 'this', 'an OrtVaeEncoder that is not disposed', 'disposed');
    const f = this.downsampleFactor;
    if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== this.inChannels || images.shape[1] % f || images.shape[2] % f) {
      throw new ValidationError(F, 'images', `[B, H, W, ${this.inChannels}] (NHWC) with H, W divisible by ${f}`, images);
    }
    const [B, H, W] = images.shape;
    const dims = [B, 2 * this.latentChannels, H / f, W / f];
    const out = new Float32Array(dims.reduce((p, q) => p * q, 1));
    this.session.run({ sample: nhwcToOrt(images) }, { moments: { dims, data: out } });
    const moments = ortToNhwc(out, dims); // [B, H/f, W/f, 2·latent]
    const posterior = new DiagonalGaussianDistribution(moments);
    moments.dispose();
    return posterior;
  }

  /** Release the native session (idempotent). */
  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
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
