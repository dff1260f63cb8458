/**
 * diffusers `AutoencoderKL` (the Stable Diffusion VAE): `Encoder` → `quant_conv` → {@link DiagonalGaussianDistribution}
 * (mean, logvar clamped to [−30, 20]); `post_quant_conv` → `Decoder`. Config fields and state-dict keys are
 * diffusers'. Images and latents are **NHWC** at this API (`[B, H, W, 3]` in [−1, 1]; `[B, H/f, W/f, latent]`).
 * `scaling_factor` / `shift_factor` are applied by pipelines, not here: `z = (sample − shift)·scaling`, decode
 * `z/scaling + shift`.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { AutoencoderKL } from '@consistent-avatar/diffusion';
 * const vae = new AutoencoderKL({ block_out_channels: [32, 64], norm_num_groups: 8, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] }, { seed: 0 });
 * const posterior = vae.encode(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D); // mean [1, 16, 16, 4]
 * const image = vae.decode(posterior.mean);                              // [1, 32, 32, 3]
 * posterior.dispose();
 * ```
 */
import { configField as f, nn, resolveConfig, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import { blockChannelsField, blockTypesField, channelsField, MODEL_CONFIG_LIMITS, sampleSizeField } from './config-checks.js';
import { modelRng, type ModelInitOptions } from './init.js';
import { fromPretrained, savePretrained, type FromPretrainedOptions } from './pretrained.js';
import { DownEncoderBlock2D, UNetMidBlock2D, UpDecoderBlock2D } from './vae-blocks.js';

/** The posterior of an encoder: a diagonal Gaussian over latents. Owns its tensors (call `dispose`). */
export interface LatentDistribution {
  /** `[B, h, w, latent]`. */
  readonly mean: tf.Tensor4D;
  /** `[B, h, w, latent]`, clamped to [−30, 20]. */
  readonly logvar: tf.Tensor4D;
  /** exp(logvar / 2). */
  readonly std: tf.Tensor4D;
  /** mean + std·noise with the caller's standard-normal `noise` (same shape as mean). */
  sample(noise: tf.Tensor): tf.Tensor4D;
  /** The mode (= mean). A new tensor. */
  mode(): tf.Tensor4D;
  /** Free mean, logvar and std. */
  dispose(): void;
}

/** What pipelines need from an autoencoder: {@link AutoencoderKL} and {@link IdentityAutoencoder} implement it. */
export interface LatentAutoencoder {
  /** Channels of the latent. */
  readonly latentChannels: number;
  /** Spatial factor between images and latents (8 for SD's VAE, 1 for identity). */
  readonly downsampleFactor: number;
  /** Multiply latents by this before the UNet (0.18215 for SD 1.x). */
  readonly scalingFactor: number;
  /** Subtract before scaling (0 when the config has none). */
  readonly shiftFactor: number;
  /** `[B, H, W, C]` images in [−1, 1] → posterior over `[B, H/f, W/f, latent]`. */
  encode(images: tf.Tensor4D): LatentDistribution;
  /** Unscaled latents → images `[B, H, W, C]`. */
  decode(latents: tf.Tensor4D): tf.Tensor4D;
  /** Free the tensors the autoencoder holds (its weights; none for the identity). */
  dispose(): void;
}

/**
 * diffusers `DiagonalGaussianDistribution` from `[B, h, w, 2·latent]` moments (mean first, then logvar).
 * @example
 * ```ts
 * const post = new DiagonalGaussianDistribution(tf.zeros([1, 8, 8, 8]) as tf.Tensor4D);
 * post.sample(tf.randomNormal([1, 8, 8, 4])).shape; // [1, 8, 8, 4]
 * post.dispose();
 * ```
 */
export class DiagonalGaussianDistribution implements LatentDistribution {
  readonly mean: tf.Tensor4D;
  readonly logvar: tf.Tensor4D;
  readonly std: tf.Tensor4D;
  /** @param deterministic - zero variance (std 0), as diffusers' `deterministic=True`. */
  constructor(moments: tf.Tensor4D, deterministic = false) {
    if (!(moments instanceof tf.Tensor) || moments.rank !== 4 || moments.shape[3] % 2 !== 0) {
      throw new ValidationError('DiagonalGaussianDistribution', 'moments', '[B, h, w, 2·latent] (NHWC)', moments);
    }
    const [mean, logvarRaw] = tf.split(moments, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    this.mean = mean;
    this.logvar = deterministic ? (tf.fill(mean.shape, -Infinity) as tf.Tensor4D) : tf.clipByValue(logvarRaw, -30, 20);
    this.std = deterministic ? tf.zerosLike(mean) : (tf.tidy(() => tf.exp(tf.mul(this.logvar, 0.5))) as tf.Tensor4D);
    logvarRaw.dispose();
  }
  sample(noise: tf.Tensor): tf.Tensor4D {
    if (!(noise instanceof tf.Tensor) || noise.shape.some((d, i) => d !== this.mean.shape[i])) {
      throw new ValidationError('DiagonalGaussianDistribution.sample', 'noise', `standard-normal noise of shape [${this.mean.shape.join(', ')}]`, noise);
    }
    return tf.tidy(() => tf.add(this.mean, tf.mul(this.std, noise)));
  }
  mode(): tf.Tensor4D {
    return this.mean.clone();
  }
  dispose(): void {
    this.mean.dispose();
    this.logvar.dispose();
    this.std.dispose();
  }
}

/** diffusers `AutoencoderKL` config (field names as in `config.json`). */
export interface AutoencoderKLConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: Array<'DownEncoderBlock2D'>;
  up_block_types: Array<'UpDecoderBlock2D'>;
  block_out_channels: number[];
  layers_per_block: number;
  act_fn: 'silu';
  latent_channels: number;
  norm_num_groups: number;
  sample_size: number;
  scaling_factor: number;
  shift_factor: number | null;
  latents_mean: number[] | null;
  latents_std: number[] | null;
  force_upcast: boolean;
  use_quant_conv: boolean;
  use_post_quant_conv: boolean;
  mid_block_add_attention: boolean;
  [extra: string]: unknown;
}

/**
 * diffusers' class defaults.
 * @example
 * ```ts
 * resolveAutoencoderKLConfig({}).scaling_factor; // 0.18215
 * ```
 */
export const AUTOENCODER_KL_DEFAULTS: AutoencoderKLConfig = {
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D'],
  block_out_channels: [64],
  layers_per_block: 1,
  act_fn: 'silu',
  latent_channels: 4,
  norm_num_groups: 32,
  sample_size: 32,
  scaling_factor: 0.18215,
  shift_factor: null,
  latents_mean: null,
  latents_std: null,
  force_upcast: true,
  use_quant_conv: true,
  use_post_quant_conv: true,
  mid_block_add_attention: true,
};

/**
 * The SD 1.x VAE config (stable-diffusion-v1-5 `vae/config.json`).
 * @example
 * ```ts
 * new AutoencoderKL(SD_VAE_CONFIG, { init: 'zeros' }).downsampleFactor; // 8
 * ```
 */
export const SD_VAE_CONFIG: Partial<AutoencoderKLConfig> = {
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  layers_per_block: 2,
  sample_size: 512,
};

const FN = 'AutoencoderKL';

/** How each config field is checked (core's config validator); unknown fields are rejected. */
const AUTOENCODER_KL_FIELDS: ConfigSchema<AutoencoderKLConfig> = {
  in_channels: channelsField,
  out_channels: channelsField,
  down_block_types: blockTypesField(['DownEncoderBlock2D']),
  up_block_types: blockTypesField(['UpDecoderBlock2D']),
  block_out_channels: blockChannelsField,
  layers_per_block: f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxLayersPerBlock }),
  act_fn: f.fixed('silu', 'the only activation implemented'),
  latent_channels: channelsField,
  norm_num_groups: f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxGroups }),
  sample_size: sampleSizeField,
  scaling_factor: f.positiveNumber(),
  shift_factor: f.nullable(f.number()),
  latents_mean: f.nullable(f.numberArray({ minLength: 1, maxLength: MODEL_CONFIG_LIMITS.maxChannels })),
  latents_std: f.nullable(f.numberArray({ minLength: 1, maxLength: MODEL_CONFIG_LIMITS.maxChannels })),
  force_upcast: f.boolean(),
  use_quant_conv: f.boolean(),
  use_post_quant_conv: f.boolean(),
  mid_block_add_attention: f.boolean(),
};

