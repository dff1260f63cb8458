/**
 * ONNX emitters for the UNet's building blocks, next to the modules they export: `ResnetBlock2D`, `Downsample2D`,
 * `Upsample2D`, `Attention` (through its processor: `AttnProcessor` or IP-Adapter's decoupled cross-attention),
 * `BasicTransformerBlock` / GEGLU `FeedForward`, `Transformer2DModel`. Each writes its nodes into core's
 * {@link OnnxGraph} with weights under the module's diffusers path (`<name>.conv1.weight`, PyTorch layouts), and
 * mirrors the tfjs `forward` step by step (same order of operations, so float32 results agree to summation order).
 *
 * Feature maps are NCHW inside exported graphs (ONNX's `Conv` layout), tokens `[B, L, C]`; every size that depends
 * on an input (batch, H, W, text length) stays symbolic (`Reshape` with 0 / −1, `Shape`), so one graph serves every
 * batch and latent size.
 *
 * @example
 * ```ts
 * import { OnnxGraph } from '@consistent-avatar/core';
 * import { emitResnetBlock, ResnetBlock2D } from '@consistent-avatar/diffusion';
 * const g = new OnnxGraph();
 * const x = g.input('x', ['batch', 32, 'height', 'width']);
 * const block = new ResnetBlock2D({ inChannels: 32, outChannels: 48, tembChannels: null, groups: 8, seed: 0 });
 * g.output(emitResnetBlock(g, 'resnet', block, x, null), 'y', ['batch', 48, 'height', 'width']);
 * ```
 */
import { emitConv2d, emitGelu, emitGroupNorm, emitLayerNorm, emitLinear, emitSilu, nn, ValidationError, type OnnxGraph } from '@consistent-avatar/core';
import type { Attention } from './attention.js';
import { IPAdapterAttnProcessor } from './attention-processors.js';
import type { TimestepEmbedding } from './embeddings.js';
import type { Downsample2D, Upsample2D } from './resampling.js';
import type { ResnetBlock2D } from './resnet.js';
import type { BasicTransformerBlock, FeedForward, GEGLU, Transformer2DModel } from './transformer-2d.js';
import type { UNetDownBlock, UNetMidBlock2DCrossAttn, UNetUpBlock } from './unet-blocks.js';

/**
 * The attention context of an exported graph: value names of the text tokens and, for IP-Adapter layers, of each
 * adapter's image tokens and of the per-adapter scale vector `[n]`.
 * @example
 * ```ts
 * const context: OnnxAttentionContext = { text: 'encoder_hidden_states', ipTokens: ['ip_tokens_0'], ipScale: 'ip_adapter_scale' };
 * ```
 */
export interface OnnxAttentionContext {
  /** `[B, L, cross_attention_dim]`. */
  text: string;
  /** One `[B, N_i, D_ip]` value per adapter (empty: no IP-Adapter inputs in the graph). */
  ipTokens: string[];
  /** `[n]` scales, one per adapter (null when `ipTokens` is empty). */
  ipScale: string | null;
}

/**
 * `ResnetBlock2D` (eval: dropout is the identity): conv1(SiLU(norm1 x)) (+ time_emb_proj(SiLU temb)), conv2(SiLU(norm2
 * h)), plus the (1×1-conv) shortcut, ÷ output_scale_factor.
 * @param x - `[B, in, H, W]`.
 * @param temb - `[B, tembChannels]` or null (VAE blocks).
 * @returns `[B, out, H, W]`.
 * @example
 * ```ts
 * const h = emitResnetBlock(g, 'down_blocks.0.resnets.0', block, x, temb);
 * ```
 */
