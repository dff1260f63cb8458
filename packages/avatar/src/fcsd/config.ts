/**
 * Configuration of stage 3, the fully consistent model (FCSD, ConsistentAvatar §4.2–4.3): one flat, JSON-round-trip
 * record for the data (map size), the backbone, the ControlNet on z_c = concat(normal, TSD) (Eq. 8), the decoupled
 * cross-attention tokens f_d = [E(TSD′), Linear(P), Linear(E), Linear(T)], the noise schedule, the three trainings
 * (backbone, ControlNet + processors, LCM student) and the optional refiner. Defaults are sized for a 2-core CPU;
 * {@link FCSD_PAPER} holds the paper's recipe and {@link FCSD_PAPER_CONDITIONING} the paper's formulation.
 *
 * @example
 * ```ts
 * import { resolveFcsdConfig } from '@consistent-avatar/avatar';
 * const config = resolveFcsdConfig({ size: 32, controlIterations: 300 });
 * console.log(config.tokenDim, config.useTsd, config.useNormal, config.useEmotion); // 64 true true true
 * ```
 *
 * @packageDocumentation
 */
import { configField as f, resolveConfig, ValidationError, type ConfigSchema } from '@consistent-avatar/core';

/**
 * Flat configuration of the FCSD model and its trainings.
 * @example
 * ```ts
 * const ablation: Partial<FcsdConfig> = { useEmotion: false }; // "w/o emotion"
 * ```
 */
export interface FcsdConfig {
  /** Side of the square images the model generates (pixel space for the embedded backbone). Default 32. Paper: 512 (latent 64²). */
  size: number;
  /**
   * What the diffusion generates. `'residual'` (default, our variant for small CPU models): x_0 =
   * (frame − proxy RGB) / `residualScale`, so the network only generates the detail the proxy lacks. `'image'` (the
   * paper's): x_0 is the frame in [−1, 1].
   */
  target: 'image' | 'residual';
  /** Scale of the residual target (RGB units mapped to ±1). Default 0.25. */
  residualScale: number;
  /**
   * Also feed the proxy's RGB render spatially: the UNet input is concat[x_t, proxy RGB in [−1, 1]] (`in_channels` 6),
   * as diffusers' InstructPix2Pix UNet takes its image. Default true (our variant). `false` is the paper's (the proxy
   * reaches the model only through its normal map and TSD).
   */
  proxyConcat: boolean;
  /** What the UNet predicts: `'epsilon'` (the paper's Eq. 9) or `'sample'` (x̂_0). Default `'sample'` (our variant, as the TSDM's). */
  predictionType: 'epsilon' | 'sample';
  /** Backbone `block_out_channels`. Default [16, 32]. Paper: SD 1.5 [320, 640, 1280, 1280]. */
  unetChannels: number[];
  /** Backbone `layers_per_block`. Default 1. */
  layersPerBlock: number;
  /** GroupNorm groups. Default 8. */
  normGroups: number;
  /** Attention heads. Default 4. */
  attentionHeads: number;
  /** Size of each f_d token, and the backbone's `cross_attention_dim`. Default 64. Paper: 256 tokens into SD's 768. */
  tokenDim: number;
  /** Pose size (P = [global rotation, jaw], axis-angle). Default 6. */
  poseDim: number;
  /** Expression size (FLAME ψ). Default 100. */
  expressionDim: number;
  /** Size of the emotion text embedding T (CLIP ViT-L/14: 768; the learned label embedding: this size). Default 64. */
  textDim: number;
  /** Base width of the TSD encoder E of E(TSD′). Default 8. */
  encoderWidth: number;
  /** Channels of the ControlNet conditioning embedding (one entry: no downsampling, pixel space). Default [16]. SD: [16, 32, 96, 256]. */
  conditioningChannels: number[];
  /** z_c carries the TSD map (aligned TSD′; the proxy's TSD with `tsdSource: 'proxy'`). Default true. */
  useTsd: boolean;
  /** z_c carries the proxy's normal map ("w/o normal" sets false). Default true. */
  useNormal: boolean;
  /** f_d carries Linear(T), the emotion text token ("w/o emotion" sets false). Default true. */
  useEmotion: boolean;
  /** f_d carries E(TSD′). Default true. */
  useTsdToken: boolean;
  /** f_d carries Linear(P) and Linear(E). Default true. */
  usePoseExpressionTokens: boolean;
  /**
   * Which TSD the ControlNet and E(TSD′) see during training: `'gt'` (default: the real frame's TSD, which the TSDM's
   * aligned TSD′ approximates at generation time) or `'proxy'` (the proxy's TSD: a model trained for the "w/o stage 2"
   * baseline). At generation the source is chosen per call (`tsdSource`).
   */
  trainTsd: 'gt' | 'proxy';
  /** Scale of the ControlNet residuals. Default 1. */
  conditioningScale: number;
  /** Scale λ of the decoupled cross-attention. Default 1. */
  ipScale: number;
  /** Probability that a training example drops each f_d condition (replaced by its learned null token), for guidance and robustness. Default 0.1. */
  conditionDropout: number;
  /** Diffusion steps T of the forward process (scaled-linear betas as SD). Default 1000. */
  numTrainTimesteps: number;
  /** First beta. Default 0.00085 (SD). */
  betaStart: number;
  /** Last beta. Default 0.012 (SD). */
  betaEnd: number;
  /** Backbone pre-training steps on the training frames (embedded backbone only; 0 skips). Default 300. */
  backboneIterations: number;
  /** Backbone learning rate (AdamW). Default 1e-3. */
  backboneLr: number;
  /** ControlNet + decoupled-attention + token training steps (the backbone frozen). Default 300. Paper: 15 000. */
  controlIterations: number;
  /** Their learning rate. Default 5e-4. Paper: Adam 1e-4. */
  controlLr: number;
  /** Frames per step. Default 4 (the paper's). */
  batchSize: number;
  /** Clip the global gradient norm (0 = off). Default 1. */
  maxGradNorm: number;
  /** LCM distillation steps of the student (0 = no LCM student). Default 150. */
  lcmIterations: number;
  /** LCM student learning rate. Default 5e-4. */
  lcmLr: number;
  /** Skipping-step DDIM grid N of the distillation. Default 50. */
  lcmDdimTimesteps: number;
  /** Size of the student's guidance embedding (`time_cond_proj_dim`). Default 32. */
  lcmTimeCondDim: number;
  /** LCM sampling steps. Default 4. */
  lcmSteps: number;
  /** DDIM sampling steps (the "w/o LCM" path). Default 20. */
  ddimSteps: number;
  /** Fine-tune a low-noise refiner expert from the backbone (SDXL-style hand-off). Default false. */
  refiner: boolean;
  /** Refiner training steps. Default 150. */
  refinerIterations: number;
  /** Hand-off point: the refiner runs the last `refinerStart` fraction of the schedule (diffusers `denoising_start` = 1 − this). Default 0.2. */
  refinerStart: number;
  /** Seed of every initialisation and training draw. Default 0. */
  seed: number;
  /** Checkpoint period in steps (with a checkpoint folder). Default 100. */
  checkpointEvery: number;
  /** Progress / loss-log period in steps. Default 10. */
  logEvery: number;
}

