/**
 * Convolution gradients composed from fast tfjs ops (matMul, conv2d, depthwiseConv2d, strided slices), used to
 * register the wasm backend's missing training kernels and to extend tfjs's conv gradients to dilation > 1.
 *
 * All tensors are NHWC; filters are HWIO ([kh, kw, inChannels, outChannels]) for conv2d and [kh, kw, C, M] for
 * depthwise. Padding follows tfjs: 'same' | 'valid' | a number | explicit [[0,0],[t,b],[l,r],[0,0]].
 */
import { tf } from '../backend/tf.js';

/**
 * Convolution padding as tfjs takes it: `'same'`, `'valid'`, one number for every side, or explicit NHWC pairs
 * `[[0, 0], [top, bottom], [left, right], [0, 0]]`.
 * @example
 * ```ts
 * const pad: Pad = [[0, 0], [1, 1], [2, 2], [0, 0]]; // 1 row above and below, 2 columns left and right
 * ```
 */
export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = [number, number];

function pair(v: number | number[] | undefined, fallback: number): Pair {
  if (v == null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];
}

export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  kh: number;
  kw: number;
  strides: Pair;
  dilations: Pair;
  top: number;
  left: number;
}

/**
 * Output size and padding of a 2-D convolution, exactly as tfjs computes them (backend_util.computeConv2DInfo).
 *
 * @example
 * ```ts
 * convGeometry([1, 8, 8, 3], [3, 3, 3, 4], 2, 'same', 1, undefined, false).outHeight; // 4
 * ```
 */