export function emitResnetBlock(g: OnnxGraph, name: string, block: ResnetBlock2D, x: string, temb: string | null): string {
  let h = emitConv2d(g, `${name}.conv1`, block.conv1, emitSilu(g, emitGroupNorm(g, `${name}.norm1`, block.norm1, x)));
  if (block.time_emb_proj && temb) {
    const t = emitLinear(g, `${name}.time_emb_proj`, block.time_emb_proj, emitSilu(g, temb)); // [B, C]
    h = g.op('Add', [h, g.op('Unsqueeze', [t, g.int64([2, 3])], [], name)], [], name); // + [B, C, 1, 1]
  }
  h = emitConv2d(g, `${name}.conv2`, block.conv2, emitSilu(g, emitGroupNorm(g, `${name}.norm2`, block.norm2, h)));
  const shortcut = block.conv_shortcut ? emitConv2d(g, `${name}.conv_shortcut`, block.conv_shortcut, x) : x;
  const out = g.op('Add', [shortcut, h], [], name);
  return block.outputScaleFactor === 1 ? out : g.op('Div', [out, g.float([block.outputScaleFactor])], [], name);
}

/**
 * `Downsample2D`: the stride-2 conv; with padding 0 (the VAE encoder) the map is first padded by one pixel on the
 * bottom and right, as diffusers does.
 * @param x - `[B, C, H, W]`.
 * @returns `[B, out, ⌈H/2⌉, ⌈W/2⌉]`.
 * @example
 * ```ts
 * const h = emitDownsample(g, 'down_blocks.0.downsamplers.0', down, x);
 * ```
 */
export function emitDownsample(g: OnnxGraph, name: string, down: Downsample2D, x: string): string {
  const padded = down.padding === 0 ? g.op('Pad', [x, g.int64([0, 0, 0, 0, 0, 0, 1, 1])], [], name) : x; // [B, C, H+1, W+1]
  return emitConv2d(g, `${name}.conv`, down.conv, padded);
}

/**
 * `Upsample2D`: nearest-neighbour resize to `sizeOf`'s height and width (torch `interpolate(mode='nearest')`: src =
 * ⌊dst·in/out⌋, ONNX `asymmetric` + `floor`; ×2 when `sizeOf` is null), then the 3×3 conv.
 * @param x - `[B, C, H, W]`.
 * @param sizeOf - a value whose dims 2, 3 give the output size (the UNet passes the next skip), or null for ×2.
 * @returns `[B, out, H', W']`.
 * @example
 * ```ts
 * const h = emitUpsample(g, 'up_blocks.0.upsamplers.0', up, x, nextSkip);
 * ```
 */
export function emitUpsample(g: OnnxGraph, name: string, up: Upsample2D, x: string, sizeOf: string | null): string {
  const attributes = [
    { name: 'mode', string: 'nearest' },
    { name: 'coordinate_transformation_mode', string: 'asymmetric' },
    { name: 'nearest_mode', string: 'floor' },
  ];
  let resized: string;
  if (sizeOf) {
    const batchChannels = g.op('Slice', [g.op('Shape', [x], [], name), g.int64([0]), g.int64([2])], [], name); // [B, C]
    const spatial = g.op('Slice', [g.op('Shape', [sizeOf], [], name), g.int64([2]), g.int64([4])], [], name); // [H', W']
    const sizes = g.op('Concat', [batchChannels, spatial], [{ name: 'axis', int: 0 }], name);
    resized = g.op('Resize', [x, '', '', sizes], attributes, name); // [B, C, H', W']
  } else {
    resized = g.op('Resize', [x, '', g.float([1, 1, 2, 2], [4])], attributes, name); // [B, C, 2H, 2W]
  }
  return emitConv2d(g, `${name}.conv`, up.conv, resized);
}

