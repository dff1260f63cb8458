/**
 * Attention processors: what an {@link Attention} layer does with its inputs on each call. Processors are
 * `nn.Module`s registered as the layer's `processor` child, so a processor with weights (IP-Adapter's `to_k_ip` /
 * `to_v_ip`) saves and loads under diffusers' names (`…attn2.processor.to_k_ip.0.weight`). Conditions attach to the
 * UNet only by swapping processors (`unet.setAttentionProcessors`) — the UNet code never changes — and reach them as
 * the named per-call record `options.conditions` ({@link Conditions}), which every block passes through untouched.
 *
 * - {@link withAttentionTail}: the frame every processor runs in (flatten, group norm, then `to_out`, restore shape,
 *   residual, ÷ rescale) — a new processor supplies only the attention itself.
 * - {@link AttnProcessor}: plain attention (diffusers `AttnProcessor`).
 * - {@link IPAdapterAttnProcessor}: IP-Adapter decoupled cross-attention (diffusers `IPAdapterAttnProcessor2_0`,
 *   Ye et al. 2023): out = Attn(q, K_text, V_text) + Σᵢ scaleᵢ · Attn(q, to_k_ipᵢ(ipᵢ), to_v_ipᵢ(ipᵢ)).
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { Attention, IPAdapterAttnProcessor } from '@consistent-avatar/diffusion';
 * const attn = new Attention({ queryDim: 32, crossAttentionDim: 24, heads: 4, dimHead: 8, seed: 0 });
 * attn.setProcessor(new IPAdapterAttnProcessor({ hiddenSize: 32, crossAttentionDim: 24, numTokens: [4], scale: [0.7], seed: 1 }));
 * const text = tf.zeros([2, 5, 24]), image = tf.zeros([2, 4, 24]);
 * attn.forward(tf.zeros([2, 10, 32]), { text, ipTokens: [image] });                              // [2, 10, 32]
 * attn.forward(tf.zeros([2, 10, 32]), { text, ipTokens: [image] }, { ipAdapterScale: 0.3 });     // per-call scale
 * ```
 */
import { nn, tf, ValidationError, type Rng } from '@consistent-avatar/core';
import type { Attention } from './attention.js';
import type { Conditions } from './conditions.js';
import { modelRng, type ModelInitOptions } from './init.js';
import { linearForward } from './linear.js';

/** Text tokens plus one token tensor per IP-Adapter (diffusers' tuple form `(text, [ip…])`). */
export interface TextAndImageTokens {
  /** `[B, Lt, crossAttentionDim]`. */
  text: tf.Tensor;
  /** One `[B, Ni, crossAttentionDim]` tensor per adapter. */
  ipTokens: tf.Tensor[];
}

/** Keys/values source of an attention call: a token tensor, or text + image tokens. */
export type EncoderHiddenStates = tf.Tensor | TextAndImageTokens;

/** Call-time options (diffusers' `cross_attention_kwargs`). Every block passes them to every processor unchanged. */
export interface AttentionCallOptions {
  /** Override every IP-Adapter processor's scale for this call (one number, or one per adapter). */
  ipAdapterScale?: number | number[];
  /** Dropout masks in training mode. */
  rng?: Rng;
  /**
   * Named per-call conditions (tensors batched like the hidden states, or any value): the same record object reaches
   * every processor of the call; each reads the names it knows (see {@link Conditions}).
   */
  conditions?: Conditions;
}

/**
 * True for the `{ text, ipTokens }` form.
 * @example
 * ```ts
 * isTextAndImageTokens({ text: tf.zeros([1, 7, 32]), ipTokens: [] }); // true
 * ```
 */
export function isTextAndImageTokens(x: unknown): x is TextAndImageTokens {
  return typeof x === 'object' && x !== null && !(x instanceof tf.Tensor) && 'text' in x && 'ipTokens' in x;
}

/** What every processor implements. */
export interface AttentionProcessor extends nn.Module {
  /** Processor kind, e.g. `'AttnProcessor'`, `'IPAdapterAttnProcessor'`. */
  readonly kind: string;
  /** Run `attn` on `hiddenStates` (`[B, L, C]` or `[B, H, W, C]`) with keys/values from `encoderHiddenStates`. */
  process(attn: Attention, hiddenStates: tf.Tensor, encoderHiddenStates: EncoderHiddenStates | null, options: AttentionCallOptions): tf.Tensor;
}

