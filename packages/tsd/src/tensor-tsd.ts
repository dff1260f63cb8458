/**
 * `extractTsdTensor`: {@link extractTsd} for a tfjs tensor (NHWC), returning a tensor.
 *
 * @packageDocumentation
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import { extractTsd } from './extract-tsd.js';
import type { TsdOptions } from './tsd-options.js';

/**
 * TSD of a `[H, W, C]` image or `[B, H, W, C]` batch tensor (float, RGB in [0, 1]). The filter runs on the CPU in
 * float64 (FFT ops are not differentiable in tfjs anyway); the result is a new float32 tensor `[H, W, P]` /
 * `[B, H, W, P]`, or int32 `[…, 3]` in 0..255 for `preset: 'release'` (tfjs has no uint8 dtype). The input is not
 * disposed.
 *
 * @param image - `tf.Tensor3D` `[H, W, C]` or `tf.Tensor4D` `[B, H, W, C]`, C = 1, 3 or 4.
 * @param options - as {@link extractTsd}.
 * @throws ValidationError naming `extractTsdTensor` for a non-tensor or a wrong rank, and `extractTsd` errors for
 *   bad values or options.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { extractTsdTensor } from '@consistent-avatar/tsd';
 * const frames = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 7); // [B, H, W, C]
 * const tsd = extractTsdTensor(frames, { preset: 'paper' });
 * console.log(tsd.shape, tsd.dtype); // [ 2, 32, 32, 3 ] float32
 * tf.dispose([frames, tsd]);
 * ```
 */
export function extractTsdTensor(image: tf.Tensor3D | tf.Tensor4D, options?: TsdOptions): tf.Tensor {
  if (!(image instanceof tf.Tensor)) {
    throw new ValidationError('extractTsdTensor', 'image', 'a tf.Tensor3D [H, W, C] or tf.Tensor4D [B, H, W, C]', image);
  }
  if (image.rank !== 3 && image.rank !== 4) {
    throw new ValidationError('extractTsdTensor', 'image', 'a tensor of rank 3 [H, W, C] or 4 [B, H, W, C]', image);
  }
  const values = image.dtype === 'float32' ? (image.dataSync() as Float32Array) : Float32Array.from(image.dataSync());
  const result = extractTsd({ data: values, shape: image.shape }, options);
  if (result.data instanceof Uint8Array) return tf.tensor(Int32Array.from(result.data), result.shape, 'int32');
  return tf.tensor(result.data, result.shape, 'float32');
}
