/**
 * diffusers `UNet2DConditionModel` (the Stable Diffusion 1.x/2.x denoiser) with diffusers' config fields and
 * state-dict key names, so SD checkpoints (`config.json` + `diffusion_pytorch_model.safetensors`) load by name
 * (see `fromPretrained`). Conditions attach without touching this class: ControlNet through
 * `downBlockAdditionalResiduals` / `midBlockAdditionalResidual`, IP-Adapter through attention processors
 * (`setAttentionProcessors`) and the `encoder_hid_proj` image projection, LCM's guidance through `timestepCond`, and
 * any condition of your own through a processor that reads it from the named per-call record `options.conditions`.
 *
 * Layout: `forward` takes and returns **NHWC** latents (`[B, H, W, C]`); convert PyTorch NCHW tensors once with
 * `nchwToNhwc` / `nhwcToNchw`. ControlNet residuals are NHWC too.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { UNet2DConditionModel } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({
 *   block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
 * }, { seed: 0 });
 * const eps = unet.forward(tf.randomNormal([2, 16, 16, 4], 0, 1, 'float32', 1), [10, 500], tf.zeros([2, 7, 32])); // [2, 16, 16, 4]
 * console.log(unet.parameterCount()); // 546724
 * ```
 */
import { checkFinite, configField as f, nn, resolveConfig, tf, ValidationError, type ConfigSchema, type Rng } from '@consistent-avatar/core';
import { Attention } from './attention.js';
import { isTextAndImageTokens, type AttentionProcessor, type EncoderHiddenStates } from './attention-processors.js';
import type { Conditions } from './conditions.js';
import { attentionLayers, attentionProcessors, setAttentionProcessor, setAttentionProcessors } from './processor-registry.js';
import { timestepEmbedding, TimestepEmbedding } from './embeddings.js';
import type { MultiIPAdapterImageProjection } from './image-projection.js';
import { modelRng, type ModelInitOptions } from './init.js';
import { fromPretrained, savePretrained, type FromPretrainedOptions } from './pretrained.js';
import { CrossAttnDownBlock2D, CrossAttnUpBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D, type BlockCallOptions, type UNetDownBlock, type UNetUpBlock } from './unet-blocks.js';
import {
  blockTypesField, channelsField, checkSdEncoderConfig, MODEL_CONFIG_LIMITS, perBlock as perBlockOf, sampleSizeField, SD_ENCODER_FIELDS,
  SD_NOT_IMPLEMENTED_FIELDS,
} from './config-checks.js';

/** Block types this implementation builds. */
export type UNetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
/** Up-block types this implementation builds (diffusers `up_block_types` entries). */
export type UNetUpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

/**
 * The diffusers config (field names exactly as in `config.json`). Defaults are diffusers' class defaults, except
 * that fields describing features this library does not implement must keep their null / default values.
 */
export interface UNet2DConditionConfig {
  sample_size: number | null;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: UNetDownBlockType[];
  mid_block_type: 'UNetMidBlock2DCrossAttn';
  up_block_types: UNetUpBlockType[];
  only_cross_attention: boolean;
  block_out_channels: number[];
  layers_per_block: number | number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  dropout: number;
  act_fn: 'silu';
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number;
  transformer_layers_per_block: number | number[];
  reverse_transformer_layers_per_block: number[] | null;
  /** diffusers' historic name: for this class it is the NUMBER of heads when `num_attention_heads` is null. */
  attention_head_dim: number | number[];
  num_attention_heads: number | number[] | null;
  use_linear_projection: boolean;
  upcast_attention: boolean;
  resnet_time_scale_shift: 'default';
  /** Kept for round-trip; diffusers does not pass it to the SD block types built here, so it has no effect. */
  resnet_out_scale_factor: number;
  time_embedding_type: 'positional';
  time_embedding_dim: number | null;
  /** LCM guidance embedding size (TimestepEmbedding.cond_proj); null = none. */
  time_cond_proj_dim: number | null;
  conv_in_kernel: number;
  conv_out_kernel: number;
  encoder_hid_dim_type: null | 'ip_image_proj';
  /** Fields kept for JSON round-trip (must be null / false / default): class / addition embeddings etc. */
  [extra: string]: unknown;
}