/** Flatten `[B, H, W, C]` to `[B, H·W, C]`; returns the spatial shape to restore. */
function flattenSpatial(x: tf.Tensor): { tokens: tf.Tensor3D; spatial: [number, number, number, number] | null } {
  if (x.rank === 4) {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    return { tokens: x.reshape([B, H * W, C]) as tf.Tensor3D, spatial: [B, H, W, C] }; // [B, H·W, C]
  }
  return { tokens: x as tf.Tensor3D, spatial: null };
}

function checkTokens(fn: string, arg: string, x: unknown, batch: number, dim: number): asserts x is tf.Tensor3D {
  if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[0] !== batch || x.shape[2] !== dim) {
    throw new ValidationError(fn, arg, `[${batch}, L, ${dim}]`, x);
  }
}

/**
 * The attention of one processor call, given the layer's input tokens: returns the merged heads (before `to_out`).
 * @param x - the (group-normed) query-side tokens `[B, L, queryDim]`.
 * @returns `[B, L, attn.innerDim]`, e.g. `attn.multiHeadAttention(q, k, v)` or a sum of such terms.
 * @example
 * ```ts
 * const body: AttentionBody = (x) => attn.multiHeadAttention(linearForward(attn.to_q, x), linearForward(attn.to_k, x), linearForward(attn.to_v, x));
 * ```
 */
export type AttentionBody = (x: tf.Tensor3D) => tf.Tensor;

/**
 * The frame every processor runs in (diffusers' `AttnProcessor.__call__` minus the attention itself), so a new
 * processor is its attention only and cannot drop a step:
 *   1. flatten `[B, H, W, C]` maps to tokens `[B, H·W, C]`, apply the layer's `group_norm` (VAE);
 *   2. `body(x)` — the processor's attention, merged heads `[B, L, innerDim]`;
 *   3. `to_out.0` + its dropout, restore `[B, H, W, C]`, add the input when `attn.residualConnection`, divide by
 *      `attn.rescaleOutputFactor`.
 * Runs inside `tf.tidy`; the body's intermediate tensors are freed.
 *
 * @param attn - the layer the processor serves.
 * @param hiddenStates - the layer input `[B, L, C]` or `[B, H, W, C]`.
 * @param options - the call's options (`rng` feeds `to_out`'s dropout in training mode).
 * @param body - the attention itself.
 * @returns the layer output, shaped like `hiddenStates`.
 * @example
 * ```ts
 * import { withAttentionTail, linearForward } from '@consistent-avatar/diffusion';
 * // Inside a processor's process(attn, hiddenStates, encoderHiddenStates, options): plain self-attention.
 * return withAttentionTail(attn, hiddenStates, options, (x) =>
 *   attn.multiHeadAttention(linearForward(attn.to_q, x), linearForward(attn.to_k, x), linearForward(attn.to_v, x)));
 * ```
 */
export function withAttentionTail(attn: Attention, hiddenStates: tf.Tensor, options: AttentionCallOptions, body: AttentionBody): tf.Tensor {
  const fn = 'withAttentionTail';
  if (typeof attn !== 'object' || attn === null || typeof (attn as Attention).projectOut !== 'function') throw new ValidationError(fn, 'attn', 'an Attention layer', attn);
  if (!(hiddenStates instanceof tf.Tensor) || (hiddenStates.rank !== 3 && hiddenStates.rank !== 4)) throw new ValidationError(fn, 'hiddenStates', '[B, L, C] or [B, H, W, C]', hiddenStates);
  if (typeof body !== 'function') throw new ValidationError(fn, 'body', 'a function (x: [B, L, C]) => merged heads [B, L, innerDim]', body);
  return tf.tidy(() => {
    const residual = hiddenStates;
    // 1. Tokens (+ the VAE's inner group norm).
    const { tokens, spatial } = flattenSpatial(hiddenStates);
    const x = (attn.group_norm ? attn.group_norm.forward(tokens) : tokens) as tf.Tensor3D;
    // 2. The processor's attention.
    const merged = body(x);
    if (!(merged instanceof tf.Tensor) || merged.rank !== 3 || merged.shape[0] !== x.shape[0] || merged.shape[1] !== x.shape[1] || merged.shape[2] !== attn.innerDim) {
      throw new ValidationError(fn, 'body', `a function returning [${x.shape[0]}, ${x.shape[1]}, ${attn.innerDim}] (merged heads)`, merged);
    }
    // 3. to_out, restore the spatial shape, residual, ÷ rescale_output_factor.
    let out = attn.projectOut(merged, options.rng);
    if (spatial) out = out.reshape(spatial); // [B, H, W, C]
    if (attn.residualConnection) out = tf.add(out, residual);
    return attn.rescaleOutputFactor === 1 ? out : tf.div(out, attn.rescaleOutputFactor);
  });
}

