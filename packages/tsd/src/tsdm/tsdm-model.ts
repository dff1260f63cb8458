/**
 * The temporally-sensitive diffusion model (TSDM, ConsistentAvatar §3.2) in pixel space: a UNet2DConditionModel
 * whose cross-attention layers carry IP-Adapter decoupled cross-attention processors, and a diffusion
 * `TokenConditioner` holding the TSD encoder E and the two token linears. It predicts the noise ε of a noisy TSD map
 * x_t given
 *
 *   f_c = [E(TSD_proxy), Linear(P), Linear(E)] ∈ R^{3×256}                                    (Eq. 4)
 *
 * fed as three image tokens through the decoupled cross-attention (own to_k_ip / to_v_ip, scale λ). With a temporal
 * window K > 0 (`config.temporalWindow`, our default 1) P and E are those of frames t−K … t+K concatenated, and with
 * `proxyConcat` the window's proxy TSDs are concatenated to x_t along channels (see `tsdmWindowInputs`). Stage 2 has no
 * text, so the UNet's text tokens are one learned null token. The autoencoder is the identity (pixel space, as the
 * released model's TSD branch at our small sizes): x_0 is the normalised TSD itself. Training (`predictNoise`) and
 * sampling (`alignTsd`, through diffusion's `sample` with {@link TsdmModel.denoise} as the denoiser) share the one
 * UNet call in `denoise`.
 *
 * @packageDocumentation
 */
