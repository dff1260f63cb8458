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
