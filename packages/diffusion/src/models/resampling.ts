/**
 * diffusers `Downsample2D` / `Upsample2D` with `use_conv=True` (the only form SD uses). NHWC activations.
 * - Downsample2D: 3×3 conv with stride 2 and `padding` (1 in the UNet). With padding 0 (the VAE encoder) the input is
 *   first zero-padded by one pixel on the right and bottom only, as diffusers does.
 * - Upsample2D: nearest-neighbour ×2 (or to an explicit size, torch `interpolate(mode='nearest')`), then 3×3 conv.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { Downsample2D, Upsample2D } from '@consistent-avatar/diffusion';
 * const down = new Downsample2D(8, { padding: 1, seed: 0 });
 * const up = new Upsample2D(8, { seed: 1 });
 * up.forward(down.forward(tf.zeros([1, 16, 16, 8]) as tf.Tensor4D)).shape; // [1, 16, 16, 8]
 * ```
 */
import { nn, tf, ValidationError } from '@consistent-avatar/core';
import { modelRng, type ModelInitOptions } from './init.js';

function checkInput(fn: string, x: tf.Tensor, channels: number): void {
  if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== channels) throw new ValidationError(fn, 'x', `[B, H, W, ${channels}] (NHWC)`, x);
}

/**
 * Stride-2 conv downsampler. Keys: `conv.weight`, `conv.bias`.
 * @example
 * ```ts
 * new Downsample2D(8, { padding: 0, seed: 0 }).forward(tf.zeros([1, 16, 16, 8]) as tf.Tensor4D).shape; // [1, 8, 8, 8]
 * ```
 */
export class Downsample2D extends nn.Module {
  readonly conv: nn.Conv2d;
  readonly padding: number;
  constructor(
    readonly channels: number,
    options: ModelInitOptions & { outChannels?: number; padding?: number } = {},
  ) {
    super();
    this.padding = options.padding ?? 1;
    this.conv = this.registerModule('conv', new nn.Conv2d(channels, options.outChannels ?? channels, 3, { stride: 2, padding: this.padding, rng: modelRng(options, 'Downsample2D') }));
  }
  /** `[B, H, W, C]` → `[B, ⌈H/2⌉, ⌈W/2⌉, out]` (exact sizes follow torch's conv arithmetic). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkInput('Downsample2D.forward', x, this.channels);
    return tf.tidy(() => {
      // diffusers pads (left 0, right 1, top 0, bottom 1) when padding == 0 (VAE encoder).
      const padded = this.padding === 0 ? tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]) : x;
      return this.conv.forward(padded as tf.Tensor4D);
    });
  }
}

/**
 * Nearest-neighbour ×2 upsampling of `[B, H, W, C]` → `[B, 2H, 2W, C]` (each pixel copied into a 2×2 block, torch
 * `interpolate(scale_factor=2, mode='nearest')`): tfjs's ResizeNearestNeighbor with src = ⌊dst/2⌋, which has a
 * native wasm kernel and a gradient on every backend.
 * @example
 * ```ts
 * upsampleNearest2x(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])).shape; // [1, 4, 4, 1]
 * ```
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, H, W] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [2 * H, 2 * W], false, false);
}

/**
 * Nearest upsampler + 3×3 conv. Keys: `conv.weight`, `conv.bias`.
 * @example
 * ```ts
 * new Upsample2D(8, { seed: 0 }).forward(tf.zeros([1, 5, 5, 8]) as tf.Tensor4D, [9, 9]).shape; // [1, 9, 9, 8]
 * ```
 */
export class Upsample2D extends nn.Module {
  readonly conv: nn.Conv2d;
  constructor(
    readonly channels: number,
    options: ModelInitOptions & { outChannels?: number } = {},
  ) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d(channels, options.outChannels ?? channels, 3, { padding: 1, rng: modelRng(options, 'Upsample2D') }));
  }
  /**
   * Nearest-neighbour upsampling (×2, or to `outputSize`), then the 3×3 conv.
   * @param x - `[B, H, W, C]` → `[B, 2H, 2W, out]` (or `[B, H', W', out]` with `outputSize`).
   * @param outputSize - `[H', W']` to interpolate to instead of ×2 (the UNet passes the skip's size when the latent
   *   is not divisible by 2^upsamplers).
   */
  forward(x: tf.Tensor4D, outputSize?: [number, number]): tf.Tensor4D {
    checkInput('Upsample2D.forward', x, this.channels);
    return tf.tidy(() => {
      const up = outputSize
        ? tf.image.resizeNearestNeighbor(x, outputSize, false, false) // torch 'nearest': src = ⌊dst·in/out⌋
        : upsampleNearest2x(x);
      return this.conv.forward(up);
    });
  }
}
