/**
 * DECA's coarse encoder `E_flame` (Feng et al., "Learning an Animatable Detailed 3D Face Model from In-The-Wild
 * Images", SIGGRAPH 2021; decalib/models/encoders.py `ResnetEncoder`): a ResNet-50 trunk (Bottleneck blocks
 * [3, 4, 6, 3], stride on the 3×3 conv, 7×7 average pool) → Linear(2048, 1024) → ReLU → Linear(1024, 236), the 236
 * codes split as shape 100, tex 50, exp 50, pose 6, cam 3, light 27.
 *
 * It loads the user's converted DECA weights (see the package README); nothing is downloaded. Eval-mode BatchNorm
 * is folded into the preceding convolution at load time (`W·γ/√(σ²+ε)`, `β − μ·γ/√(σ²+ε)`, ε = 1e-5). Widths are
 * read from the weights, so reduced-width test checkpoints load through the same code. Input: face crops in [0, 1]
 * resized to 224² (DECA crops faces with a landmark detector first; this estimator does not crop).
 */
import { tf, readSafetensors, FormatError, ValidationError, type SafetensorsTensor } from '@consistent-avatar/core';
import { assertImage, type MetricImage } from './image.js';
import type { PoseExpressionCodes, PoseExpressionEstimator } from './pose-expression.js';

/**
 * DECA's code layout (`param_dict` order).
 * @example
 * ```ts
 * const expStart = DECA_CODE_SIZES.shape + DECA_CODE_SIZES.tex; // 150
 * ```
 */
export const DECA_CODE_SIZES = { shape: 100, tex: 50, exp: 50, pose: 6, cam: 3, light: 27 } as const;

interface FoldedConv {
  readonly weight: tf.Tensor4D; // HWIO, BN folded in
  readonly bias: tf.Tensor1D;
  readonly stride: number;
  readonly pad: number;
}
interface Block {
  readonly conv1: FoldedConv;
  readonly conv2: FoldedConv;
  readonly conv3: FoldedConv;
  readonly downsample?: FoldedConv;
}

const BLOCKS = [3, 4, 6, 3];
const BN_EPS = 1e-5;

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
export class DecaEstimator implements PoseExpressionEstimator {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'DECA E_flame (user-supplied weights)';
  readonly expressionSize = DECA_CODE_SIZES.exp;
  private stem: FoldedConv | undefined;
  private readonly blocks: Block[][];
  private readonly fc: { w1: tf.Tensor2D; b1: tf.Tensor1D; w2: tf.Tensor2D; b2: tf.Tensor1D };