/**
 * Merge over the defaults and validate (unknown fields throw).
 * @example
 * ```ts
 * resolveAutoencoderKLConfig({ block_out_channels: [128, 256], down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] });
 * ```
 */
export function resolveAutoencoderKLConfig(partial: Partial<AutoencoderKLConfig> = {}): AutoencoderKLConfig {
  const c = resolveConfig<AutoencoderKLConfig>({ fn: FN, fields: AUTOENCODER_KL_FIELDS, defaults: AUTOENCODER_KL_DEFAULTS, metadataPrefix: '_' }, partial);
  const n = c.block_out_channels.length;
  c.block_out_channels.forEach((ch, i) => {
    if (ch % c.norm_num_groups) throw new ValidationError(FN, `config.block_out_channels[${i}]`, `a multiple of norm_num_groups (${c.norm_num_groups})`, ch);
  });
  if (c.down_block_types.length !== n) throw new ValidationError(FN, 'config.down_block_types', `${n} × 'DownEncoderBlock2D'`, c.down_block_types);
  if (c.up_block_types.length !== n) throw new ValidationError(FN, 'config.up_block_types', `${n} × 'UpDecoderBlock2D'`, c.up_block_types);
  return c;
}

/**
 * VAE encoder. Keys: `conv_in`, `down_blocks.<i>`, `mid_block`, `conv_norm_out`, `conv_out`.
 * @example
 * ```ts
 * const enc = new Encoder(resolveAutoencoderKLConfig({}), { seed: 0 });
 * enc.forward(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D).shape; // [1, 32, 32, 8] (one block: no downsampling)
 * ```
 */