/**
 * Defaults, sized for a 2-core CPU (see each field of {@link FcsdConfig} for the paper's values).
 * @example
 * ```ts
 * import { FCSD_DEFAULTS } from '@consistent-avatar/avatar';
 * console.log(FCSD_DEFAULTS.size, FCSD_DEFAULTS.lcmSteps); // 32 4
 * ```
 */
export const FCSD_DEFAULTS: Readonly<FcsdConfig> = Object.freeze({
  size: 32,
  target: 'residual' as FcsdConfig['target'],
  residualScale: 0.25,
  proxyConcat: true,
  predictionType: 'sample' as FcsdConfig['predictionType'],
  unetChannels: [16, 32],
  layersPerBlock: 1,
  normGroups: 8,
  attentionHeads: 4,
  tokenDim: 64,
  poseDim: 6,
  expressionDim: 100,
  textDim: 64,
  encoderWidth: 8,
  conditioningChannels: [16],
  useTsd: true,
  useNormal: true,
  useEmotion: true,
  useTsdToken: true,
  usePoseExpressionTokens: true,
  trainTsd: 'gt' as FcsdConfig['trainTsd'],
  conditioningScale: 1,
  ipScale: 1,
  conditionDropout: 0.1,
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  backboneIterations: 300,
  backboneLr: 1e-3,
  controlIterations: 300,
  controlLr: 5e-4,
  batchSize: 4,
  maxGradNorm: 1,
  lcmIterations: 150,
  lcmLr: 5e-4,
  lcmDdimTimesteps: 50,
  lcmTimeCondDim: 32,
  lcmSteps: 4,
  ddimSteps: 20,
  refiner: false,
  refinerIterations: 150,
  refinerStart: 0.2,
  seed: 0,
  checkpointEvery: 100,
  logEvery: 10,
});

/**
 * The paper's formulation (§4.2): the frame itself as x_0, ε-prediction (Eq. 9), the proxy only through z_c.
 * @example
 * ```ts
 * const paperLike = resolveFcsdConfig({ ...FCSD_PAPER_CONDITIONING });
 * ```
 */
export const FCSD_PAPER_CONDITIONING: Readonly<Partial<FcsdConfig>> = Object.freeze({ target: 'image', proxyConcat: false, predictionType: 'epsilon' });

