/**
 * `@consistent-avatar/tsd`: Temporally-Sensitive Detail (TSD) — the Fourier high-pass filter, its normalisation
 * for networks, and (later) the TSD encoder and the stage-2 TSDM.
 *
 * @packageDocumentation
 */
export {
  extractTsd,
  releaseTsdMagnitude,
  type TsdImage,
  type TsdReleaseImage,
  type TsdResultFor,
} from './extract-tsd.js';
export { extractTsdTensor } from './tensor-tsd.js';
export { normalizeTsd, type NormalizeTsdOptions, type TsdRange } from './normalize-tsd.js';
export {
  resolveTsdOptions,
  TSD_DEFAULTS,
  TSD_PAPER_PRESET,
  TSD_RELEASE_FILTER,
  type TsdOptions,
  type TsdChannels,
  type TsdOutput,
  type TsdPreset,
  type TsdRequest,
  type ResolvedTsdOptions,
} from './tsd-options.js';
export { highPassMask, type HighPassMask, type TsdMaskKind, type TsdCentre } from './high-pass-mask.js';
export { TsdFilter, getTsdFilter, clearTsdFilterCache, type PlaneFill, type PlaneEmit } from './tsd-filter.js';
export { Fft2d, type FftEngine } from './fft2d.js';
export { FftPlan } from './fft-plan.js';
export { fmaExact } from './fma.js';
export type { ImageLike, PixelData } from './image-input.js';
export { TsdEncoder, TSD_ENCODER_DEFAULTS, type TsdEncoderConfig } from './encoder.js';
export { TSDM_DEFAULTS, TSDM_PAPER_CONDITIONING, TSDM_PAPER_TRAINING, resolveTsdmConfig, type TsdmConfig } from './tsdm/config.js';
export { prepareTsdmData, tsdmTsd, downsampleImage, type TsdmData, type TsdmFrame } from './tsdm/condition.js';
export { TsdmModel, type TsdmConditions } from './tsdm/tsdm-model.js';
export { trainTsdm, tsdmScheduler, type TrainTsdmOptions, type TrainTsdmResult } from './tsdm/train.js';
export { alignTsd, type AlignTsdOptions } from './tsdm/align.js';
export { tsdErrors, type TsdErrorReport } from './tsdm/metrics.js';
export { tsdmWindowInputs, type TsdmWindowInputs } from './tsdm/window.js';
