/**
 * ControlNet's conditioning embedding (diffusers `ControlNetConditioningEmbedding`, Zhang et al. 2023 §3.2): a small
 * conv encoder that maps the conditioning image (in [0, 1], at image resolution) to the latent resolution and
 * `block_out_channels[0]` channels, so it can be added to `conv_in(latent)`.
 *
 *   conv_in 3×3 (cond_ch → c₀) → SiLU;
 *   for each consecutive pair (cᵢ, cᵢ₊₁): conv 3×3 (cᵢ → cᵢ) → SiLU, conv 3×3 stride 2 (cᵢ → cᵢ₊₁) → SiLU;
 *   conv_out 3×3 (c_last → out), **zero-initialised**, no activation.
 *
 * SD's channels (16, 32, 96, 256) give three stride-2 convs: 512² → 64². Keys: `conv_in`, `blocks.<k>`, `conv_out`.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { ControlNetConditioningEmbedding } from '@consistent-avatar/diffusion';
 * const embed = new ControlNetConditioningEmbedding({ conditioningEmbeddingChannels: 32, conditioningChannels: 6, blockOutChannels: [16, 24, 32], seed: 0 });
 * const features = embed.forward(tf.zeros([1, 64, 64, 6]) as tf.Tensor4D); // [1, 16, 16, 32], all zero at init (zero conv_out)
 * ```
 */
import { nn, tf, ValidationError } from '@consistent-avatar/core';
import { modelRng, ZeroRng, type ModelInitOptions } from '../models/init.js';

/** Options of {@link ControlNetConditioningEmbedding}. */
export interface ControlNetConditioningEmbeddingOptions extends ModelInitOptions {
  /** Output channels (the UNet's `block_out_channels[0]`). */
  conditioningEmbeddingChannels: number;
  /** Channels of the conditioning image (3 for RGB; 6 for normal ⊕ TSD). Default 3. */
  conditioningChannels?: number;
  /** Hidden channels (diffusers `conditioning_embedding_out_channels`). Default [16, 32, 96, 256]. */
  blockOutChannels?: number[];
}

const FN = 'ControlNetConditioningEmbedding';

/**
 * The conditioning-image encoder. NHWC in and out.
 * @example
 * ```ts
 * const embed = new ControlNetConditioningEmbedding({ conditioningEmbeddingChannels: 320, conditioningChannels: 6 }); // SD: 512² → 64²
 * ```
 */
export class ControlNetConditioningEmbedding extends nn.Module {
  readonly conv_in: nn.Conv2d;
  readonly blocks: nn.ModuleList<nn.Conv2d>;
  readonly conv_out: nn.Conv2d;
  readonly conditioningChannels: number;
  /** Spatial reduction 2^(len(blockOutChannels) − 1). */
  readonly downsamplingFactor: number;

  constructor(options: ControlNetConditioningEmbeddingOptions) {
    super();
    const condCh = options.conditioningChannels ?? 3;
    const hidden = options.blockOutChannels ?? [16, 32, 96, 256];
    if (!Number.isInteger(condCh) || condCh <= 0) throw new ValidationError(FN, 'options.conditioningChannels', 'a positive integer', condCh);
    if (!Array.isArray(hidden) || hidden.length === 0 || hidden.some((c) => !Number.isInteger(c) || c <= 0)) {
      throw new ValidationError(FN, 'options.blockOutChannels', 'a non-empty array of positive integers', hidden);
    }
    const outCh = options.conditioningEmbeddingChannels;
    if (!Number.isInteger(outCh) || outCh <= 0) throw new ValidationError(FN, 'options.conditioningEmbeddingChannels', 'a positive integer', outCh);
    const rng = modelRng(options, FN);
    this.conditioningChannels = condCh;
    this.downsamplingFactor = 2 ** (hidden.length - 1);
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(condCh, hidden[0]!, 3, { padding: 1, rng }));
    this.blocks = this.registerModule('blocks', new nn.ModuleList<nn.Conv2d>());
    for (let i = 0; i < hidden.length - 1; i++) {
      this.blocks.push(new nn.Conv2d(hidden[i]!, hidden[i]!, 3, { padding: 1, rng }));
      this.blocks.push(new nn.Conv2d(hidden[i]!, hidden[i + 1]!, 3, { padding: 1, stride: 2, rng }));
    }
    // zero_module(conv_out): the ControlNet starts as a no-op on the UNet.
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(hidden[hidden.length - 1]!, outCh, 3, { padding: 1, rng: new ZeroRng() }));
  }

  /**
   * @param conditioning - `[B, H, W, conditioningChannels]` in [0, 1], H and W divisible by {@link downsamplingFactor}.
   * @returns `[B, H / f, W / f, conditioningEmbeddingChannels]`.
   */
  forward(conditioning: tf.Tensor4D): tf.Tensor4D {
    if (!(conditioning instanceof tf.Tensor) || conditioning.rank !== 4 || conditioning.shape[3] !== this.conditioningChannels) {
      throw new ValidationError(`${FN}.forward`, 'conditioning', `[B, H, W, ${this.conditioningChannels}] (NHWC, values in [0, 1])`, conditioning);
    }
    return tf.tidy(() => {
      let h = nn.silu(this.conv_in.forward(conditioning)) as tf.Tensor4D;
      for (const conv of this.blocks) h = nn.silu(conv.forward(h)) as tf.Tensor4D;
      return this.conv_out.forward(h);
    });
  }
}