/** softmax(q·kᵀ/√d)·v over heads split from contiguous channel slices (Attention.multiHeadAttention). */
function emitMultiHeadAttention(g: OnnxGraph, name: string, attn: Attention, query: string, key: string, value: string): string {
  const H = attn.heads;
  const D = attn.dimHead;
  const split = g.int64([0, 0, H, D]);
  const q = g.op('Mul', [query, g.float([attn.scale])], [], name); // the 1/√d scale folded into q, as in tfjs
  const qh = g.op('Transpose', [g.op('Reshape', [q, split], [], name)], [{ name: 'perm', ints: [0, 2, 1, 3] }], name); // [B, H, Lq, D]
  const kT = g.op('Transpose', [g.op('Reshape', [key, split], [], name)], [{ name: 'perm', ints: [0, 2, 3, 1] }], name); // [B, H, D, Lk]
  const vh = g.op('Transpose', [g.op('Reshape', [value, split], [], name)], [{ name: 'perm', ints: [0, 2, 1, 3] }], name); // [B, H, Lk, D]
  const probs = g.op('Softmax', [g.op('MatMul', [qh, kT], [], name)], [{ name: 'axis', int: -1 }], name); // [B, H, Lq, Lk]
  const out = g.op('Transpose', [g.op('MatMul', [probs, vh], [], name)], [{ name: 'perm', ints: [0, 2, 1, 3] }], name); // [B, Lq, H, D]
  return g.op('Reshape', [out, g.int64([0, 0, H * D])], [], name); // [B, Lq, H·D]
}

/**
 * One `Attention` layer on tokens through its processor: `AttnProcessor` (plain attention over `context`, or self-
 * attention when null) or `IPAdapterAttnProcessor` (text attention + Σᵢ scaleᵢ · attention over adapter i's image
 * tokens, the same query, before `to_out.0`). Other processors (your own) have no emitter and throw.
 * @param x - `[B, L, queryDim]`.
 * @param context - the attention context, or null for self-attention.
 * @returns `[B, L, queryDim]`.
 * @throws `ValidationError` for a processor without an emitter, a VAE-style layer (inner group norm,
 *   residual, rescale), or an IP-Adapter layer when the graph has no image-token inputs.
 * @example
 * ```ts
 * const h = emitAttention(g, 'mid_block.attentions.0.transformer_blocks.0.attn2', attn, tokens, context);
 * ```
 */
export function emitAttention(g: OnnxGraph, name: string, attn: Attention, x: string, context: OnnxAttentionContext | null): string {
  if (attn.group_norm || attn.residualConnection || attn.rescaleOutputFactor !== 1) {
    throw new ValidationError('emitAttention', 'attn', 'a token attention layer (no inner group norm, residual or rescale: see emitSpatialSelfAttention)', name);
  }
  return emitAttentionTokens(g, name, attn, x, context);
}

/** The processor's attention and `to_out.0` on tokens `[B, L, queryDim]` (no group norm / residual / rescale). */
function emitAttentionTokens(g: OnnxGraph, name: string, attn: Attention, x: string, context: OnnxAttentionContext | null): string {
  const FN = 'emitAttention';
  const processor = attn.processor;
  const ip = processor instanceof IPAdapterAttnProcessor ? processor : null;
  if (!ip && processor.kind !== 'AttnProcessor') throw new ValidationError(FN, `${name}.processor`, 'an AttnProcessor or IPAdapterAttnProcessor (the processors with an ONNX emitter)', processor.kind);
  const text = context ? context.text : x;
  const query = emitLinear(g, `${name}.to_q`, attn.to_q, x);
  let merged = emitMultiHeadAttention(g, name, attn, query, emitLinear(g, `${name}.to_k`, attn.to_k, text), emitLinear(g, `${name}.to_v`, attn.to_v, text));
  if (ip && context) {
    if (context.ipTokens.length !== ip.numTokens.length || !context.ipScale) {
      throw new ValidationError(FN, 'context.ipTokens', `${ip.numTokens.length} image-token input(s) for the IP-Adapter processor of ${name} (export with ipAdapter: true)`, context.ipTokens);
    }
    context.ipTokens.forEach((tokens, i) => {
      const k = emitLinear(g, `${name}.processor.to_k_ip.${i}`, ip.to_k_ip.at(i), tokens);
      const v = emitLinear(g, `${name}.processor.to_v_ip.${i}`, ip.to_v_ip.at(i), tokens);
      const scale = g.op('Slice', [context.ipScale!, g.int64([i]), g.int64([i + 1])], [], name); // [1]
      merged = g.op('Add', [merged, g.op('Mul', [emitMultiHeadAttention(g, name, attn, query, k, v), scale], [], name)], [], name);
    });
  }
  return emitLinear(g, `${name}.to_out.0`, attn.to_out.at(0) as nn.Linear, merged); // dropout: identity at inference
}

