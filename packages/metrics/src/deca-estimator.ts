/**
 * DECA's coarse encoder `E_flame` (Feng et al., "Learning an Animatable Detailed 3D Face Model from In-The-Wild
 * Images", SIGGRAPH 2021; decalib/models/encoders.py `ResnetEncoder`): a ResNet-50 trunk (Bottleneck blocks
 * [3, 4, 6, 3], stride on the 3×3 conv, 7×7 average pool) → Linear(2048, 1024) → ReLU → Linear(1024, 236), the 236
 * codes split as shape 100, tex 50, exp 50, pose 6, cam 3, light 27.
 *
 * The network is an `nn.Module` with DECA's key names (`encoder.layer2.0.downsample.1.running_var`, `layers.2.bias`);
 * it loads the user's converted DECA weights (see the package README) through `nn.Module.loadStateDict` with the torch
 * layout — nothing is downloaded. BatchNorm runs in eval mode (`nn.FrozenBatchNorm2d`, ε = 1e-5). Widths are read from
 * the weights, so reduced-width test checkpoints load through the same code. Input: face crops (core `Image`s, float
 * in [0, 1] or bytes) resized to 224² (DECA crops faces with a landmark detector first; this estimator does not crop).
 */
import { checkFinite, checkImage, nn, readSafetensors, tf, FormatError, ValidationError, type Image, type SafetensorsTensor } from '@consistent-avatar/core';
import { floatImage } from './image.js';
import type { PoseExpressionCodes, PoseExpressionEstimator } from './pose-expression.js';
import { Children, loadReferenceWeights } from './reference-weights.js';

/**
 * DECA's code layout (`param_dict` order).
 * @example
 * ```ts
 * const expStart = DECA_CODE_SIZES.shape + DECA_CODE_SIZES.tex; // 150
 * ```
 */
export const DECA_CODE_SIZES = { shape: 100, tex: 50, exp: 50, pose: 6, cam: 3, light: 27 } as const;

/** 236 = 100 + 50 + 50 + 6 + 3 + 27. */
const DECA_CODES = Object.values(DECA_CODE_SIZES).reduce((a, b) => a + b, 0);

const BLOCKS = [3, 4, 6, 3];

/** torchvision's ResNet Bottleneck: 1×1 → 3×3 (stride) → 1×1 (×4), BatchNorm after each, projection shortcut. */
class Bottleneck extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.FrozenBatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.FrozenBatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.FrozenBatchNorm2d;
  /** `downsample.0` (1×1 conv, stride) and `downsample.1` (BatchNorm), when the shape changes. */
  readonly downsample: nn.ModuleList | null;
  constructor(inChannels: number, planes: number, stride: number) {
    super();
    const out = 4 * planes;
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inChannels, planes, 1, { bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.FrozenBatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.FrozenBatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(planes, out, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new nn.FrozenBatchNorm2d(out));
    this.downsample = stride !== 1 || inChannels !== out
      ? this.registerModule('downsample', new nn.ModuleList([new nn.Conv2d(inChannels, out, 1, { stride, bias: false }), new nn.FrozenBatchNorm2d(out)]))
      : null;
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [down, downBn] = (this.downsample?.items ?? []) as [nn.Conv2d?, nn.FrozenBatchNorm2d?];
      const residual = down && downBn ? downBn.forward(down.forward(x)) : x;
      let h = tf.relu(this.bn1.forward(this.conv1.forward(x))) as tf.Tensor4D;
      h = tf.relu(this.bn2.forward(this.conv2.forward(h))) as tf.Tensor4D;
      h = this.bn3.forward(this.conv3.forward(h));
      return tf.relu(tf.add(h, residual)) as tf.Tensor4D;
    });
  }
}

