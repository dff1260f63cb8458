/**
 * `@consistent-avatar/core`: the tensor backend and training kernels, the `nn` module system, seeded randomness,
 * config validation, file I/O (safetensors, npy/npz, PNG, video), checkpoints, progress reporting, FLAME, the rasterizer, the stage-1
 * proxy avatar and the datasets.
 *
 * @packageDocumentation
 */
export { tf } from './backend/tf.js';
export {
  initBackend,
  backendReport,
  currentBackend,
  useBackend,
  availableBackends,
  type BackendName,
  type BackendInfo,
  type BackendAttempt,
} from './backend/init.js';
export { ValidationError, FormatError, BackendUnavailableError, describeValue } from './errors.js';
export {
  resolveConfig,
  checkConfigField,
  configField,
  derivedDefault,
  DerivedDefault,
  type ConfigField,
  type ConfigSchema,
  type ConfigDefaults,
  type ConfigSpec,
  type ConfigScalar,
  type IntegerField,
  type NumberField,
  type BooleanField,
  type OneOfField,
  type ArrayField,
  type NullableField,
  type EitherField,
  type FixedField,
  type JsonObjectField,
} from './config.js';
export {
  checkImage,
  isByteImage,
  toFloatImage,
  toByteImage,
  imageToTensor,
  imageFromTensor,
  type Image,
  type ImageStorage,
  type FloatImage,
  type ByteImage,
  type CheckImageOptions,
} from './image.js';
export { Rng, hashString, type RngState } from './random.js';
export * as nn from './nn/index.js';
export { Adam, AdamW, type AdamConfig, type StepResult } from './optim/adam.js';
export { clipGradNorm } from './optim/clip.js';
export { Ema } from './optim/ema.js';
export { resumeTraining, saveTrainingCheckpoint, TrainingLoopState, type TrainingRun } from './optim/resume.js';
export {
  conv2dFilterGrad,
  conv2dInputGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
} from './kernels/conv-grads.js';
export { registerWasmTrainingKernels, registeredWasmKernels, setWasmBatchMatMulKernel, unsortedSegmentSumFromScatter, wasmBatchMatMulKernelCalls } from './kernels/register.js';
export { wasmBinary } from './kernels/wasm-binary.js';
// Stage 1: FLAME (linear blend skinning as smplx / FLAME_PyTorch compute it).
export { batchRodrigues } from './flame/rodrigues.js';
export { linearBlendSkinning, type LbsModelTensors, type LbsOutput } from './flame/lbs.js';
export { barycentricLandmarks } from './flame/landmarks.js';
export { paperPoseToFull, fullPoseToPaper, FLAME_JOINT_NAMES, FLAME_PARENTS } from './flame/pose.js';
export {
  FlameModel,
  type FlameLoadOptions,
  type FlameParams,
  type FlameOutput,
  type MeshUvs,
  type NdArrayLike,
} from './flame/model.js';
export {
  float16ToFloat32,
  bfloat16ToFloat32,
  toFloat32Array,
  toInt32Array,
  type NumericArray,
} from './io/dtype.js';
export { writeFileAtomic } from './io/atomic.js';
export {
  readSafetensors,
  loadSafetensorsAsTensors,
  tensorsFromSafetensors,
  inspectSafetensors,
  writeSafetensors,
  encodeSafetensors,
  SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsTensor,
  type SafetensorsSource,
  type SafetensorsWritable,
  type ReadSafetensorsOptions,
} from './io/safetensors.js';
// Stage 1: the typed-array rasterizer.
export {
  lookAtCamera,
  projectPoints,
  invertRigid,
  worldToCameraCv,
  validateCamera,
  type PinholeCamera,
  type CameraConvention,
} from './raster/camera.js';
export { rasterize, vertexNormals, type RasterMesh, type RasterOptions, type RasterOutput } from './raster/rasterize.js';
export { sampleTextureBilinear, shBasis, defaultShCoefficients, SH_CONSTANTS, type Texture } from './raster/shading.js';
export { readNpy, parseNpy, encodeNpy, writeNpy, type NpyArray, type NpyDtype } from './io/npy.js';
export { readNpz, encodeNpz, writeNpz, type ReadNpzOptions, type WriteNpzOptions } from './io/npz.js';
export {
  readPng,
  readPngTensor,
  encodePng,
  writePng,
  type PngImage,
  type PngInput,
  type ReadPngOptions,
  type WritePngOptions,
} from './io/png.js';