/**
 * A VAE-style self-attention layer on a feature map (withAttentionTail's frame): the inner group norm, tokens,
 * attention + `to_out.0`, back to the map, + the input when `residualConnection`, ÷ `rescaleOutputFactor`. Group norm
 * statistics do not depend on the token order, so it runs on the NCHW map before flattening.
 * @param x - `[B, C, H, W]`.
 * @returns `[B, C, H, W]`.
 * @example
 * ```ts
 * const h = emitSpatialSelfAttention(g, 'decoder.mid_block.attentions.0', attn, x);
 * ```
 */
export function emitSpatialSelfAttention(g: OnnxGraph, name: string, attn: Attention, x: string): string {
  const normed = attn.group_norm ? emitGroupNorm(g, `${name}.group_norm`, attn.group_norm, x) : x; // [B, C, H, W]
  const tokens = g.op('Transpose', [g.op('Reshape', [normed, g.int64([0, attn.queryDim, -1])], [], name)], [{ name: 'perm', ints: [0, 2, 1] }], name); // [B, H·W, C]
  const out = emitAttentionTokens(g, name, attn, tokens, null); // [B, H·W, C]
  let map = g.op('Reshape', [g.op('Transpose', [out], [{ name: 'perm', ints: [0, 2, 1] }], name), g.op('Shape', [x], [], name)], [], name); // [B, C, H, W]
  if (attn.residualConnection) map = g.op('Add', [map, x], [], name);
  return attn.rescaleOutputFactor === 1 ? map : g.op('Div', [map, g.float([attn.rescaleOutputFactor])], [], name);
}

/**
 * GEGLU `FeedForward`: proj (dim → 2·inner) split into value and gate, value · GELU(gate), then `net.2`.
 * @param x - `[B, L, dim]`.
 * @returns `[B, L, dim]`.
 * @example
 * ```ts
 * const h = emitFeedForward(g, 'transformer_blocks.0.ff', block.ff, tokens);
 * ```
 */
export function emitFeedForward(g: OnnxGraph, name: string, ff: FeedForward, x: string): string {
  const geglu = ff.net.at(0) as GEGLU;
  const both = emitLinear(g, `${name}.net.0.proj`, geglu.proj, x); // [B, L, 2·inner]
  const [value, gate] = g.opMulti('Split', [both, g.int64([geglu.dimOut, geglu.dimOut])], 2, [{ name: 'axis', int: -1 }], name);
  const h = g.op('Mul', [value!, emitGelu(g, gate!)], [], name); // [B, L, inner]
  return emitLinear(g, `${name}.net.2`, ff.net.at(2) as nn.Linear, h);
}

/**
 * `BasicTransformerBlock`: x += attn1(norm1 x); x += attn2(norm2 x, context); x += ff(norm3 x).
 * @param x - `[B, L, dim]`.
 * @returns `[B, L, dim]`.
 * @example
 * ```ts
 * const h = emitTransformerBlock(g, 'mid_block.attentions.0.transformer_blocks.0', block, tokens, context);
 * ```
 */
export function emitTransformerBlock(g: OnnxGraph, name: string, block: BasicTransformerBlock, x: string, context: OnnxAttentionContext): string {
  let h = g.op('Add', [x, emitAttention(g, `${name}.attn1`, block.attn1, emitLayerNorm(g, `${name}.norm1`, block.norm1, x), null)], [], name);
  h = g.op('Add', [h, emitAttention(g, `${name}.attn2`, block.attn2, emitLayerNorm(g, `${name}.norm2`, block.norm2, h), context)], [], name);
  return g.op('Add', [h, emitFeedForward(g, `${name}.ff`, block.ff, emitLayerNorm(g, `${name}.norm3`, block.norm3, h))], [], name);
}

