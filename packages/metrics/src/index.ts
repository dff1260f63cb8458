/**
 * `@consistent-avatar/metrics`: image quality (MSE, PSNR, SSIM, LPIPS), optical-flow temporal consistency,
 * pose / expression / emotion / identity consistency, and evaluation reports.
 *
 * @packageDocumentation
 */
export {
  type MetricMask,
  type FrameScores,
  type GrayWeights,
  type GrayPlane,
  CHANNEL_MEAN,
  toGray,
  scoreFrames,
} from './image.js';
export { mse, mseFrames, type MseOptions } from './mse.js';
export { psnr, psnrFrames, type PsnrOptions } from './psnr.js';
export { ssim, ssimFrames, type SsimOptions, type SsimVariant } from './ssim.js';
export { loadOpenCv, type OpenCv, type CvMat } from './opencv.js';
export {
  FarnebackFlow,
  FARNEBACK_DEFAULTS,
  resolveFarnebackConfig,
  type FarnebackConfig,
  type FlowField,
} from './farneback.js';
export {
  meanFlowMagnitude,
  flowMagnitudeCurve,
  curveAgreement,
  type CurveAgreement,
  type FlowRegionOptions,
} from './flow-curve.js';
export { endPointError } from './end-point-error.js';
export { warpingError, type WarpingErrorOptions, type WarpingErrorResult } from './warping-error.js';
export {
  temporalConsistency,
  type TemporalConsistencyOptions,
  type TemporalConsistencyResult,
} from './temporal-consistency.js';
export { flowCurveSvg, type PlotSeries, type FlowPlotOptions } from './flow-plot.js';
export { Lpips, lpipsFrames, lpipsMinimumSize, type LpipsNet, type LpipsOptions, type LpipsResult } from './lpips.js';
export {
  FaceAnalyzer,
  FACE_EMOTIONS,
  type FaceEmotion,
  type FaceAnalysis,
  type FaceAnalyzerOptions,
} from './face-analyzer.js';
export {
  faceConsistency,
  compareFaces,
  cosineSimilarity,
  MESH_REGIONS,
  type FaceConsistencyResult,
  type FaceFrameComparison,
} from './face-consistency.js';
export { procrustes2d, applySimilarity2d, type Similarity2D } from './procrustes.js';
export {
  poseExpressionError,
  evaluatePoseExpression,
  type PoseExpressionEstimator,
  type PoseExpressionCodes,
  type PoseExpressionErrorResult,
} from './pose-expression.js';
export {
  evaluate,
  type EvaluateOptions,
  type EvaluationReport,
  type EvaluationRow,
  type EvaluationSummary,
} from './evaluate.js';
export { DecaEstimator, DECA_CODE_SIZES } from './deca-estimator.js';
export {
  renderPoseExpressionSet,
  samplePoseExpression,
  type PoseExpressionRenderOptions,
  type PoseExpressionRenderSet,
  type PoseExpressionDraw,
} from './pose-expression-renders.js';
export {
  SyntheticPoseExpressionEstimator,
  SyntheticPoseExpressionNet,
  resolveSyntheticPoseExpressionConfig,
  loadEmbeddedPoseExpressionEstimator,
  embeddedPoseExpressionWeights,
  type SyntheticPoseExpressionConfig,
} from './synthetic-pose-expression.js';
export {
  trainPoseExpressionEstimator,
  columnStats,
  type TrainPoseExpressionOptions,
  type TrainPoseExpressionResult,
} from './train-pose-expression.js';
export {
  poseExpressionAccuracy,
  rotationAngleDeg,
  axisAngleToMatrix,
  type PoseExpressionAccuracy,
  type PoseExpressionScores,
} from './pose-expression-accuracy.js';
