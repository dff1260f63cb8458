/**
 * An autoencoder that does nothing: `encode(x)` is a zero-variance posterior at x, `decode(z) = z`, scaling 1. It
 * implements {@link LatentAutoencoder} so the same pipelines (training, sampling, LCM) run in pixel space — how the
 * small models trained here from scratch work without a pretrained VAE.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { IdentityAutoencoder } from '@consistent-avatar/diffusion';
 * const ae = new IdentityAutoencoder(3);
 * const post = ae.encode(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D);
 * ae.decode(post.mean).shape; // [1, 64, 64, 3]
 * post.dispose();
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import { DiagonalGaussianDistribution, type LatentAutoencoder } from './vae.js';

/**
 * Pixel space as the "latent" space.
 * @example
 * ```ts
 * const ae = new IdentityAutoencoder(6); // normal ⊕ TSD images used directly as 'latents'
 * ae.decode(tf.zeros([1, 64, 64, 6]) as tf.Tensor4D).shape; // [1, 64, 64, 6]
 * ```
 */
export class IdentityAutoencoder implements LatentAutoencoder {
  readonly downsampleFactor = 1;
  readonly scalingFactor = 1;
  readonly shiftFactor = 0;
  /** @param latentChannels - image channels (3 for RGB; 6 for normal ⊕ TSD). */
  constructor(readonly latentChannels = 3) {
    if (!Number.isInteger(latentChannels) || latentChannels <= 0) throw new ValidationError('IdentityAutoencoder', 'latentChannels', 'a positive integer', latentChannels);
  }
  private check(fn: string, x: tf.Tensor): void {
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== this.latentChannels) throw new ValidationError(fn, 'images', `[B, H, W, ${this.latentChannels}] (NHWC)`, x);
  }
  /** A deterministic posterior: mean = images, std = 0 (sample(noise) returns the mean). */
  encode(images: tf.Tensor4D): DiagonalGaussianDistribution {
    this.check('IdentityAutoencoder.encode', images);
    const moments = tf.concat([images, images], 3) as tf.Tensor4D; // [B, H, W, 2C]: mean, (ignored) logvar
    const posterior = new DiagonalGaussianDistribution(moments, true);
    moments.dispose();
    return posterior;
  }
  /** A copy of the latents. */
  decode(latents: tf.Tensor4D): tf.Tensor4D {
    this.check('IdentityAutoencoder.decode', latents);
    return latents.clone();
  }
  /** Nothing to free. */
  dispose(): void {}
}