export class Encoder extends nn.Module {
  readonly conv_in: nn.Conv2d;
  readonly down_blocks: nn.ModuleList<DownEncoderBlock2D>;
  readonly mid_block: UNetMidBlock2D;
  readonly conv_norm_out: nn.GroupNorm;
  readonly conv_out: nn.Conv2d;
  constructor(readonly config: AutoencoderKLConfig, options: ModelInitOptions = {}) {
    super();
    const rng = modelRng(options, 'Encoder');
    const ch = config.block_out_channels;
    const g = config.norm_num_groups;
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(config.in_channels, ch[0]!, 3, { padding: 1, rng }));
    this.down_blocks = this.registerModule('down_blocks', new nn.ModuleList<DownEncoderBlock2D>());
    let out = ch[0]!;
    for (let i = 0; i < ch.length; i++) {
      const inCh = out;
      out = ch[i]!;
      this.down_blocks.push(new DownEncoderBlock2D({ inChannels: inCh, outChannels: out, numLayers: config.layers_per_block, resnetGroups: g, resnetEps: 1e-6, addDownsample: i < ch.length - 1, downsamplePadding: 0, rng }));
    }
    this.mid_block = this.registerModule('mid_block', new UNetMidBlock2D({ inChannels: out, resnetGroups: g, resnetEps: 1e-6, addAttention: config.mid_block_add_attention, rng }));
    this.conv_norm_out = this.registerModule('conv_norm_out', new nn.GroupNorm(g, out, 1e-6));
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(out, 2 * config.latent_channels, 3, { padding: 1, rng }));
  }
  /** `[B, H, W, in]` → moments `[B, H/f, W/f, 2·latent]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.conv_in.forward(x);
      for (const b of this.down_blocks) h = b.forward(h);
      h = this.mid_block.forward(h);
      return this.conv_out.forward(nn.silu(this.conv_norm_out.forward(h)));
    });
  }
}

/**
 * VAE decoder. Keys: `conv_in`, `mid_block`, `up_blocks.<i>`, `conv_norm_out`, `conv_out`.
 * @example
 * ```ts
 * const dec = new Decoder(resolveAutoencoderKLConfig({}), { seed: 0 });
 * dec.forward(tf.zeros([1, 32, 32, 4]) as tf.Tensor4D).shape; // [1, 32, 32, 3]
 * ```
 */
export class Decoder extends nn.Module {
  readonly conv_in: nn.Conv2d;
  readonly up_blocks: nn.ModuleList<UpDecoderBlock2D>;
  readonly mid_block: UNetMidBlock2D;
  readonly conv_norm_out: nn.GroupNorm;
  readonly conv_out: nn.Conv2d;
  constructor(readonly config: AutoencoderKLConfig, options: ModelInitOptions = {}) {
    super();
    const rng = modelRng(options, 'Decoder');
    const rev = [...config.block_out_channels].reverse();
    const g = config.norm_num_groups;
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(config.latent_channels, rev[0]!, 3, { padding: 1, rng }));
    // diffusers registers up_blocks before mid_block.
    this.up_blocks = this.registerModule('up_blocks', new nn.ModuleList<UpDecoderBlock2D>());
    this.mid_block = this.registerModule('mid_block', new UNetMidBlock2D({ inChannels: rev[0]!, resnetGroups: g, resnetEps: 1e-6, addAttention: config.mid_block_add_attention, rng }));
    let out = rev[0]!;
    for (let i = 0; i < rev.length; i++) {
      const prev = out;
      out = rev[i]!;
      this.up_blocks.push(new UpDecoderBlock2D({ inChannels: prev, outChannels: out, numLayers: config.layers_per_block + 1, resnetGroups: g, resnetEps: 1e-6, addUpsample: i < rev.length - 1, rng }));
    }
    this.conv_norm_out = this.registerModule('conv_norm_out', new nn.GroupNorm(g, out, 1e-6));
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(out, config.out_channels, 3, { padding: 1, rng }));
  }
  /** `[B, h, w, latent]` → `[B, h·f, w·f, out]`. */
  forward(z: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.mid_block.forward(this.conv_in.forward(z));
      for (const b of this.up_blocks) h = b.forward(h);
      return this.conv_out.forward(nn.silu(this.conv_norm_out.forward(h)));
    });
  }
}

