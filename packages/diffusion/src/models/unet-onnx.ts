/**
 * Export a {@link UNet2DConditionModel} to an ONNX graph (opset 17), module by module through the emitters of
 * `onnx-emitters.ts`, with every weight under its diffusers state-dict name and PyTorch layout
 * (`down_blocks.0.resnets.0.conv1.weight` `[out, in, 3, 3]`), so the graph can be checked against a diffusers state
 * dict key by key and run by ONNX Runtime ({@link OrtUNet}).
 *
 * Graph inputs (diffusers' names and NCHW layout, as a `torch.onnx` export of the diffusers UNet has them):
 *   - `sample` `[batch, in_channels, height, width]`, `timestep` `[batch]` (float; the timestep embedding is computed
 *     in the graph, Eq. of diffusers' `get_timestep_embedding`), `encoder_hidden_states` `[batch, sequence, D]`;
 *   - `timestep_cond` `[batch, time_cond_proj_dim]` when the config has `time_cond_proj_dim` (LCM);
 *   - with `controlnet: true`: `down_block_additional_residual_<k>` (one per skip) and `mid_block_additional_residual`;
 *   - with `ipAdapter: true`: `ip_tokens_<i>` `[batch, N_i, D_ip]` per adapter and `ip_adapter_scale` `[n]`.
 * Output: `out_sample` `[batch, out_channels, height, width]`. Batch, height, width and sequence are symbolic: one
 * graph serves every size the UNet accepts (height / width not divisible by 2^upsamplers included: each upsampler
 * resizes to its skip's size, read from the graph with `Shape`).
 *
 * @example
 * ```ts
 * import { writeOnnxModel } from '@consistent-avatar/core';
 * import { exportUNetOnnx, UNet2DConditionModel } from '@consistent-avatar/diffusion';
 * const unet = UNet2DConditionModel.fromPretrained('sd15/unet');
 * const { graph } = exportUNetOnnx(unet, { controlnet: true });
 * writeOnnxModel('unet.onnx', graph.spec('unet'), { externalData: true }); // unet.onnx + unet.onnx.data
 * ```
 */
import { OnnxGraph, emitConv2d, emitGroupNorm, emitSilu, ValidationError } from '@consistent-avatar/core';
import { IPAdapterAttnProcessor } from './attention-processors.js';
import { emitDownBlock, emitMidBlock, emitTimestepEmbedding, emitUpBlock, type OnnxAttentionContext } from './onnx-emitters.js';
import type { UNet2DConditionModel } from './unet-2d-condition.js';

/** Options of {@link exportUNetOnnx}. */
export interface UNetOnnxOptions {
  /** Add the ControlNet residual inputs. Default false. */
  controlnet?: boolean;
  /**
   * Add the IP-Adapter inputs (`ip_tokens_<i>`, `ip_adapter_scale`). Default: true when the UNet has
   * IP-Adapter processors. Every IP-Adapter processor must serve the same number of adapters.
   */
  ipAdapter?: boolean;
}

/** What {@link exportUNetOnnx} returns: the graph and the names of its inputs. */
export interface UNetOnnxExport {
  graph: OnnxGraph;
  /** Input names in the order they were declared. */
  inputs: string[];
  /** Number of ControlNet down residuals (0 without `controlnet`). */
  numDownResiduals: number;
  /** Number of IP-Adapter branches (0 without `ipAdapter`). */
  numIpAdapters: number;
  /** Channels of each skip (= of each ControlNet down residual), in production order. */
  skipChannels: number[];
  /** Each adapter's default scale (the processors' `scale`), fed when a call gives none. */
  ipAdapterScale: number[];
}

/** Channels of every skip the down path produces, in production order (= ControlNet residual channels). */
function skipChannels(unet: UNet2DConditionModel): number[] {
  const channels = [unet.config.block_out_channels[0]!];
  unet.down_blocks.items.forEach((block, i) => {
    const c = unet.config.block_out_channels[i]!;
    for (let j = 0; j < block.resnets.length + (block.downsamplers ? 1 : 0); j++) channels.push(c);
  });
  return channels;
}

/** The IP-Adapter processors' adapter count and scales (they must agree), or null without IP-Adapter processors. */
function ipAdapterLayout(unet: UNet2DConditionModel): { count: number; scale: number[]; dim: number } | null {
  const processors = Object.values(unet.attentionProcessors()).filter((p): p is IPAdapterAttnProcessor => p instanceof IPAdapterAttnProcessor);
  if (processors.length === 0) return null;
  const first = processors[0]!;
  for (const p of processors) {
    if (p.numTokens.length !== first.numTokens.length || p.crossAttentionDim !== first.crossAttentionDim || p.scale.some((s, i) => s !== first.scale[i])) {
      throw new ValidationError('exportUNetOnnx', 'unet', 'IP-Adapter processors that agree on adapter count, token size and scales (one ip_adapter_scale input serves them all)', p.scale);
    }
  }
  return { count: first.numTokens.length, scale: [...first.scale], dim: first.crossAttentionDim };
}