export function convGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dilations: number | number[] | undefined,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): ConvGeometry {
  const s = pair(strides, 1);
  const d = pair(dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, s, d, pad, dimRoundingMode, depthwise, 'channelsLast');
  return {
    batch: xShape[0],
    inHeight: xShape[1],
    inWidth: xShape[2],
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    kh: filterShape[0],
    kw: filterShape[1],
    strides: s,
    dilations: d,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/**
 * `x` zero-padded so that every tap reads inside it: rows i·dh + y·sh − top for i < kh, y < outH (and columns alike).
 */
function padForTaps(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const needH = (g.kh - 1) * dh + (g.outHeight - 1) * sh + 1;
  const needW = (g.kw - 1) * dw + (g.outWidth - 1) * sw + 1;
  const bottom = Math.max(0, needH - g.inHeight - g.top);
  const right = Math.max(0, needW - g.inWidth - g.left);
  return g.top || bottom || g.left || right
    ? tf.pad(x, [
        [0, 0],
        [g.top, bottom],
        [g.left, right],
        [0, 0],
      ])
    : x;
}

/**
 * The im2col patches of `x` for every filter tap: `[kh*kw, B, outH, outW, C]` as a list of `[B, outH, outW, C]`
 * strided slices of the zero-padded input (tap order row-major over (i, j)).
 */
function tapSlices(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D[] {
  const [C] = [x.shape[3]];
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const xp = padForTaps(x, g);
  const slices: tf.Tensor4D[] = [];
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      // [B, outH, outW, C]
      slices.push(
        tf.stridedSlice(
          xp,
          [0, i * dh, j * dw, 0],
          [g.batch, i * dh + (g.outHeight - 1) * sh + 1, j * dw + (g.outWidth - 1) * sw + 1, C],
          [1, sh, sw, 1],
        ) as tf.Tensor4D,
      );
    }
  }
  return slices;
}

/**
 * ∂L/∂W of `conv2d(x, W)` given ∂L/∂y. Supports stride, dilation and any padding: a 1×1 stride-1 filter is one
 * matrix product; otherwise, when stride or dilation is 1, one conv2d of the transposed input with `dy` as the
 * filter; otherwise im2col of `x` (one strided slice per tap, concatenated on channels) times `dy`.
 *
 * @param x - `[B, H, W, Cin]`.
 * @param dy - `[B, outH, outW, Cout]`.
 * @returns `[kh, kw, Cin, Cout]`.
 *
 * @example
 * ```ts
 * const dW = conv2dFilterGrad(tf.ones([1, 8, 8, 3]), tf.ones([1, 4, 4, 4]), [3, 3, 3, 4], 2, 'same'); // [3, 3, 3, 4]
 * ```
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dilations?: number | number[],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(x.shape, filterShape, strides, pad, dilations, dimRoundingMode, false);
    const [kh, kw, cin, cout] = filterShape;
    const n = g.batch * g.outHeight * g.outWidth;
    const pointwise = kh === 1 && kw === 1 && g.strides[0] === 1 && g.strides[1] === 1 && g.top === 0 && g.left === 0;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    if (!pointwise && ((sh === 1 && sw === 1) || (dh === 1 && dw === 1))) {
      // dW[i, j, c, o] = Σ_{b,y,x} xp[b, i·dh + y·sh, j·dw + x·sw, c] · dy[b, y, x, o]: a correlation of the padded
      // input seen as [Cin, Hp, Wp, B] with dy seen as a [outH, outW, B, Cout] filter, stride = the conv's
      // dilation and dilation = the conv's stride (tfjs needs one of them to be 1). One fast conv2d instead of
      // kh·kw strided slices: 3–25× faster on wasm for 3×3 filters (batch 1–32).
      const xt = tf.transpose(padForTaps(x, g), [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, Hp, Wp, B]
      const filter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [outH, outW, B, Cout]
      const full = tf.conv2d(xt, filter, [dh, dw], 'valid', 'NHWC', [sh, sw]); // [Cin, ≥kh, ≥kw, Cout]
      return tf.transpose(full.slice([0, 0, 0, 0], [cin, kh, kw, cout]), [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, Cin, Cout]
    }
    const cols = pointwise
      ? x.reshape([n, cin]) // [B*H*W, Cin]
      : (tf.concat(tapSlices(x, g), 3).reshape([n, kh * kw * cin]) as tf.Tensor2D); // [B*oh*ow, kh*kw*Cin]
    const dy2 = dy.reshape([n, cout]); // [B*oh*ow, Cout]
    const grad = tf.matMul(cols, dy2, true, false); // [kh*kw*Cin, Cout]
    return grad.reshape([kh, kw, cin, cout]) as tf.Tensor4D;
  });
}

/**
 * Insert (stride − 1) zeros between the rows and columns of `dy` and pad it so that a stride-1 correlation with
 * the flipped filter yields the input gradient of a strided, dilated, padded convolution.
 */
function upsampleAndPadForTranspose(dy: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const [B, oh, ow, C] = dy.shape;
  const [sh, sw] = g.strides;
  let up: tf.Tensor4D = dy;
  if (sh > 1 || sw > 1) {
    // [B, oh, 1, ow, 1, C] → pad → [B, oh, sh, ow, sw, C] → [B, oh*sh, ow*sw, C] → keep (oh-1)*sh+1 rows
    up = tf
      .pad(dy.reshape([B, oh, 1, ow, 1, C]), [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ])
      .reshape([B, oh * sh, ow * sw, C])
      .slice([0, 0, 0, 0], [B, (oh - 1) * sh + 1, (ow - 1) * sw + 1, C]) as tf.Tensor4D;
  }
  const effH = (g.kh - 1) * g.dilations[0] + 1;
  const effW = (g.kw - 1) * g.dilations[1] + 1;
  const upH = up.shape[1];
  const upW = up.shape[2];
  // Correlation output length = padded − eff + 1 must equal the input size.
  const before = [effH - 1 - g.top, effW - 1 - g.left];
  const after = [g.inHeight + effH - 1 - before[0]! - upH, g.inWidth + effW - 1 - before[1]! - upW];
  // Negative amounts crop instead of pad.
  const cropTop = Math.max(0, -before[0]!);
  const cropLeft = Math.max(0, -before[1]!);
  const cropBottom = Math.max(0, -after[0]!);
  const cropRight = Math.max(0, -after[1]!);
  if (cropTop || cropLeft || cropBottom || cropRight) {
    up = up.slice([0, cropTop, cropLeft, 0], [B, upH - cropTop - cropBottom, upW - cropLeft - cropRight, C]);
  }
  return tf.pad(up, [
    [0, 0],
    [Math.max(0, before[0]!), Math.max(0, after[0]!)],
    [Math.max(0, before[1]!), Math.max(0, after[1]!)],
    [0, 0],
  ]) as tf.Tensor4D;
}

/**
 * ∂L/∂x of `conv2d(x, W)` given ∂L/∂y, as a stride-1 dilated correlation of the zero-upsampled gradient with the
 * flipped, transposed filter. Used where tfjs's own gradient refuses dilation > 1.
 *
 * @returns `[B, H, W, Cin]`.
 *
 * @example
 * ```ts
 * const dx = conv2dInputGrad([1, 9, 9, 3], tf.ones([1, 9, 9, 4]), tf.ones([3, 3, 3, 4]), 1, 'same', 2); // dilation 2 → [1, 9, 9, 3]
 * ```
 */
export function conv2dInputGrad(
  xShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number | number[],
  pad: Pad,
  dilations?: number | number[],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(xShape, filter.shape, strides, pad, dilations, dimRoundingMode, false);
    const padded = upsampleAndPadForTranspose(dy, g);
    // [kh, kw, Cin, Cout] → flipped spatially, channels swapped → [kh, kw, Cout, Cin]
    const flipped = tf.reverse(filter, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(padded, flipped, 1, 'valid', 'NHWC', g.dilations);
  });
}