// Stage 1: the synthetic head (procedural, FLAME-compatible; labelled "synthetic" everywhere).
export {
  SyntheticHead,
  createSyntheticHead,
  syntheticFlameArrays,
  syntheticIdentityShape,
  SYNTHETIC_NUM_SHAPE,
  SYNTHETIC_NUM_EXPRESSION,
  type SyntheticHeadOptions,
  type SyntheticFrameParams,
} from './head/synthetic-head.js';
export { buildSyntheticTopology, type SyntheticTopology } from './head/geometry.js';
export { SYNTHETIC_EXPRESSION_NAMES, SYNTHETIC_SHAPE_NAMES, syntheticBlendshapes } from './head/blendshapes.js';
export { SYNTHETIC_FACE, syntheticSurfacePoint } from './head/surface.js';
export {
  buildSyntheticTexture,
  wrinkledTexture,
  syntheticAppearance,
  WRINKLE_DRIVERS,
  type SyntheticTexture,
  type SyntheticAppearance,
} from './head/texture.js';
export {
  MEAD_EMOTIONS,
  SYNTHETIC_EMOTION_PROTOTYPES,
  syntheticEmotionExpression,
  type MeadEmotion,
} from './head/emotions.js';
export { readJson, writeJsonAtomic, findJsonErrorOffset } from './io/json.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  listCheckpoints,
  latestCheckpoint,
  checkpointName,
  parseCheckpointStep,
  CheckpointManager,
  CHECKPOINT_FILES,
  type CheckpointData,
  type LoadedCheckpoint,
} from './io/checkpoint.js';
export {
  createProgress,
  formatDuration,
  type ProgressEvent,
  type OnProgress,
  type ProgressOptions,
  type ProgressReporter,
  type ProgressStream,
} from './progress.js';
export { writeRunManifest, gitState, type RunManifest, type RunManifestInput } from './manifest.js';
// Stage 1: datasets (INSTA / NeRFace / IMAvatar layouts) and the synthetic dataset generator.
export { splitLastFrames, resolveInside, type AvatarDataset, type AvatarFrame } from './datasets/common.js';
export {
  readInstaDataset,
  writeInstaDataset,
  type ReadInstaOptions,
  type InstaFrameInput,
  type InstaDatasetInput,
} from './datasets/insta.js';
export { readNerfaceDataset, writeNerfaceDataset, type NerfaceFrameInput } from './datasets/nerface.js';
export { readImavatarDataset, writeImavatarDataset, type ImavatarFrameInput } from './datasets/imavatar.js';
export {
  synthesizeDataset,
  scriptPerformance,
  trackPerformance,
  syntheticCamera,
  readSyntheticTruth,
  type SynthesizeOptions,
  type PerformanceFrame,
  type TrackedFrame,
  type SyntheticTruth,
} from './datasets/synthesize.js';
export {
  writeFrames,
  writeVideo,
  hasFfmpeg,
  type WriteFramesOptions,
  type WriteVideoOptions,
  type WriteVideoResult,
} from './io/video.js';
// Stage 1: the proxy avatar (low-resolution UV texture + SH fitted through differentiable texture sampling).
export { bilinearPlan, sampleTexture, type BilinearPlan } from './proxy/texture-sampler.js';
export {
  ProxyAvatar,
  fitProxyAvatar,
  renderProxy,
  evaluateProxy,
  frameParams,
  type ProxyFitOptions,
  type ProxyFrameParams,
} from './proxy/proxy-avatar.js';
export { syntheticLandmarkEmbedding, syntheticLandmarkAngles } from './head/landmarks68.js';
export { parseFlags, type FlagKind } from './cli/args.js';
