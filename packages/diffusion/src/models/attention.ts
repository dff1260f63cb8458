/**
 * diffusers `Attention`: multi-head scaled dot-product attention with `to_q`, `to_k`, `to_v`, `to_out.0` (and, in the
 * VAE, an inner `group_norm` and a residual). The math lives in {@link Attention.multiHeadAttention} (batched matMul,
 * softmax, scale 1/√d — no einsum); the per-call wiring (which tokens feed keys / values, IP-Adapter branches) lives
 * in a swappable processor registered as the child `processor`, so processor weights save and load under
 * `<path>.processor.*` exactly like diffusers.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { Attention } from '@consistent-avatar/diffusion';
 * const attn = new Attention({ queryDim: 32, crossAttentionDim: 24, heads: 4, dimHead: 8, seed: 0 });
 * const out = attn.forward(tf.zeros([2, 10, 32]), tf.zeros([2, 5, 24])); // [2, 10, 32]
 * attn.dispose();
 * ```
 */
import { nn, tf, ValidationError, type Rng } from '@consistent-avatar/core';
import { modelRng, type ModelInitOptions } from './init.js';
import { linearForward } from './linear.js';
import { AttnProcessor, type AttentionCallOptions, type AttentionProcessor, type EncoderHiddenStates } from './attention-processors.js';

/** Construction options of {@link Attention} (diffusers' `Attention.__init__` arguments in camelCase). */
export interface AttentionOptions extends ModelInitOptions {
  queryDim: number;
  /** Size of the key/value input (default `queryDim`: self-attention). */
  crossAttentionDim?: number | null;
  /** Number of heads (default 8). */
  heads?: number;
  /** Size of each head (default 64). */
  dimHead?: number;
  /** Bias on to_q / to_k / to_v (default false). */
  bias?: boolean;
  /** Bias on to_out.0 (default true). */
  outBias?: boolean;
  /** Dropout after to_out.0 (default 0). */
  dropout?: number;
  /** Add the input back (default false; true in the VAE). */
  residualConnection?: boolean;
  /** Divide the output by this (default 1). */
  rescaleOutputFactor?: number;
  /** Groups of the inner `group_norm` (VAE); null = none. */
  normNumGroups?: number | null;
  /** Epsilon of the inner group norm (default 1e-5). */
  eps?: number;
  /** Output size (default `queryDim`). */
  outDim?: number;
  /**
   * Largest score matrix materialised at once, in elements (default 2²⁴ = 64 MB of float32). Longer sequences run
   * in query chunks — the same softmax per query row, so identical results — instead of allocating
   * B·heads·Lq·Lk at once (SD 1.5 at 512²: 8·4096² = 134 M floats per image in the first block).
   */
  maxScoreElements?: number;
}

/**
 * One attention layer. Keys: `group_norm.*`, `to_q.*`, `to_k.*`, `to_v.*`, `to_out.0.*`, `processor.*`.
 * @example
 * ```ts
 * const attn = new Attention({ queryDim: 64, heads: 1, dimHead: 64, bias: true, residualConnection: true, normNumGroups: 8, seed: 0 });
 * attn.forward(tf.zeros([1, 8, 8, 64])).shape; // VAE-style self-attention on a map: [1, 8, 8, 64]
 * ```
 */
export class Attention extends nn.Module {
  readonly queryDim: number;
  readonly crossAttentionDim: number;
  readonly heads: number;
  readonly dimHead: number;
  readonly innerDim: number;
  readonly isCrossAttention: boolean;
  readonly residualConnection: boolean;
  readonly rescaleOutputFactor: number;
  readonly maxScoreElements: number;
  /** Softmax scale 1/√dimHead. */
  readonly scale: number;
  readonly group_norm: nn.GroupNorm | null;
  readonly to_q: nn.Linear;
  readonly to_k: nn.Linear;
  readonly to_v: nn.Linear;
  readonly to_out: nn.ModuleList;
  private currentProcessor: AttentionProcessor;

