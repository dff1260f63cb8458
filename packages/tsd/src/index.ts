/**
 * `@consistent-avatar/tsd`: Temporally-Sensitive Detail (TSD) — the Fourier high-pass filter, its normalisation
 * for networks, the released script's TSD PNG (`releaseTsd`, opt in), the TSD encoder and the stage-2 TSDM.
 *
 * @packageDocumentation
 */
export {
  extractTsd,
  highPassMask,
  TSD_DEFAULTS,
  TSD_PAPER_PRESET,
  type TsdImage,
  type TsdOptions,
  type TsdSettings,
  type TsdMaskKind,
  type TsdChannels,
  type TsdOutput,
  type HighPassMask,
} from './extract-tsd.js';
export { releaseTsd, releaseTsdMagnitude } from './release-tsd.js';
export { extractTsdTensor } from './tensor-tsd.js';
export { normalizeTsd, type NormalizeTsdOptions, type TsdRange } from './normalize-tsd.js';
export { TsdEncoder, TSD_ENCODER_DEFAULTS, type TsdEncoderConfig } from './encoder.js';
export { exportTsdEncoderOnnx, OrtTsdEncoder } from './encoder-onnx.js';
export { TSDM_DEFAULTS, TSDM_PAPER_CONDITIONING, TSDM_PAPER_TRAINING, resolveTsdmConfig, type TsdmConfig } from './tsdm/config.js';
export { prepareTsdmData, tsdmTsd, downsampleImage, type TsdmData, type TsdmFrame } from './tsdm/condition.js';
export { TsdmModel, type TsdmConditions } from './tsdm/tsdm-model.js';
export { trainTsdm, tsdmScheduler, type TrainTsdmOptions, type TrainTsdmResult } from './tsdm/train.js';
export { alignTsd, type AlignTsdOptions } from './tsdm/align.js';
export { tsdErrors, type TsdErrorReport } from './tsdm/metrics.js';
export { tsdmWindowInputs, type TsdmWindowInputs } from './tsdm/window.js';
