/**
 * diffusers `ResnetBlock2D` (the "default" time-embedding variant of SD's UNet and VAE): GroupNorm → SiLU → 3×3 conv
 * → (+ time projection) → GroupNorm → SiLU → dropout → 3×3 conv, plus a 1×1 `conv_shortcut` when channels change;
 * output = (shortcut + branch) / output_scale_factor. NHWC activations.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { ResnetBlock2D } from '@consistent-avatar/diffusion';
 * const block = new ResnetBlock2D({ inChannels: 32, outChannels: 48, tembChannels: 128, groups: 8, seed: 3 });
 * const y = block.forward(tf.zeros([1, 8, 8, 32]) as tf.Tensor4D, tf.zeros([1, 128])); // [1, 8, 8, 48]
 * block.dispose();
 * ```
 */
import { nn, tf, ValidationError, type Rng } from '@consistent-avatar/core';
import { modelRng, type ModelInitOptions } from './init.js';

/** Construction options of {@link ResnetBlock2D}. */
export interface ResnetBlock2DOptions extends ModelInitOptions {
  inChannels: number;
  /** Default `inChannels`. */
  outChannels?: number;
  /** Size of the time embedding; null = no `time_emb_proj` (VAE). Default 512 like diffusers. */
  tembChannels?: number | null;
  /** GroupNorm groups (default 32). */
  groups?: number;
  /** GroupNorm epsilon (default 1e-6, diffusers' class default; the UNet passes norm_eps). */
  eps?: number;
  /** Dropout probability between the convs (default 0). */
  dropout?: number;
  /** Divide the output by this (default 1). */
  outputScaleFactor?: number;
}

/**
 * One residual block. Keys: `norm1`, `conv1`, `time_emb_proj`, `norm2`, `conv2`, `conv_shortcut`.
 * @example
 * ```ts
 * const r = new ResnetBlock2D({ inChannels: 8, outChannels: 16, tembChannels: null, groups: 4, seed: 0 });
 * r.forward(tf.zeros([1, 4, 4, 8]) as tf.Tensor4D).shape; // [1, 4, 4, 16]
 * ```
 */
export class ResnetBlock2D extends nn.Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly outputScaleFactor: number;
  readonly norm1: nn.GroupNorm;
  readonly conv1: nn.Conv2d;
  readonly time_emb_proj: nn.Linear | null;
  readonly norm2: nn.GroupNorm;
  readonly dropout: nn.Dropout;
  readonly conv2: nn.Conv2d;
  readonly conv_shortcut: nn.Conv2d | null;

  constructor(options: ResnetBlock2DOptions) {
    super();
    const rng = modelRng(options, 'ResnetBlock2D');
    const inCh = options.inChannels;
    const outCh = options.outChannels ?? inCh;
    const groups = options.groups ?? 32;
    const eps = options.eps ?? 1e-6;
    const temb = options.tembChannels === undefined ? 512 : options.tembChannels;
    this.inChannels = inCh;
    this.outChannels = outCh;
    this.outputScaleFactor = options.outputScaleFactor ?? 1;
    if (!(this.outputScaleFactor > 0)) throw new ValidationError('ResnetBlock2D', 'options.outputScaleFactor', 'a number > 0', this.outputScaleFactor);
    this.norm1 = this.registerModule('norm1', new nn.GroupNorm(groups, inCh, eps));
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inCh, outCh, 3, { padding: 1, rng }));
    this.time_emb_proj = temb ? this.registerModule('time_emb_proj', new nn.Linear(temb, outCh, { rng })) : null;
    this.norm2 = this.registerModule('norm2', new nn.GroupNorm(groups, outCh, eps));
    this.dropout = this.registerModule('dropout', new nn.Dropout(options.dropout ?? 0));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(outCh, outCh, 3, { padding: 1, rng }));
    this.conv_shortcut = inCh !== outCh ? this.registerModule('conv_shortcut', new nn.Conv2d(inCh, outCh, 1, { rng })) : null;
  }

  /**
   * @param x - `[B, H, W, inChannels]`.
   * @param temb - `[B, tembChannels]` time embedding (null for VAE blocks).
   * @param rng - dropout masks in training mode (only needed when dropout > 0).
   * @returns `[B, H, W, outChannels]`.
   */
  forward(x: tf.Tensor4D, temb: tf.Tensor | null = null, rng?: Rng): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ValidationError('ResnetBlock2D.forward', 'x', `[B, H, W, ${this.inChannels}] (NHWC)`, x);
    }
    return tf.tidy(() => {
      let h = this.conv1.forward(nn.silu(this.norm1.forward(x)));
      if (this.time_emb_proj && temb) {
        const t = this.time_emb_proj.forward(nn.silu(temb)); // [B, C]
        h = tf.add(h, t.reshape([t.shape[0]!, 1, 1, this.outChannels])); // broadcast over H, W
      }
      h = nn.silu(this.norm2.forward(h));
      h = this.conv2.forward(this.dropout.forward(h, rng));
      const shortcut = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
      const out = tf.add(shortcut, h) as tf.Tensor4D;
      return this.outputScaleFactor === 1 ? out : (tf.div(out, this.outputScaleFactor) as tf.Tensor4D);
    });
  }
}
