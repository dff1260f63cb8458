/**
 * `extractTsdTensor`: {@link extractTsd} for a tfjs tensor (NHWC), returning a tensor.
 *
 * @packageDocumentation
 */
import { checkFinite, tf, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { extractTsd, type TsdOptions } from './extract-tsd.js';

/**
 * TSD of a `[H, W, C]` image or `[B, H, W, C]` batch tensor (values in [0, 1]). The filter runs on the CPU in
 * float64 (FFT ops are not differentiable in tfjs anyway); the result is a new float32 tensor `[H, W, P]` /
 * `[B, H, W, P]`. The input is not disposed.
 *
 * @param image - `tf.Tensor3D` `[H, W, C]` or `tf.Tensor4D` `[B, H, W, C]`, C = 1–4 (alpha ignored).
 * @param options - as {@link extractTsd}.
 * @throws ValidationError naming `extractTsdTensor` for a non-tensor, a disposed tensor or a wrong rank, and
 *   `extractTsd` errors for bad values or options.
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
  if (!(image instanceof tf.Tensor) || image.isDisposed) {
    throw new ValidationError('extractTsdTensor', 'image', 'a tf.Tensor3D [H, W, C] or tf.Tensor4D [B, H, W, C] (not disposed)', image);
  }
  if (image.rank !== 3 && image.rank !== 4) {
    throw new ValidationError('extractTsdTensor', 'image', 'a tensor of rank 3 [H, W, C] or 4 [B, H, W, C]', image);
  }
  const values = image.dtype === 'float32' ? (image.dataSync() as Float32Array) : Float32Array.from(image.dataSync());
  checkFinite('extractTsdTensor', 'image', values); // named here, with the flat index (extractTsd would name itself)
  const [batch, height, width, channels] = image.rank === 4 ? image.shape : [1, ...image.shape];
  const size = height! * width! * channels!;
  const frames: FloatImage[] = Array.from({ length: batch! }, (_, b) => ({
    data: values.subarray(b * size, (b + 1) * size), // [H, W, C] of frame b
    height: height!,
    width: width!,
    channels: channels!,
  }));
  const tsds = image.rank === 4 ? extractTsd(frames, options) : [extractTsd(frames[0]!, options)];
  const [h, w, planes] = tsds[0]!.shape as [number, number, number];
  const out = new Float32Array(batch! * h * w * planes);
  tsds.forEach((tsd, b) => out.set(tsd.data, b * h * w * planes));
  return tf.tensor(out, image.rank === 4 ? [batch!, h, w, planes] : [h, w, planes], 'float32'); // [B?, H, W, P]
}
