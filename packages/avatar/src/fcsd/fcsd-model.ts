/**
 * The fully consistent model (FCSD, ConsistentAvatar §4.2, Eq. 8) on the embedded backbone, in pixel space:
 *
 *   ε̂ (or x̂_0) = S([x_t, f_d], t, C(x_t, z_c))                                                    (Eq. 8)
 *
 * - S: a UNet2DConditionModel (the backbone, pre-trained on the training frames, then frozen) whose cross-attention
 *   layers carry IP-Adapter decoupled processors fed with the tokens f_d;
 * - f_d = [E(TSD′), Linear(P), Linear(E), Linear(T)] from a `TokenConditioner` (the TSD encoder E of stage 2, two
 *   linears, and a linear of the frame's emotion text embedding T — the learned label embedding here, CLIP's when
 *   the user has CLIP weights), each condition switchable;
 * - C: a ControlNet made from the backbone (`fromUnet`) on z_c = concat(normal, TSD′) (6 channels; 3 when one is
 *   switched off), its residuals added to the backbone's skips;
 * - with `proxyConcat` (our variant) the proxy's RGB in [−1, 1] is concatenated to x_t for both S and C.
 *
 * The UNet runs in one place, {@link FcsdModel.denoise}, used by training (per-sample timesteps) and as the sampler's
 * denoiser. Stage 3 has no prompt: the backbone's text tokens are one learned null token.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { FcsdModel } from '@consistent-avatar/avatar';
 * const model = new FcsdModel({ size: 16, unetChannels: [8, 16], normGroups: 4, tokenDim: 16, textDim: 8 }, ['happy', 'sad']);
 * const inputs = model.conditionInputs({ tsd, normal, pose, expression, emotion: ['happy', 'sad'] }); // tensors
 * const out = model.denoise(xt, [10, 900], model.conditions(inputs, proxyRgb)); // [2, 16, 16, 3]
 * model.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { join } from 'node:path';
import { checkFinite, nn, Rng, tf, ValidationError } from '@consistent-avatar/core';
import { AutoencoderKL, attachIPAdapter, ControlNetModel, fromPretrained, TokenConditioner, UNet2DConditionModel, type Conditions, type TokenConditionSpec, type UNet2DConditionConfig } from '@consistent-avatar/diffusion';
import { LabelEmbeddingTable } from '@consistent-avatar/emotion';
import { TsdEncoder } from '@consistent-avatar/tsd';
import { resolveFcsdConfig, type FcsdConfig } from './config.js';

/**
 * The backbone's config: plain blocks at full resolution, cross-attention below it (the same block layout as the TSDM's `unetConfig` in tsd/src/tsdm/tsdm-model.ts).
 * @example
 * ```ts
 * const unet = new UNet2DConditionModel(fcsdBackboneConfig(resolveFcsdConfig()), { seed: 0 });
 * ```
 */
export function fcsdBackboneConfig(c: FcsdConfig): Partial<UNet2DConditionConfig> {
  const n = c.unetChannels.length;
  return {
    sample_size: c.size,
    in_channels: c.proxyConcat ? 6 : 3, // [x_t, proxy RGB] with proxyConcat
    out_channels: 3,
    block_out_channels: c.unetChannels,
    layers_per_block: c.layersPerBlock,
    norm_num_groups: c.normGroups,
    cross_attention_dim: c.tokenDim,
    attention_head_dim: c.attentionHeads,
    down_block_types: c.unetChannels.map((_, i) => (i === 0 && n > 1 ? 'DownBlock2D' : 'CrossAttnDownBlock2D')),
    up_block_types: c.unetChannels.map((_, i) => (i === n - 1 && n > 1 ? 'UpBlock2D' : 'CrossAttnUpBlock2D')),
  };
}

/**
 * A pre-trained backbone in Stable Diffusion's layout: the UNet (latent space) and the VAE that maps images to its
 * latents. Frozen in both phases (the paper's recipe).
 */
export interface PretrainedBackbone {
  unet: UNet2DConditionModel;
  vae: AutoencoderKL;
}

/**
 * Load a pre-trained backbone from a diffusers Stable Diffusion folder the user owns (`<dir>/unet`, `<dir>/vae`, each
 * `config.json` + safetensors; e.g. SD 1.5). Nothing is downloaded.
 * @example
 * ```ts
 * const backbone = loadPretrainedBackbone('/models/stable-diffusion-v1-5');
 * const model = new FcsdModel({ ...FCSD_PAPER }, labels, backbone);
 * ```
 */