/**
 * The paper's recipe (§5.1): 512² (SD 1.5 latent 64²), tokens of 256 into the 768-d cross-attention, CLIP's 768-d
 * text, Adam 1e-4, batch 4, 15 000 iterations, with the paper's formulation. Use it with SD 1.5 weights.
 * @example
 * ```ts
 * const paper = resolveFcsdConfig({ ...FCSD_PAPER });
 * ```
 */
export const FCSD_PAPER: Readonly<Partial<FcsdConfig>> = Object.freeze({
  ...FCSD_PAPER_CONDITIONING,
  size: 512,
  tokenDim: 256,
  textDim: 768,
  controlIterations: 15_000,
  controlLr: 1e-4,
  batchSize: 4,
  backboneIterations: 0,
  conditioningChannels: [16, 32, 96, 256],
});

const FIELDS: ConfigSchema<FcsdConfig> = {
  size: f.positiveInt({ max: 2048 }),
  target: f.oneOf(['image', 'residual']),
  residualScale: f.positiveNumber(),
  proxyConcat: f.boolean(),
  predictionType: f.oneOf(['epsilon', 'sample']),
  unetChannels: f.intArray({ min: 1, max: 4096, minLength: 1, maxLength: 6 }),
  layersPerBlock: f.positiveInt({ max: 8 }),
  normGroups: f.positiveInt({ max: 1024 }),
  attentionHeads: f.positiveInt({ max: 64 }),
  tokenDim: f.positiveInt({ max: 4096 }),
  poseDim: f.positiveInt({ max: 64 }),
  expressionDim: f.positiveInt({ max: 1024 }),
  textDim: f.positiveInt({ max: 4096 }),
  encoderWidth: f.positiveInt({ max: 512 }),
  conditioningChannels: f.intArray({ min: 1, max: 4096, minLength: 1, maxLength: 6 }),
  useTsd: f.boolean(),
  useNormal: f.boolean(),
  useEmotion: f.boolean(),
  useTsdToken: f.boolean(),
  usePoseExpressionTokens: f.boolean(),
  trainTsd: f.oneOf(['gt', 'proxy']),
  conditioningScale: f.number({ min: 0 }),
  ipScale: f.number({ min: 0 }),
  conditionDropout: f.number({ min: 0, max: 1, maxOpen: true }),
  numTrainTimesteps: f.positiveInt({ max: 100_000 }),
  betaStart: f.number({ min: 0, minOpen: true, max: 1, maxOpen: true }),
  betaEnd: f.number({ min: 0, minOpen: true, max: 1, maxOpen: true }),
  backboneIterations: f.nonNegativeInt({ max: 10_000_000 }),
  backboneLr: f.positiveNumber(),
  controlIterations: f.nonNegativeInt({ max: 10_000_000 }),
  controlLr: f.positiveNumber(),
  batchSize: f.positiveInt({ max: 4096 }),
  maxGradNorm: f.number({ min: 0 }),
  lcmIterations: f.nonNegativeInt({ max: 10_000_000 }),
  lcmLr: f.positiveNumber(),
  lcmDdimTimesteps: f.positiveInt({ max: 100_000 }),
  lcmTimeCondDim: f.positiveInt({ max: 4096 }),
  lcmSteps: f.positiveInt({ max: 1000 }),
  ddimSteps: f.positiveInt({ max: 1000 }),
  refiner: f.boolean(),
  refinerIterations: f.nonNegativeInt({ max: 10_000_000 }),
  refinerStart: f.number({ min: 0, minOpen: true, max: 1, maxOpen: true }),
  seed: f.nonNegativeInt({ max: 2 ** 32 - 1 }),
  checkpointEvery: f.positiveInt(),
  logEvery: f.positiveInt(),
};

/**
 * Fill the defaults into a partial config and validate every field (unknown fields are rejected; errors name the
 * field, what was expected and what came). The result round-trips through JSON.
 * @example
 * ```ts
 * resolveFcsdConfig({ size: 0 }); // throws: resolveFcsdConfig: argument 'config.size' expected an integer in [1, 2048], got 0
 * ```
 */
export function resolveFcsdConfig(partial: Partial<FcsdConfig> = {}): FcsdConfig {
  const c = resolveConfig({ fn: 'resolveFcsdConfig', fields: FIELDS, defaults: FCSD_DEFAULTS as FcsdConfig }, partial);
  if (c.betaEnd <= c.betaStart) throw new ValidationError('resolveFcsdConfig', 'config.betaEnd', `a beta above betaStart (${c.betaStart})`, c.betaEnd);
  if (c.unetChannels.some((ch) => ch % c.normGroups !== 0)) throw new ValidationError('resolveFcsdConfig', 'config.unetChannels', `multiples of normGroups (${c.normGroups})`, c.unetChannels);
  return c;
}
