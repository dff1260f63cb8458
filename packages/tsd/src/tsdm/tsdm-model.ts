/**
 * The temporally-sensitive diffusion model (TSDM, ConsistentAvatar §3.2) in pixel space: a UNet2DConditionModel
 * whose cross-attention layers carry IP-Adapter decoupled cross-attention processors, the TSD encoder E and the two
 * token linears. It predicts the noise ε of a noisy TSD map x_t given
 *
 *   f_c = [E(TSD_proxy), Linear(P), Linear(E)] ∈ R^{3×256}                                    (Eq. 4)
 *
 * fed as three image tokens through the decoupled cross-attention (own to_k_ip / to_v_ip, scale λ). With a temporal
 * window K > 0 (`config.temporalWindow`, our default 1) P and E are those of frames t−K … t+K concatenated, and with
 * `proxyConcat` the window's proxy TSDs are concatenated to x_t along channels (see `tsdmWindowInputs`). Stage 2 has no
 * text, so the UNet's text tokens are one learned null token. The autoencoder is the identity (pixel space, as the
 * released model's TSD branch at our small sizes): x_0 is the normalised TSD itself.
 *
 * @packageDocumentation
 */
import { nn, Rng, tf, ValidationError } from '@consistent-avatar/core';
import { UNet2DConditionModel, attachIPAdapter, fromPretrained, savePretrained, type FromPretrainedOptions, type UNet2DConditionConfig } from '@consistent-avatar/diffusion';
import { TsdEncoder } from '../encoder.js';
import { resolveTsdmConfig, type TsdmConfig } from './config.js';

/** The UNet config of a {@link TsdmConfig}: cross-attention on every level below full resolution and in the middle. */
function unetConfig(c: TsdmConfig): Partial<UNet2DConditionConfig> {
  const n = c.unetChannels.length;
  return {
    sample_size: c.size,
    in_channels: c.proxyConcat ? 3 + 3 * (2 * c.temporalWindow + 1) : 3, // [x_t, TSD_proxy of frames t−K … t+K] with proxyConcat
    out_channels: 3,
    block_out_channels: c.unetChannels,
    layers_per_block: c.layersPerBlock,
    norm_num_groups: c.normGroups,
    cross_attention_dim: c.tokenDim,
    attention_head_dim: c.attentionHeads,
    // Full-resolution self-attention is the costliest layer at no gain for 3 tokens: plain blocks there.
    down_block_types: c.unetChannels.map((_, i) => (i === 0 && n > 1 ? 'DownBlock2D' : 'CrossAttnDownBlock2D')),
    up_block_types: c.unetChannels.map((_, i) => (i === n - 1 && n > 1 ? 'UpBlock2D' : 'CrossAttnUpBlock2D')),
  };
}

/**
 * The TSDM networks (UNet + IP-Adapter processors, encoder E, pose / expression linears, null text token), one
 * {@link nn.Module} tree: `stateDict()` names are `unet.*` (diffusers names, processors under
 * `….attn2.processor.to_k_ip.0.weight`), `encoder.*` (torchvision names), `pose_proj.*`, `expression_proj.*`,
 * `null_text`.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { TsdmModel } from '@consistent-avatar/tsd';
 * const model = new TsdmModel({ size: 16, unetChannels: [16, 32], encoderWidth: 8 }); // temporalWindow 1: W = 3 frames
 * const tokens = model.condition(tf.zeros([2, 16, 16, 3]), tf.zeros([2, 3 * 6]), tf.zeros([2, 3 * 100])); // [2, 3, 256]
 * const eps = model.predictNoise(tf.zeros([2, 16, 16, 3]), [10, 900], tokens, tf.zeros([2, 16, 16, 3 * 3])); // [2, 16, 16, 3]
 * model.dispose();
 * ```
 */
export class TsdmModel extends nn.Module {
  readonly config: TsdmConfig;
  readonly unet: UNet2DConditionModel;
  readonly encoder: TsdEncoder;
  readonly pose_proj: nn.Linear;
  readonly expression_proj: nn.Linear;
  readonly null_text: tf.Variable;