export function loadPretrainedBackbone(dir: string): PretrainedBackbone {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('loadPretrainedBackbone', 'dir', 'a diffusers Stable Diffusion folder with unet/ and vae/', dir);
  const unet = fromPretrained(UNet2DConditionModel, join(dir, 'unet'));
  try {
    return { unet, vae: fromPretrained(AutoencoderKL, join(dir, 'vae')) };
  } catch (e) {
    unet.dispose();
    throw e;
  }
}

/**
 * Copy the UNet's encoder weights (conv_in, time embedding, down blocks, mid block — the names ControlNet shares with
 * the UNet) into a ControlNet, as `ControlNetModel.fromUnet` initialises it (diffusers' `from_unet`); the
 * conditioning embedding and the zero convolutions are left as they are.
 * @returns the number of tensors copied.
 * @example
 * ```ts
 * const copied = copyEncoderFromUnet(model.controlnet!, model.backbone); // number of tensors copied
 * ```
 */
export function copyEncoderFromUnet(controlnet: ControlNetModel, unet: UNet2DConditionModel): number {
  const source = new Map(unet.namedParameters());
  let copied = 0;
  for (const [name, v] of controlnet.namedParameters()) {
    const from = source.get(name);
    if (!from || name.includes('.processor.')) continue;
    if (from.shape.join() !== v.shape.join()) throw new ValidationError('copyEncoderFromUnet', `unet.${name}`, `shape [${v.shape.join(', ')}] (the ControlNet's)`, from);
    v.assign(from);
    copied++;
  }
  return copied;
}

/** The per-frame condition inputs as tensors (what {@link FcsdModel.conditions} consumes). */
export interface FcsdConditionInputs {
  /** TSD map for z_c and E(TSD′) `[B, S, S, 3]` in [−1, 1]. */
  tsd: tf.Tensor4D;
  /** Normal map `[B, S, S, 3]` in [0, 1]. */
  normal: tf.Tensor4D;
  /** P `[B, poseDim]`. */
  pose: tf.Tensor2D;
  /** E `[B, expressionDim]`. */
  expression: tf.Tensor2D;
  /** Emotion label index per sample `[B]` (int32) into the model's label set. */
  emotion: tf.Tensor1D;
}

/** The named conditions of one {@link FcsdModel.denoise} call (the record also reaches every attention processor). */
export interface FcsdConditions extends Conditions {
  /** f_d `[B, N, tokenDim]` (N = the number of switched-on token conditions), or null when all are off. */
  tokens: tf.Tensor3D | null;
  /** z_c `[B, S, S, 3|6]`, or null when both maps are off. */
  controlImage: tf.Tensor4D | null;
  /** Proxy RGB in [−1, 1] `[B, S, S, 3]` (with `proxyConcat`). */
  proxy: tf.Tensor4D | null;
}

/** Options of {@link FcsdModel.conditions}. */
export interface FcsdConditionOptions {
  /** Token conditions replaced by the null token for every sample (the unconditional branch). */
  drop?: string[];
  /** Per-condition dropout probability (training). */
  dropout?: number;
  /** Seeded generator of the dropout draws. */
  rng?: Rng;
}

/**
 * The FCSD networks as one {@link nn.Module}: `backbone.*` (diffusers UNet names, IP processors under
 * `….attn2.processor.to_k_ip.0.weight` once attached), `controlnet.*`, `conditioner.*` (`tsd.*`, `pose.*`,
 * `expression.*`, `emotion.*`, `null_token`), `labels.*` (the learned text embedding), `null_text`.
 * Dispose when done.
 * @example
 * ```ts
 * const model = new FcsdModel({ size: 16, unetChannels: [8, 16], normGroups: 4, tokenDim: 16, textDim: 8 }, ['happy', 'sad']);
 * model.attachConditions();
 * model.dispose();
 * ```
 */
export class FcsdModel extends nn.Module {
  readonly config: FcsdConfig;
  readonly labelSet: readonly string[];
  readonly backbone: UNet2DConditionModel;
  readonly controlnet: ControlNetModel | null;
  readonly conditioner: TokenConditioner | null;
  readonly labels: LabelEmbeddingTable | null;
  readonly null_text: tf.Variable;
  /** The VAE of a pre-trained (latent-space) backbone; null for the embedded pixel-space one. */
  readonly vae: AutoencoderKL | null;
  /** Image side ÷ latent side (1 in pixel space, 8 for SD). */
  readonly latentFactor: number;
  private adaptersAttached = false;

