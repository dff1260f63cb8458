/**
 * Layers with PyTorch-compatible parameter names and initialisation: `Linear`, `Conv2d`, `ConvTranspose2d`,
 * `GroupNorm`, `LayerNorm`, `Embedding`, `Dropout`. Activations are NHWC ([B, H, W, C]) for images and [..., C] for
 * sequences.
 *
 * Non-finite numbers: a layer's `forward` carries NaN / ±Infinity from its input to the outputs that depend on it and
 * never checks (a check reads the tensor back from the device, once per layer per training step). The library's
 * entry points check before the layers run (the UNet timestep, scheduler samples, estimator and encoder inputs) and
 * training stops with a `NonFiniteError` at the loss or gradient; a caller that builds its own network from these
 * layers checks its inputs with `checkFinite`.
 *
 * @example
 * ```ts
 * import { nn, Rng, tf } from '@consistent-avatar/core';
 * const conv = new nn.Conv2d(3, 8, 3, { padding: 1, rng: new Rng(0) });
 * const y = conv.forward(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D); // [1, 16, 16, 8]
 * conv.dispose();
 * ```
 */
import { tf } from '../backend/tf.js';
import { checkConfigField, configField } from '../config.js';
import { ValidationError } from '../errors.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { normalTensor, torchDefaultBound, uniformTensor } from './init.js';
import { groupNorm } from '../kernels/group-norm.js';

/**
 * A `[height, width]` pair (kernel size, stride, padding, dilation); layer options also accept one number for both.
 * @example
 * ```ts
 * const stride: nn.Pair = [2, 1]; // stride 2 along H, 1 along W
 * ```
 */
export type Pair = [number, number];
const POSITIVE_INT = configField.positiveInt();

/**
 * Largest kernel size, stride, dilation or padding a convolution layer accepts (issue 19: a stride of 2^40 or a
 * dilation of 2^30 passed the checks and aborted the wasm module, "memory access out of bounds"). Far above any
 * released network (Stable Diffusion: kernel 3, stride 2, padding 1).
 *
 * @example
 * ```ts
 * import { nn } from '@consistent-avatar/core';
 * new nn.Conv2d(3, 8, 3, { padding: nn.MAX_CONV_GEOMETRY + 1 }); // ValidationError naming Conv2d's 'padding'
 * ```
 */
export const MAX_CONV_GEOMETRY = 1024;
const PAIR = configField.either(configField.nonNegativeInt({ max: MAX_CONV_GEOMETRY }), configField.intArray({ min: 0, max: MAX_CONV_GEOMETRY, length: 2 }));
function pair(fn: string, arg: string, v: number | Pair): Pair {
  checkConfigField(fn, arg, PAIR, v);
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}
function lastDim(fn: string, x: tf.Tensor, expected: number): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== expected) {
    throw new ValidationError(fn, 'x', `a tensor whose last dimension is ${expected}`, x);
  }
}

/** Options shared by layers with weights. */
export interface InitOptions {
  /** Generator for the initial weights (default: a fixed seed 0 — pass your own for independent layers). */
  rng?: Rng;
}

/** y = x·Wᵀ + b. Weight stored as PyTorch `[out, in]` (identity torch layout). */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    checkConfigField('Linear', 'inFeatures', POSITIVE_INT, inFeatures);
    checkConfigField('Linear', 'outFeatures', POSITIVE_INT, outFeatures);
    const rng = options.rng ?? new Rng(0);
    const bound = torchDefaultBound(inFeatures);
    this.weight = this.registerParameter('weight', uniformTensor(rng, [outFeatures, inFeatures], bound));
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformTensor(rng, [outFeatures], bound));
  }
  /**
   * y = x·Wᵀ + b over the last dimension.
   * @param x - `[..., in]` → `[..., out]`.
   */
  forward(x: tf.Tensor): tf.Tensor {
    lastDim('Linear.forward', x, this.inFeatures);
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.rank === 2 ? (x as tf.Tensor2D) : x.reshape([-1, this.inFeatures]) as tf.Tensor2D; // [N, in]
      // Not tf.fused.matMul: tfjs-wasm 4.22 applies the bias along the wrong axis when transposeB is set.
      const xw = tf.matMul(x2, this.weight as tf.Tensor2D, false, true); // [N, out]
      const y = this.bias ? tf.add(xw, this.bias) : xw;
      return x.rank === 2 ? y : y.reshape([...lead, this.outFeatures]);
    });
  }
}

/** Options of {@link Conv2d}. */
export interface Conv2dOptions extends InitOptions {
  stride?: number | Pair;
  /** Symmetric zero padding per side (PyTorch semantics), or 'same' / 'valid'. Default 0. */
  padding?: number | Pair | 'same' | 'valid';
  dilation?: number | Pair;
  groups?: number;
  bias?: boolean;
}

