/**
 * Attaching an IP-Adapter to a UNet the way diffusers' `load_ip_adapter` does: an
 * {@link IPAdapterAttnProcessor} on every cross-attention (`attn2`) layer (self-attention keeps the plain
 * processor), and an {@link ImageProjection} as the UNet's `encoder_hid_proj.image_projection_layers.0`. Weights load
 * from a diffusers-named state dict or from an original IP-Adapter checkpoint (`image_proj.*`,
 * `ip_adapter.<id>.to_k_ip.weight`, ids enumerating all attention processors in diffusers' order, so cross-attention
 * layers get the odd ids).
 *
 * For ConsistentAvatar the "image tokens" are the condition tokens f_c ∈ R^{3×256} (stage 2) or f_d ∈ R^{4×256}
 * (stage 3): pass them directly as `{ text, ipTokens: [tokens] }` (to_k_ip: 256 → hidden, `crossAttentionDim: 256`),
 * or project a feature vector through the image projection with `imageEmbeds`.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { UNet2DConditionModel, attachIPAdapter } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] });
 * attachIPAdapter(unet, { numTokens: 4, imageEmbedDim: 24, scale: 0.7, seed: 1 });
 * const eps = unet.forward(tf.zeros([2, 16, 16, 4]) as tf.Tensor4D, 10, tf.zeros([2, 7, 32]), { imageEmbeds: [tf.zeros([2, 24])] });
 * ```
 */
import { loadSafetensorsAsTensors, nn, tf, ValidationError } from '@consistent-avatar/core';
import { AttnProcessor, IPAdapterAttnProcessor } from './attention-processors.js';
import { ImageProjection, MultiIPAdapterImageProjection } from './image-projection.js';
import { modelRng, type ModelInitOptions } from './init.js';
import type { UNet2DConditionModel } from './unet-2d-condition.js';

/** Options of {@link attachIPAdapter}. */
export interface AttachIPAdapterOptions extends ModelInitOptions {
  /** Image tokens (default 4). */
  numTokens?: number;
  /** Scale λ of the image branch (default 1). */
  scale?: number;
  /** Size of the image tokens fed to to_k_ip / to_v_ip (default the UNet's cross_attention_dim). */
  crossAttentionDim?: number;
  /** Size of the image embedding projected by `encoder_hid_proj`; null / omitted = no projection (pass tokens). */
  imageEmbedDim?: number | null;
  /**
   * Initialise to_k_ip / to_v_ip from the layer's to_k / to_v (IP-Adapter's training recipe; needs equal
   * cross-attention sizes). Default true when sizes match, else random.
   */
  initFromTextProjections?: boolean;
}

/** True for cross-attention layer paths (`…attn2`). */
function isCrossAttention(path: string): boolean {
  return path.endsWith('.attn2');
}

/**
 * Install IP-Adapter processors on every `attn2` layer (and the image projection when `imageEmbedDim` is given).
 * @returns the processors by name.
 * @example
 * ```ts
 * attachIPAdapter(unet, { numTokens: 3, crossAttentionDim: 256, scale: 0.7 }); // f_c tokens [B, 3, 256] go in { text, ipTokens }
 * ```
 */
export function attachIPAdapter(unet: UNet2DConditionModel, options: AttachIPAdapterOptions = {}): Record<string, IPAdapterAttnProcessor> {
  const FN = 'attachIPAdapter';
  if (!(unet instanceof nn.Module) || typeof (unet as UNet2DConditionModel).attentionLayers !== 'function') throw new ValidationError(FN, 'unet', 'a UNet2DConditionModel', unet);
  const numTokens = options.numTokens ?? 4;
  if (!Number.isInteger(numTokens) || numTokens <= 0) throw new ValidationError(FN, 'options.numTokens', 'a positive integer', numTokens);
  const crossDim = options.crossAttentionDim ?? unet.config.cross_attention_dim;
  const rng = modelRng(options, FN);
  const copy = options.initFromTextProjections ?? crossDim === unet.config.cross_attention_dim;
  const installed: Record<string, IPAdapterAttnProcessor> = {};
  for (const [p, attn] of unet.attentionLayers()) {
    if (!isCrossAttention(p)) continue;
    const proc = new IPAdapterAttnProcessor({ hiddenSize: attn.innerDim, crossAttentionDim: crossDim, numTokens: [numTokens], scale: [options.scale ?? 1], rng });
    if (copy) {
      if (crossDim !== attn.crossAttentionDim) throw new ValidationError(FN, 'options.initFromTextProjections', 'false when crossAttentionDim differs from the UNet\'s', true);
      proc.to_k_ip.at(0).weight.assign(attn.to_k.weight);
      proc.to_v_ip.at(0).weight.assign(attn.to_v.weight);
    }
    installed[`${p}.processor`] = proc;
  }
  unet.setAttentionProcessors(installed);
  if (options.imageEmbedDim) {
    unet.setEncoderHidProj(new MultiIPAdapterImageProjection([new ImageProjection({ imageEmbedDim: options.imageEmbedDim, crossAttentionDim: crossDim, numImageTextEmbeds: numTokens, rng })]));
  }
  return installed;
}

/**
 * Set λ on every IP-Adapter processor of `unet` (diffusers `set_ip_adapter_scale`).
 * @example
 * ```ts
 * setIPAdapterScale(unet, 0.5);
 * ```
 */
export function setIPAdapterScale(unet: UNet2DConditionModel, scale: number | number[]): void {
  for (const proc of Object.values(unet.attentionProcessors())) if (proc instanceof IPAdapterAttnProcessor) proc.setScale(scale);
}