  constructor(options: AttentionOptions) {
    super();
    const rng = modelRng(options, 'Attention');
    this.queryDim = options.queryDim;
    this.isCrossAttention = options.crossAttentionDim != null;
    this.crossAttentionDim = options.crossAttentionDim ?? options.queryDim;
    this.heads = options.heads ?? 8;
    this.dimHead = options.dimHead ?? 64;
    for (const [name, v] of [['queryDim', this.queryDim], ['heads', this.heads], ['dimHead', this.dimHead], ['crossAttentionDim', this.crossAttentionDim]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new ValidationError('Attention', `options.${name}`, 'a positive integer', v);
    }
    this.innerDim = this.heads * this.dimHead;
    this.residualConnection = options.residualConnection ?? false;
    this.rescaleOutputFactor = options.rescaleOutputFactor ?? 1;
    this.scale = 1 / Math.sqrt(this.dimHead);
    this.maxScoreElements = options.maxScoreElements ?? 2 ** 24;
    if (!Number.isInteger(this.maxScoreElements) || this.maxScoreElements <= 0) {
      throw new ValidationError('Attention', 'options.maxScoreElements', 'a positive integer', options.maxScoreElements);
    }
    const bias = options.bias ?? false;
    this.group_norm = options.normNumGroups ? this.registerModule('group_norm', new nn.GroupNorm(options.normNumGroups, this.queryDim, options.eps ?? 1e-5)) : null;
    this.to_q = this.registerModule('to_q', new nn.Linear(this.queryDim, this.innerDim, { rng, bias }));
    this.to_k = this.registerModule('to_k', new nn.Linear(this.crossAttentionDim, this.innerDim, { rng, bias }));
    this.to_v = this.registerModule('to_v', new nn.Linear(this.crossAttentionDim, this.innerDim, { rng, bias }));
    this.to_out = this.registerModule(
      'to_out',
      new nn.ModuleList([new nn.Linear(this.innerDim, options.outDim ?? this.queryDim, { rng, bias: options.outBias ?? true }), new nn.Dropout(options.dropout ?? 0)]),
    );
    this.currentProcessor = this.registerModule('processor', new AttnProcessor());
  }

  /** The processor that runs this layer (`<path>.processor` in diffusers' registry). */
  get processor(): AttentionProcessor {
    return this.currentProcessor;
  }

  /**
   * Swap the processor. The previous one is disposed (its weights, if any, are freed) unless `disposeOld` is false.
   */
  setProcessor(processor: AttentionProcessor, disposeOld = true): void {
    if (!(processor instanceof nn.Module) || typeof (processor as AttentionProcessor).process !== 'function') {
      throw new ValidationError('Attention.setProcessor', 'processor', 'an AttentionProcessor (an nn.Module with process())', processor);
    }
    this.currentProcessor = this.replaceModule('processor', processor, disposeOld);
  }

  /** `to_out.0` then its dropout. */
  projectOut(x: tf.Tensor, rng?: Rng): tf.Tensor {
    const linear = this.to_out.at(0) as nn.Linear;
    const drop = this.to_out.at(1) as nn.Dropout;
    return drop.forward(linearForward(linear, x), rng);
  }

  /**
   * Multi-head attention core: heads split from contiguous channel slices (head h uses channels h·d … h·d+d−1),
   * softmax(q·kᵀ/√d)·v per head, heads merged back.
   * @param query - `[B, Lq, heads·dimHead]` (already projected).
   * @param key - `[B, Lk, heads·dimHead]`.
   * @param value - `[B, Lk, heads·dimHead]`.
   * @returns `[B, Lq, heads·dimHead]`.
   */
  multiHeadAttention(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, Lq] = query.shape as [number, number, number];
      const Lk = key.shape[1]!;
      const H = this.heads;
      const D = this.dimHead;
      // Fold the 1/√d scale into q (Lq·D multiplies instead of Lq·Lk).
      const q = tf.mul(query, this.scale);
      let qh: tf.Tensor3D; // [B·H, Lq, D]
      let kT: tf.Tensor3D; // [B·H, D, Lk]: a non-transposed matMul is faster than transposeB on wasm (bench profile)
      let vh: tf.Tensor3D; // [B·H, Lk, D]
      if (H === 1) {
        qh = q as tf.Tensor3D;
        kT = tf.transpose(key as tf.Tensor3D, [0, 2, 1]);
        vh = value as tf.Tensor3D;
      } else {
        qh = q.reshape([B, Lq, H, D]).transpose([0, 2, 1, 3]).reshape([B * H, Lq, D]) as tf.Tensor3D;
        kT = key.reshape([B, Lk, H, D]).transpose([0, 2, 3, 1]).reshape([B * H, D, Lk]) as tf.Tensor3D;
        vh = value.reshape([B, Lk, H, D]).transpose([0, 2, 1, 3]).reshape([B * H, Lk, D]) as tf.Tensor3D;
      }
      // softmax(q·kᵀ)·v, in query chunks when the score matrix would exceed maxScoreElements.
      const chunk = Math.max(1, Math.floor(this.maxScoreElements / (B * H * Lk)));
      const parts: tf.Tensor3D[] = [];
      for (let start = 0; start < Lq; start += chunk) {
        const n = Math.min(chunk, Lq - start);
        const qc = n === Lq ? qh : tf.slice(qh, [0, start, 0], [B * H, n, D]); // [B·H, n, D]
        parts.push(tf.matMul(tf.softmax(tf.matMul(qc, kT)), vh)); // [B·H, n, D]
      }
      const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 1); // [B·H, Lq, D]
      if (H === 1) return out;
      return out.reshape([B, H, Lq, D]).transpose([0, 2, 1, 3]).reshape([B, Lq, H * D]) as tf.Tensor3D; // [B, Lq, H·D]
    });
  }

  /**
   * Run the layer through its processor.
   * @param hiddenStates - `[B, L, queryDim]` tokens, or `[B, H, W, queryDim]` feature maps (VAE).
   * @param encoderHiddenStates - keys/values source: `[B, Lk, crossAttentionDim]`, or `{ text, ipTokens }` for
   *   IP-Adapter layers; null / omitted = self-attention.
   */
  forward(hiddenStates: tf.Tensor, encoderHiddenStates: EncoderHiddenStates | null = null, options: AttentionCallOptions = {}): tf.Tensor {
    if (!(hiddenStates instanceof tf.Tensor) || (hiddenStates.rank !== 3 && hiddenStates.rank !== 4) || hiddenStates.shape[hiddenStates.rank - 1] !== this.queryDim) {
      throw new ValidationError('Attention.forward', 'hiddenStates', `[B, L, ${this.queryDim}] or [B, H, W, ${this.queryDim}]`, hiddenStates);
    }
    return this.currentProcessor.process(this, hiddenStates, encoderHiddenStates, options);
  }
}