  /** @param config - any subset of {@link TsdmConfig}; validated with {@link resolveTsdmConfig}. */
  constructor(config: Partial<TsdmConfig> = {}) {
    super();
    const c = resolveTsdmConfig(config);
    this.config = c;
    const rng = new Rng(c.seed).fork('tsdm-init');
    this.unet = this.registerModule('unet', new UNet2DConditionModel(unetConfig(c), { seed: c.seed }));
    // to_k_ip / to_v_ip start as copies of to_k / to_v (IP-Adapter's recipe).
    attachIPAdapter(this.unet, { numTokens: 3, crossAttentionDim: c.tokenDim, scale: c.ipScale, seed: c.seed + 1 });
    this.encoder = this.registerModule('encoder', new TsdEncoder({ inChannels: 3, width: c.encoderWidth, blocks: c.encoderBlocks, outDim: c.tokenDim, normGroups: Math.min(c.normGroups, c.encoderWidth), seed: c.seed + 2 }));
    const W = 2 * c.temporalWindow + 1; // frames in the temporal window
    this.pose_proj = this.registerModule('pose_proj', new nn.Linear(W * c.poseDim, c.tokenDim, { rng: rng.fork('pose') }));
    this.expression_proj = this.registerModule('expression_proj', new nn.Linear(W * c.expressionDim, c.tokenDim, { rng: rng.fork('expression') }));
    this.null_text = this.registerParameter('null_text', nn.normalTensor(rng.fork('null'), [1, 1, c.tokenDim], 0.02));
  }

  /**
   * The condition tokens f_c (Eq. 4).
   * @param proxyTsd - the frames' own proxy TSD `[B, size, size, 3]` in [−1, 1].
   * @param pose - paper pose P of the window `[B, W·poseDim]` (W = 2·temporalWindow + 1, oldest frame first; `[B, poseDim]` with window 0).
   * @param expression - expression E of the window `[B, W·expressionDim]`.
   * @returns `[B, 3, tokenDim]` = [E(TSD_proxy), Linear(P), Linear(E)].
   * @example
   * ```ts
   * const fc = model.condition(proxyTsd, pose, expression); // [B, 3, 256]
   * ```
   */
  condition(proxyTsd: tf.Tensor, pose: tf.Tensor, expression: tf.Tensor): tf.Tensor3D {
    const c = this.config;
    const FN = 'TsdmModel.condition';
    if (!(proxyTsd instanceof tf.Tensor) || proxyTsd.rank !== 4 || proxyTsd.shape[3] !== 3) throw new ValidationError(FN, 'proxyTsd', '[B, H, W, 3] tensor', proxyTsd);
    const B = proxyTsd.shape[0]!, W = 2 * c.temporalWindow + 1;
    const window = W > 1 ? ` (${W} window frames)` : '';
    if (!(pose instanceof tf.Tensor) || pose.shape.join() !== `${B},${W * c.poseDim}`) throw new ValidationError(FN, 'pose', `a [${B}, ${W * c.poseDim}] tensor${window}`, pose);
    if (!(expression instanceof tf.Tensor) || expression.shape.join() !== `${B},${W * c.expressionDim}`) throw new ValidationError(FN, 'expression', `a [${B}, ${W * c.expressionDim}] tensor${window}`, expression);
    return tf.tidy(() => {
      const e = this.encoder.forward(proxyTsd as tf.Tensor4D); // [B, D]
      const p = this.pose_proj.forward(pose); // [B, D]
      const x = this.expression_proj.forward(expression); // [B, D]
      return tf.stack([e, p, x], 1) as tf.Tensor3D; // [B, 3, D]
    });
  }