/**
 * diffusers' defaults (`UNet2DConditionModel.__init__`).
 * @example
 * ```ts
 * new UNet2DConditionModel({ ...UNET_2D_CONDITION_DEFAULTS, cross_attention_dim: 768 }, { init: 'zeros' });
 * ```
 */
export const UNET_2D_CONDITION_DEFAULTS: UNet2DConditionConfig = {
  sample_size: null,
  in_channels: 4,
  out_channels: 4,
  center_input_sample: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  only_cross_attention: false,
  block_out_channels: [320, 640, 1280, 1280],
  layers_per_block: 2,
  downsample_padding: 1,
  mid_block_scale_factor: 1,
  dropout: 0,
  act_fn: 'silu',
  norm_num_groups: 32,
  norm_eps: 1e-5,
  cross_attention_dim: 1280,
  transformer_layers_per_block: 1,
  reverse_transformer_layers_per_block: null,
  attention_head_dim: 8,
  num_attention_heads: null,
  use_linear_projection: false,
  upcast_attention: false,
  resnet_time_scale_shift: 'default',
  resnet_out_scale_factor: 1,
  time_embedding_type: 'positional',
  time_embedding_dim: null,
  time_cond_proj_dim: null,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  encoder_hid_dim_type: null,
};

/**
 * The Stable Diffusion 1.5 UNet config (runwayml/stable-diffusion-v1-5 `unet/config.json`).
 * @example
 * ```ts
 * new UNet2DConditionModel(SD15_UNET_CONFIG, { init: 'zeros' }).parameterCount(); // 859520964
 * ```
 */
export const SD15_UNET_CONFIG: Partial<UNet2DConditionConfig> = {
  sample_size: 64,
  block_out_channels: [320, 640, 1280, 1280],
  cross_attention_dim: 768,
  attention_head_dim: 8,
  layers_per_block: 2,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
};

const FN = 'UNet2DConditionModel';

/** Inert value of a diffusers field whose other values select a feature not implemented here (kept when given). */
const inert = (value: null | boolean | string) => f.optional(f.fixed(value, 'other values select a feature not implemented here'));

/** How each config field is checked (core's config validator); unknown fields are rejected. */
const UNET_FIELDS: ConfigSchema<UNet2DConditionConfig> = {
  sample_size: f.nullable(sampleSizeField),
  ...SD_ENCODER_FIELDS,
  out_channels: channelsField,
  center_input_sample: f.boolean(),
  up_block_types: blockTypesField(['CrossAttnUpBlock2D', 'UpBlock2D']),
  dropout: f.number({ min: 0, max: 1, maxOpen: true }),
  reverse_transformer_layers_per_block: f.nullable(f.intArray({ min: 1, max: MODEL_CONFIG_LIMITS.maxTransformerLayers, minLength: 1, maxLength: MODEL_CONFIG_LIMITS.maxBlocks })),
  upcast_attention: f.boolean(),
  resnet_out_scale_factor: f.number(),
  time_embedding_type: f.fixed('positional', "the only time embedding implemented ('fourier' is not)"),
  time_embedding_dim: f.nullable(f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxEmbeddingDim })),
  time_cond_proj_dim: f.nullable(f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxEmbeddingDim })),
  conv_in_kernel: f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxKernel }),
  conv_out_kernel: f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxKernel }),
  encoder_hid_dim_type: f.nullable(f.oneOf(['ip_image_proj'])),
  // Fields of diffusers' config that must keep their inert value (kept for JSON round trip when given).
  ...Object.fromEntries(Object.entries(SD_NOT_IMPLEMENTED_FIELDS).map(([k, field]) => [k, f.optional(field)])),
  addition_embed_type_num_heads: f.optional(SD_ENCODER_FIELDS.addition_embed_type_num_heads),
  dual_cross_attention: inert(false),
  time_embedding_act_fn: inert(null),
  timestep_post_act: inert(null),
  class_embeddings_concat: inert(false),
  mid_block_only_cross_attention: inert(null),
  cross_attention_norm: inert(null),
  attention_type: inert('default'),
  resnet_skip_time_act: inert(false),
};