  /**
   * @param config - any subset of {@link FcsdConfig}.
   * @param labelSet - the emotion labels (rows of the text embedding), e.g. `FcsdData.labels`.
   * @param pretrained - a pre-trained latent-space backbone ({@link loadPretrainedBackbone}); the model takes ownership.
   *   Default: the embedded pixel-space backbone built from the config (and pre-trained by `trainFcsd`).
   */
  constructor(config: Partial<FcsdConfig>, labelSet: readonly string[], pretrained?: PretrainedBackbone) {
    super();
    const FN = 'FcsdModel';
    const c = resolveFcsdConfig(config);
    this.config = c;
    if (!Array.isArray(labelSet) || labelSet.length === 0) throw new ValidationError(FN, 'labelSet', 'a non-empty array of emotion labels', labelSet);
    this.labelSet = [...labelSet];
    const rng = new Rng(c.seed).fork('fcsd-init');
    if (pretrained) {
      // A latent-space backbone: the paper's formulation only (no residual over the proxy, no concatenation).
      if (!(pretrained.unet instanceof UNet2DConditionModel) || !(pretrained.vae instanceof AutoencoderKL)) throw new ValidationError(FN, 'pretrained', '{ unet, vae } (loadPretrainedBackbone)', pretrained);
      if (c.target !== 'image' || c.proxyConcat) throw new ValidationError(FN, 'config', "target 'image' and proxyConcat false with a pre-trained backbone (FCSD_PAPER_CONDITIONING)", { target: c.target, proxyConcat: c.proxyConcat });
      const u = pretrained.unet.config;
      if (u.in_channels !== pretrained.vae.config.latent_channels || u.out_channels !== u.in_channels) {
        throw new ValidationError(FN, 'pretrained.unet', `in/out channels = the VAE's latent channels (${pretrained.vae.config.latent_channels})`, `${u.in_channels} / ${u.out_channels}`);
      }
      this.latentFactor = 2 ** (pretrained.vae.config.block_out_channels.length - 1);
      if (2 ** (c.conditioningChannels.length - 1) !== this.latentFactor) {
        throw new ValidationError(FN, 'config.conditioningChannels', `${Math.log2(this.latentFactor) + 1} entries (the ControlNet embedding must downsample z_c by the VAE's factor ${this.latentFactor})`, c.conditioningChannels);
      }
      if (c.size % this.latentFactor !== 0) throw new ValidationError(FN, 'config.size', `a multiple of the VAE's factor ${this.latentFactor}`, c.size);
      this.backbone = this.registerModule('backbone', pretrained.unet);
      this.vae = this.registerModule('vae', pretrained.vae);
      for (const [, v] of this.vae.namedParameters()) v.trainable = false;
    } else {
      this.backbone = this.registerModule('backbone', new UNet2DConditionModel(fcsdBackboneConfig(c), { seed: c.seed }));
      this.vae = null;
      this.latentFactor = 1;
    }
    const zc = 3 * Number(c.useNormal) + 3 * Number(c.useTsd); // z_c channels
    // The ControlNet copies the backbone's encoder at construction (the backbone is re-copied into it after its
    // pre-training by `initControlNetFromBackbone`).
    this.controlnet = zc > 0 ? this.registerModule('controlnet', ControlNetModel.fromUnet(this.backbone, { conditioningChannels: zc, conditioningEmbeddingOutChannels: c.conditioningChannels })) : null;
    const specs: TokenConditionSpec[] = [];
    if (c.useTsdToken) specs.push({ name: 'tsd', kind: 'map', encoder: new TsdEncoder({ inChannels: 3, width: c.encoderWidth, outDim: c.tokenDim, normGroups: Math.min(c.normGroups, c.encoderWidth), seed: c.seed + 2 }) });
    if (c.usePoseExpressionTokens) specs.push({ name: 'pose', kind: 'vector', inFeatures: c.poseDim }, { name: 'expression', kind: 'vector', inFeatures: c.expressionDim });
    if (c.useEmotion) specs.push({ name: 'emotion', kind: 'vector', inFeatures: c.textDim });
    this.conditioner = specs.length ? this.registerModule('conditioner', new TokenConditioner({ tokenDim: c.tokenDim, conditions: specs, rng: rng.fork('conditioner') })) : null;
    this.labels = c.useEmotion ? this.registerModule('labels', new LabelEmbeddingTable(this.labelSet, { dimension: c.textDim, seed: c.seed + 3 })) : null;
    this.null_text = this.registerParameter('null_text', nn.normalTensor(rng.fork('null'), [1, 1, this.backbone.config.cross_attention_dim], 0.02));
  }

  /** True with a pre-trained latent-space backbone. */
  get isPretrained(): boolean {
    return this.vae !== null;
  }