/**
 * `Transformer2DModel`: GroupNorm → proj_in (1×1 conv, or linear on tokens) → blocks → proj_out, + the input.
 * @param x - `[B, C, H, W]`.
 * @returns `[B, C, H, W]`.
 * @example
 * ```ts
 * const h = emitTransformer2D(g, 'down_blocks.0.attentions.0', transformer, x, context);
 * ```
 */
export function emitTransformer2D(g: OnnxGraph, name: string, t: Transformer2DModel, x: string, context: OnnxAttentionContext): string {
  const normed = emitGroupNorm(g, `${name}.norm`, t.norm, x);
  const toTokens = (map: string, channels: number) =>
    g.op('Transpose', [g.op('Reshape', [map, g.int64([0, channels, -1])], [], name)], [{ name: 'perm', ints: [0, 2, 1] }], name); // [B, H·W, C]
  const linear = t.proj_in instanceof nn.Linear;
  const projected = linear ? null : emitConv2d(g, `${name}.proj_in`, t.proj_in as nn.Conv2d, normed); // [B, inner, H, W]
  let h = linear ? emitLinear(g, `${name}.proj_in`, t.proj_in as nn.Linear, toTokens(normed, t.inChannels)) : toTokens(projected!, t.innerDim); // [B, H·W, inner]
  t.transformer_blocks.items.forEach((block, i) => (h = emitTransformerBlock(g, `${name}.transformer_blocks.${i}`, block, h, context)));
  let out: string;
  if (linear) {
    const tokens = emitLinear(g, `${name}.proj_out`, t.proj_out as nn.Linear, h); // [B, H·W, C]
    out = g.op('Reshape', [g.op('Transpose', [tokens], [{ name: 'perm', ints: [0, 2, 1] }], name), g.op('Shape', [x], [], name)], [], name); // [B, C, H, W]
  } else {
    const map = g.op('Reshape', [g.op('Transpose', [h], [{ name: 'perm', ints: [0, 2, 1] }], name), g.op('Shape', [projected!], [], name)], [], name); // [B, inner, H, W]
    out = emitConv2d(g, `${name}.proj_out`, t.proj_out as nn.Conv2d, map);
  }
  return g.op('Add', [out, x], [], name);
}

/** Options of {@link emitTimestepEmbedding} (the config fields of the UNet / ControlNet). */
export interface OnnxTimestepOptions {
  /** Size of the sinusoidal features (`block_out_channels[0]`). */
  dim: number;
  flipSinToCos: boolean;
  freqShift: number;
}

/**
 * The time embedding from the timestep *input*: sinusoidal features (diffusers `get_timestep_embedding`, the float32
 * frequencies exactly as `timestepEmbedding` computes them), (+ `cond_proj(w)` for LCM), linear_1 → SiLU → linear_2.
 * @param timestep - `[B]` float timesteps.
 * @param cond - `[B, time_cond_proj_dim]` or null.
 * @returns `[B, time_embed_dim]`.
 * @example
 * ```ts
 * const emb = emitTimestepEmbedding(g, 'time_embedding', unet.time_embedding, timestep, null, { dim: 320, flipSinToCos: true, freqShift: 0 });
 * ```
 */
export function emitTimestepEmbedding(g: OnnxGraph, name: string, te: TimestepEmbedding, timestep: string, cond: string | null, o: OnnxTimestepOptions): string {
  const half = Math.floor(o.dim / 2);
  if (half - o.freqShift === 0) throw new ValidationError('emitTimestepEmbedding', 'o.freqShift', `a value ≠ dim/2 (${half})`, o.freqShift);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(Math.fround(Math.fround(Math.fround(-Math.log(10000)) * i) / (half - o.freqShift)));
  const args = g.op('Mul', [g.op('Unsqueeze', [timestep, g.int64([1])], [], 'time_proj'), g.float(freqs, [1, half])], [], 'time_proj'); // [B, half]
  const sin = g.op('Sin', [args], [], 'time_proj');
  const cos = g.op('Cos', [args], [], 'time_proj');
  let features = g.op('Concat', o.flipSinToCos ? [cos, sin] : [sin, cos], [{ name: 'axis', int: 1 }], 'time_proj'); // [B, 2·half]
  if (o.dim % 2 === 1) features = g.op('Pad', [features, g.int64([0, 0, 0, 1])], [], 'time_proj'); // [B, dim]
  if (cond && te.cond_proj) features = g.op('Add', [features, emitLinear(g, `${name}.cond_proj`, te.cond_proj, cond)], [], name);
  return emitLinear(g, `${name}.linear_2`, te.linear_2, emitSilu(g, emitLinear(g, `${name}.linear_1`, te.linear_1, features)));
}