const perBlock = <T>(v: T | T[], n: number, name: string): T[] => perBlockOf(FN, v, n, name);

/**
 * Merge `partial` over the defaults and validate every field (unknown fields throw; fields selecting features not
 * implemented here accept only their inert value).
 * @example
 * ```ts
 * resolveUNetConfig({ block_out_channels: [32, 64] }); // throws: down_block_types needs 2 entries
 * ```
 */
export function resolveUNetConfig(partial: Partial<UNet2DConditionConfig> = {}): UNet2DConditionConfig {
  const c = resolveConfig<UNet2DConditionConfig>({ fn: FN, fields: UNET_FIELDS, defaults: UNET_2D_CONDITION_DEFAULTS, metadataPrefix: '_' }, partial);
  const n = checkSdEncoderConfig(FN, c);
  if (c.up_block_types.length !== n) throw new ValidationError(FN, 'config.up_block_types', `${n} block types (one per down block)`, c.up_block_types);
  if (c.reverse_transformer_layers_per_block !== null && c.reverse_transformer_layers_per_block.length !== n) {
    throw new ValidationError(FN, 'config.reverse_transformer_layers_per_block', `null or ${n} values (one per up block)`, c.reverse_transformer_layers_per_block);
  }
  for (const k of ['conv_in_kernel', 'conv_out_kernel'] as const) {
    if (c[k] % 2 === 0) throw new ValidationError(FN, `config.${k}`, 'an odd positive integer', c[k]);
  }
  return c;
}

/** Call-time inputs of {@link UNet2DConditionModel.forward} besides sample / timestep / text. */
export interface UNetForwardOptions {
  /** `[B, time_cond_proj_dim]`: LCM's guidance embedding (diffusers `timestep_cond`). */
  timestepCond?: tf.Tensor | null;
  /** ControlNet residuals, NHWC, one per skip (conv_in output first), added to the skips after the down pass. */
  downBlockAdditionalResiduals?: tf.Tensor[] | null;
  /** ControlNet residual added to the mid-block output (NHWC). */
  midBlockAdditionalResidual?: tf.Tensor | null;
  /** diffusers `cross_attention_kwargs`: `{ scale }` overrides every IP-Adapter scale for this call. */
  crossAttentionKwargs?: { scale?: number | number[] };
  /**
   * Named per-call conditions handed untouched to every attention processor (`options.conditions` in
   * `AttentionProcessor.process`): the open counterpart of `cross_attention_kwargs` for conditions of your own
   * processors, e.g. `{ audio: [B, frames, D] }`. Tensors must be batched like `sample`.
   */
  conditions?: Conditions;
  /** diffusers `added_cond_kwargs.image_embeds`: one `[B, imageEmbedDim]` per adapter, projected by `encoder_hid_proj`. */
  imageEmbeds?: tf.Tensor[] | null;
  /** Dropout masks in training mode (only needed when config.dropout > 0). */
  rng?: Rng;
}

/**
 * The SD UNet. Keys: `conv_in`, `time_embedding.{linear_1,linear_2,cond_proj}`, `down_blocks.<i>`, `up_blocks.<i>`,
 * `mid_block`, `conv_norm_out`, `conv_out`, and `encoder_hid_proj.*` once an IP-Adapter projection is attached.
 * @example
 * ```ts
 * const unet = new UNet2DConditionModel({ ...SD15_UNET_CONFIG, time_cond_proj_dim: 256 }, { init: 'zeros' });
 * const eps = unet.forward(latent, 999, text, { timestepCond: wEmbedding, downBlockAdditionalResiduals: controlnetDown, midBlockAdditionalResidual: controlnetMid });
 * ```
 */