/**
 * The KL autoencoder. Keys: `encoder.*`, `decoder.*`, `quant_conv.*`, `post_quant_conv.*`.
 * @example
 * ```ts
 * const vae = AutoencoderKL.fromPretrained('sd15/vae');
 * const post = vae.encode(images);                                       // images NHWC in [−1, 1]
 * const z = tf.mul(post.sample(noise), vae.scalingFactor);               // UNet latents
 * const back = vae.decode(tf.div(z, vae.scalingFactor) as tf.Tensor4D);
 * ```
 */
export class AutoencoderKL extends nn.Module implements LatentAutoencoder {
  readonly config: AutoencoderKLConfig;
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quant_conv: nn.Conv2d | null;
  readonly post_quant_conv: nn.Conv2d | null;
  /**
   * Load a diffusers folder (`config.json` + `diffusion_pytorch_model.safetensors` or `model.safetensors`).
   * Missing / unexpected / mis-shaped keys throw an error naming them and the file (or, with `strict: false`, are
   * reported through `onReport`).
   */
  static fromPretrained(dir: string, options: FromPretrainedOptions = {}): AutoencoderKL {
    return fromPretrained(AutoencoderKL, dir, options);
  }

  /** Write this model as a diffusers folder (PyTorch layouts, F32). */
  savePretrained(dir: string): void {
    savePretrained(this, dir);
  }

  constructor(config: Partial<AutoencoderKLConfig> = {}, options: ModelInitOptions = {}) {
    super();
    const c = resolveAutoencoderKLConfig(config);
    this.config = c;
    const rng = modelRng(options, 'AutoencoderKL');
    const L = c.latent_channels;
    this.encoder = this.registerModule('encoder', new Encoder(c, { rng }));
    this.decoder = this.registerModule('decoder', new Decoder(c, { rng }));
    this.quant_conv = c.use_quant_conv ? this.registerModule('quant_conv', new nn.Conv2d(2 * L, 2 * L, 1, { rng })) : null;
    this.post_quant_conv = c.use_post_quant_conv ? this.registerModule('post_quant_conv', new nn.Conv2d(L, L, 1, { rng })) : null;
  }
  get latentChannels(): number {
    return this.config.latent_channels;
  }
  get downsampleFactor(): number {
    return 2 ** (this.config.block_out_channels.length - 1);
  }
  get scalingFactor(): number {
    return this.config.scaling_factor;
  }
  get shiftFactor(): number {
    return this.config.shift_factor ?? 0;
  }
  /** Images `[B, H, W, in_channels]` (H, W divisible by the downsample factor) → posterior. */
  encode(images: tf.Tensor4D): DiagonalGaussianDistribution {
    const f = this.downsampleFactor;
    if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== this.config.in_channels || images.shape[1] % f || images.shape[2] % f) {
      throw new ValidationError('AutoencoderKL.encode', 'images', `[B, H, W, ${this.config.in_channels}] (NHWC) with H, W divisible by ${f}`, images);
    }
    const moments = tf.tidy(() => {
      const h = this.encoder.forward(images);
      return this.quant_conv ? this.quant_conv.forward(h) : h;
    });
    const posterior = new DiagonalGaussianDistribution(moments);
    moments.dispose();
    return posterior;
  }
  /** Unscaled latents `[B, h, w, latent_channels]` → images `[B, h·f, w·f, out_channels]`. */
  decode(latents: tf.Tensor4D): tf.Tensor4D {
    if (!(latents instanceof tf.Tensor) || latents.rank !== 4 || latents.shape[3] !== this.config.latent_channels) {
      throw new ValidationError('AutoencoderKL.decode', 'latents', `[B, h, w, ${this.config.latent_channels}] (NHWC)`, latents);
    }
    return tf.tidy(() => this.decoder.forward(this.post_quant_conv ? this.post_quant_conv.forward(latents) : latents));
  }
}