  /**
   * ε̂(x_t, t, f_c): the UNet with the null text token and the three condition tokens as IP-Adapter image tokens;
   * with `proxyConcat` the window's proxy TSDs are concatenated to x_t along channels.
   * @param xt - noisy TSD `[B, size, size, 3]`.
   * @param timestep - one number or `[B]` numbers in [0, numTrainTimesteps).
   * @param tokens - f_c `[B, 3, tokenDim]` from {@link TsdmModel.condition}.
   * @param proxyTsd - the window's proxy TSDs `[B, size, size, 3·W]` (W = 2·temporalWindow + 1, oldest first; `tsdmWindowInputs`'s
   *   `proxyWindow`; `[B, size, size, 3]` with window 0). Required when `config.proxyConcat`, ignored otherwise.
   * @returns ε̂ `[B, size, size, 3]`.
   * @example
   * ```ts
   * const eps = model.predictNoise(xt, [999, 500], model.condition(proxyTsd, pose, expression), proxyTsd);
   * ```
   */
  predictNoise(xt: tf.Tensor4D, timestep: number | number[], tokens: tf.Tensor, proxyTsd?: tf.Tensor4D): tf.Tensor4D {
    const channels = 3 * (2 * this.config.temporalWindow + 1);
    if (this.config.proxyConcat && (!(proxyTsd instanceof tf.Tensor) || proxyTsd.shape.join() !== [...xt.shape.slice(0, 3), channels].join())) {
      throw new ValidationError('TsdmModel.predictNoise', 'proxyTsd', `a [${[...xt.shape.slice(0, 3), channels].join(', ')}] tensor (config.proxyConcat is on)`, proxyTsd);
    }
    return tf.tidy(() => {
      const input = this.config.proxyConcat ? (tf.concat([xt, proxyTsd!], 3) as tf.Tensor4D) : xt; // [B, S, S, 3 + 3·W | 3]
      return this.unet.forward(input, timestep, { text: this.nullText(xt.shape[0]), ipTokens: [tokens] });
    });
  }

  /**
   * The null text tokens `[B, 1, tokenDim]` (the learned token repeated).
   * @example
   * ```ts
   * const text = model.nullText(4); // [4, 1, 256]
   * ```
   */
  nullText(batch: number): tf.Tensor3D {
    return tf.tidy(() => tf.tile(this.null_text, [batch, 1, 1]) as tf.Tensor3D); // [B, 1, tokenDim]
  }

  /**
   * Save the trained networks for inference: `<dir>/config.json` (the {@link TsdmConfig} plus `_class_name`) and
   * `<dir>/diffusion_pytorch_model.safetensors` (every weight, PyTorch layout, the `stateDict` names above).
   * @example
   * ```ts
   * const { model } = await trainTsdm(data, config);
   * model.savePretrained('runs/tsdm-model');
   * ```
   */
  savePretrained(dir: string): void {
    savePretrained(this, dir);
  }

  /**
   * Load a TSDM saved with {@link TsdmModel.savePretrained} (no training data or optimiser state needed): e.g. to align
   * the TSD of a new sequence with `alignTsd`. Throws `FormatError` for a missing / corrupt file and
   * `ValidationError` for a folder of another model class or mismatched weights.
   * @example
   * ```ts
   * import { TsdmModel, alignTsd } from '@consistent-avatar/tsd';
   * const model = TsdmModel.fromPretrained('runs/tsdm-model');
   * const aligned = alignTsd(model, frames);
   * model.dispose();
   * ```
   */
  static fromPretrained(dir: string, options: FromPretrainedOptions = {}): TsdmModel {
    return fromPretrained(TsdmModel, dir, options);
  }

  /**
   * The config as plain JSON (`new TsdmModel(JSON.parse(JSON.stringify(m.toJSON())))` rebuilds the same network).
   * @example
   * ```ts
   * console.log(JSON.stringify(model.toJSON()));
   * ```
   */
  toJSON(): TsdmConfig {
    return { ...this.config, unetChannels: [...this.config.unetChannels], encoderBlocks: [...this.config.encoderBlocks] as [number, number, number, number] };
  }
}
