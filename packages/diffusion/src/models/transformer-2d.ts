/**
 * diffusers' spatial transformer of SD's UNet: `Transformer2DModel` (GroupNorm → proj_in → BasicTransformerBlocks →
 * proj_out, + residual), `BasicTransformerBlock` (x += attn1(norm1 x); x += attn2(norm2 x, context);
 * x += ff(norm3 x)) and the GEGLU `FeedForward`. Feature maps are NHWC and flatten to tokens in row-major (h, w)
 * order, exactly diffusers' order.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { Transformer2DModel } from '@consistent-avatar/diffusion';
 * const t = new Transformer2DModel({ numAttentionHeads: 8, attentionHeadDim: 4, inChannels: 32, crossAttentionDim: 32, normNumGroups: 8, seed: 0 });
 * const y = t.forward(tf.zeros([1, 8, 8, 32]) as tf.Tensor4D, tf.zeros([1, 7, 32])); // [1, 8, 8, 32]
 * t.dispose();
 * ```
 */
import { nn, tf, ValidationError } from '@consistent-avatar/core';
import { Attention } from './attention.js';
import type { AttentionCallOptions, EncoderHiddenStates } from './attention-processors.js';
import { modelRng, type ModelInitOptions } from './init.js';
import { linearForward } from './linear.js';

/**
 * GEGLU: `proj` (dim → 2·inner), first half = value, second half = gate, value · GELU(gate) (exact erf GELU).
 * @example
 * ```ts
 * new GEGLU(8, 32, { seed: 0 }).forward(tf.zeros([2, 5, 8])).shape; // [2, 5, 32]
 * ```
 */
