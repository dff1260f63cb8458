/**
 * IP-Adapter image-token projection (diffusers `ImageProjection`, IP-Adapter's `ImageProjModel`):
 * Linear(imageEmbedDim → N·crossAttentionDim) → reshape `[B, N, crossAttentionDim]` (token j = features
 * j·D … j·D+D−1) → LayerNorm(crossAttentionDim, eps 1e-5). Keys: `image_embeds.*`, `norm.*`.
 * {@link MultiIPAdapterImageProjection} holds one per adapter (`image_projection_layers.<i>`), as the UNet's
 * `encoder_hid_proj`.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { ImageProjection } from '@consistent-avatar/diffusion';
 * const proj = new ImageProjection({ imageEmbedDim: 256, crossAttentionDim: 768, numImageTextEmbeds: 3, seed: 0 });
 * proj.forward(tf.zeros([2, 256])).shape; // [2, 3, 768]
 * proj.dispose();
 * ```
 */
import { nn, tf, ValidationError } from '@consistent-avatar/core';
import { modelRng, type ModelInitOptions } from './init.js';

/** Options of {@link ImageProjection}. */
export interface ImageProjectionOptions extends ModelInitOptions {
  /** Size of the image embedding (CLIP image embedding, or ConsistentAvatar's condition features). Default 768. */
  imageEmbedDim?: number;
  /** Token size (the UNet's cross_attention_dim). Default 768. */
  crossAttentionDim?: number;
  /** Tokens produced, N (default 32 as diffusers; IP-Adapter uses 4). */
  numImageTextEmbeds?: number;
}

/**
 * Linear → N tokens → LayerNorm.
 * @example
 * ```ts
 * new ImageProjection({ imageEmbedDim: 1024, crossAttentionDim: 768, numImageTextEmbeds: 4 }).forward(tf.zeros([1, 1024])).shape; // [1, 4, 768]
 * ```
 */
export class ImageProjection extends nn.Module {
  readonly imageEmbedDim: number;
  readonly crossAttentionDim: number;
  readonly numImageTextEmbeds: number;
  readonly image_embeds: nn.Linear;
  readonly norm: nn.LayerNorm;
  constructor(options: ImageProjectionOptions = {}) {
    super();
    this.imageEmbedDim = options.imageEmbedDim ?? 768;
    this.crossAttentionDim = options.crossAttentionDim ?? 768;
    this.numImageTextEmbeds = options.numImageTextEmbeds ?? 32;
    const rng = modelRng(options, 'ImageProjection');
    this.image_embeds = this.registerModule('image_embeds', new nn.Linear(this.imageEmbedDim, this.numImageTextEmbeds * this.crossAttentionDim, { rng }));
    this.norm = this.registerModule('norm', new nn.LayerNorm(this.crossAttentionDim, 1e-5));
  }
  /**
   * @param imageEmbeds - `[B, imageEmbedDim]` (or `[B, 1, imageEmbedDim]` as diffusers' pipelines pass it).
   * @returns `[B, N, crossAttentionDim]`.
   */
  forward(imageEmbeds: tf.Tensor): tf.Tensor3D {
    const ok = imageEmbeds instanceof tf.Tensor && imageEmbeds.shape[imageEmbeds.rank - 1] === this.imageEmbedDim && (imageEmbeds.rank === 2 || (imageEmbeds.rank === 3 && imageEmbeds.shape[1] === 1));
    if (!ok) throw new ValidationError('ImageProjection.forward', 'imageEmbeds', `[B, ${this.imageEmbedDim}] or [B, 1, ${this.imageEmbedDim}]`, imageEmbeds);
    return tf.tidy(() => {
      const B = imageEmbeds.shape[0]!;
      const flat = this.image_embeds.forward(imageEmbeds.reshape([B, this.imageEmbedDim])); // [B, N·D]
      return this.norm.forward(flat.reshape([B, this.numImageTextEmbeds, this.crossAttentionDim])) as tf.Tensor3D; // [B, N, D]
    });
  }
}

/**
 * One {@link ImageProjection} per adapter, registered as `image_projection_layers.<i>`.
 * @example
 * ```ts
 * const proj = new MultiIPAdapterImageProjection([new ImageProjection({ imageEmbedDim: 24, crossAttentionDim: 32, numImageTextEmbeds: 4 })]);
 * proj.forward([tf.zeros([2, 24])])[0]!.shape; // [2, 4, 32]
 * ```
 */
export class MultiIPAdapterImageProjection extends nn.Module {
  readonly image_projection_layers: nn.ModuleList<ImageProjection>;
  constructor(layers: ImageProjection[]) {
    super();
    if (!Array.isArray(layers) || layers.length === 0 || !layers.every((l) => l instanceof ImageProjection)) {
      throw new ValidationError('MultiIPAdapterImageProjection', 'layers', 'a non-empty array of ImageProjection', layers);
    }
    this.image_projection_layers = this.registerModule('image_projection_layers', new nn.ModuleList(layers));
  }
  /** One `[B, imageEmbedDim]` per adapter → one `[B, N, D]` token tensor per adapter. */
  forward(imageEmbeds: tf.Tensor[]): tf.Tensor3D[] {
    if (!Array.isArray(imageEmbeds) || imageEmbeds.length !== this.image_projection_layers.length) {
      throw new ValidationError('MultiIPAdapterImageProjection.forward', 'imageEmbeds', `${this.image_projection_layers.length} tensor(s), one per adapter`, imageEmbeds);
    }
    return imageEmbeds.map((e, i) => this.image_projection_layers.at(i).forward(e));
  }
}