/**
 * 2-D convolution on NHWC input. Weight stored HWIO `[kh, kw, in/groups, out]`; PyTorch's OIHW loads through the
 * `conv2d` torch layout (transpose [2, 3, 1, 0]). Groups: 1, depthwise (groups = in), or any divisor (split/concat).
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly dilation: Pair;
  readonly groups: number;
  private readonly pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | Pair,
    options: Conv2dOptions = {},
  ) {
    super();
    checkConfigField('Conv2d', 'inChannels', POSITIVE_INT, inChannels);
    checkConfigField('Conv2d', 'outChannels', POSITIVE_INT, outChannels);
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize);
    this.stride = pair('Conv2d', 'stride', options.stride ?? 1);
    this.dilation = pair('Conv2d', 'dilation', options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    checkConfigField('Conv2d', 'groups', POSITIVE_INT, this.groups);
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new ValidationError('Conv2d', 'groups', `a divisor of inChannels (${inChannels}) and outChannels (${outChannels})`, this.groups);
    }
    const padding = options.padding ?? 0;
    if (padding === 'same' || padding === 'valid') this.pad = padding;
    else {
      const [ph, pw] = pair('Conv2d', 'padding', padding);
      this.pad = [[0, 0], [ph, ph], [pw, pw], [0, 0]];
    }
    const rng = options.rng ?? new Rng(0);
    const [kh, kw] = this.kernelSize;
    const fanIn = (inChannels / this.groups) * kh * kw;
    const bound = torchDefaultBound(fanIn);
    // Draw in PyTorch's OIHW order so a given seed gives the same numbers as the torch layout would, then transpose.
    const oihw = uniformTensor(rng, [outChannels, inChannels / this.groups, kh, kw], bound);
    const hwio = tf.transpose(oihw, [2, 3, 1, 0]); // [kh, kw, in/groups, out]
    oihw.dispose();
    this.weight = this.registerParameter('weight', hwio, 'conv2d');
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformTensor(rng, [outChannels], bound));
  }

  /**
   * The padding as constructed: `'same'`, `'valid'`, or `[ph, pw]` zeros on each side of H and W (read by exporters,
   * e.g. the ONNX emitter).
   * @example
   * ```ts
   * new nn.Conv2d(4, 8, 3, { padding: 1 }).padding; // [1, 1]
   * ```
   */
  get padding(): 'same' | 'valid' | Pair {
    return Array.isArray(this.pad) ? [this.pad[1][0], this.pad[2][0]] : this.pad;
  }

  /**
   * Convolve with the layer's stride, padding, dilation and groups, then add the bias.
   * @param x - `[B, H, W, in]` → `[B, H', W', out]`.
   */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ValidationError('Conv2d.forward', 'x', `[B, H, W, ${this.inChannels}] (NHWC)`, x);
    }
    if (Array.isArray(this.pad)) {
      // The dilated kernel must fit the padded input (a larger one aborted the wasm module instead of throwing).
      for (const axis of [0, 1] as const) {
        const extent = this.dilation[axis] * (this.kernelSize[axis] - 1) + 1;
        const padded = x.shape[axis + 1] + 2 * this.pad[axis + 1]![0];
        if (extent > padded) {
          throw new ValidationError('Conv2d.forward', 'x', `${axis === 0 ? 'height' : 'width'} + 2·padding ≥ the dilated kernel's extent ${extent}`, x);
        }
      }
    }
    return tf.tidy(() => {
      const w = this.weight as tf.Tensor4D;
      let y: tf.Tensor4D;
      if (this.groups === 1) {
        y = tf.conv2d(x, w, this.stride, this.pad, 'NHWC', this.dilation);
      } else if (this.groups === this.inChannels) {
        // depthwise: [kh, kw, 1, out] → [kh, kw, in, out/in] (torch out channel o = c·m + j ↔ tf c·m + j)
        const m = this.outChannels / this.inChannels;
        const dw = w.reshape([this.kernelSize[0], this.kernelSize[1], this.inChannels, m]) as tf.Tensor4D;
        y = tf.depthwiseConv2d(x, dw, this.stride, this.pad, 'NHWC', this.dilation);
      } else {
        const xs = tf.split(x, this.groups, 3);
        const ws = tf.split(w, this.groups, 3);
        y = tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, this.stride, this.pad, 'NHWC', this.dilation)), 3);
      }
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

/**
 * Transposed 2-D convolution (PyTorch `ConvTranspose2d`, groups 1) on NHWC input. Weight stored `[kh, kw, out, in]`;
 * PyTorch's `[in, out, kh, kw]` loads through the `conv2dTranspose` torch layout.
 * Output size: (H − 1)·stride − 2·padding + kernel + outputPadding.
 */
