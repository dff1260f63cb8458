/**
 * diffusers `ControlNetModel` (Zhang, Rao & Agrawala 2023, "Adding Conditional Control to Text-to-Image Diffusion
 * Models"): a trainable copy of the UNet's encoder (conv_in, time embedding, down blocks, mid block) that also sees a
 * conditioning image through {@link ControlNetConditioningEmbedding}, and emits one residual per UNet skip plus one
 * for the mid block through zero-initialised 1×1 convs ("zero convolutions", Eq. 2). The UNet takes them as
 * `downBlockAdditionalResiduals` / `midBlockAdditionalResidual` and never knows a ControlNet exists.
 *
 * Config and state-dict keys are diffusers' (`controlnet_cond_embedding.*`, `controlnet_down_blocks.<k>`,
 * `controlnet_mid_block`, plus the UNet's `conv_in`, `time_embedding`, `down_blocks`, `mid_block`), so folders load
 * and save with diffusers. Activations are NHWC; conditioning images are in [0, 1] at `downsamplingFactor` × the
 * latent size (8× for SD's (16, 32, 96, 256) embedding).
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { ControlNetModel, UNet2DConditionModel } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * const controlnet = ControlNetModel.fromUnet(unet, { conditioningChannels: 6, conditioningEmbeddingOutChannels: [16, 32] });
 * const latents = tf.zeros([1, 16, 16, 4]) as tf.Tensor4D, text = tf.zeros([1, 7, 32]);
 * const { downBlockResSamples, midBlockResSample } = controlnet.forward(latents, 500, text, tf.zeros([1, 32, 32, 6]) as tf.Tensor4D);
 * const eps = unet.forward(latents, 500, text, { downBlockAdditionalResiduals: downBlockResSamples, midBlockAdditionalResidual: midBlockResSample });
 * ```
 */