export class UNet2DConditionModel extends nn.Module {
  /** The resolved diffusers config (JSON round-trips through `savePretrained` / `fromPretrained`). */
  readonly config: UNet2DConditionConfig;
  readonly conv_in: nn.Conv2d;
  readonly time_embedding: TimestepEmbedding;
  readonly down_blocks: nn.ModuleList<UNetDownBlock>;
  readonly up_blocks: nn.ModuleList<UNetUpBlock>;
  readonly mid_block: UNetMidBlock2DCrossAttn;
  readonly conv_norm_out: nn.GroupNorm;
  readonly conv_out: nn.Conv2d;
  private hidProj: MultiIPAdapterImageProjection | null = null;

  /**
   * @param config - diffusers config fields (missing ones take diffusers' defaults).
   * @param options - initialisation: seeded PyTorch-default random weights (default) or `init: 'zeros'`.
   */
  /**
   * Load a diffusers folder (`config.json` + `diffusion_pytorch_model.safetensors` or `model.safetensors`).
   * Missing / unexpected / mis-shaped keys throw an error naming them and the file (or, with `strict: false`, are
   * reported through `onReport`).
   */
  static fromPretrained(dir: string, options: FromPretrainedOptions = {}): UNet2DConditionModel {
    return fromPretrained(UNet2DConditionModel, dir, options);
  }

  /** Write this model as a diffusers folder (PyTorch layouts, F32). */
  savePretrained(dir: string): void {
    savePretrained(this, dir);
  }

  constructor(config: Partial<UNet2DConditionConfig> = {}, options: ModelInitOptions = {}) {
    super();
    const c = resolveUNetConfig(config);
    this.config = c;
    const rng = modelRng(options, FN);
    const n = c.block_out_channels.length;
    const ch = c.block_out_channels;
    const layers = perBlock(c.layers_per_block, n, 'layers_per_block');
    const tLayers = perBlock(c.transformer_layers_per_block, n, 'transformer_layers_per_block');
    // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (the historic naming quirk).
    const heads = perBlock(c.num_attention_heads ?? c.attention_head_dim, n, 'attention_head_dim');
    const timeEmbedDim = c.time_embedding_dim ?? ch[0]! * 4;
    const common = { tembChannels: timeEmbedDim, resnetEps: c.norm_eps, resnetGroups: c.norm_num_groups, dropout: c.dropout, crossAttentionDim: c.cross_attention_dim, useLinearProjection: c.use_linear_projection, rng };

    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(c.in_channels, ch[0]!, c.conv_in_kernel, { padding: (c.conv_in_kernel - 1) / 2, rng }));
    this.time_embedding = this.registerModule('time_embedding', new TimestepEmbedding(ch[0]!, timeEmbedDim, { condProjDim: c.time_cond_proj_dim, rng }));
    this.down_blocks = this.registerModule('down_blocks', new nn.ModuleList<UNetDownBlock>());
    this.up_blocks = this.registerModule('up_blocks', new nn.ModuleList<UNetUpBlock>());

    let outCh = ch[0]!;
    for (let i = 0; i < n; i++) {
      const inCh = outCh;
      outCh = ch[i]!;
      const o = { ...common, inChannels: inCh, outChannels: outCh, numLayers: layers[i]!, addDownsample: i < n - 1, downsamplePadding: c.downsample_padding };
      this.down_blocks.push(
        c.down_block_types[i] === 'CrossAttnDownBlock2D'
          ? new CrossAttnDownBlock2D({ ...o, numAttentionHeads: heads[i]!, transformerLayersPerBlock: tLayers[i]! })
          : new DownBlock2D(o),
      );
    }