  /** Shape of the diffused sample for a batch: `[B, size / latentFactor, size / latentFactor, channels]`. */
  sampleShape(batch: number): [number, number, number, number] {
    const side = this.config.size / this.latentFactor;
    return [batch, side, side, this.backbone.config.out_channels];
  }

  /**
   * x_0 of a batch of frames `[B, S, S, 3]` in [0, 1]: with a VAE, its latents (the mean of the posterior) × the
   * VAE's scaling factor; otherwise the image in [−1, 1]. No gradients.
   */
  encodeImages(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const x = tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D; // [0, 1] → [−1, 1]
      if (!this.vae) return x;
      return tf.mul(this.vae.encode(x).mode(), this.vae.config.scaling_factor) as tf.Tensor4D; // [B, S/f, S/f, C]
    });
  }

  /** The inverse of {@link FcsdModel.encodeImages}: images `[B, S, S, 3]` in [0, 1] (clamped). */
  decodeSamples(x0: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const x = this.vae ? this.vae.decode(tf.div(x0, this.vae.config.scaling_factor) as tf.Tensor4D) : x0;
      return tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1) as tf.Tensor4D;
    });
  }

  /** Names of the switched-on token conditions, in token order. */
  get tokenNames(): string[] {
    return this.conditioner ? [...this.conditioner.conditionNames] : [];
  }

  /**
   * After the backbone's pre-training: copy its encoder into the ControlNet (the `fromUnet` initialisation, zero
   * convolutions stay zero) and attach the decoupled cross-attention processors (to_k_ip / to_v_ip initialised from
   * to_k / to_v). Called once by the trainer; idempotent.
   */
  attachConditions(): void {
    if (this.adaptersAttached) return;
    if (this.controlnet) copyEncoderFromUnet(this.controlnet, this.backbone);
    if (this.conditioner) attachIPAdapter(this.backbone, { numTokens: this.conditioner.conditionNames.length, crossAttentionDim: this.config.tokenDim, scale: this.config.ipScale, seed: this.config.seed + 1 });
    this.adaptersAttached = true;
  }

  /** True once {@link FcsdModel.attachConditions} ran. */
  get conditionsAttached(): boolean {
    return this.adaptersAttached;
  }

  /**
   * The label indices of a list of labels (for {@link FcsdConditionInputs.emotion}).
   * @example
   * ```ts
   * model.labelIndices(['happy', 'sad']); // Int32Array [0, 1]
   * ```
   */
  labelIndices(emotions: readonly string[]): Int32Array {
    return Int32Array.from(emotions, (e, i) => {
      const k = this.labelSet.indexOf(e);
      if (k < 0) throw new ValidationError('FcsdModel.labelIndices', `emotions[${i}]`, `one of ${this.labelSet.join(', ')}`, e);
      return k;
    });
  }

  /**
   * The named conditions of a batch: f_d (Eq. 8's tokens, with dropout / drop), z_c = concat(normal, TSD) and the
   * proxy RGB for concatenation — each absent when switched off in the config.
   * @param inputs - the batch's maps and vectors.
   * @param proxyRgb - proxy render `[B, S, S, 3]` in [0, 1] (used with `proxyConcat`).
   */
  conditions(inputs: FcsdConditionInputs, proxyRgb: tf.Tensor4D, options: FcsdConditionOptions = {}): FcsdConditions {
    const c = this.config;
    const kept = tf.tidy(() => {
      let tokens: tf.Tensor3D | null = null;
      if (this.conditioner) {
        const raw: Record<string, tf.Tensor> = {};
        if (c.useTsdToken) raw.tsd = inputs.tsd;
        if (c.usePoseExpressionTokens) Object.assign(raw, { pose: inputs.pose, expression: inputs.expression });
        if (c.useEmotion) raw.emotion = this.labels!.embedding.forward(inputs.emotion); // T: [B, textDim]
        const p = options.dropout ?? 0;
        const dropout = p > 0 ? Object.fromEntries(this.tokenNames.map((n) => [n, p])) : undefined;
        tokens = this.conditioner.forward(raw, { drop: options.drop, dropout, rng: options.rng }) as tf.Tensor3D; // f_d: [B, N, D]
      }
      const maps = [c.useNormal ? inputs.normal : null, c.useTsd ? inputs.tsd : null].filter((m): m is tf.Tensor4D => m !== null);
      const controlImage = maps.length ? (maps.length === 1 ? maps[0]!.clone() : (tf.concat(maps, 3) as tf.Tensor4D)) : null; // z_c: [B, S, S, 3|6]
      const proxy = c.proxyConcat ? (tf.sub(tf.mul(proxyRgb, 2), 1) as tf.Tensor4D) : null; // [0, 1] → [−1, 1]
      const list: tf.Tensor[] = [];
      for (const t of [tokens, controlImage, proxy]) if (t !== null) list.push(t);
      return list;
    }) as tf.Tensor[];
    // tf.tidy keeps tensors only: map the kept list back to the named (possibly absent) conditions.
    let k = 0;
    const next = <T extends tf.Tensor>(present: boolean): T | null => (present ? (kept[k++] as T) : null);
    return { tokens: next<tf.Tensor3D>(this.conditioner !== null), controlImage: next<tf.Tensor4D>(c.useNormal || c.useTsd), proxy: next<tf.Tensor4D>(c.proxyConcat) };
  }

  /**
   * The FCSD as a denoiser — the one place its networks run (Eq. 8): backbone + ControlNet on z_c + decoupled
   * attention on f_d, with the proxy concatenated to x_t (`proxyConcat`). Before {@link FcsdModel.attachConditions}
   * only the backbone runs (its pre-training).
   * @param xt - `[B, S, S, 3]`.
   * @param timestep - one number or `[B]` numbers in [0, numTrainTimesteps).
   * @param options.timestepCond - LCM guidance embedding for a student backbone (see `distillFcsdLcm`).
   * @param options.unet - run another UNet of the same layout in the backbone's place (the LCM student, the refiner).
   * @returns `[B, S, S, 3]` (ε̂ or x̂_0 per `predictionType`).
   */
  denoise(xt: tf.Tensor4D, timestep: number | number[], conditions: FcsdConditions, options: { timestepCond?: tf.Tensor | null; unet?: UNet2DConditionModel } = {}): tf.Tensor4D {
    const FN = 'FcsdModel.denoise';
    const c = this.config;
    checkFinite(FN, 'timestep', timestep); // numbers only: no device read (xt and the conditions are carried, as in every module)
    const [, side, , channels] = this.sampleShape(1);
    if (!(xt instanceof tf.Tensor) || xt.rank !== 4 || xt.shape[1] !== side || xt.shape[3] !== channels) throw new ValidationError(FN, 'xt', `a [B, ${side}, ${side}, ${channels}] tensor`, xt);
    const B = xt.shape[0];
    if (c.proxyConcat && !(conditions.proxy instanceof tf.Tensor)) throw new ValidationError(FN, 'conditions.proxy', 'the proxy RGB (config.proxyConcat is on)', conditions.proxy);
    const unet = options.unet ?? this.backbone;
    return tf.tidy(() => {
      const input = c.proxyConcat ? (tf.concat([xt, conditions.proxy!], 3) as tf.Tensor4D) : xt; // [B, S, S, 6 | 3]
      const text = tf.tile(this.null_text, [B, 1, 1]) as tf.Tensor3D; // [B, 1, tokenDim]
      if (!this.adaptersAttached) return unet.forward(input, timestep, text, { timestepCond: options.timestepCond ?? null, conditions });
      const residuals = this.controlnet && conditions.controlImage ? this.controlnet.forward(input, timestep, text, conditions.controlImage, { conditioningScale: c.conditioningScale, conditions }) : null;
      const context = this.conditioner && conditions.tokens ? { text, ipTokens: [conditions.tokens] } : text;
      return unet.forward(input, timestep, context, {
        timestepCond: options.timestepCond ?? null,
        downBlockAdditionalResiduals: residuals?.downBlockResSamples ?? null,
        midBlockAdditionalResidual: residuals?.midBlockResSample ?? null,
        conditions,
      });
    });
  }

  /**
   * The trainable variables of the conditioning phase (ControlNet, IP processors, conditioner, label embedding) —
   * the backbone's own weights are frozen (the paper's recipe).
   */
  conditionParameters(): Array<[string, tf.Variable]> {
    // With a pre-trained backbone its null text token trains here (it has no pre-training phase of its own).
    return this.namedParameters().filter(([name, v]) => v.trainable && !name.startsWith('vae.') && (name === 'null_text' ? this.isPretrained : !name.startsWith('backbone.') || /\.processor\.to_[kv]_ip\./.test(name)));
  }

  /** The backbone's parameters (its pre-training; the null text token with it). Empty for a pre-trained backbone. */
  backboneParameters(): Array<[string, tf.Variable]> {
    if (this.isPretrained) return [];
    return this.namedParameters().filter(([name, v]) => v.trainable && (name.startsWith('backbone.') || name === 'null_text') && !name.includes('.processor.'));
  }
}