/**
 * A down block (`CrossAttnDownBlock2D` / `DownBlock2D`): ResNet [→ Transformer2D] per layer, then the downsampler.
 * @param h - `[B, in, H, W]`.
 * @returns the hidden state and the skips in production order (as the tfjs block returns them).
 * @example
 * ```ts
 * const { hidden, skips } = emitDownBlock(g, 'down_blocks.0', block, h, emb, context);
 * ```
 */
export function emitDownBlock(g: OnnxGraph, name: string, block: UNetDownBlock, h: string, emb: string, context: OnnxAttentionContext): { hidden: string; skips: string[] } {
  const skips: string[] = [];
  block.resnets.items.forEach((resnet, j) => {
    h = emitResnetBlock(g, `${name}.resnets.${j}`, resnet, h, emb);
    if (block.attentions) h = emitTransformer2D(g, `${name}.attentions.${j}`, block.attentions.at(j), h, context);
    skips.push(h);
  });
  if (block.downsamplers) {
    h = emitDownsample(g, `${name}.downsamplers.0`, block.downsamplers.at(0), h);
    skips.push(h);
  }
  return { hidden: h, skips };
}

/**
 * `UNetMidBlock2DCrossAttn`: ResNet, then (Transformer2D → ResNet)×n.
 * @param h - `[B, C, H, W]`.
 * @returns `[B, C, H, W]`.
 * @example
 * ```ts
 * const h2 = emitMidBlock(g, 'mid_block', unet.mid_block, h, emb, context);
 * ```
 */
export function emitMidBlock(g: OnnxGraph, name: string, mid: UNetMidBlock2DCrossAttn, h: string, emb: string, context: OnnxAttentionContext): string {
  h = emitResnetBlock(g, `${name}.resnets.0`, mid.resnets.at(0), h, emb);
  mid.attentions.items.forEach((attention, i) => {
    h = emitTransformer2D(g, `${name}.attentions.${i}`, attention, h, context);
    h = emitResnetBlock(g, `${name}.resnets.${i + 1}`, mid.resnets.at(i + 1), h, emb);
  });
  return h;
}

/**
 * An up block (`CrossAttnUpBlock2D` / `UpBlock2D`): per layer, concat the next skip (last first) on channels, ResNet
 * [→ Transformer2D]; then the upsampler, resized to `sizeOf`'s spatial size.
 * @param skips - this block's skips in production order.
 * @param sizeOf - the value whose H, W the upsampler resizes to (the next skip), or null for ×2.
 * @returns `[B, out, H', W']`.
 * @example
 * ```ts
 * h = emitUpBlock(g, 'up_blocks.0', block, h, blockSkips, emb, context, nextSkip);
 * ```
 */
export function emitUpBlock(g: OnnxGraph, name: string, block: UNetUpBlock, h: string, skips: string[], emb: string, context: OnnxAttentionContext, sizeOf: string | null): string {
  block.resnets.items.forEach((resnet, j) => {
    const skip = skips[skips.length - 1 - j]!;
    h = emitResnetBlock(g, `${name}.resnets.${j}`, resnet, g.op('Concat', [h, skip], [{ name: 'axis', int: 1 }], name), emb); // [B, C + Cskip, H, W]
    if (block.attentions) h = emitTransformer2D(g, `${name}.attentions.${j}`, block.attentions.at(j), h, context);
  });
  return block.upsamplers ? emitUpsample(g, `${name}.upsamplers.0`, block.upsamplers.at(0), h, sizeOf) : h;
}