export class GEGLU extends nn.Module {
  readonly proj: nn.Linear;
  constructor(readonly dimIn: number, readonly dimOut: number, options: ModelInitOptions = {}) {
    super();
    this.proj = this.registerModule('proj', new nn.Linear(dimIn, dimOut * 2, { rng: modelRng(options, 'GEGLU') }));
  }
  /** `[..., dimIn]` → `[..., dimOut]`. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // Split the weight rows (contiguous, weight-sized) instead of the [N, 2·dimOut] activation: slicing the
      // activation was 9–13 % of the UNet forward on wasm (bench profile), SplitV twice that.
      const flat = x.reshape([-1, this.dimIn]) as tf.Tensor2D; // [N, in]
      const half = (row0: number) => {
        const w = tf.slice(this.proj.weight, [row0, 0], [this.dimOut, this.dimIn]) as tf.Tensor2D; // [out, in]
        const b = tf.slice(this.proj.bias!, [row0], [this.dimOut]);
        return tf.add(tf.matMul(flat, tf.transpose(w)), b); // [N, out]
      };
      const out = tf.mul(half(0), nn.gelu(half(this.dimOut))); // first half = value, second = gate
      return out.reshape([...x.shape.slice(0, -1), this.dimOut]);
    });
  }
}

/**
 * Feed-forward `net = [GEGLU(dim → mult·dim), Dropout, Linear(mult·dim → dim)]`. Keys `net.0.proj.*`, `net.2.*`.
 * @example
 * ```ts
 * new FeedForward(8, { seed: 0 }).forward(tf.zeros([2, 5, 8])).shape; // [2, 5, 8]
 * ```
 */
export class FeedForward extends nn.Module {
  readonly net: nn.ModuleList;
  constructor(readonly dim: number, options: ModelInitOptions & { mult?: number; dropout?: number } = {}) {
    super();
    const rng = modelRng(options, 'FeedForward');
    const inner = dim * (options.mult ?? 4);
    this.net = this.registerModule('net', new nn.ModuleList([new GEGLU(dim, inner, { rng }), new nn.Dropout(options.dropout ?? 0), new nn.Linear(inner, dim, { rng })]));
  }
  /**
   * GEGLU projection to `dim·mult`, dropout, projection back to `dim`.
   * @param x - `[B, L, dim]` → `[B, L, dim]`.
   * @param rng - seeds the dropout mask (needed in training mode when dropout > 0).
   */
  forward(x: tf.Tensor, rng?: AttentionCallOptions['rng']): tf.Tensor {
    return tf.tidy(() => {
      const h = (this.net.at(0) as GEGLU).forward(x);
      return linearForward(this.net.at(2) as nn.Linear, (this.net.at(1) as nn.Dropout).forward(h, rng));
    });
  }
}

/** Options of {@link BasicTransformerBlock}. */
export interface BasicTransformerBlockOptions extends ModelInitOptions {
  dim: number;
  numAttentionHeads: number;
  attentionHeadDim: number;
  crossAttentionDim: number;
  dropout?: number;
}

/**
 * Self-attention, cross-attention, GEGLU feed-forward, each pre-LayerNorm (eps 1e-5) with a residual.
 * @example
 * ```ts
 * const b = new BasicTransformerBlock({ dim: 32, numAttentionHeads: 8, attentionHeadDim: 4, crossAttentionDim: 16, seed: 0 });
 * b.forward(tf.zeros([1, 64, 32]), tf.zeros([1, 7, 16])).shape; // [1, 64, 32]
 * ```
 */
export class BasicTransformerBlock extends nn.Module {
  readonly norm1: nn.LayerNorm;
  readonly attn1: Attention;
  readonly norm2: nn.LayerNorm;
  readonly attn2: Attention;
  readonly norm3: nn.LayerNorm;
  readonly ff: FeedForward;
  constructor(options: BasicTransformerBlockOptions) {
    super();
    const rng = modelRng(options, 'BasicTransformerBlock');
    const { dim, numAttentionHeads: heads, attentionHeadDim: dimHead } = options;
    this.norm1 = this.registerModule('norm1', new nn.LayerNorm(dim, 1e-5));
    this.attn1 = this.registerModule('attn1', new Attention({ queryDim: dim, heads, dimHead, dropout: options.dropout, rng }));
    this.norm2 = this.registerModule('norm2', new nn.LayerNorm(dim, 1e-5));
    this.attn2 = this.registerModule('attn2', new Attention({ queryDim: dim, crossAttentionDim: options.crossAttentionDim, heads, dimHead, dropout: options.dropout, rng }));
    this.norm3 = this.registerModule('norm3', new nn.LayerNorm(dim, 1e-5));
    this.ff = this.registerModule('ff', new FeedForward(dim, { dropout: options.dropout, rng }));
  }
  /** `[B, L, dim]` tokens → `[B, L, dim]`. */
  forward(x: tf.Tensor, encoderHiddenStates: EncoderHiddenStates | null, options: AttentionCallOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let h = tf.add(x, this.attn1.forward(this.norm1.forward(x), null, options));
      h = tf.add(h, this.attn2.forward(this.norm2.forward(h), encoderHiddenStates, options));
      return tf.add(h, this.ff.forward(this.norm3.forward(h), options.rng));
    });
  }
}

/** Options of {@link Transformer2DModel} (diffusers argument names in camelCase). */
export interface Transformer2DModelOptions extends ModelInitOptions {
  numAttentionHeads: number;
  attentionHeadDim: number;
  inChannels: number;
  /** Number of BasicTransformerBlocks (default 1). */
  numLayers?: number;
  crossAttentionDim: number;
  /** Default 32. */
  normNumGroups?: number;
  /** Linear instead of 1×1-conv proj_in / proj_out (SD 2.x). Default false. */
  useLinearProjection?: boolean;
  dropout?: number;
}

/**
 * The spatial transformer. Keys: `norm` (GroupNorm, eps 1e-6), `proj_in`, `transformer_blocks.<i>`, `proj_out`.
 * inner dim = heads · headDim.
 * @example
 * ```ts
 * const t = new Transformer2DModel({ numAttentionHeads: 8, attentionHeadDim: 40, inChannels: 320, crossAttentionDim: 768 });
 * t.forward(tf.zeros([1, 8, 8, 320]) as tf.Tensor4D, tf.zeros([1, 77, 768])).shape; // [1, 8, 8, 320]
 * ```
 */