/**
 * Plain attention (diffusers `AttnProcessor`): optional group norm, q from the hidden states, k/v from the encoder
 * states (or the hidden states for self-attention). Given `{ text, ipTokens }` it attends to the text only (like
 * IP-Adapter's ControlNet processor). No weights.
 * @example
 * ```ts
 * attn.setProcessor(new AttnProcessor()); // back to plain attention
 * ```
 */
export class AttnProcessor extends nn.Module implements AttentionProcessor {
  readonly kind = 'AttnProcessor';
  process(attn: Attention, hiddenStates: tf.Tensor, encoderHiddenStates: EncoderHiddenStates | null, options: AttentionCallOptions = {}): tf.Tensor {
    return withAttentionTail(attn, hiddenStates, options, (x) => {
      const context = encoderHiddenStates === null ? x : isTextAndImageTokens(encoderHiddenStates) ? encoderHiddenStates.text : encoderHiddenStates;
      checkTokens('AttnProcessor.process', 'encoderHiddenStates', context, x.shape[0]!, attn.crossAttentionDim);
      return attn.multiHeadAttention(linearForward(attn.to_q, x), linearForward(attn.to_k, context), linearForward(attn.to_v, context));
    });
  }
}

/** Construction options of {@link IPAdapterAttnProcessor}. */
export interface IPAdapterAttnProcessorOptions extends ModelInitOptions {
  /** Channels of the attention layer (its query dim, = heads·dimHead). */
  hiddenSize: number;
  /** Size of the image tokens (the UNet's cross_attention_dim). */
  crossAttentionDim: number;
  /** Image tokens per adapter (default [4]); only used to split the legacy concatenated input. */
  numTokens?: number[];
  /** Scale per adapter (default [1]). */
  scale?: number[];
}

/**
 * IP-Adapter decoupled cross-attention (diffusers `IPAdapterAttnProcessor2_0`). Holds one `to_k_ip.i` /
 * `to_v_ip.i` (Linear crossAttentionDim → hiddenSize, no bias) per adapter. The query is shared: text attention
 * over the text tokens plus scaleᵢ × attention over adapter i's image tokens, summed before `to_out.0`
 * (an adapter with scale 0 is skipped). Accepts `{ text, ipTokens }` or the legacy concatenated tensor whose last
 * `numTokens[0]` tokens are the image tokens. Keys: `to_k_ip.<i>.weight`, `to_v_ip.<i>.weight`.
 * @example
 * ```ts
 * const p = new IPAdapterAttnProcessor({ hiddenSize: 320, crossAttentionDim: 768, numTokens: [4], scale: [0.6] });
 * p.setScale(0.3);
 * ```
 */
export class IPAdapterAttnProcessor extends nn.Module implements AttentionProcessor {
  readonly kind = 'IPAdapterAttnProcessor';
  readonly hiddenSize: number;
  readonly crossAttentionDim: number;
  readonly numTokens: number[];
  /** Per-adapter scales; settable (`processor.scale = [0.5]`) or per call (`ipAdapterScale`). */
  scale: number[];
  readonly to_k_ip: nn.ModuleList<nn.Linear>;
  readonly to_v_ip: nn.ModuleList<nn.Linear>;

  constructor(options: IPAdapterAttnProcessorOptions) {
    super();
    const rng = modelRng(options, 'IPAdapterAttnProcessor');
    this.hiddenSize = options.hiddenSize;
    this.crossAttentionDim = options.crossAttentionDim;
    this.numTokens = options.numTokens ?? [4];
    if (!Array.isArray(this.numTokens) || this.numTokens.length === 0 || !this.numTokens.every((n) => Number.isInteger(n) && n > 0)) {
      throw new ValidationError('IPAdapterAttnProcessor', 'options.numTokens', 'a non-empty array of positive integers', options.numTokens);
    }
    this.scale = IPAdapterAttnProcessor.checkScale('IPAdapterAttnProcessor', 'options.scale', options.scale ?? this.numTokens.map(() => 1), this.numTokens.length);
    this.to_k_ip = this.registerModule('to_k_ip', new nn.ModuleList<nn.Linear>());
    this.to_v_ip = this.registerModule('to_v_ip', new nn.ModuleList<nn.Linear>());
    for (let i = 0; i < this.numTokens.length; i++) {
      this.to_k_ip.push(new nn.Linear(this.crossAttentionDim, this.hiddenSize, { rng, bias: false }));
      this.to_v_ip.push(new nn.Linear(this.crossAttentionDim, this.hiddenSize, { rng, bias: false }));
    }
  }

