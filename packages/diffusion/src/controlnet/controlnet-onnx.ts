/**
 * Export a {@link ControlNetModel} to an ONNX graph (opset 17) with the UNet's block emitters, every weight under its
 * diffusers name (`controlnet_down_blocks.3.weight`, `controlnet_cond_embedding.blocks.1.weight`, …).
 *
 * Graph inputs (NCHW, diffusers' names): `sample` `[batch, in_channels, height, width]`, `timestep` `[batch]`,
 * `encoder_hidden_states` `[batch, sequence, D]`, `controlnet_cond` `[batch, conditioning_channels, height·f,
 * width·f]`, and `conditioning_scale` `[numSkips + 1]` — one factor per residual (the mid block's last), so a plain
 * scale and guess mode's log-spaced scales are the same graph. Outputs: `down_block_res_sample_<k>` and
 * `mid_block_res_sample`. Batch and sizes are symbolic.
 *
 * @example
 * ```ts
 * import { encodeOnnxModel } from '@consistent-avatar/core';
 * import { exportControlNetOnnx } from '@consistent-avatar/diffusion';
 * const bytes = encodeOnnxModel(exportControlNetOnnx(controlnet).graph.spec('controlnet'));
 * ```
 */
import { OnnxGraph, emitConv2d, emitSilu, ValidationError } from '@consistent-avatar/core';
import { emitDownBlock, emitMidBlock, emitTimestepEmbedding, type OnnxAttentionContext } from '../models/onnx-emitters.js';
import { IPAdapterAttnProcessor } from '../models/attention-processors.js';
import type { ControlNetModel } from './controlnet-model.js';

/** What {@link exportControlNetOnnx} returns. */
export interface ControlNetOnnxExport {
  graph: OnnxGraph;
  /** Channels of each down residual, in order. */
  residualChannels: number[];
}

/**
 * Build the ONNX graph of `controlnet` (its current weights are copied into the graph).
 * @throws `ValidationError` for a ControlNet with IP-Adapter processors or processors without an emitter.
 * @example
 * ```ts
 * const { graph, residualChannels } = exportControlNetOnnx(controlnet); // residualChannels.length = unet.numSkips
 * ```
 */
export function exportControlNetOnnx(controlnet: ControlNetModel): ControlNetOnnxExport {
  const FN = 'exportControlNetOnnx';
  if (typeof controlnet !== 'object' || controlnet === null || !('controlnet_down_blocks' in controlnet)) throw new ValidationError(FN, 'controlnet', 'a ControlNetModel', controlnet);
  if (Object.values(controlnet.attentionProcessors()).some((p) => p instanceof IPAdapterAttnProcessor)) {
    throw new ValidationError(FN, 'controlnet', 'a ControlNet without IP-Adapter processors (image tokens go to the UNet only)', 'IPAdapterAttnProcessor');
  }
  const c = controlnet.config;
  const f = controlnet.downsamplingFactor;
  const g = new OnnxGraph();
  const sample = g.input('sample', ['batch', c.in_channels, 'height', 'width']);
  const timestep = g.input('timestep', ['batch']);
  const text = g.input('encoder_hidden_states', ['batch', 'sequence', c.cross_attention_dim]);
  const cond = g.input('controlnet_cond', ['batch', c.conditioning_channels, `height*${f}`, `width*${f}`]);
  const numResiduals = controlnet.numSkips;
  const scales = g.input('conditioning_scale', [numResiduals + 1]);
  const context: OnnxAttentionContext = { text, ipTokens: [], ipScale: null };

  // 1. Time embedding (the UNet's).
  const emb = emitTimestepEmbedding(g, 'time_embedding', controlnet.time_embedding, timestep, null, { dim: c.block_out_channels[0]!, flipSinToCos: c.flip_sin_to_cos, freqShift: c.freq_shift });
  // 2. conv_in(latents) + conditioning embedding (conv_in, SiLU, [conv, SiLU]×k, conv_out) of the (BGR-flipped) image.
  const image = c.controlnet_conditioning_channel_order === 'bgr' ? g.op('Slice', [cond, g.int64([-1]), g.int64([-(2 ** 62)]), g.int64([1]), g.int64([-1])], [], 'bgr') : cond; // channels reversed
  const e = controlnet.controlnet_cond_embedding;
  let hc = emitSilu(g, emitConv2d(g, 'controlnet_cond_embedding.conv_in', e.conv_in, image));
  e.blocks.items.forEach((conv, i) => (hc = emitSilu(g, emitConv2d(g, `controlnet_cond_embedding.blocks.${i}`, conv, hc))));
  hc = emitConv2d(g, 'controlnet_cond_embedding.conv_out', e.conv_out, hc); // [B, C0, height, width]
  let h = g.op('Add', [emitConv2d(g, 'conv_in', controlnet.conv_in, sample), hc], [], 'conv_in');
  // 3. The encoder copy, collecting skips as the UNet does.
  const skips = [h];
  controlnet.down_blocks.items.forEach((block, i) => {
    const out = emitDownBlock(g, `down_blocks.${i}`, block, h, emb, context);
    h = out.hidden;
    skips.push(...out.skips);
  });
  h = emitMidBlock(g, 'mid_block', controlnet.mid_block, h, emb, context);
  // 4. Zero convolutions, 5. per-residual scales (plain or guess mode), 6. global pooling (shuffle ControlNets).
  const finish = (residual: string, k: number, name: string, channels: number[]) => {
    let r = g.op('Mul', [residual, g.op('Slice', [scales, g.int64([k]), g.int64([k + 1])], [], 'scale')], [], 'scale'); // × scale_k
    if (c.global_pool_conditions) r = g.op('Expand', [g.op('ReduceMean', [r], [{ name: 'axes', ints: [2, 3] }, { name: 'keepdims', int: 1 }], 'pool'), g.op('Shape', [r])], [], 'pool');
    g.output(r, name, ['batch', channels[0]!, `${name}_height`, `${name}_width`]);
  };
  const residualChannels = controlnet.controlnet_down_blocks.items.map((conv) => conv.outChannels);
  skips.forEach((s, k) => finish(emitConv2d(g, `controlnet_down_blocks.${k}`, controlnet.controlnet_down_blocks.at(k), s), k, `down_block_res_sample_${k}`, [residualChannels[k]!]));
  finish(emitConv2d(g, 'controlnet_mid_block', controlnet.controlnet_mid_block, h), numResiduals, 'mid_block_res_sample', [c.block_out_channels.at(-1)!]);
  return { graph: g, residualChannels };
}