    this.mid_block = this.registerModule(
      'mid_block',
      new UNetMidBlock2DCrossAttn({ ...common, inChannels: ch[n - 1]!, numAttentionHeads: heads[n - 1]!, transformerLayersPerBlock: tLayers[n - 1]!, outputScaleFactor: c.mid_block_scale_factor }),
    );

    const revCh = [...ch].reverse();
    const revHeads = [...heads].reverse();
    const revLayers = [...layers].reverse();
    const revT = c.reverse_transformer_layers_per_block ?? [...tLayers].reverse();
    outCh = revCh[0]!;
    for (let i = 0; i < n; i++) {
      const prevOut = outCh;
      outCh = revCh[i]!;
      const inCh = revCh[Math.min(i + 1, n - 1)]!;
      const o = { ...common, inChannels: inCh, outChannels: outCh, prevOutputChannels: prevOut, numLayers: revLayers[i]! + 1, addUpsample: i < n - 1 };
      this.up_blocks.push(
        c.up_block_types[i] === 'CrossAttnUpBlock2D'
          ? new CrossAttnUpBlock2D({ ...o, numAttentionHeads: revHeads[i]!, crossAttentionDim: c.cross_attention_dim, transformerLayersPerBlock: revT[i]! })
          : new UpBlock2D(o),
      );
    }

