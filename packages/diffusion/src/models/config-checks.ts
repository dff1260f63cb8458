/**
 * Config schema and cross-field checks shared by the UNet and the ControlNet (whose encoder half is a copy of the
 * UNet's): the field checks of the SD encoder fields for core's config validator, the fields of diffusers' configs
 * that select features not implemented here (only their inert value is accepted), and the rules that tie fields
 * together (one value or one per down block, channel counts divisible by the group count and the head count).
 *
 * @example
 * ```ts
 * import { perBlock } from './config-checks.js'; // internal to the diffusion package
 * perBlock('UNet2DConditionModel', 2, 3, 'layers_per_block'); // [2, 2, 2]
 * ```
 */
import { configField as f, ValidationError, type ConfigField } from '@consistent-avatar/core';

const NOT_IMPLEMENTED = 'other values select a feature not implemented here';

/**
 * Size limits of network configs (UNet, ControlNet, VAE), far above any released Stable Diffusion model (SD 1.5:
 * 4 blocks, 1280 channels, 2 layers per block, 8 heads, cross-attention 768; SDXL: 2048, 10 transformer layers) and
 * low enough that a config can never ask for more memory than a machine has or loop for hours before failing.
 *
 * @example
 * ```ts
 * MODEL_CONFIG_LIMITS.maxChannels; // 8192
 * ```
 */
export const MODEL_CONFIG_LIMITS = Object.freeze({
  /** Down / up blocks. */
  maxBlocks: 8,
  /** Channels of any layer (block outputs, in / out / latent / conditioning channels, cross-attention width). */
  maxChannels: 8192,
  /** Resnet layers per block. */
  maxLayersPerBlock: 16,
  /** Transformer layers per block. */
  maxTransformerLayers: 32,
  /** Attention heads, and channels per head. */
  maxHeads: 256,
  /** Group-norm groups. */
  maxGroups: 1024,
  /** Convolution kernel size. */
  maxKernel: 15,
  /** Sample size (pixels or latent positions per side). */
  maxSampleSize: 8192,
  /** Time-embedding width. */
  maxEmbeddingDim: 65536,
});

const L = MODEL_CONFIG_LIMITS;
const perBlockInts = (max: number) => f.intArray({ min: 1, max, minLength: 1, maxLength: L.maxBlocks });
const oneOrPerBlock = (max: number) => f.either(f.positiveInt({ max }), perBlockInts(max));

/** A channel count within {@link MODEL_CONFIG_LIMITS}. */
export const channelsField = f.positiveInt({ max: L.maxChannels });
/** Block output channels: one count per block, at most `maxBlocks` blocks. */
export const blockChannelsField = perBlockInts(L.maxChannels);
/** Block types: at most `maxBlocks` of them. */
export const blockTypesField = (types: readonly string[]) => f.array(f.oneOf(types), { minLength: 1, maxLength: L.maxBlocks });
/** A sample size within {@link MODEL_CONFIG_LIMITS}. */
export const sampleSizeField = f.either(f.positiveInt({ max: L.maxSampleSize }), f.intArray({ min: 1, max: L.maxSampleSize, length: 2 }));

/** Field checks of the SD down path that the UNet and the ControlNet share (diffusers field names). */
export const SD_ENCODER_FIELDS = {
  in_channels: channelsField,
  flip_sin_to_cos: f.boolean(),
  freq_shift: f.number(),
  down_block_types: blockTypesField(['CrossAttnDownBlock2D', 'DownBlock2D']),
  mid_block_type: f.fixed('UNetMidBlock2DCrossAttn', 'the only mid block implemented'),
  only_cross_attention: f.fixed(false, 'only_cross_attention is not implemented'),
  block_out_channels: blockChannelsField,
  layers_per_block: oneOrPerBlock(L.maxLayersPerBlock),
  downsample_padding: f.nonNegativeInt(),
  mid_block_scale_factor: f.number(),
  act_fn: f.fixed('silu', 'the only activation implemented'),
  norm_num_groups: f.positiveInt({ max: L.maxGroups }),
  norm_eps: f.positiveNumber(),
  cross_attention_dim: channelsField,
  transformer_layers_per_block: oneOrPerBlock(L.maxTransformerLayers),
  attention_head_dim: oneOrPerBlock(L.maxHeads),
  num_attention_heads: f.nullable(oneOrPerBlock(L.maxHeads)),
  use_linear_projection: f.boolean(),
  resnet_time_scale_shift: f.fixed('default', "the only time-embedding injection implemented ('scale_shift' is not)"),
  addition_embed_type_num_heads: f.positiveInt({ max: L.maxHeads }),
} as const satisfies Record<string, ConfigField>;

/** diffusers fields that select class / addition embeddings, a hidden-state projection and the like (not implemented). */
export const SD_NOT_IMPLEMENTED_FIELDS = {
  class_embed_type: f.fixed(null, NOT_IMPLEMENTED),
  addition_embed_type: f.fixed(null, NOT_IMPLEMENTED),
  addition_time_embed_dim: f.fixed(null, NOT_IMPLEMENTED),
  num_class_embeds: f.fixed(null, NOT_IMPLEMENTED),
  encoder_hid_dim: f.fixed(null, NOT_IMPLEMENTED),
  projection_class_embeddings_input_dim: f.fixed(null, NOT_IMPLEMENTED),
} as const satisfies Record<string, ConfigField>;

/** Expand a per-block setting to `n` values (one value is repeated); throws naming `fn` and `config.${name}`. */
export function perBlock<T>(fn: string, v: T | T[], n: number, name: string): T[] {
  const list = Array.isArray(v) ? v : new Array<T>(n).fill(v);
  if (list.length !== n) throw new ValidationError(fn, `config.${name}`, `one value or ${n} values (one per down block)`, v);
  return list;
}

/**
 * Cross-field rules of the SD down path: `block_out_channels` multiples of `norm_num_groups`, one down-block type,
 * layer count and head count per block, head counts dividing the block's channels. Returns the number of down blocks.
 * @example
 * ```ts
 * const n = checkSdEncoderConfig('ControlNetModel', resolved); // 4 for SD 1.5
 * ```
 */
export function checkSdEncoderConfig(
  fn: string,
  c: {
    norm_num_groups: number;
    block_out_channels: number[];
    down_block_types: string[];
    layers_per_block: number | number[];
    transformer_layers_per_block: number | number[];
    attention_head_dim: number | number[];
    num_attention_heads: number | number[] | null;
  },
): number {
  c.block_out_channels.forEach((ch, i) => {
    if (ch % c.norm_num_groups) throw new ValidationError(fn, `config.block_out_channels[${i}]`, `a multiple of norm_num_groups (${c.norm_num_groups})`, ch);
  });
  const n = c.block_out_channels.length;
  if (c.down_block_types.length !== n) throw new ValidationError(fn, 'config.down_block_types', `${n} block types (one per block_out_channels entry)`, c.down_block_types);
  perBlock(fn, c.layers_per_block, n, 'layers_per_block');
  perBlock(fn, c.transformer_layers_per_block, n, 'transformer_layers_per_block');
  // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (the historic naming quirk).
  const headsField = c.num_attention_heads !== null ? 'num_attention_heads' : 'attention_head_dim';
  perBlock(fn, c.num_attention_heads ?? c.attention_head_dim, n, headsField).forEach((h, i) => {
    if (c.block_out_channels[i]! % h) throw new ValidationError(fn, `config.${headsField}`, `head counts dividing block_out_channels (${c.block_out_channels.join(', ')})`, h);
  });
  return n;
}