/**
 * ∂L/∂W of `depthwiseConv2d(x, W)` (filter `[kh, kw, C, M]`, output channel c*M + m) given ∂L/∂y, as one batched
 * matrix product over channels of the im2col taps with `dy`.
 *
 * @example
 * ```ts
 * const dW = depthwiseFilterGrad(tf.ones([1, 8, 8, 3]), tf.ones([1, 8, 8, 6]), [3, 3, 3, 2], 1, 'same'); // [3, 3, 3, 2]
 * ```
 */
export function depthwiseFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dilations?: number | number[],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(x.shape, filterShape, strides, pad, dilations, dimRoundingMode, true);
    const [kh, kw, C, M] = filterShape;
    const n = g.batch * g.outHeight * g.outWidth;
    const taps = kh * kw;
    const cols = tf.stack(tapSlices(x, g), 0).reshape([taps, n, C]); // [T, N, C]
    const colsByChannel = cols.transpose([2, 0, 1]); // [C, T, N]
    const dyByChannel = dy.reshape([n, C, M]).transpose([1, 0, 2]); // [C, N, M]
    const grad = tf.matMul(colsByChannel, dyByChannel); // [C, T, M]
    return grad.transpose([1, 0, 2]).reshape([kh, kw, C, M]) as tf.Tensor4D; // [T, C, M] → [kh, kw, C, M]
  });
}

/**
 * ∂L/∂x of `depthwiseConv2d(x, W)` given ∂L/∂y: a depthwise stride-1 dilated correlation of the zero-upsampled
 * gradient with the flipped filter, summed over the channel multiplier.
 *
 * @example
 * ```ts
 * const dx = depthwiseInputGrad([1, 8, 8, 3], tf.ones([1, 4, 4, 3]), tf.ones([3, 3, 3, 1]), 2, 'same'); // [1, 8, 8, 3]
 * ```
 */
export function depthwiseInputGrad(
  xShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number | number[],
  pad: Pad,
  dilations?: number | number[],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(xShape, filter.shape, strides, pad, dilations, dimRoundingMode, true);
    const [kh, kw, C, M] = filter.shape;
    const padded = upsampleAndPadForTranspose(dy, g); // [B, H', W', C*M]
    const flipped = tf.reverse(filter, [0, 1]).reshape([kh, kw, C * M, 1]) as tf.Tensor4D; // [kh, kw, C*M, 1]
    const perOutput = tf.depthwiseConv2d(padded, flipped, 1, 'valid', 'NHWC', g.dilations); // [B, H, W, C*M]
    if (M === 1) return perOutput;
    const [B, H, W] = perOutput.shape;
    return perOutput.reshape([B, H, W, C, M]).sum(4) as tf.Tensor4D; // [B, H, W, C]
  });
}