    this.conv_norm_out = this.registerModule('conv_norm_out', new nn.GroupNorm(c.norm_num_groups, ch[0]!, c.norm_eps));
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(ch[0]!, c.out_channels, c.conv_out_kernel, { padding: (c.conv_out_kernel - 1) / 2, rng }));
  }

  /** Number of skip tensors the down path produces (= ControlNet residuals expected). */
  get numSkips(): number {
    return 1 + this.down_blocks.items.reduce((s, b) => s + b.resnets.length + (b.downsamplers ? 1 : 0), 0);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Attention-processor registry (diffusers `attn_processors` / `set_attn_processor`).

  /** Every attention layer with its diffusers module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn2`). */
  attentionLayers(): Array<[string, Attention]> {
    return attentionLayers(this);
  }

  /**
   * Processors by name (`<layer path>.processor`), in diffusers' order (module registration: all down blocks, then
   * all up blocks, then the mid block).
   */
  attentionProcessors(): Record<string, AttentionProcessor> {
    return attentionProcessors(this);
  }

  /**
   * Install processors by name. Names not in {@link attentionProcessors} throw; layers not named keep theirs. Replaced
   * processors are disposed.
   */
  setAttentionProcessors(processors: Record<string, AttentionProcessor>): void {
    setAttentionProcessors(this, processors, `${FN}.setAttentionProcessors`);
  }

  /**
   * Install one processor kind on every layer: a weight-free processor instance is shared; a factory
   * `(name, layer) => processor` builds one per layer (needed for processors with weights).
   */
  setAttentionProcessor(processor: AttentionProcessor | ((name: string, layer: Attention) => AttentionProcessor)): void {
    setAttentionProcessor(this, processor, `${FN}.setAttentionProcessor`);
  }

  /** The IP-Adapter image projection (`encoder_hid_proj`), or null. */
  get encoderHidProj(): MultiIPAdapterImageProjection | null {
    return this.hidProj;
  }

  /** Attach (or replace) the image projection run on `imageEmbeds` (diffusers' `encoder_hid_proj`, `ip_image_proj`). */
  setEncoderHidProj(projection: MultiIPAdapterImageProjection): void {
    if (!(projection instanceof nn.Module)) throw new ValidationError(`${FN}.setEncoderHidProj`, 'projection', 'a MultiIPAdapterImageProjection', projection);
    this.hidProj = this.hidProj ? this.replaceModule('encoder_hid_proj', projection) : this.registerModule('encoder_hid_proj', projection);
  }

  // ---------------------------------------------------------------------------------------------------------------

  private checkInputs(sample: tf.Tensor, encoderHiddenStates: EncoderHiddenStates, options: UNetForwardOptions): void {
    const c = this.config;
    if (!(sample instanceof tf.Tensor) || sample.rank !== 4 || sample.shape[3] !== c.in_channels) {
      throw new ValidationError(`${FN}.forward`, 'sample', `[B, H, W, ${c.in_channels}] (NHWC; convert NCHW with nchwToNhwc)`, sample);
    }
    const B = sample.shape[0];
    const text = isTextAndImageTokens(encoderHiddenStates) ? encoderHiddenStates.text : encoderHiddenStates;
    if (!(text instanceof tf.Tensor) || text.rank !== 3 || text.shape[0] !== B || text.shape[2] !== c.cross_attention_dim) {
      throw new ValidationError(`${FN}.forward`, 'encoderHiddenStates', `[${B}, L, ${c.cross_attention_dim}] (or { text, ipTokens })`, text);
    }
    if (options.timestepCond && !c.time_cond_proj_dim) {
      throw new ValidationError(`${FN}.forward`, 'options.timestepCond', 'nothing: config.time_cond_proj_dim is null', options.timestepCond);
    }
    if (options.timestepCond && (options.timestepCond.rank !== 2 || options.timestepCond.shape[0] !== B || options.timestepCond.shape[1] !== c.time_cond_proj_dim)) {
      throw new ValidationError(`${FN}.forward`, 'options.timestepCond', `[${B}, ${c.time_cond_proj_dim}]`, options.timestepCond);
    }
    const res = options.downBlockAdditionalResiduals;
    if (res && (!Array.isArray(res) || res.length !== this.numSkips)) {
      throw new ValidationError(`${FN}.forward`, 'options.downBlockAdditionalResiduals', `${this.numSkips} NHWC tensors (one per skip)`, res);
    }
    if (options.conditions !== undefined && (typeof options.conditions !== 'object' || options.conditions === null || Array.isArray(options.conditions))) {
      throw new ValidationError(`${FN}.forward`, 'options.conditions', 'a record of named conditions { name: value }', options.conditions);
    }
    if (options.imageEmbeds && !this.hidProj) {
      throw new ValidationError(`${FN}.forward`, 'options.imageEmbeds', 'nothing: no IP-Adapter image projection attached (attachIPAdapter)', options.imageEmbeds);
    }
  }

  /** Timesteps as a `[B]` float tensor. */
  private timestepTensor(timestep: number | number[] | tf.Tensor, batch: number): tf.Tensor1D {
    checkFinite(`${FN}.forward`, 'timestep', timestep);
    if (typeof timestep === 'number') return tf.fill([batch], timestep, 'float32') as tf.Tensor1D;
    const t = Array.isArray(timestep) ? tf.tensor1d(timestep, 'float32') : tf.cast(timestep, 'float32').reshape([-1]);
    if (t.shape[0] === 1 && batch !== 1) return tf.tile(t, [batch]) as tf.Tensor1D;
    if (t.shape[0] !== batch) throw new ValidationError(`${FN}.forward`, 'timestep', `a number, or ${batch} timesteps (one per batch item)`, timestep);
    return t as tf.Tensor1D;
  }

  /**
   * Predict the noise (or v / x0, per how the weights were trained).
   * @param sample - noisy latents `[B, H, W, in_channels]` (NHWC).
   * @param timestep - a number (broadcast), `[B]` numbers, or a tensor `[]` / `[1]` / `[B]`.
   * @param encoderHiddenStates - text tokens `[B, L, cross_attention_dim]`, or `{ text, ipTokens }` for IP-Adapter.
   * @returns `[B, H, W, out_channels]` (NHWC).
   */
  forward(sample: tf.Tensor4D, timestep: number | number[] | tf.Tensor, encoderHiddenStates: EncoderHiddenStates, options: UNetForwardOptions = {}): tf.Tensor4D {
    this.checkInputs(sample, encoderHiddenStates, options);
    const c = this.config;
    return tf.tidy(() => {
      const [B, H, W] = sample.shape;
      // 1. Time embedding: sinusoidal features of t, (+ cond_proj(w) for LCM), MLP.
      const tFeatures = timestepEmbedding(this.timestepTensor(timestep, B), c.block_out_channels[0]!, { flipSinToCos: c.flip_sin_to_cos, downscaleFreqShift: c.freq_shift });
      const emb = this.time_embedding.forward(tFeatures, options.timestepCond ?? null);
      // 2. IP-Adapter image tokens (diffusers encoder_hid_dim_type 'ip_image_proj').
      let context: EncoderHiddenStates = encoderHiddenStates;
      if (options.imageEmbeds) {
        const text = isTextAndImageTokens(encoderHiddenStates) ? encoderHiddenStates.text : encoderHiddenStates;
        context = { text, ipTokens: this.hidProj!.forward(options.imageEmbeds) };
      }
      const call: BlockCallOptions = {
        encoderHiddenStates: context,
        attention: { ipAdapterScale: options.crossAttentionKwargs?.scale, rng: options.rng, conditions: options.conditions },
      };
      // 3. Pre-process.
      let h = (c.center_input_sample ? tf.sub(tf.mul(sample, 2), 1) : sample) as tf.Tensor4D;
      h = this.conv_in.forward(h);
      // 4. Down path, collecting skips.
      let skips: tf.Tensor4D[] = [h];
      for (const block of this.down_blocks) {
        const out = block.forward(h, emb, call);
        h = out.hidden;
        skips.push(...out.skips);
      }
      // ControlNet: add residual k to skip k.
      const residuals = options.downBlockAdditionalResiduals;
      if (residuals) {
        skips = skips.map((s, k) => {
          const r = residuals[k]!;
          if (!(r instanceof tf.Tensor) || r.shape.some((d, i) => d !== s.shape[i])) {
            throw new ValidationError(`${FN}.forward`, `options.downBlockAdditionalResiduals[${k}]`, `[${s.shape.join(', ')}] (NHWC)`, r);
          }
          return tf.add(s, r) as tf.Tensor4D;
        });
      }
      // 5. Mid block (+ ControlNet mid residual).
      h = this.mid_block.forward(h, emb, call);
      const mid = options.midBlockAdditionalResidual;
      if (mid) {
        if (!(mid instanceof tf.Tensor) || mid.shape.some((d, i) => d !== h.shape[i])) {
          throw new ValidationError(`${FN}.forward`, 'options.midBlockAdditionalResidual', `[${h.shape.join(', ')}] (NHWC)`, mid);
        }
        h = tf.add(h, mid) as tf.Tensor4D;
      }
      // 6. Up path: each block takes layers+1 skips from the end; explicit upsample sizes when H, W are not
      //    divisible by 2^upsamplers.
      const upFactor = 2 ** (this.up_blocks.length - 1);
      const forwardUpsampleSize = H % upFactor !== 0 || W % upFactor !== 0;
      for (let i = 0; i < this.up_blocks.length; i++) {
        const block = this.up_blocks.at(i);
        const k = block.resnets.length;
        const blockSkips = skips.slice(skips.length - k);
        skips = skips.slice(0, skips.length - k);
        const isFinal = i === this.up_blocks.length - 1;
        const next = skips[skips.length - 1];
        const size: [number, number] | undefined = !isFinal && forwardUpsampleSize && next ? [next.shape[1], next.shape[2]] : undefined;
        h = block.forward(h, blockSkips, emb, call, size);
      }
      // 7. Post-process.
      return this.conv_out.forward(nn.silu(this.conv_norm_out.forward(h)));
    });
  }
}