export class ConvTranspose2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly outputPadding: Pair;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | Pair,
    options: InitOptions & { stride?: number | Pair; padding?: number | Pair; outputPadding?: number | Pair; bias?: boolean } = {},
  ) {
    super();
    checkConfigField('ConvTranspose2d', 'inChannels', POSITIVE_INT, inChannels);
    checkConfigField('ConvTranspose2d', 'outChannels', POSITIVE_INT, outChannels);
    this.kernelSize = pair('ConvTranspose2d', 'kernelSize', kernelSize);
    this.stride = pair('ConvTranspose2d', 'stride', options.stride ?? 1);
    this.padding = pair('ConvTranspose2d', 'padding', options.padding ?? 0);
    this.outputPadding = pair('ConvTranspose2d', 'outputPadding', options.outputPadding ?? 0);
    const rng = options.rng ?? new Rng(0);
    const [kh, kw] = this.kernelSize;
    // PyTorch computes fan_in from weight.size(1) * kh * kw = out * kh * kw for transposed convs.
    const bound = torchDefaultBound(outChannels * kh * kw);
    const torchW = uniformTensor(rng, [inChannels, outChannels, kh, kw], bound);
    const ours = tf.transpose(torchW, [2, 3, 1, 0]); // [kh, kw, out, in]
    torchW.dispose();
    this.weight = this.registerParameter('weight', ours, 'conv2dTranspose');
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformTensor(rng, [outChannels], bound));
  }
  /**
   * Transposed convolution, cropped by `padding` and extended by `outputPadding` like PyTorch, then the bias.
   * @param x - `[B, H, W, in]` → `[B, H', W', out]`.
   */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ValidationError('ConvTranspose2d.forward', 'x', `[B, H, W, ${this.inChannels}] (NHWC)`, x);
    }
    return tf.tidy(() => {
      const [B, H, W] = x.shape;
      const [kh, kw] = this.kernelSize;
      const [sh, sw] = this.stride;
      const [ph, pw] = this.padding;
      const fullH = (H - 1) * sh + kh;
      const fullW = (W - 1) * sw + kw;
      // Transposed conv with no padding, then crop `padding` from each side and extend by outputPadding.
      let y = tf.conv2dTranspose(x, this.weight as tf.Tensor4D, [B, fullH, fullW, this.outChannels], this.stride, 'valid');
      const [oph, opw] = this.outputPadding;
      if (oph || opw) y = tf.pad(y, [[0, 0], [0, oph], [0, opw], [0, 0]]);
      const outH = fullH - 2 * ph + oph;
      const outW = fullW - 2 * pw + opw;
      if (ph || pw) y = tf.slice(y, [0, ph, pw, 0], [B, outH, outW, this.outChannels]);
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

/**
 * Group normalisation over channels-last input `[B, ..., C]` (PyTorch `nn.GroupNorm(numGroups, numChannels, eps)`):
 * statistics over all non-batch positions and the C/G channels of each group, biased variance.
 */
export class GroupNorm extends Module {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    checkConfigField('GroupNorm', 'numGroups', POSITIVE_INT, numGroups);
    checkConfigField('GroupNorm', 'numChannels', POSITIVE_INT, numChannels);
    if (numChannels % numGroups) throw new ValidationError('GroupNorm', 'numGroups', `a divisor of numChannels (${numChannels})`, numGroups);
    checkConfigField('GroupNorm', 'eps', configField.number({ min: 0 }), eps); // finite: a NaN eps made every output NaN
    this.weight = affine ? this.registerParameter('weight', tf.ones([numChannels])) : null;
    this.bias = affine ? this.registerParameter('bias', tf.zeros([numChannels])) : null;
  }
  /**
   * Normalise each group of C/G channels over all non-batch positions, then apply the affine weight and bias.
   * @param x - `[B, ..., C]` (NHWC images or [B, L, C] sequences) → the same shape.
   */
  forward<T extends tf.Tensor>(x: T): T {
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.numChannels) {
      throw new ValidationError('GroupNorm.forward', 'x', `[B, ..., ${this.numChannels}]`, x);
    }
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps); // fused kernels on wasm / cpu (kernels/group-norm.ts)
  }
}

/**
 * Batch normalisation with frozen statistics on NHWC input: torchvision's `FrozenBatchNorm2d`, which is PyTorch's
 * `nn.BatchNorm2d` in eval mode — per channel c, `y = (x − running_mean[c]) / √(running_var[c] + eps) · weight[c] +
 * bias[c]`. For networks run with trained weights (a ResNet trunk loaded from a PyTorch checkpoint); nothing here is
 * trained, so all five state-dict entries of `nn.BatchNorm2d` (`weight`, `bias`, `running_mean`, `running_var`,
 * `num_batches_tracked`) are buffers, and training mode changes nothing.
 *
 * @example
 * ```ts
 * const bn = new nn.FrozenBatchNorm2d(64);
 * bn.loadStateDict(torchBnTensors, { layout: 'torch' }); // the keys of a PyTorch BatchNorm2d
 * const y = bn.forward(x);                               // [B, H, W, 64]
 * ```
 */