/**
 * Rename an original IP-Adapter checkpoint (`image_proj.proj/norm`, `ip_adapter.<id>.to_{k,v}_ip.weight`) to the
 * diffusers keys of `unet`: ids index `unet.attentionProcessors()` (down, up, mid order). Keys already in diffusers
 * form pass through. The returned record shares the input tensors.
 * @example
 * ```ts
 * const renamed = convertIPAdapterStateDict(unet, loadSafetensorsAsTensors('ip-adapter_sd15.safetensors'));
 * // 'ip_adapter.1.to_k_ip.weight' → 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_ip.0.weight'
 * ```
 */
export function convertIPAdapterStateDict(unet: UNet2DConditionModel, dict: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const names = Object.keys(unet.attentionProcessors());
  const out: Record<string, tf.Tensor> = {};
  for (const [key, value] of Object.entries(dict)) {
    const m = /^ip_adapter\.(\d+)\.(to_k_ip|to_v_ip)\.weight$/.exec(key);
    if (m) {
      const name = names[Number(m[1])];
      if (!name || !name.endsWith('attn2.processor')) {
        throw new ValidationError('convertIPAdapterStateDict', 'dict', `ip_adapter ids naming cross-attention processors (odd ids < ${names.length})`, key);
      }
      out[`${name}.${m[2]}.0.weight`] = value;
    } else if (key.startsWith('image_proj.proj.')) {
      out[`encoder_hid_proj.image_projection_layers.0.image_embeds.${key.slice('image_proj.proj.'.length)}`] = value;
    } else if (key.startsWith('image_proj.norm.')) {
      out[`encoder_hid_proj.image_projection_layers.0.norm.${key.slice('image_proj.norm.'.length)}`] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * Attach an IP-Adapter sized from a checkpoint file (original or diffusers key layout) and load its weights.
 * The UNet's own weights are untouched.
 * @example
 * ```ts
 * loadIPAdapter(unet, 'ip-adapter_sd15.safetensors', { scale: 0.6 });
 * unet.forward(latent, t, text, { imageEmbeds: [clipImageEmbeds] });
 * ```
 */
export function loadIPAdapter(unet: UNet2DConditionModel, file: string, options: { scale?: number } = {}): Record<string, IPAdapterAttnProcessor> {
  const raw = loadSafetensorsAsTensors(file);
  try {
    const dict = convertIPAdapterStateDict(unet, raw);
    const projW = dict['encoder_hid_proj.image_projection_layers.0.image_embeds.weight'];
    const firstK = Object.entries(dict).find(([k]) => k.endsWith('to_k_ip.0.weight'))?.[1];
    if (!firstK) throw new ValidationError('loadIPAdapter', 'file', 'an IP-Adapter checkpoint with to_k_ip weights', file);
    const crossDim = firstK.shape[1]!;
    const numTokens = projW ? projW.shape[0]! / crossDim : 4;
    if (!Number.isInteger(numTokens)) throw new ValidationError('loadIPAdapter', 'file', `an image projection with N·${crossDim} outputs`, `${projW!.shape} in ${file}`);
    const installed = attachIPAdapter(unet, { numTokens, scale: options.scale ?? 1, crossAttentionDim: crossDim, imageEmbedDim: projW ? projW.shape[1]! : null, init: 'zeros' });
    // Load only the adapter's keys: processors plus the projection.
    const adapter = new AdapterView(unet);
    adapter.load(dict, file);
    return installed;
  } finally {
    for (const t of Object.values(raw)) t.dispose();
  }
}

/** Loads adapter keys into the UNet strictly over the adapter's own parameters (not the whole UNet). */
class AdapterView {
  constructor(private readonly unet: UNet2DConditionModel) {}
  load(dict: Record<string, tf.Tensor>, source: string): void {
    const entries = new Map(this.unet.namedEntries().filter(([k]) => k.includes('.processor.') || k.startsWith('encoder_hid_proj.')));
    const missing = [...entries.keys()].filter((k) => !(k in dict));
    const unexpected = Object.keys(dict).filter((k) => !entries.has(k));
    const mismatched = Object.entries(dict)
      .filter(([k, t]) => entries.has(k) && t.shape.join(',') !== entries.get(k)!.variable.shape.join(','))
      .map(([k, t]) => `${k}: expected [${entries.get(k)!.variable.shape.join(', ')}] got [${t.shape.join(', ')}]`);
    if (missing.length || unexpected.length || mismatched.length) {
      throw new ValidationError('loadIPAdapter', `file ${source}`, 'exactly the adapter keys of this UNet', [
        missing.length ? `missing keys: ${missing.join(', ')}` : '',
        unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '',
        mismatched.length ? `shape mismatches: ${mismatched.join(', ')}` : '',
      ].filter(Boolean).join('; '));
    }
    for (const [k, e] of entries) e.variable.assign(dict[k]!);
  }
}

/**
 * Remove IP-Adapter processors (back to plain attention). The image projection stays attached.
 * @example
 * ```ts
 * detachIPAdapter(unet); // every attn2 back to AttnProcessor
 * ```
 */
export function detachIPAdapter(unet: UNet2DConditionModel): void {
  const plain: Record<string, AttnProcessor> = {};
  for (const [name, proc] of Object.entries(unet.attentionProcessors())) if (proc instanceof IPAdapterAttnProcessor) plain[name] = new AttnProcessor();
  unet.setAttentionProcessors(plain);
}