import { checkFinite, nn, Rng, tf, ValidationError } from '@consistent-avatar/core';
import {
  UNet2DConditionModel,
  TokenConditioner,
  attachIPAdapter,
  fromPretrained,
  savePretrained,
  type Conditions,
  type FromPretrainedOptions,
  type UNet2DConditionConfig,
} from '@consistent-avatar/diffusion';
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
 * The named conditions of {@link TsdmModel.denoise} (a sampler `Denoiser`'s record).
 * @example
 * ```ts
 * const conditions: TsdmConditions = { tokens: model.condition(proxyTsd, pose, expression), proxyWindow };
 * ```
 */
export interface TsdmConditions extends Conditions {
  /** f_c `[B, 3, tokenDim]` from {@link TsdmModel.condition} (the IP-Adapter image tokens). */
  tokens: tf.Tensor;
  /** The window's proxy TSDs `[B, size, size, 3·W]`, concatenated to x_t (required with `config.proxyConcat`). */
  proxyWindow?: tf.Tensor4D;
}

/** State-dict prefixes of the TSDM before the token conditioner (the keys it refuses, naming the new ones). */
const LEGACY_KEYS = /\b(encoder\.conv1|pose_proj|expression_proj)\.weight\b/;

/**
 * A clear error for a TSDM checkpoint written before the token conditioner (keys `encoder.*`, `pose_proj.*`,
 * `expression_proj.*`), or `error` itself (package-internal: `fromPretrained` and `trainTsdm`'s resume use it).
 * @example
 * ```ts
 * try { loadIt(); } catch (e) { throw legacyTsdmKeysError('TsdmModel.fromPretrained', 'dir', e); }
 * ```
 */
export function legacyTsdmKeysError(fn: string, source: string, error: unknown): unknown {
  if (!(error instanceof ValidationError) || !LEGACY_KEYS.test(error.message)) return error;
  return new ValidationError(fn, source, 'TSDM weights with the token-conditioner keys conditioner.proxy.*, conditioner.pose.*, conditioner.expression.*',
    'the keys encoder.*, pose_proj.*, expression_proj.* of a TSDM saved before @consistent-avatar/tsd moved its condition encoders into the token conditioner (retrain, or rename encoder. → conditioner.proxy., pose_proj. → conditioner.pose., expression_proj. → conditioner.expression.)');
}

/**
 * The TSDM networks (UNet + IP-Adapter processors, the token conditioner with E / Linear(P) / Linear(E), null text
 * token), one {@link nn.Module} tree: `stateDict()` names are `null_text`, `unet.*` (diffusers names, processors
 * under `….attn2.processor.to_k_ip.0.weight`), `conditioner.proxy.*` (the encoder E, torchvision names),
 * `conditioner.pose.*`, `conditioner.expression.*`. The UNet runs in one place, {@link TsdmModel.denoise}.
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
  /** f_c's encoders: `proxy` (E), `pose` (Linear(P)), `expression` (Linear(E)); no null token (no condition dropout). */
  readonly conditioner: TokenConditioner;
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
    const W = 2 * c.temporalWindow + 1; // frames in the temporal window
    // Eq. 4: f_c = [E(TSD_proxy), Linear(P), Linear(E)]; the linears draw from rng.fork('pose' | 'expression').
    this.conditioner = this.registerModule('conditioner', new TokenConditioner({
      tokenDim: c.tokenDim,
      rng,
      nullToken: false,
      conditions: [
        { name: 'proxy', kind: 'map', encoder: new TsdEncoder({ inChannels: 3, width: c.encoderWidth, blocks: c.encoderBlocks, outDim: c.tokenDim, normGroups: Math.min(c.normGroups, c.encoderWidth), seed: c.seed + 2 }) },
        { name: 'pose', kind: 'vector', inFeatures: W * c.poseDim },
        { name: 'expression', kind: 'vector', inFeatures: W * c.expressionDim },
      ],
    }));
    this.null_text = this.registerParameter('null_text', nn.normalTensor(rng.fork('null'), [1, 1, c.tokenDim], 0.02));
  }

  /** The TSD encoder E (`conditioner.proxy`). */
  get encoder(): TsdEncoder {
    return this.conditioner.namedChildren().find(([n]) => n === 'proxy')![1] as TsdEncoder;
  }

  /** Linear(P) over the window's poses (`conditioner.pose`). */
  get pose_proj(): nn.Linear {
    return this.conditioner.namedChildren().find(([n]) => n === 'pose')![1] as nn.Linear;
  }

  /** Linear(E) over the window's expressions (`conditioner.expression`). */
  get expression_proj(): nn.Linear {
    return this.conditioner.namedChildren().find(([n]) => n === 'expression')![1] as nn.Linear;
  }

  /**
   * The condition tokens f_c (Eq. 4), from the token conditioner.
   * @param proxyTsd - the frames' own proxy TSD `[B, size, size, 3]` in [−1, 1].
   * @param pose - paper pose P of the window `[B, W·poseDim]` (W = 2·temporalWindow + 1, oldest frame first; `[B, poseDim]` with window 0).
   * @param expression - expression E of the window `[B, W·expressionDim]`.
   * @returns `[B, 3, tokenDim]` = [E(TSD_proxy), Linear(P), Linear(E)]. Non-finite numbers: the TSD encoder rejects a
   *   non-finite `proxyTsd`; `pose` and `expression` are carried to their token unchecked (this runs once per training
   *   step, whose loss check fails fast; `alignTsd` and `trainTsdm` check them at their entry).
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
    return this.conditioner.forward({ proxy: proxyTsd, pose, expression }); // [B, 3, D]
  }

  /**
   * The TSDM as a sampler `Denoiser` — the one place its UNet runs: ε̂(x_t, t, f_c) (or x̂_0 with `predictionType`
   * `'sample'`), with the null text token as the UNet's text, f_c as the IP-Adapter image tokens, and with
   * `proxyConcat` the window's proxy TSDs concatenated to x_t along channels.
   * @param xt - noisy TSD `[B, size, size, 3]`.
   * @param timestep - one number or `[B]` numbers in [0, numTrainTimesteps).
   * @param conditions - `{ tokens, proxyWindow }` ({@link TsdmConditions}); the record also reaches every attention processor.
   * @returns `[B, size, size, 3]`.
   * @example
   * ```ts
   * import { sample } from '@consistent-avatar/diffusion';
   * const x0 = sample({ denoiser: (x, t, c) => model.denoise(x, t, c), conditions: { tokens, proxyWindow }, scheduler, numInferenceSteps: 10, shape: [B, 32, 32, 3] });
   * ```
   */
  denoise(xt: tf.Tensor4D, timestep: number | number[], conditions: TsdmConditions): tf.Tensor4D {
    const FN = 'TsdmModel.denoise';
    const c = this.config;
    checkFinite(FN, 'timestep', timestep); // numbers only: no device read (xt and the tokens are carried, as in every module)
    if (!(xt instanceof tf.Tensor) || xt.rank !== 4 || xt.shape[3] !== 3) throw new ValidationError(FN, 'xt', `a [B, ${c.size}, ${c.size}, 3] tensor`, xt);
    const B = xt.shape[0];
    if (typeof conditions !== 'object' || conditions === null) throw new ValidationError(FN, 'conditions', '{ tokens, proxyWindow }', conditions);
    const { tokens, proxyWindow } = conditions;
    if (!(tokens instanceof tf.Tensor) || tokens.rank !== 3 || tokens.shape[0] !== B || tokens.shape[2] !== c.tokenDim) {
      throw new ValidationError(FN, 'conditions.tokens', `f_c [${B}, 3, ${c.tokenDim}] from TsdmModel.condition`, tokens);
    }
    const window = [...xt.shape.slice(0, 3), 3 * (2 * c.temporalWindow + 1)];
    if (c.proxyConcat && (!(proxyWindow instanceof tf.Tensor) || proxyWindow.shape.join() !== window.join())) {
      throw new ValidationError(FN, 'conditions.proxyWindow', `a [${window.join(', ')}] tensor (config.proxyConcat is on)`, proxyWindow);
    }
    return tf.tidy(() => {
      const input = c.proxyConcat ? (tf.concat([xt, proxyWindow!], 3) as tf.Tensor4D) : xt; // [B, S, S, 3 + 3·W | 3]
      return this.unet.forward(input, timestep, { text: this.nullText(B), ipTokens: [tokens] }, { conditions });
    });
  }

  /**
   * ε̂(x_t, t, f_c) for training: {@link TsdmModel.denoise} with `{ tokens, proxyWindow: proxyTsd }`.
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
    return this.denoise(xt, timestep, { tokens, proxyWindow: proxyTsd });
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
   * `ValidationError` for a folder of another model class or mismatched weights (a folder saved before the token
   * conditioner, with keys `encoder.*` / `pose_proj.*` / `expression_proj.*`, is refused naming the new keys).
   * @example
   * ```ts
   * import { TsdmModel, alignTsd } from '@consistent-avatar/tsd';
   * const model = TsdmModel.fromPretrained('runs/tsdm-model');
   * const aligned = alignTsd(model, frames);
   * model.dispose();
   * ```
   */
  static fromPretrained(dir: string, options: FromPretrainedOptions = {}): TsdmModel {
    try {
      return fromPretrained(TsdmModel, dir, options);
    } catch (e) {
      throw legacyTsdmKeysError('TsdmModel.fromPretrained', 'dir', e);
    }
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