  private static checkScale(fn: string, arg: string, scale: number | number[], count: number): number[] {
    const list = typeof scale === 'number' ? new Array<number>(count).fill(scale) : scale;
    if (!Array.isArray(list) || list.length !== count || !list.every((s) => typeof s === 'number' && Number.isFinite(s))) {
      throw new ValidationError(fn, arg, `a finite number or ${count} finite numbers (one per adapter)`, scale);
    }
    return [...list];
  }

  /** Set the scale of every adapter (one number) or each adapter. */
  setScale(scale: number | number[]): void {
    this.scale = IPAdapterAttnProcessor.checkScale('IPAdapterAttnProcessor.setScale', 'scale', scale, this.numTokens.length);
  }

  process(attn: Attention, hiddenStates: tf.Tensor, encoderHiddenStates: EncoderHiddenStates | null, options: AttentionCallOptions = {}): tf.Tensor {
    const fn = 'IPAdapterAttnProcessor.process';
    if (attn.innerDim !== this.hiddenSize) {
      throw new ValidationError(fn, 'attn', `an attention layer with ${this.hiddenSize} channels`, `${attn.innerDim} channels`);
    }
    const textDim = attn.crossAttentionDim; // the text tokens keep the layer's size; image tokens have this.crossAttentionDim
    const scales = options.ipAdapterScale === undefined ? this.scale : IPAdapterAttnProcessor.checkScale(fn, 'options.ipAdapterScale', options.ipAdapterScale, this.numTokens.length);
    return withAttentionTail(attn, hiddenStates, options, (x) => {
      const B = x.shape[0]!;
      // 1. Split the encoder states into text tokens and per-adapter image tokens.
      let text: tf.Tensor;
      let ipTokens: tf.Tensor[];
      if (encoderHiddenStates === null) {
        text = x;
        ipTokens = [];
      } else if (isTextAndImageTokens(encoderHiddenStates)) {
        text = encoderHiddenStates.text;
        ipTokens = encoderHiddenStates.ipTokens;
        if (!Array.isArray(ipTokens) || ipTokens.length !== this.numTokens.length) {
          throw new ValidationError(fn, 'encoderHiddenStates.ipTokens', `${this.numTokens.length} token tensor(s), one per adapter`, ipTokens);
        }
      } else {
        // Legacy form: the last numTokens[0] tokens are the image tokens (single adapter; needs equal token sizes).
        if (textDim !== this.crossAttentionDim) {
          throw new ValidationError(fn, 'encoderHiddenStates', `{ text, ipTokens } (the concatenated form needs image tokens of the text size ${textDim}, these are ${this.crossAttentionDim})`, encoderHiddenStates);
        }
        checkTokens(fn, 'encoderHiddenStates', encoderHiddenStates, B, this.crossAttentionDim);
        const L = encoderHiddenStates.shape[1]!;
        const n = this.numTokens[0]!;
        if (this.numTokens.length !== 1 || L <= n) {
          throw new ValidationError(fn, 'encoderHiddenStates', `more than ${n} tokens with a single adapter (or pass { text, ipTokens })`, encoderHiddenStates);
        }
        text = tf.slice(encoderHiddenStates, [0, 0, 0], [B, L - n, this.crossAttentionDim]); // [B, L−n, D]
        ipTokens = [tf.slice(encoderHiddenStates, [0, L - n, 0], [B, n, this.crossAttentionDim])]; // [B, n, D]
      }
      checkTokens(fn, 'encoderHiddenStates (text)', text, B, textDim);
      // 2. Text branch: ordinary attention.
      const query = linearForward(attn.to_q, x);
      let merged: tf.Tensor = attn.multiHeadAttention(query, linearForward(attn.to_k, text), linearForward(attn.to_v, text));
      // 3. Image branches: same query, own keys/values, own softmax; added with their scales before to_out.
      ipTokens.forEach((ip, i) => {
        const s = scales[i]!;
        if (s === 0) return;
        checkTokens(fn, `encoderHiddenStates.ipTokens[${i}]`, ip, B, this.crossAttentionDim);
        const ipOut = attn.multiHeadAttention(query, linearForward(this.to_k_ip.at(i), ip), linearForward(this.to_v_ip.at(i), ip));
        merged = tf.add(merged, tf.mul(ipOut, s));
      });
      return merged;
    });
  }
}