export class Transformer2DModel extends nn.Module {
  readonly inChannels: number;
  readonly innerDim: number;
  readonly useLinearProjection: boolean;
  readonly norm: nn.GroupNorm;
  readonly proj_in: nn.Conv2d | nn.Linear;
  readonly transformer_blocks: nn.ModuleList<BasicTransformerBlock>;
  readonly proj_out: nn.Conv2d | nn.Linear;
  constructor(options: Transformer2DModelOptions) {
    super();
    const rng = modelRng(options, 'Transformer2DModel');
    this.inChannels = options.inChannels;
    this.innerDim = options.numAttentionHeads * options.attentionHeadDim;
    this.useLinearProjection = options.useLinearProjection ?? false;
    this.norm = this.registerModule('norm', new nn.GroupNorm(options.normNumGroups ?? 32, this.inChannels, 1e-6));
    this.proj_in = this.registerModule('proj_in', this.useLinearProjection ? new nn.Linear(this.inChannels, this.innerDim, { rng }) : new nn.Conv2d(this.inChannels, this.innerDim, 1, { rng }));
    this.transformer_blocks = this.registerModule('transformer_blocks', new nn.ModuleList<BasicTransformerBlock>());
    for (let i = 0; i < (options.numLayers ?? 1); i++) {
      this.transformer_blocks.push(
        new BasicTransformerBlock({ dim: this.innerDim, numAttentionHeads: options.numAttentionHeads, attentionHeadDim: options.attentionHeadDim, crossAttentionDim: options.crossAttentionDim, dropout: options.dropout, rng }),
      );
    }
    this.proj_out = this.registerModule('proj_out', this.useLinearProjection ? new nn.Linear(this.innerDim, this.inChannels, { rng }) : new nn.Conv2d(this.innerDim, this.inChannels, 1, { rng }));
  }

  /** 1×1 conv or linear on NHWC maps, both as one matMul over `[B·H·W, C]`. */
  private project(layer: nn.Conv2d | nn.Linear, x: tf.Tensor, inCh: number, outCh: number): tf.Tensor {
    if (layer instanceof nn.Linear) return linearForward(layer, x);
    // A 1×1 conv is a matMul with the [1, 1, in, out] kernel viewed as [in, out]; fused bias, no conv setup.
    const flat = x.reshape([-1, inCh]) as tf.Tensor2D; // [N, in]
    const w = layer.weight.reshape([inCh, outCh]) as tf.Tensor2D; // [in, out]
    const y = tf.fused.matMul({ a: flat, b: w, bias: layer.bias ?? undefined });
    return y.reshape([...x.shape.slice(0, -1), outCh]);
  }

  /**
   * @param x - `[B, H, W, inChannels]`.
   * @param encoderHiddenStates - `[B, L, crossAttentionDim]` or `{ text, ipTokens }`.
   * @returns `[B, H, W, inChannels]`.
   */
  forward(x: tf.Tensor4D, encoderHiddenStates: EncoderHiddenStates | null, options: AttentionCallOptions = {}): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ValidationError('Transformer2DModel.forward', 'x', `[B, H, W, ${this.inChannels}] (NHWC)`, x);
    }
    return tf.tidy(() => {
      const [B, H, W] = x.shape;
      const normed = this.norm.forward(x);
      let h = this.project(this.proj_in, normed, this.inChannels, this.innerDim).reshape([B, H * W, this.innerDim]); // [B, H·W, inner]
      for (const block of this.transformer_blocks) h = block.forward(h, encoderHiddenStates, options);
      const out = this.project(this.proj_out, h, this.innerDim, this.inChannels).reshape([B, H, W, this.inChannels]); // [B, H, W, C]
      return tf.add(out, x) as tf.Tensor4D;
    });
  }
}