  private constructor(stem: FoldedConv, blocks: Block[][], fc: DecaEstimator['fc']) {
    this.stem = stem;
    this.blocks = blocks;
    this.fc = fc;
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
   * Build from already-read tensors (see {@link DecaEstimator.fromSafetensors}).
   *
   * @example
   * ```ts
   * const deca = DecaEstimator.fromTensors(readSafetensors('deca.safetensors').tensors);
   * ```
   */
  static fromTensors(tensors: Record<string, SafetensorsTensor>, file = '<tensors>'): DecaEstimator {
    const prefix = Object.hasOwn(tensors, 'E_flame.encoder.conv1.weight') ? 'E_flame.' : '';
    const get = (key: string, rank?: number): SafetensorsTensor => {
      const t = tensors[prefix + key];
      if (!t) throw new FormatError('safetensors', file, `missing DECA weight '${prefix + key}'`);
      if (rank !== undefined && t.shape.length !== rank) {
        throw new FormatError('safetensors', file, `${prefix + key}: expected rank ${rank}, got [${t.shape}]`);
      }
      return t;
    };
    const f32 = (t: SafetensorsTensor) => Float32Array.from(t.data as ArrayLike<number>);
    const created: tf.Tensor[] = [];
    const track = <T extends tf.Tensor>(t: T): T => {
      created.push(t);
      return t;
    };
    // conv (OIHW, no bias) + eval BatchNorm → HWIO weight and bias.
    const fold = (conv: string, bn: string, stride: number, pad: number): FoldedConv => {
      const w = get(`${conv}.weight`, 4);
      const [o, i, kh, kw] = w.shape as [number, number, number, number];
      const gamma = f32(get(`${bn}.weight`, 1));
      const beta = f32(get(`${bn}.bias`, 1));
      const mean = f32(get(`${bn}.running_mean`, 1));
      const variance = f32(get(`${bn}.running_var`, 1));
      if (gamma.length !== o) throw new FormatError('safetensors', file, `${bn}: expected ${o} channels, got ${gamma.length}`);
      const scale = gamma.map((g, c) => g / Math.sqrt(variance[c]! + BN_EPS));
      const oihw = f32(w);
      const per = i * kh * kw;
      for (let c = 0; c < o; c++) for (let j = 0; j < per; j++) oihw[c * per + j]! *= scale[c]!;
      const weight = track(tf.tidy(() => tf.transpose(tf.tensor4d(oihw, [o, i, kh, kw]), [2, 3, 1, 0]) as tf.Tensor4D)); // OIHW → HWIO
      const bias = track(tf.tensor1d(beta.map((b, c) => b - mean[c]! * scale[c]!)));
      return { weight, bias, stride, pad };
    };
    try {
      const stem = fold('encoder.conv1', 'encoder.bn1', 2, 3);
      const blocks = BLOCKS.map((count, l) =>
        Array.from({ length: count }, (_, b) => {
          const base = `encoder.layer${l + 1}.${b}`;
          const stride = l > 0 && b === 0 ? 2 : 1;
          const hasDown = Object.hasOwn(tensors, `${prefix}${base}.downsample.0.weight`);
          return {
            conv1: fold(`${base}.conv1`, `${base}.bn1`, 1, 0),
            conv2: fold(`${base}.conv2`, `${base}.bn2`, stride, 1),
            conv3: fold(`${base}.conv3`, `${base}.bn3`, 1, 0),
            ...(hasDown ? { downsample: fold(`${base}.downsample.0`, `${base}.downsample.1`, stride, 0) } : {}),
          };
        }),
      );
      const lin = (k: string) => {
        const w = get(`layers.${k}.weight`, 2);
        const [out, inp] = w.shape as [number, number];
        // PyTorch Linear weight [out, in] → [in, out] for x·W.
        const wt = track(tf.tidy(() => tf.transpose(tf.tensor2d(f32(w), [out, inp])) as tf.Tensor2D));
        return { w: wt, b: track(tf.tensor1d(f32(get(`layers.${k}.bias`, 1)))) };
      };
      const l0 = lin('0');
      const l2 = lin('2');
      if (l2.w.shape[1] !== 236) throw new FormatError('safetensors', file, `layers.2.weight: expected 236 outputs, got ${l2.w.shape[1]}`);
      return new DecaEstimator(stem, blocks, { w1: l0.w, b1: l0.b, w2: l2.w, b2: l2.b });
    } catch (error) {
      for (const t of created) t.dispose();
      throw error;
    }
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
    const stem = this.stem;
    if (!stem) throw new ValidationError(fn, 'this', 'an undisposed DecaEstimator', 'disposed');
    if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[1] !== 224 || images.shape[2] !== 224 || images.shape[3] !== 3) {
      throw new ValidationError(fn, 'images', 'a [N, 224, 224, 3] tensor', images);
    }
    const conv = (x: tf.Tensor4D, c: FoldedConv, relu: boolean): tf.Tensor4D =>
      tf.fused.conv2d({ x, filter: c.weight, strides: c.stride, pad: c.pad, bias: c.bias, activation: relu ? 'relu' : 'linear' });
    return tf.tidy(() => {
      let x = conv(images, stem, true); // [N, 112, 112, w]
      // MaxPool 3×3 / 2, padding 1: inputs are ≥ 0 after ReLU, so zero padding equals PyTorch's −∞ padding.
      x = tf.maxPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid'); // [N, 56, 56, w]
      for (const layer of this.blocks) {
        for (const b of layer) {
          const residual = b.downsample ? conv(x, b.downsample, false) : x;
          const h = conv(conv(conv(x, b.conv1, true), b.conv2, true), b.conv3, false);
          x = tf.relu(tf.add(h, residual)) as tf.Tensor4D;
        }
      }
      const features = tf.mean(x, [1, 2]) as tf.Tensor2D; // AvgPool2d(7) on the 7×7 map → [N, 2048]
      const hidden = tf.relu(tf.add(tf.matMul(features, this.fc.w1), this.fc.b1));
      return tf.add(tf.matMul(hidden, this.fc.w2), this.fc.b2) as tf.Tensor2D; // [N, 236]
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
  async estimate(frames: readonly MetricImage[]): Promise<(PoseExpressionCodes | null)[]> {
    const fn = 'DecaEstimator.estimate';
    if (!Array.isArray(frames)) throw new ValidationError(fn, 'frames', 'an array of [H, W, 3] images', frames);
    const out: PoseExpressionCodes[] = [];
    for (const [i, f] of frames.entries()) {
      assertImage(fn, `frames[${i}]`, f);
      if (f.channels !== 3) throw new ValidationError(fn, `frames[${i}].channels`, '3 (RGB)', f.channels);
      const codes = tf.tidy(() => {
        const img = tf.tensor4d(Float32Array.from(f.data), [1, f.height, f.width, 3]);
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

  /** Free the weights. */
  dispose(): void {
    if (!this.stem) return;
    const convs = [this.stem, ...this.blocks.flat().flatMap((b) => [b.conv1, b.conv2, b.conv3, ...(b.downsample ? [b.downsample] : [])])];
    for (const c of convs) {
      c.weight.dispose();
      c.bias.dispose();
    }
    for (const t of Object.values(this.fc)) t.dispose();
    this.stem = undefined;
  }
}