/** torchvision's ResNet-50 without its classifier (DECA's `encoder`), base width `width` (64 for the real one). */
class ResNet50Trunk extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.FrozenBatchNorm2d;
  readonly layers: nn.ModuleList<Bottleneck>[];
  constructor(width: number) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(3, width, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.FrozenBatchNorm2d(width));
    let inChannels = width;
    this.layers = BLOCKS.map((count, l) => {
      const planes = width * 2 ** l;
      const blocks = Array.from({ length: count }, (_, b) => {
        const block = new Bottleneck(inChannels, planes, l > 0 && b === 0 ? 2 : 1);
        inChannels = 4 * planes;
        return block;
      });
      return this.registerModule(`layer${l + 1}`, new nn.ModuleList(blocks));
    });
  }
  /** `[N, 224, 224, 3]` → `[N, 32·width]` (the 7×7 average pool). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h = tf.relu(this.bn1.forward(this.conv1.forward(x))) as tf.Tensor4D; // [N, 112, 112, w]
      // MaxPool 3×3 / 2, padding 1: inputs are ≥ 0 after ReLU, so zero padding equals PyTorch's −∞ padding.
      h = tf.maxPool(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid'); // [N, 56, 56, w]
      for (const layer of this.layers) for (const block of layer) h = block.forward(h); // [N, 7, 7, 32w]
      return tf.mean(h, [1, 2]) as tf.Tensor2D; // AvgPool2d(7) on the 7×7 map → [N, 32w]
    });
  }
}

/**
 * DECA `E_flame` encoder as a {@link PoseExpressionEstimator}: pose = DECA's 6 pose codes (global + jaw
 * axis-angle), expression = its 50 expression codes. Call {@link DecaEstimator.dispose} when done.
 *
 * @example
 * ```ts
 * const deca = DecaEstimator.fromSafetensors('deca_E_flame.safetensors');
 * const { pe, ee } = await evaluatePoseExpression(deca, generatedFaceCrops, realFaceCrops);
 * deca.dispose();
 * ```
 */
export class DecaEstimator extends nn.Module implements PoseExpressionEstimator {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'DECA E_flame (user-supplied weights)';
  readonly expressionSize = DECA_CODE_SIZES.exp;
  /** DECA's `encoder`: the ResNet-50 trunk. */
  readonly encoder: ResNet50Trunk;
  /** DECA's `layers.0`: Linear(32·width, hidden). */
  private readonly fc1: nn.Linear;
  /** DECA's `layers.2`: Linear(hidden, 236) (`layers.1` is the parameter-free ReLU). */
  private readonly fc2: nn.Linear;

  private constructor(width: number, hidden: number) {
    super();
    // Weights come from the file; the constructors' seeded init is overwritten.
    this.encoder = this.registerModule('encoder', new ResNet50Trunk(width));
    const layers = this.registerModule('layers', new Children());
    this.fc1 = layers.add(0, new nn.Linear(32 * width, hidden));
    this.fc2 = layers.add(2, new nn.Linear(hidden, DECA_CODES));
  }

  /**
   * Load from a safetensors file holding DECA's `E_flame` state dict (keys `encoder.*` and `layers.0/2.*`, with or
   * without an `E_flame.` prefix).
   *
   * @example
   * ```ts
   * const deca = DecaEstimator.fromSafetensors('deca_E_flame.safetensors');
   * ```
   */
  static fromSafetensors(path: string): DecaEstimator {
    if (typeof path !== 'string') throw new ValidationError('DecaEstimator.fromSafetensors', 'path', 'a file path', path);
    return DecaEstimator.fromTensors(readSafetensors(path).tensors, path);
  }

