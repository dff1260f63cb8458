/**
 * Replacements for two tfjs-wasm 4.22 gradient kernels that return wrong values (checked against the cpu backend):
 * `MaxPoolGrad` and `ResizeNearestNeighborGrad` (upsampling). Both are rebuilt from fast wasm ops.
 */
import { tf } from '../backend/tf.js';
import type { Pad } from './conv-grads.js';

/**
 * The adjoint of `stridedSlice(x, [0, r0, c0, 0], …, [1, sr, sc, 1])`: place `t` ([B, h, w, C]) at rows r0 + k·sr
 * and columns c0 + k·sc of a zero tensor of height `H` and width `W`.
 */
function placeStrided(t: tf.Tensor4D, r0: number, c0: number, sr: number, sc: number, H: number, W: number): tf.Tensor4D {
  const [B, h, w, C] = t.shape;
  let up: tf.Tensor4D = t;
  if (sr > 1 || sc > 1) {
    // [B, h, 1, w, 1, C] → [B, h, sr, w, sc, C] → [B, h·sr, w·sc, C]
    up = tf
      .pad(t.reshape([B, h, 1, w, 1, C]), [[0, 0], [0, 0], [0, sr - 1], [0, 0], [0, sc - 1], [0, 0]])
      .reshape([B, h * sr, w * sc, C]) as tf.Tensor4D;
  }
  const uh = Math.min(up.shape[1], H - r0);
  const uw = Math.min(up.shape[2], W - c0);
  if (uh !== up.shape[1] || uw !== up.shape[2]) up = up.slice([0, 0, 0, 0], [B, uh, uw, C]);
  return tf.pad(up, [[0, 0], [r0, H - r0 - uh], [c0, W - c0 - uw], [0, 0]]) as tf.Tensor4D;
}

/**
 * ∂L/∂x of max pooling: each window's gradient goes to the first position (row-major within the window) holding
 * the maximum, as TensorFlow routes it.
 *
 * @example
 * ```ts
 * const x = tf.tensor4d([1, 3, 2, 0], [1, 2, 2, 1]);
 * const dx = maxPoolGrad(tf.ones([1, 1, 1, 1]), x, tf.maxPool(x, 2, 2, 'valid'), 2, 2, 'valid'); // [[0, 1], [0, 0]]
 * ```
 */
export function maxPoolGrad(
  dy: tf.Tensor4D,
  input: tf.Tensor4D,
  output: tf.Tensor4D,
  filterSize: number | [number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(input.shape, filterSize, strides, 1, pad, dimRoundingMode);
    const [B, H, W, C] = input.shape;
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const Hp = Math.max(H + top, (oh - 1) * sh + kh);
    const Wp = Math.max(W + left, (ow - 1) * sw + kw);
    const padded = tf.pad(input, [[0, 0], [top, Hp - H - top], [left, Wp - W - left], [0, 0]], -Infinity) as tf.Tensor4D;
    let taken = tf.zeros([B, oh, ow, C], 'bool') as tf.Tensor4D;
    let grad = tf.zeros([B, Hp, Wp, C]) as tf.Tensor4D;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        // [B, oh, ow, C] values under tap (i, j) of every window
        const patch = tf.stridedSlice(padded, [0, i, j, 0], [B, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, C], [1, sh, sw, 1]) as tf.Tensor4D;
        const hit = tf.logicalAnd(tf.equal(patch, output), tf.logicalNot(taken));
        taken = tf.logicalOr(taken, hit) as tf.Tensor4D;
        const contribution = tf.where(hit, dy, tf.zerosLike(dy)) as tf.Tensor4D;
        grad = tf.add(grad, placeStrided(contribution, i, j, sh, sw, Hp, Wp));
      }
    }
    return grad.slice([0, top, left, 0], [B, H, W, C]);
  });
}

/**
 * Source row (or column) of each output row under tfjs's ResizeNearestNeighbor rules.
 *
 * @example
 * ```ts
 * nearestSourceIndex(2, 4, false, false); // Int32Array [0, 0, 1, 1]
 * ```
 */
export function nearestSourceIndex(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const idx = new Int32Array(outSize);
  for (let r = 0; r < outSize; r++) {
    const frac = halfPixelCenters ? ratio * (r + 0.5) : ratio * r;
    let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) src = Math.max(0, src);
    idx[r] = src;
  }
  return idx;
}

/**
 * ∂L/∂images of nearest-neighbour resizing: every output pixel's gradient added to its source pixel (scatterND).
 *
 * @example
 * ```ts
 * resizeNearestGrad(tf.ones([1, 4, 4, 1]), [1, 2, 2, 1], false, false); // every source pixel receives 4
 * ```
 */
export function resizeNearestGrad(dy: tf.Tensor4D, inputShape: readonly number[], alignCorners: boolean, halfPixelCenters: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, oh, ow, C] = dy.shape;
    const H = inputShape[1]!;
    const W = inputShape[2]!;
    const rows = nearestSourceIndex(H, oh, alignCorners, halfPixelCenters);
    const cols = nearestSourceIndex(W, ow, alignCorners, halfPixelCenters);
    const target = new Int32Array(oh * ow);
    for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) target[y * ow + x] = rows[y]! * W + cols[x]!;
    const indices = tf.tensor2d(target, [oh * ow, 1], 'int32'); // [oh·ow, 1] → flat source pixel
    const updates = dy.reshape([B, oh * ow, C]).transpose([1, 0, 2]); // [oh·ow, B, C]
    const summed = tf.scatterND(indices, updates, [H * W, B, C]); // duplicates are summed
    return summed.transpose([1, 0, 2]).reshape([B, H, W, C]) as tf.Tensor4D; // [B, H, W, C]
  });
}
