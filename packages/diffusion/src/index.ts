/**
 * `@consistent-avatar/diffusion`.
 *
 * @packageDocumentation
 */
// Schedulers (DDPM, DDIM, LCM), beta schedules, config registry and pipeline timestep helpers.
export type {
  Scheduler,
  SchedulerClassName,
  SchedulerConfig,
  SchedulerConfigJson,
  BaseSchedulerConfig,
  BetaSchedule,
  PredictionType,
  TimestepSpacing,
  SetTimestepsOptions,
  StepOptions,
  StepResult,
} from './schedulers/types.js';
export {
  computeBetas,
  alphasCumprodFromBetas,
  betasForAlphaBar,
  rescaleZeroTerminalSnr,
  torchLinspaceFloat32,
  BETA_SCHEDULES,
  type NoiseScheduleConfig,
} from './schedulers/beta-schedules.js';
export { spacedTimesteps, roundHalfEven, TIMESTEP_SPACINGS } from './schedulers/timestep-spacing.js';
export { resolveSchedulerConfig, BASE_CONFIG_FIELDS, MAX_TRAIN_TIMESTEPS } from './schedulers/scheduler-config.js';
export { MODEL_CONFIG_LIMITS } from './models/config-checks.js';
export { SchedulerBase } from './schedulers/scheduler-base.js';
export { DDPMScheduler, DDPM_DEFAULTS, type DDPMSchedulerConfig, type DDPMVarianceType } from './schedulers/ddpm.js';
export { DDIMScheduler, DDIM_DEFAULTS, type DDIMSchedulerConfig } from './schedulers/ddim.js';
export {
  LCMScheduler,
  LCM_DEFAULTS,
  LCM_SIGMA_DATA,
  lcmBoundaryScalings,
  type LCMSchedulerConfig,
  type LCMSetTimestepsOptions,
} from './schedulers/lcm.js';
export {
  schedulerFromConfig,
  readSchedulerConfig,
  SCHEDULER_REGISTRY,
  type SchedulerFromConfigOptions,
} from './schedulers/registry.js';
export {
  timestepsForStrength,
  splitForDenoisingEnd,
  splitForDenoisingStart,
  strengthStartIndex,
  denoisingCutoff,
  type TimestepSplit,
} from './schedulers/handoff.js';
// Networks: SD-compatible UNet, VAE, attention processors, IP-Adapter (src/models).
export { nchwToNhwc, nhwcToNchw } from './models/layout.js';
export { modelRng, ZeroRng, type ModelInitOptions } from './models/init.js';
export { timestepEmbedding, TimestepEmbedding, type TimestepEmbeddingOptions, type TimestepEmbeddingModuleOptions } from './models/embeddings.js';
export { ResnetBlock2D, type ResnetBlock2DOptions } from './models/resnet.js';
export { Downsample2D, Upsample2D, upsampleNearest2x } from './models/resampling.js';
export { Attention, type AttentionOptions } from './models/attention.js';
export type { Conditions } from './models/conditions.js';
export { attentionLayers, attentionProcessors, setAttentionProcessors, setAttentionProcessor } from './models/processor-registry.js';
export {
  AttnProcessor,
  IPAdapterAttnProcessor,
  isTextAndImageTokens,
  withAttentionTail,
  type AttentionBody,
  type AttentionProcessor,
  type AttentionCallOptions,
  type EncoderHiddenStates,
  type TextAndImageTokens,
  type IPAdapterAttnProcessorOptions,
} from './models/attention-processors.js';
export {
  GEGLU,
  FeedForward,
  BasicTransformerBlock,
  Transformer2DModel,
  type BasicTransformerBlockOptions,
  type Transformer2DModelOptions,
} from './models/transformer-2d.js';
export {
  DownBlock2D,
  CrossAttnDownBlock2D,
  UNetMidBlock2DCrossAttn,
  UpBlock2D,
  CrossAttnUpBlock2D,
  type UNetBlockOptions,
  type CrossAttnBlockOptions,
  type UpBlockOptions,
  type DownBlockOutput,
  type BlockCallOptions,
  type UNetDownBlock,
  type UNetUpBlock,
} from './models/unet-blocks.js';
export {
  UNet2DConditionModel,
  UNET_2D_CONDITION_DEFAULTS,
  SD15_UNET_CONFIG,
  resolveUNetConfig,
  type UNet2DConditionConfig,
  type UNetForwardOptions,
  type UNetDownBlockType,
  type UNetUpBlockType,
} from './models/unet-2d-condition.js';
export { exportUNetOnnx, type UNetOnnxOptions, type UNetOnnxExport } from './models/unet-onnx.js';
export { OrtUNet, type OrtUNetOptions } from './models/ort-unet.js';
export { nhwcToOrt, ortToNhwc, ortTimesteps, openOrtSession, requireOrt, type OrtSessionPlacement } from './models/ort-io.js';
export { exportControlNetOnnx, type ControlNetOnnxExport } from './controlnet/controlnet-onnx.js';
export { OrtControlNet } from './controlnet/ort-controlnet.js';
export { exportVaeDecoderOnnx, exportVaeEncoderOnnx, OrtVaeDecoder, OrtVaeEncoder } from './models/vae-onnx.js';
export {
  emitAttention,
  emitDownBlock,
  emitDownsample,
  emitMidBlock,
  emitTimestepEmbedding,
  emitUpBlock,
  type OnnxTimestepOptions,
  emitFeedForward,
  emitResnetBlock,
  emitSpatialSelfAttention,
  emitTransformer2D,
  emitTransformerBlock,
  emitUpsample,
  type OnnxAttentionContext,
} from './models/onnx-emitters.js';
export { DownEncoderBlock2D, UpDecoderBlock2D, UNetMidBlock2D, type VaeBlockOptions } from './models/vae-blocks.js';
export {
  AutoencoderKL,
  Encoder,
  Decoder,
  DiagonalGaussianDistribution,
  AUTOENCODER_KL_DEFAULTS,
  SD_VAE_CONFIG,
  resolveAutoencoderKLConfig,
  type AutoencoderKLConfig,
  type LatentAutoencoder,
  type LatentDistribution,
} from './models/vae.js';
export { IdentityAutoencoder } from './models/identity-autoencoder.js';
export { ImageProjection, MultiIPAdapterImageProjection, type ImageProjectionOptions } from './models/image-projection.js';
export {
  TokenConditioner,
  type ImageConditionEncoder,
  type TokenConditionSpec,
  type TokenConditionerOptions,
  type TokenConditionerCallOptions,
} from './models/token-conditioner.js';
export {
  attachIPAdapter,
  detachIPAdapter,
  setIPAdapterScale,
  convertIPAdapterStateDict,
  loadIPAdapter,
  type AttachIPAdapterOptions,
} from './models/ip-adapter.js';
export {
  fromPretrained,
  savePretrained,
  readModelConfig,
  findWeightsFile,
  loadWeightsFile,
  WEIGHT_FILE_NAMES,
  type FromPretrainedOptions,
  type PretrainedModelClass,
} from './models/pretrained.js';
export { convertDeprecatedAttentionKeys, DEPRECATED_ATTENTION_NAMES } from './models/deprecated-attention.js';
// ControlNet (src/controlnet): conditioning embedding, ControlNetModel (diffusers keys, fromUnet), MultiControlNet.
export {
  ControlNetConditioningEmbedding,
  type ControlNetConditioningEmbeddingOptions,
} from './controlnet/conditioning-embedding.js';
export {
  ControlNetModel,
  CONTROLNET_DEFAULTS,
  resolveControlNetConfig,
  guessModeScales,
  type ControlNetConfig,
  type ControlNetForwardOptions,
  type ControlNetOutput,
  type ControlNetFromUnetOptions,
} from './controlnet/controlnet-model.js';
export { MultiControlNet, type MultiControlNetForwardOptions } from './controlnet/multi-controlnet.js';
// Sampling (src/pipelines): the k-diffusion-style sampler over a denoiser function, and the denoiser wrappers
// (classifier-free guidance over named conditions, ControlNet, concatenated inputs); img2img and the hand-off.
export { guidanceScaleEmbedding } from './pipelines/guidance-embedding.js';
export {
  unetDenoiser,
  withConcatInput,
  type Denoiser,
  type DenoiserConditions,
  type UNetDenoiserOptions,
  type ConcatInputOptions,
} from './pipelines/denoiser.js';
export { withGuidance, type GuidanceOptions } from './pipelines/classifier-free-guidance.js';
export { withControlNet, type ControlNetDenoiserOptions } from './pipelines/controlnet-denoiser.js';
export {
  sample,
  controlnetKeep,
  type SampleOptions,
  type SampleLoopOptions,
  type DenoiserSampleOptions,
  type UNetSampleOptions,
  type SamplerCallback,
} from './pipelines/sampler.js';
// Training (src/training): latent consistency distillation with the skipping-step DDIM solver.
export { ddimSolverGrid, ddimSolverStep, type DDIMSolverGrid } from './training/ddim-solver.js';
export {
  LcmDistillTrainer,
  LCM_DISTILL_DEFAULTS,
  lcmStudentFromTeacher,
  type LcmDistillConfig,
  type LcmDistillBatch,
  type LcmDistillConditionBatch,
  type LcmDistillTrainerOptions,
  type LcmModelCall,
  type LcmDistillStepResult,
} from './training/lcm-distill.js';
export { cloneUNet } from './models/clone-unet.js';
export { linearForward } from './models/linear.js';
