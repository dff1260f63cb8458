/**
 * Axis-angle → rotation matrix (Rodrigues' formula), batched and differentiable, computed exactly as smplx's
 * `batch_rodrigues` (used by FLAME_PyTorch and DECA): angle = ‖θ + 1e-8‖ (the epsilon is added to every component
 * *before* the norm, so θ = 0 gives the identity without a 0/0), axis = θ / angle, R = I + sin·K + (1 − cos)·K².
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { batchRodrigues } from '@consistent-avatar/proxy';
 * const R = batchRodrigues(tf.tensor2d([[0, 0, Math.PI / 2]])); // [1, 3, 3] rotation of 90° about z
 * R.print();
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';

/**
 * Rotation matrices from axis-angle vectors.
 *
 * @param axisAngle - `[N, 3]` axis-angle vectors (radians).
 * @returns `[N, 3, 3]` rotation matrices (row-major, R·x rotates column vectors). A non-finite row gives a non-finite
 *   matrix for that row only, unchecked (this runs inside `FlameModel.forward`, which checks its parameters).
 * @example
 * ```ts
 * const R = batchRodrigues(tf.tensor2d([[0, 0, Math.PI / 2]])); // [1, 3, 3]: x → y
 * ```
 */
export function batchRodrigues(axisAngle: tf.Tensor2D): tf.Tensor3D {
  if (!(axisAngle instanceof tf.Tensor) || axisAngle.rank !== 2 || axisAngle.shape[1] !== 3) {
    throw new ValidationError('batchRodrigues', 'axisAngle', 'a tensor of shape [N, 3]', axisAngle);
  }
  return tf.tidy(() => {
    const n = axisAngle.shape[0];
    // 1. angle = ‖θ + 1e-8‖ (smplx adds the epsilon before taking the norm).
    const angle = tf.norm(tf.add(axisAngle, 1e-8), 'euclidean', 1, true); // [N, 1]
    const dir = tf.div(axisAngle, angle); // [N, 3]
    const cos = tf.cos(angle).reshape([n, 1, 1]); // [N, 1, 1]
    const sin = tf.sin(angle).reshape([n, 1, 1]); // [N, 1, 1]
    // 2. K = skew(axis).
    const [rx, ry, rz] = tf.split(dir, 3, 1) as tf.Tensor2D[]; // each [N, 1]
    const zeros = tf.zerosLike(rx);
    const k = tf.concat([zeros, tf.neg(rz), ry, rz, zeros, tf.neg(rx), tf.neg(ry), rx, zeros], 1).reshape([n, 3, 3]); // [N, 3, 3]
    // 3. R = I + sin·K + (1 − cos)·K².
    const eye = tf.eye(3).expandDims(0); // [1, 3, 3]
    const k2 = tf.matMul(k, k); // [N, 3, 3]
    return tf.add(tf.add(eye, tf.mul(sin, k)), tf.mul(tf.sub(1, cos), k2)) as tf.Tensor3D;
  });
}
