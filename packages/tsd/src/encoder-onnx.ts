/**
 * Export the {@link TsdEncoder} (ResNet-18-style, GroupNorm) to an ONNX graph through core's emitters, weights under
 * its torchvision names (`layer2.0.downsample.0.weight`, `fc.bias`), and run it in ONNX Runtime with
 * {@link OrtTsdEncoder}. Graph input `tsd` `[batch, inChannels, height, width]` (NCHW, values in [−1, 1]), output
 * `code` `[batch, outDim]`; batch and size are symbolic.
 *
 * @example
 * ```ts
 * import { OrtTsdEncoder, TsdEncoder } from '@consistent-avatar/tsd';
 * const encoder = new TsdEncoder({ width: 16, seed: 1 });
 * const native = new OrtTsdEncoder(encoder, { intraOpThreads: 2 });
 * native.forward(tsd).shape; // [B, 256], as encoder.forward(tsd)
 * native.dispose();
 * ```
 */
import { emitConv2d, emitGroupNorm, emitLinear, nn, OnnxGraph, tf, ValidationError, type OrtSyncSession } from '@consistent-avatar/core';
import { nhwcToOrt, openOrtSession, requireOrt, type OrtSessionPlacement } from '@consistent-avatar/diffusion';
import type { TsdEncoder } from './encoder.js';

/**
 * Build the encoder's graph (its current weights are copied).
 * @example
 * ```ts
 * const spec = exportTsdEncoderOnnx(encoder).spec('tsd_encoder'); // → encodeOnnxModel / writeOnnxModel
 * ```
 */
export function exportTsdEncoderOnnx(encoder: TsdEncoder): OnnxGraph {
  if (typeof encoder !== 'object' || encoder === null || !('stages' in encoder) || !('fc' in encoder)) throw new ValidationError('exportTsdEncoderOnnx', 'encoder', 'a TsdEncoder', encoder);
  const c = encoder.config;
  const g = new OnnxGraph();
  const x = g.input('tsd', ['batch', c.inChannels, 'height', 'width']);
  // 1. Stem: conv 7×7 / 2 → norm → ReLU → max pool 3×3 / 2 (padding 1).
  let h = g.op('Relu', [emitGroupNorm(g, 'bn1', encoder.bn1, emitConv2d(g, 'conv1', encoder.conv1, x))]);
  h = g.op('MaxPool', [h], [{ name: 'kernel_shape', ints: [3, 3] }, { name: 'strides', ints: [2, 2] }, { name: 'pads', ints: [1, 1, 1, 1] }]); // [B, w, H/4, W/4]
  // 2. BasicBlocks: ReLU(bn2(conv2(ReLU(bn1(conv1 x)))) + shortcut).
  encoder.stages.forEach((stage, s) =>
    stage.items.forEach((block, b) => {
      const name = `layer${s + 1}.${b}`;
      const inner = g.op('Relu', [emitGroupNorm(g, `${name}.bn1`, block.bn1, emitConv2d(g, `${name}.conv1`, block.conv1, h))]);
      const out = emitGroupNorm(g, `${name}.bn2`, block.bn2, emitConv2d(g, `${name}.conv2`, block.conv2, inner));
      const shortcut = block.downsample
        ? emitGroupNorm(g, `${name}.downsample.1`, block.downsample.at(1) as nn.GroupNorm, emitConv2d(g, `${name}.downsample.0`, block.downsample.at(0) as nn.Conv2d, h))
        : h;
      h = g.op('Relu', [g.op('Add', [out, shortcut])]);
    }),
  );
  // 3. Head: global average pool → fc.
  const pooled = g.op('ReduceMean', [h], [{ name: 'axes', ints: [2, 3] }, { name: 'keepdims', int: 0 }]); // [B, 8w]
  g.output(emitLinear(g, 'fc', encoder.fc, pooled), 'code', ['batch', c.outDim]);
  return g;
}

/**
 * The TSD encoder in an ONNX Runtime session with {@link TsdEncoder.forward}'s signature (NHWC in). Weights are
 * copied at construction; `dispose()` releases the session.
 * @example
 * ```ts
 * const native = new OrtTsdEncoder(encoder);
 * native.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D).shape; // [1, 256]
 * ```
 */
export class OrtTsdEncoder {
  readonly inChannels: number;
  readonly outDim: number;
  private session: OrtSyncSession | null;

  /** @throws `BackendUnavailableError` when onnxruntime-node cannot load. */
  constructor(encoder: TsdEncoder, options: OrtSessionPlacement = {}) {
    if (typeof options !== 'object' || options === null) throw new ValidationError('OrtTsdEncoder', 'options', 'an options object', options);
    requireOrt('OrtTsdEncoder');
    const graph = exportTsdEncoderOnnx(encoder);
    this.inChannels = encoder.config.inChannels;
    this.outDim = encoder.config.outDim;
    this.session = openOrtSession('OrtTsdEncoder', graph.spec('tsd_encoder'), options);
  }

  /** `[B, H, W, inChannels]` TSD in [−1, 1] → `[B, outDim]` (owned by the caller). */
  forward(tsd: tf.Tensor4D): tf.Tensor2D {
    const F = 'OrtTsdEncoder.forward';
    if (!this.session) throw new ValidationError(F, 'this', 'an OrtTsdEncoder that is not disposed', 'disposed');
    if (!(tsd instanceof tf.Tensor) || tsd.rank !== 4 || tsd.shape[3] !== this.inChannels) throw new ValidationError(F, 'tsd', `a tensor [B, H, W, ${this.inChannels}] (NHWC)`, tsd);
    const B = tsd.shape[0];
    const code = new Float32Array(B * this.outDim);
    this.session.run({ tsd: nhwcToOrt(tsd) }, { code: { dims: [B, this.outDim], data: code } });
    return tf.tensor2d(code, [B, this.outDim]);
  }

  /** Release the native session (idempotent). */
  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}