  /**
   * Build from already-read tensors (see {@link DecaEstimator.fromSafetensors}). The base width and the hidden size
   * are read from `encoder.conv1.weight` and `layers.0.weight`; everything loads through `nn.Module.loadStateDict`
   * (torch layout), and missing or mis-shaped weights throw a {@link FormatError}.
   *
   * @example
   * ```ts
   * const deca = DecaEstimator.fromTensors(readSafetensors('deca.safetensors').tensors);
   * ```
   */
  static fromTensors(tensors: Record<string, SafetensorsTensor>, file = '<tensors>'): DecaEstimator {
    if (tensors === null || typeof tensors !== 'object') throw new ValidationError('DecaEstimator.fromTensors', 'tensors', 'a record of tensors', tensors);
    const prefix = Object.hasOwn(tensors, 'E_flame.encoder.conv1.weight') ? 'E_flame.' : '';
    const shapeOf = (key: string, rank: number): number[] => {
      const t = tensors[prefix + key];
      if (!t) throw new FormatError('safetensors', file, `missing DECA weight '${prefix + key}'`);
      if (t.shape.length !== rank) throw new FormatError('safetensors', file, `${prefix + key}: expected rank ${rank}, got [${t.shape}]`);
      return t.shape;
    };
    const width = shapeOf('encoder.conv1.weight', 4)[0]!; // [w, 3, 7, 7]
    const hidden = shapeOf('layers.0.weight', 2)[0]!; // [hidden, 32w]
    const model = new DecaEstimator(width, hidden);
    try {
      loadReferenceWeights(model, tensors, {
        file,
        what: 'DECA',
        rename: (key) => (key.startsWith(prefix) ? key.slice(prefix.length) : null),
        // The README's conversion keeps floating-point tensors only; eval-mode BatchNorm never reads the counter.
        optional: (key) => key.endsWith('.num_batches_tracked'),
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /**
   * All 236 codes for a batch of `[N, 224, 224, 3]` images in [0, 1] (differentiable; use inside `tf.tidy`).
   *
   * @example
   * ```ts
   * const codes = tf.tidy(() => deca.forward(batch)); // [N, 236]
   * ```
   */
  forward(images: tf.Tensor4D): tf.Tensor2D {
    const fn = 'DecaEstimator.forward';
    if (this.isDisposed) throw new ValidationError(fn, 'this', 'an undisposed DecaEstimator', 'disposed');
    if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[1] !== 224 || images.shape[2] !== 224 || images.shape[3] !== 3) {
      throw new ValidationError(fn, 'images', 'a [N, 224, 224, 3] tensor', images);
    }
    checkFinite(fn, 'images', images); // core's non-finite policy
    return tf.tidy(() => {
      const features = this.encoder.forward(images); // [N, 32w]
      return this.fc2.forward(tf.relu(this.fc1.forward(features))) as tf.Tensor2D; // [N, 236]
    });
  }

  /**
   * Pose (6) and expression (50) codes per frame; frames are resized to 224² (bilinear). Never returns `null`:
   * the encoder has no notion of "no face" — feed it face crops.
   *
   * @example
   * ```ts
   * const [codes] = await deca.estimate([faceCrop]); // codes.pose.length === 6, codes.expression.length === 50
   * ```
   */
  async estimate(frames: readonly Image[]): Promise<(PoseExpressionCodes | null)[]> {
    const fn = 'DecaEstimator.estimate';
    if (!Array.isArray(frames)) throw new ValidationError(fn, 'frames', 'an array of [H, W, 3] images', frames);
    frames.forEach((f, i) => checkImage(fn, `frames[${i}]`, f, { channels: [3] }));
    const out: PoseExpressionCodes[] = [];
    for (const [i, f] of frames.entries()) {
      const pixels = floatImage(fn, `frames[${i}]`, f).data; // bytes → [0, 1], once
      const codes = tf.tidy(() => {
        const img = tf.tensor4d(pixels, [1, f.height, f.width, 3]);
        const sized = f.height === 224 && f.width === 224 ? img : tf.image.resizeBilinear(img, [224, 224], false, true);
        return this.forward(sized as tf.Tensor4D);
      });
      const c = (await codes.data()) as Float32Array;
      codes.dispose();
      const { shape, tex, exp } = DECA_CODE_SIZES;
      const e0 = shape + tex;
      out.push({ expression: c.slice(e0, e0 + exp), pose: c.slice(e0 + exp, e0 + exp + DECA_CODE_SIZES.pose) });
    }
    return out;
  }
}