import { checkFinite, configField as f, nn, resolveConfig, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import type { Attention } from '../models/attention.js';
import type { AttentionProcessor, EncoderHiddenStates } from '../models/attention-processors.js';
import { attentionProcessors, setAttentionProcessor, setAttentionProcessors } from '../models/processor-registry.js';
import type { Conditions } from '../models/conditions.js';
import { timestepEmbedding, TimestepEmbedding } from '../models/embeddings.js';
import { modelRng, ZeroRng, type ModelInitOptions } from '../models/init.js';
import { fromPretrained, savePretrained, type FromPretrainedOptions } from '../models/pretrained.js';
import { CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn, type BlockCallOptions, type UNetDownBlock } from '../models/unet-blocks.js';
import type { UNet2DConditionModel, UNetDownBlockType } from '../models/unet-2d-condition.js';
import { ControlNetConditioningEmbedding } from './conditioning-embedding.js';
import { blockChannelsField, channelsField, checkSdEncoderConfig, perBlock as perBlockOf, SD_ENCODER_FIELDS, SD_NOT_IMPLEMENTED_FIELDS } from '../models/config-checks.js';

/** diffusers `ControlNetModel` config (field names as in its `config.json`). */
export interface ControlNetConfig {
  in_channels: number;
  conditioning_channels: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: UNetDownBlockType[];
  mid_block_type: 'UNetMidBlock2DCrossAttn';
  only_cross_attention: boolean;
  block_out_channels: number[];
  layers_per_block: number | number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  act_fn: 'silu';
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number;
  transformer_layers_per_block: number | number[];
  encoder_hid_dim: null;
  encoder_hid_dim_type: null;
  /** For this class (as for the UNet) the NUMBER of heads when `num_attention_heads` is null. */
  attention_head_dim: number | number[];
  num_attention_heads: number | number[] | null;
  use_linear_projection: boolean;
  class_embed_type: null;
  addition_embed_type: null;
  addition_time_embed_dim: null;
  num_class_embeds: null;
  upcast_attention: boolean;
  resnet_time_scale_shift: 'default';
  projection_class_embeddings_input_dim: null;
  /** 'rgb' (default) or 'bgr' (the conditioning image's channels are flipped before the embedding). */
  controlnet_conditioning_channel_order: 'rgb' | 'bgr';
  conditioning_embedding_out_channels: number[];
  /** Average every residual over H and W (diffusers `global_pool_conditions`, used by shuffle ControlNets). */
  global_pool_conditions: boolean;
  addition_embed_type_num_heads: number;
  [extra: string]: unknown;
}

/**
 * diffusers' `ControlNetModel.__init__` defaults (the SD 1.x ControlNet).
 * @example
 * ```ts
 * const sdControlNet = new ControlNetModel({ ...CONTROLNET_DEFAULTS, cross_attention_dim: 768, conditioning_channels: 6 }, { init: 'zeros' });
 * ```
 */
export const CONTROLNET_DEFAULTS: ControlNetConfig = {
  in_channels: 4,
  conditioning_channels: 3,
  flip_sin_to_cos: true,
  freq_shift: 0,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  only_cross_attention: false,
  block_out_channels: [320, 640, 1280, 1280],
  layers_per_block: 2,
  downsample_padding: 1,
  mid_block_scale_factor: 1,
  act_fn: 'silu',
  norm_num_groups: 32,
  norm_eps: 1e-5,
  cross_attention_dim: 1280,
  transformer_layers_per_block: 1,
  encoder_hid_dim: null,
  encoder_hid_dim_type: null,
  attention_head_dim: 8,
  num_attention_heads: null,
  use_linear_projection: false,
  class_embed_type: null,
  addition_embed_type: null,
  addition_time_embed_dim: null,
  num_class_embeds: null,
  upcast_attention: false,
  resnet_time_scale_shift: 'default',
  projection_class_embeddings_input_dim: null,
  controlnet_conditioning_channel_order: 'rgb',
  conditioning_embedding_out_channels: [16, 32, 96, 256],
  global_pool_conditions: false,
  addition_embed_type_num_heads: 64,
};

const FN = 'ControlNetModel';

/** How each config field is checked (core's config validator); unknown fields are rejected. */
const CONTROLNET_FIELDS: ConfigSchema<ControlNetConfig> = {
  ...SD_ENCODER_FIELDS,
  ...SD_NOT_IMPLEMENTED_FIELDS,
  conditioning_channels: channelsField,
  encoder_hid_dim_type: f.fixed(null, 'other values select a feature not implemented here'),
  upcast_attention: f.fixed(false, 'upcast_attention is not implemented for the ControlNet'),
  controlnet_conditioning_channel_order: f.oneOf(['rgb', 'bgr']),
  conditioning_embedding_out_channels: blockChannelsField,
  global_pool_conditions: f.boolean(),
};

const perBlock = <T>(v: T | T[], n: number, name: string): T[] => perBlockOf(FN, v, n, name);

/**
 * Merge `partial` over {@link CONTROLNET_DEFAULTS} and validate every field this implementation reads (unknown
 * fields throw; fields selecting features not implemented here accept only their inert value).
 *
 * @example
 * ```ts
 * import { resolveControlNetConfig } from '@consistent-avatar/diffusion';
 * resolveControlNetConfig({ conditioning_channels: 6 }).block_out_channels; // [320, 640, 1280, 1280]
 * ```
 */
export function resolveControlNetConfig(partial: Partial<ControlNetConfig> = {}): ControlNetConfig {
  const c = resolveConfig<ControlNetConfig>({ fn: FN, fields: CONTROLNET_FIELDS, defaults: CONTROLNET_DEFAULTS, metadataPrefix: '_' }, partial);
  checkSdEncoderConfig(FN, c);
  return c;
}

/** Call-time options of {@link ControlNetModel.forward}. */
export interface ControlNetForwardOptions {
  /** Multiplies every residual (diffusers `conditioning_scale`). Default 1. */
  conditioningScale?: number;
  /**
   * Guess mode: residuals scaled by logspace(−1, 0, n + 1)·conditioningScale (0.1 for the first skip → 1.0 for the
   * mid block), so the ControlNet can steer without a prompt. Default false.
   */
  guessMode?: boolean;
  /** Named per-call conditions handed untouched to every attention processor of the ControlNet (as the UNet's). */
  conditions?: Conditions;
}

/** What {@link ControlNetModel.forward} returns (NHWC; the caller disposes). */
export interface ControlNetOutput {
  /** One residual per UNet skip, conv_in output first. */
  downBlockResSamples: tf.Tensor4D[];
  /** The mid-block residual. */
  midBlockResSample: tf.Tensor4D;
}

/** Options of {@link ControlNetModel.fromUnet}. */
export interface ControlNetFromUnetOptions extends ModelInitOptions {
  /** Copy conv_in, time_embedding, down_blocks and mid_block weights from the UNet (default true). */
  loadWeightsFromUnet?: boolean;
  /** Channels of the conditioning image (default 3; stage 3 uses 6: normal ⊕ TSD). */
  conditioningChannels?: number;
  /** Hidden channels of the conditioning embedding (default (16, 32, 96, 256)). */
  conditioningEmbeddingOutChannels?: number[];
  /** Default 'rgb'. */
  controlnetConditioningChannelOrder?: 'rgb' | 'bgr';
}

/**
 * Guess-mode residual scales: logspace(−1, 0, count) · scale (torch.logspace, base 10).
 *
 * @example
 * ```ts
 * import { guessModeScales } from '@consistent-avatar/diffusion';
 * guessModeScales(13, 1); // [0.1, 0.121, …, 1] — 12 skips of SD 1.5 + the mid block
 * ```
 */
export function guessModeScales(count: number, scale = 1): number[] {
  if (!Number.isInteger(count) || count < 2) throw new ValidationError('guessModeScales', 'count', 'an integer ≥ 2', count);
  return Array.from({ length: count }, (_, i) => Math.fround(10 ** (-1 + i / (count - 1))) * scale);
}

/**
 * The ControlNet. Keys as diffusers' `ControlNetModel`.
 * @example
 * ```ts
 * const controlnet = ControlNetModel.fromPretrained('lllyasviel/sd-controlnet-normal'); // a local diffusers folder
 * const { downBlockResSamples, midBlockResSample } = controlnet.forward(latents, t, textTokens, normalMap, { conditioningScale: 0.8 });
 * ```
 */
export class ControlNetModel extends nn.Module {
  /** The resolved diffusers config. */
  readonly config: ControlNetConfig;
  readonly conv_in: nn.Conv2d;
  readonly time_embedding: TimestepEmbedding;
  readonly controlnet_cond_embedding: ControlNetConditioningEmbedding;
  readonly down_blocks: nn.ModuleList<UNetDownBlock>;
  readonly controlnet_down_blocks: nn.ModuleList<nn.Conv2d>;
  readonly mid_block: UNetMidBlock2DCrossAttn;
  readonly controlnet_mid_block: nn.Conv2d;

  /**
   * Load a diffusers ControlNet folder (`config.json` + `diffusion_pytorch_model.safetensors` or `model.safetensors`).
   * Missing / unexpected / mis-shaped keys throw naming them and the file.
   */
  static fromPretrained(dir: string, options: FromPretrainedOptions = {}): ControlNetModel {
    return fromPretrained(ControlNetModel, dir, options);
  }

  /**
   * diffusers `ControlNetModel.from_unet`: a ControlNet with the UNet's architecture; with `loadWeightsFromUnet`
   * (default) it copies exactly what diffusers copies — `conv_in`, `time_embedding` (`time_proj` has no weights),
   * `down_blocks`, `mid_block`. The conditioning embedding and the zero convs keep their fresh (zero for
   * `conv_out` and the 1×1 convs) initialisation. A UNet with LCM's `time_embedding.cond_proj` is rejected (diffusers'
   * ControlNet has no `time_cond_proj_dim`; its strict load would fail the same way).
   */
  static fromUnet(unet: UNet2DConditionModel, options: ControlNetFromUnetOptions = {}): ControlNetModel {
    const fn = `${FN}.fromUnet`;
    if (!(unet instanceof nn.Module) || typeof (unet as { config?: unknown }).config !== 'object') throw new ValidationError(fn, 'unet', 'a UNet2DConditionModel', unet);
    const u = unet.config;
    if (u.time_cond_proj_dim !== null && (options.loadWeightsFromUnet ?? true)) {
      throw new ValidationError(fn, 'unet', 'a UNet without time_cond_proj_dim (ControlNet has no LCM guidance embedding)', `time_cond_proj_dim = ${u.time_cond_proj_dim}`);
    }
    const config: Partial<ControlNetConfig> = {
      in_channels: u.in_channels,
      flip_sin_to_cos: u.flip_sin_to_cos,
      freq_shift: u.freq_shift,
      down_block_types: [...u.down_block_types],
      only_cross_attention: u.only_cross_attention,
      block_out_channels: [...u.block_out_channels],
      layers_per_block: u.layers_per_block,
      downsample_padding: u.downsample_padding,
      mid_block_scale_factor: u.mid_block_scale_factor,
      act_fn: u.act_fn,
      norm_num_groups: u.norm_num_groups,
      norm_eps: u.norm_eps,
      cross_attention_dim: u.cross_attention_dim,
      transformer_layers_per_block: u.transformer_layers_per_block,
      attention_head_dim: u.attention_head_dim,
      num_attention_heads: u.num_attention_heads,
      use_linear_projection: u.use_linear_projection,
      upcast_attention: u.upcast_attention,
      resnet_time_scale_shift: u.resnet_time_scale_shift,
      mid_block_type: u.mid_block_type,
      controlnet_conditioning_channel_order: options.controlnetConditioningChannelOrder ?? 'rgb',
      conditioning_embedding_out_channels: options.conditioningEmbeddingOutChannels ?? [16, 32, 96, 256],
      conditioning_channels: options.conditioningChannels ?? 3,
    };
    const controlnet = new ControlNetModel(config, options);
    if (options.loadWeightsFromUnet ?? true) {
      const source = unet.stateDict();
      const copied: Record<string, tf.Tensor> = {};
      for (const prefix of ControlNetModel.COPIED_FROM_UNET) {
        for (const [k, v] of Object.entries(source)) if (k.startsWith(`${prefix}.`)) copied[k] = v;
      }
      try {
        const report = controlnet.loadStateDict(copied, { strict: false });
        const missing = report.missing.filter((k) => ControlNetModel.COPIED_FROM_UNET.some((p) => k.startsWith(`${p}.`)));
        if (missing.length || report.unexpected.length || report.mismatched.length) {
          throw new ValidationError(fn, 'unet', 'a UNet whose encoder matches the ControlNet built from its config', [...missing, ...report.unexpected, ...report.mismatched].slice(0, 10).join(', '));
        }
      } catch (e) {
        controlnet.dispose();
        throw e;
      }
    }
    return controlnet;
  }

  /** Module prefixes {@link fromUnet} copies (diffusers `from_unet`; class / add embeddings are not implemented). */
  static readonly COPIED_FROM_UNET = ['conv_in', 'time_embedding', 'down_blocks', 'mid_block'] as const;

  /**
   * @param config - diffusers config fields (missing ones take {@link CONTROLNET_DEFAULTS}).
   * @param options - initialisation (seeded PyTorch-default init; the zero convs and `conv_out` are always zero).
   */
  constructor(config: Partial<ControlNetConfig> = {}, options: ModelInitOptions = {}) {
    super();
    const c = resolveControlNetConfig(config);
    this.config = c;
    const rng = modelRng(options, FN);
    const zero = new ZeroRng();
    const n = c.block_out_channels.length;
    const ch = c.block_out_channels;
    const layers = perBlock(c.layers_per_block, n, 'layers_per_block');
    const tLayers = perBlock(c.transformer_layers_per_block, n, 'transformer_layers_per_block');
    const heads = perBlock(c.num_attention_heads ?? c.attention_head_dim, n, 'attention_head_dim');
    const timeEmbedDim = ch[0]! * 4;
    const common = { tembChannels: timeEmbedDim, resnetEps: c.norm_eps, resnetGroups: c.norm_num_groups, dropout: 0, crossAttentionDim: c.cross_attention_dim, useLinearProjection: c.use_linear_projection, rng };

    // Registration order follows diffusers (conv_in, time_embedding, controlnet_cond_embedding, down_blocks,
    // controlnet_down_blocks, mid_block, controlnet_mid_block).
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(c.in_channels, ch[0]!, 3, { padding: 1, rng }));
    this.time_embedding = this.registerModule('time_embedding', new TimestepEmbedding(ch[0]!, timeEmbedDim, { rng }));
    this.controlnet_cond_embedding = this.registerModule(
      'controlnet_cond_embedding',
      new ControlNetConditioningEmbedding({ conditioningEmbeddingChannels: ch[0]!, conditioningChannels: c.conditioning_channels, blockOutChannels: c.conditioning_embedding_out_channels, rng }),
    );
    this.down_blocks = this.registerModule('down_blocks', new nn.ModuleList<UNetDownBlock>());
    this.controlnet_down_blocks = this.registerModule('controlnet_down_blocks', new nn.ModuleList<nn.Conv2d>());
    const zeroConv = (channels: number) => new nn.Conv2d(channels, channels, 1, { rng: zero });
    this.controlnet_down_blocks.push(zeroConv(ch[0]!));
    let outCh = ch[0]!;
    for (let i = 0; i < n; i++) {
      const inCh = outCh;
      outCh = ch[i]!;
      const isFinal = i === n - 1;
      const o = { ...common, inChannels: inCh, outChannels: outCh, numLayers: layers[i]!, addDownsample: !isFinal, downsamplePadding: c.downsample_padding };
      this.down_blocks.push(
        c.down_block_types[i] === 'CrossAttnDownBlock2D'
          ? new CrossAttnDownBlock2D({ ...o, numAttentionHeads: heads[i]!, transformerLayersPerBlock: tLayers[i]! })
          : new DownBlock2D(o),
      );
      for (let j = 0; j < layers[i]!; j++) this.controlnet_down_blocks.push(zeroConv(outCh));
      if (!isFinal) this.controlnet_down_blocks.push(zeroConv(outCh));
    }
    this.mid_block = this.registerModule(
      'mid_block',
      new UNetMidBlock2DCrossAttn({ ...common, inChannels: ch[n - 1]!, numAttentionHeads: heads[n - 1]!, transformerLayersPerBlock: tLayers[n - 1]!, outputScaleFactor: c.mid_block_scale_factor }),
    );
    this.controlnet_mid_block = this.registerModule('controlnet_mid_block', zeroConv(ch[n - 1]!));
  }

  /** Spatial ratio between the conditioning image and the latents. */
  get downsamplingFactor(): number {
    return this.controlnet_cond_embedding.downsamplingFactor;
  }

  /** Number of down residuals (= the UNet's skips). */
  get numSkips(): number {
    return this.controlnet_down_blocks.length;
  }

  /** Processors by name (`<layer path>.processor`), as the UNet's (diffusers `attn_processors`). */
  attentionProcessors(): Record<string, AttentionProcessor> {
    return attentionProcessors(this);
  }

  /** Install processors by name (names from {@link attentionProcessors}; replaced ones are disposed). */
  setAttentionProcessors(processors: Record<string, AttentionProcessor>): void {
    setAttentionProcessors(this, processors, `${FN}.setAttentionProcessors`);
  }

  /** Install one processor kind on every layer: a weight-free instance, or a factory `(name, layer) => processor`. */
  setAttentionProcessor(processor: AttentionProcessor | ((name: string, layer: Attention) => AttentionProcessor)): void {
    setAttentionProcessor(this, processor, `${FN}.setAttentionProcessor`);
  }

  /** Write this ControlNet as a diffusers folder (PyTorch layouts, F32). */
  savePretrained(dir: string): void {
    savePretrained(this, dir);
  }

  private timesteps(timestep: number | number[] | tf.Tensor, batch: number): tf.Tensor1D {
    checkFinite(`${FN}.forward`, 'timestep', timestep); // as the UNet's: a NaN timestep made every residual NaN
    if (typeof timestep === 'number') return tf.fill([batch], timestep, 'float32') as tf.Tensor1D;
    const t = Array.isArray(timestep) ? tf.tensor1d(timestep, 'float32') : tf.cast(timestep, 'float32').reshape([-1]);
    if (t.shape[0] === 1 && batch !== 1) return tf.tile(t, [batch]) as tf.Tensor1D;
    if (t.shape[0] !== batch) throw new ValidationError(`${FN}.forward`, 'timestep', `a number, or ${batch} timesteps (one per batch item)`, timestep);
    return t as tf.Tensor1D;
  }

  /**
   * Compute the residuals.
   * @param sample - noisy latents `[B, h, w, in_channels]` (NHWC).
   * @param timestep - a number, `[B]` numbers or a tensor.
   * @param encoderHiddenStates - text tokens `[B, L, cross_attention_dim]` (IP-Adapter tokens go to the UNet only).
   * @param controlnetCond - conditioning image `[B, h·f, w·f, conditioning_channels]` in [0, 1], f = {@link downsamplingFactor}.
   */
  forward(sample: tf.Tensor4D, timestep: number | number[] | tf.Tensor, encoderHiddenStates: EncoderHiddenStates, controlnetCond: tf.Tensor4D, options: ControlNetForwardOptions = {}): ControlNetOutput {
    const fn = `${FN}.forward`;
    const c = this.config;
    if (!(sample instanceof tf.Tensor) || sample.rank !== 4 || sample.shape[3] !== c.in_channels) {
      throw new ValidationError(fn, 'sample', `[B, H, W, ${c.in_channels}] (NHWC)`, sample);
    }
    const [B, H, W] = sample.shape;
    const f = this.downsamplingFactor;
    if (!(controlnetCond instanceof tf.Tensor) || controlnetCond.rank !== 4 || controlnetCond.shape[0] !== B || controlnetCond.shape[1] !== H * f || controlnetCond.shape[2] !== W * f || controlnetCond.shape[3] !== c.conditioning_channels) {
      throw new ValidationError(fn, 'controlnetCond', `[${B}, ${H * f}, ${W * f}, ${c.conditioning_channels}] (NHWC, values in [0, 1])`, controlnetCond);
    }
    const scale = options.conditioningScale ?? 1;
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ValidationError(fn, 'options.conditioningScale', 'a finite number', scale);
    if (options.conditions !== undefined && (typeof options.conditions !== 'object' || options.conditions === null || Array.isArray(options.conditions))) {
      throw new ValidationError(fn, 'options.conditions', 'a record of named conditions { name: value }', options.conditions);
    }
    return tf.tidy(() => {
      // 1. Time embedding (same as the UNet's).
      const tFeatures = timestepEmbedding(this.timesteps(timestep, B), c.block_out_channels[0]!, { flipSinToCos: c.flip_sin_to_cos, downscaleFreqShift: c.freq_shift });
      const emb = this.time_embedding.forward(tFeatures);
      // 2. conv_in(latents) + embedding(condition).
      const cond = c.controlnet_conditioning_channel_order === 'bgr' ? (tf.reverse(controlnetCond, 3) as tf.Tensor4D) : controlnetCond;
      let h = tf.add(this.conv_in.forward(sample), this.controlnet_cond_embedding.forward(cond)) as tf.Tensor4D;
      // 3. The trainable copy of the encoder, collecting the skips exactly as the UNet does.
      const call: BlockCallOptions = { encoderHiddenStates, attention: options.conditions ? { conditions: options.conditions } : undefined };
      const skips: tf.Tensor4D[] = [h];
      for (const block of this.down_blocks) {
        const out = block.forward(h, emb, call);
        h = out.hidden;
        skips.push(...out.skips);
      }
      h = this.mid_block.forward(h, emb, call);
      // 4. Zero convolutions.
      let down = skips.map((s, k) => this.controlnet_down_blocks.at(k).forward(s));
      let mid = this.controlnet_mid_block.forward(h);
      // 5. Scaling: guess mode's log-spaced scales, or one conditioning scale.
      if (options.guessMode && !c.global_pool_conditions) {
        const scales = guessModeScales(down.length + 1, scale);
        down = down.map((r, k) => tf.mul(r, scales[k]!) as tf.Tensor4D);
        mid = tf.mul(mid, scales[scales.length - 1]!) as tf.Tensor4D;
      } else if (scale !== 1) {
        down = down.map((r) => tf.mul(r, scale) as tf.Tensor4D);
        mid = tf.mul(mid, scale) as tf.Tensor4D;
      }
      if (c.global_pool_conditions) {
        // Mean over H, W ([B, 1, 1, C]), broadcast back so the UNet adds it everywhere (diffusers broadcasts on add).
        down = down.map((r) => tf.broadcastTo(tf.mean(r, [1, 2], true), r.shape) as tf.Tensor4D);
        mid = tf.broadcastTo(tf.mean(mid, [1, 2], true), mid.shape) as tf.Tensor4D;
      }
      return { downBlockResSamples: down, midBlockResSample: mid };
    });
  }
}