/**
 * Build the ONNX graph of `unet` (its current weights are copied into the graph).
 * @param unet - the UNet; its attention processors must be `AttnProcessor` or `IPAdapterAttnProcessor`.
 * @returns the graph and its input names; `graph.spec()` serialises with `encodeOnnxModel` / `writeOnnxModel`.
 * @throws `ValidationError` for a processor without an emitter, IP inputs asked for a UNet without IP-Adapter
 *   processors, or processors that disagree on their adapters.
 * @example
 * ```ts
 * const { graph, inputs } = exportUNetOnnx(unet); // inputs: ['sample', 'timestep', 'encoder_hidden_states']
 * ```
 */
export function exportUNetOnnx(unet: UNet2DConditionModel, options: UNetOnnxOptions = {}): UNetOnnxExport {
  const FN = 'exportUNetOnnx';
  if (typeof unet !== 'object' || unet === null || !('down_blocks' in unet) || !('config' in unet)) throw new ValidationError(FN, 'unet', 'a UNet2DConditionModel', unet);
  if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', 'an options object', options);
  const c = unet.config;
  const ip = ipAdapterLayout(unet);
  const withIp = options.ipAdapter ?? ip !== null;
  if (withIp && !ip) throw new ValidationError(FN, 'options.ipAdapter', 'false: the UNet has no IP-Adapter processors (attachIPAdapter first)', options.ipAdapter);
  if (!withIp && ip) throw new ValidationError(FN, 'options.ipAdapter', 'true: the UNet has IP-Adapter processors', options.ipAdapter);
  const g = new OnnxGraph();
  const inputs: string[] = [];
  const input = (name: string, dims: Array<number | string>) => (inputs.push(name), g.input(name, dims));

  const sample = input('sample', ['batch', c.in_channels, 'height', 'width']);
  const timestep = input('timestep', ['batch']);
  const text = input('encoder_hidden_states', ['batch', 'sequence', c.cross_attention_dim]);
  const timestepCond = c.time_cond_proj_dim ? input('timestep_cond', ['batch', c.time_cond_proj_dim]) : null;
  const skipCh = skipChannels(unet);
  const downResiduals = options.controlnet ? skipCh.map((ch, k) => input(`down_block_additional_residual_${k}`, ['batch', ch, `residual_${k}_height`, `residual_${k}_width`])) : [];
  const midResidual = options.controlnet ? input('mid_block_additional_residual', ['batch', c.block_out_channels.at(-1)!, 'mid_height', 'mid_width']) : null;
  const ipTokens = withIp ? Array.from({ length: ip!.count }, (_, i) => input(`ip_tokens_${i}`, ['batch', `ip_tokens_${i}_length`, ip!.dim])) : [];
  const ipScale = withIp ? input('ip_adapter_scale', [ip!.count]) : null;
  const context: OnnxAttentionContext = { text, ipTokens, ipScale };

  // 1. Time embedding from the timestep input.
  const emb = emitTimestepEmbedding(g, 'time_embedding', unet.time_embedding, timestep, timestepCond, { dim: c.block_out_channels[0]!, flipSinToCos: c.flip_sin_to_cos, freqShift: c.freq_shift });
  // 2. Pre-process.
  let h = c.center_input_sample ? g.op('Sub', [g.op('Mul', [sample, g.float([2])]), g.float([1])]) : sample;
  h = emitConv2d(g, 'conv_in', unet.conv_in, h);
  // 3. Down path, collecting skips.
  let skips = [h];
  unet.down_blocks.items.forEach((block, i) => {
    const out = emitDownBlock(g, `down_blocks.${i}`, block, h, emb, context);
    h = out.hidden;
    skips.push(...out.skips);
  });
  // ControlNet: add residual k to skip k.
  if (downResiduals.length) skips = skips.map((s, k) => g.op('Add', [s, downResiduals[k]!], [], 'controlnet'));
  // 4. Mid block (+ ControlNet mid residual).
  h = emitMidBlock(g, 'mid_block', unet.mid_block, h, emb, context);
  if (midResidual) h = g.op('Add', [h, midResidual], [], 'controlnet');
  // 5. Up path: each block takes layers+1 skips from the end, last first; each upsampler resizes to the next skip.
  unet.up_blocks.items.forEach((block, i) => {
    const k = block.resnets.length;
    const blockSkips = skips.slice(skips.length - k);
    skips = skips.slice(0, skips.length - k);
    h = emitUpBlock(g, `up_blocks.${i}`, block, h, blockSkips, emb, context, skips[skips.length - 1] ?? null);
  });
  // 6. Post-process.
  h = emitConv2d(g, 'conv_out', unet.conv_out, emitSilu(g, emitGroupNorm(g, 'conv_norm_out', unet.conv_norm_out, h)));
  g.output(h, 'out_sample', ['batch', c.out_channels, 'height', 'width']);
  return { graph: g, inputs, skipChannels: skipCh, numDownResiduals: downResiduals.length, numIpAdapters: ipTokens.length, ipAdapterScale: ip ? ip.scale : [] };
}