export class FrozenBatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly running_mean: tf.Variable;
  readonly running_var: tf.Variable;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
  ) {
    super();
    checkConfigField('FrozenBatchNorm2d', 'numFeatures', POSITIVE_INT, numFeatures);
    checkConfigField('FrozenBatchNorm2d', 'eps', configField.number({ min: 0 }), eps);
    this.weight = this.registerBuffer('weight', tf.ones([numFeatures]));
    this.bias = this.registerBuffer('bias', tf.zeros([numFeatures]));
    this.running_mean = this.registerBuffer('running_mean', tf.zeros([numFeatures]));
    this.running_var = this.registerBuffer('running_var', tf.ones([numFeatures]));
    this.registerBuffer('num_batches_tracked', tf.scalar(0, 'int32'));
  }
  /**
   * Normalise each channel with the stored running statistics, then apply weight and bias.
   * @param x - `[B, H, W, numFeatures]` → the same shape.
   */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== this.numFeatures) {
      throw new ValidationError('FrozenBatchNorm2d.forward', 'x', `[B, H, W, ${this.numFeatures}] (NHWC)`, x);
    }
    return tf.tidy(() => {
      // (x − μ)·s + β with s = γ / √(σ² + ε), the affine form torchvision's FrozenBatchNorm2d computes.
      const scale = tf.mul(this.weight, tf.rsqrt(tf.add(this.running_var, this.eps))); // [C]
      const shift = tf.sub(this.bias, tf.mul(this.running_mean, scale)); // [C]
      return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
    });
  }
}

/** Layer normalisation over the last dimension (PyTorch `nn.LayerNorm(dim, eps)`). */
export class LayerNorm extends Module {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
    elementwiseAffine = true,
  ) {
    super();
    checkConfigField('LayerNorm', 'dim', POSITIVE_INT, dim);
    checkConfigField('LayerNorm', 'eps', configField.number({ min: 0 }), eps);
    this.weight = elementwiseAffine ? this.registerParameter('weight', tf.ones([dim])) : null;
    this.bias = elementwiseAffine ? this.registerParameter('bias', tf.zeros([dim])) : null;
  }
  /**
   * Normalise over the last dimension (biased variance), then apply the affine weight and bias.
   * @param x - `[..., dim]` → the same shape.
   */
  forward<T extends tf.Tensor>(x: T): T {
    lastDim('LayerNorm.forward', x, this.dim);
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
      return (this.weight ? tf.add(tf.mul(normed, this.weight), this.bias!) : normed) as T;
    });
  }
}

/** Lookup table (PyTorch `nn.Embedding`, weight `[num, dim]`, initialised N(0, 1)). */
export class Embedding extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: InitOptions = {},
  ) {
    super();
    checkConfigField('Embedding', 'numEmbeddings', POSITIVE_INT, numEmbeddings);
    checkConfigField('Embedding', 'embeddingDim', POSITIVE_INT, embeddingDim);
    this.weight = this.registerParameter('weight', normalTensor(options.rng ?? new Rng(0), [numEmbeddings, embeddingDim]));
  }
  /**
   * Look up one row of the table per id.
   * @param ids - int32 tensor of any shape with values in [0, num) → `[...ids.shape, dim]`.
   */
  forward(ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== 'int32') throw new ValidationError('Embedding.forward', 'ids', 'an int32 tensor', ids);
    return tf.tidy(() => tf.gather(this.weight, ids));
  }
}

/**
 * Dropout with seeded masks: active only in training mode and only when an {@link Rng} is passed (a call without one
 * in training mode throws, so no draw is ever unseeded). Scales kept units by 1/(1 − p) like PyTorch.
 */
export class Dropout extends Module {
  constructor(
    /** Drop probability in [0, 1) (default 0.5). */
    readonly p = 0.5,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new ValidationError('Dropout', 'p', 'a probability in [0, 1)', p);
  }
  /**
   * Zero each element with probability `p` and scale the rest by 1/(1 − p) in training mode; `x` itself otherwise.
   * @param x - any shape → the same shape.
   * @param rng - seeds the mask; required in training mode when p > 0.
   */
  forward<T extends tf.Tensor>(x: T, rng?: Rng): T {
    if (!this.training || this.p === 0) return x;
    if (!rng) throw new ValidationError('Dropout.forward', 'rng', 'an Rng in training mode (dropout masks are seeded)', rng);
    return tf.dropout(x, this.p, undefined, rng.nextUint32()) as T;
  }
}
