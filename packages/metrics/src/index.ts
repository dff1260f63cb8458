/**
 * `@consistent-avatar/metrics`: image quality (MSE, PSNR, SSIM, LPIPS), optical-flow temporal consistency,
 * pose / expression / emotion / identity consistency, and evaluation reports.
 *
 * @packageDocumentation
 */
export {
  type MetricImage,
  type MetricMask,
  type FrameScores,
  type GrayWeights,
  CHANNEL_MEAN,
  toGray,
  imageFromTensor,
  scoreFrames,
} from './image.js';
export { mse, mseFrames, type MseOptions } from './mse.js';
export { psnr, psnrFrames, type PsnrOptions } from './psnr.js';
export { ssim, ssimFrames, type SsimOptions, type SsimVariant } from './ssim.js';
