/**
 * `@consistent-avatar/avatar`: the whole ConsistentAvatar method on top of the stage packages — stage 3 (FCSD), the
 * pipeline from a video to an avatar, the paper's ablations, the run report, and the `ca` command line. It depends
 * on every other package and nothing depends on it.
 *
 * @example
 * ```ts
 * import { runCli } from '@consistent-avatar/avatar';
 * const exitCode = await runCli(['synth', '--out', 'data/synthetic', '--frames', '64', '--size', '64']);
 * ```
 *
 * @packageDocumentation
 */
export { main as runCli, buildProgram, COMMANDS, type CliOutput } from './cli/ca.js';
// Sharding of independent jobs (`--shard i/n`, JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID).
export { parseShard, shardRange, shardItems, type Shard, type ShardEnvironment } from './pipeline/shard.js';
// Render shards (whole render batches) and eval shards (per-frame / per-pair values), merged exactly by `ca merge`.
export { renderShardRange, renderShardDir, writeRenderShard, readRenderShard, mergeRenderShards, type RenderShard, type RenderShardRecord } from './pipeline/render-shards.js';
export { scoreShard, mergeScoreShards, type ScoreShardPart, type ScoreShardOptions, type FrameImageScores } from './pipeline/eval-shards.js';
export {
  renderReportHtml,
  type RunReport,
  type ReportTable,
  type ReportCell,
  type ReportImage,
  type ReportPlot,
  type ReportVideo,
} from './report/report-html.js';
export { checkReportInBrowser, findChromium, type BrowserCheckResult, type BrowserCheckOptions } from './report/browser-check.js';
export {
  resolveFcsdConfig,
  FCSD_DEFAULTS,
  FCSD_PAPER,
  FCSD_PAPER_CONDITIONING,
  type FcsdConfig,
} from './fcsd/config.js';
export { prepareFcsdData, withAlignedTsd, resizeMap, type FcsdData, type FcsdFrame, type PrepareFcsdOptions } from './fcsd/data.js';
export {
  FcsdModel,
  fcsdBackboneConfig,
  copyEncoderFromUnet,
  loadPretrainedBackbone,
  type PretrainedBackbone,
  type FcsdConditionInputs,
  type FcsdConditions,
  type FcsdConditionOptions,
} from './fcsd/fcsd-model.js';
export { trainFcsd, fcsdScheduler, fcsdTarget, fcsdBatchInputs, type TrainFcsdOptions, type TrainFcsdResult, type FcsdProgress } from './fcsd/train.js';
export { renderFcsd, frameNoise, RENDER_BATCH_SIZE, type RenderFcsdOptions } from './fcsd/render.js';
export { scoreSequence, type SequenceScores, type ImageScores, type ScoreSequenceOptions } from './eval/score-sequence.js';
// Stage 3, §4.3: the LCM student and the refiner.
export { distillFcsdLcm, type DistillFcsdLcmOptions, type DistillFcsdLcmResult } from './fcsd/lcm.js';
export { trainFcsdRefiner, refinerTimesteps, type TrainFcsdRefinerOptions, type TrainFcsdRefinerResult } from './fcsd/refiner.js';
export { drawFcsdTrainingBatch, disposeFcsdTrainingBatch, fcsdBatchTargets, type FcsdTrainingBatch } from './fcsd/train.js';
export {
  type FcsdFineTuneOptions,
  type FcsdFineTuneLog,
  type FcsdFineTuneProgress,
} from './fcsd/fine-tune.js';
// The whole method: stages 1 → 2 → 3 under the protocol, and its outputs.
export { runMethod, type RunMethodOptions, type RunMethodResult, type MethodRow } from './pipeline/run-method.js';
// The same method one stage at a time (what the `ca` stage commands run).
export {
  planMethod,
  readMethodDataset,
  fitProxyStage,
  tsdStage,
  trainTsdmStage,
  alignStage,
  emotionStage,
  fcsdDataStage,
  trainFcsdStage,
  lcmStage,
  refinerStage,
  renderRows,
  scoreRows,
  scoreRowsShard,
  variantStage,
  type MethodPlan,
  type DatasetLayout,
  type AlignStageResult,
  type RenderedRow,
  type MethodNetworks,
  type ScoredRows,
  type ShardScoredRow,
} from './pipeline/method-stages.js';
export {
  writeTsdmArtifact,
  readTsdmArtifact,
  writeAlignArtifact,
  readAlignArtifact,
  writeRenderArtifact,
  readRenderArtifact,
} from './pipeline/stage-artifacts.js';
export { METHOD_PRESETS, type MethodPreset } from './pipeline/method-presets.js';
export { writeMethodOutputs, methodTables, type MethodOutputOptions, type MethodOutputs } from './pipeline/method-report.js';
// `ca track`: a video or a folder of frames → an INSTA-layout dataset.
export { openFrameSource, type FrameSource, type SourceFrame } from './track/frame-source.js';
export {
  trackVideo,
  resolveTrackConfig,
  TRACK_DEFAULTS,
  TRACK_CONFIG_SPEC,
  type TrackConfig,
  type TrackOptions,
  type TrackProgress,
  type TrackResult,
} from './track/track-video.js';
export { renderSyntheticClip, type SyntheticClipOptions, type SyntheticClipTruth } from './track/synthetic-clip.js';
export { type StageThreeVariant } from './pipeline/run-method.js';
export { FCSD_CONDITION_FIELDS } from './fcsd/train.js';
// The paper's ablations over several identities (Tables 1–2, Fig. 7), sharding and merging.
export {
  runAblation,
  mergeAblation,
  readAblationPart,
  ablationIdentities,
  identityResult,
  ABLATION_VARIANTS,
  type AblationOptions,
  type AblationDataset,
  type AblationMethodOptions,
  type AblationSettings,
  type AblationResult,
  type AblationPart,
} from './pipeline/ablate.js';
export {
  meanStd,
  summarizeAblation,
  meanCurves,
  ablationMarkdown,
  ABLATION_METRICS,
  type AblationMetric,
  type AblationIdentityRow,
  type AblationIdentityResult,
  type AblationCell,
  type AblationSummary,
} from './pipeline/ablation-tables.js';
export { writeAblationOutputs, runProvenance, type AblationOutputOptions, type AblationOutputs } from './pipeline/ablation-report.js';
export { resolveAblationConfig, ablationOptionsFromConfig, ABLATION_PRESETS, type AblationConfig } from './pipeline/ablation-config.js';
