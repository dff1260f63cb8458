/**
 * `@consistent-avatar/core`: the foundation every stage builds on — the tensor backend and training kernels, the `nn`
 * module system, optimisers, seeded randomness, config validation, file I/O (safetensors, npy/npz, PNG, video),
 * checkpoints, the image type, progress reporting, run manifests and typed errors. Stage 1 (FLAME, the rasterizer, the
 * proxy avatar, the datasets) lives in `@consistent-avatar/proxy`.
 *
 * `tf` is the `@tensorflow/tfjs` 4.22 namespace, re-exported so every package shares one engine; its reference is
 * TensorFlow.js's own (https://js.tensorflow.org/api/4.22.0/) and is not repeated in this one.
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
export { guardCrashHandlers, formatUncaught } from './backend/crash-handlers.js';
export { ValidationError, FormatError, BackendUnavailableError, IoError, RunLockedError, NonFiniteError, asIoError, describeValue } from './errors.js';
export { checkFinite, firstNonFinite, type FiniteOptions } from './finite.js';
export {
  resolveConfig,
  checkConfigField,
  configField,
  derivedDefault,
  DerivedDefault,
  type ConfigField,
  type ConfigSchema,
  type ConfigDefaults,
  type KnownKeys,
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
/**
 * The module system: {@link nn.Module} (named parameters and buffers with diffusers-compatible dotted names,
 * state dicts in our or PyTorch layout), PyTorch-compatible layers (NHWC), activations and initialisers.
 * @example
 * ```ts
 * const linear = new nn.Linear(4, 2, { rng: new Rng(0) });
 * const y = linear.forward(tf.ones([3, 4])); // [3, 2]
 * linear.dispose();
 * ```
 */
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
  type Pad,
} from './kernels/conv-grads.js';
export { registerWasmTrainingKernels, registeredWasmKernels, preferConv2DBackpropInputKernel, setWasmBatchMatMulKernel, unsortedSegmentSumFromScatter, wasmBatchMatMulKernelCalls } from './kernels/register.js';
export { groupNorm, setFusedGroupNorm, fusedGroupNormCalls } from './kernels/group-norm.js';
export { wasmBinary } from './kernels/wasm-binary.js';
export {
  enableNativeKernels,
  disableNativeKernels,
  nativeKernelStatus,
  nativeKernelReport,
  resetNativeKernelStats,
  NATIVE_KERNELS,
  type NativeKernelName,
  type NativeKernelOptions,
  type NativeKernelCounters,
  type NativeKernelStatus,
} from './native/provider.js';
export { encodeOnnxModel, type OnnxModelSpec, type OnnxNode, type OnnxAttribute, type OnnxValue, type OnnxInt64Constant, type OnnxFloatInitializer } from './native/onnx-proto.js';
export { OnnxGraph, ONNX_EXPORT_OPSET } from './native/onnx-graph.js';
export { emitConv2d, emitGelu, emitGroupNorm, emitLayerNorm, emitLinear, emitSilu } from './native/onnx-nn.js';
export { writeOnnxModel, type WriteOnnxModelOptions, type WrittenOnnxModel } from './native/onnx-file.js';
export { loadOrtBinding, simulateOrtAbsent, ORT_PINNED_VERSION, type OrtBinding, type OrtSyncSession, type OrtFloatTensor, type OrtSessionOptions } from './native/ort-binding.js';
export {
  float16ToFloat32,
  bfloat16ToFloat32,
  toFloat32Array,
  toInt32Array,
  type NumericArray,
} from './io/dtype.js';
export { writeFileAtomic, removeStaleTemporaries, processIsAlive, prepareFolderReplacement, moveFolderIntoPlace } from './io/atomic.js';
export {
  readLimits,
  setReadLimits,
  DEFAULT_READ_LIMITS,
  openRegularFile,
  readFileBounded,
  readTextBounded,
  gunzipBounded,
  inflateRawBounded,
  jsonDepth,
  type ReadLimits,
  type RegularFile,
} from './io/limits.js';
export { acquireRunLock, RUN_LOCK_FILE, type RunLock } from './io/run-lock.js';
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

export { readJson, writeJsonAtomic, findJsonErrorOffset, parseJsonText } from './io/json.js';
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
  type LoadCheckpointOptions,
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
export {
  writeFrames,
  writeVideo,
  hasFfmpeg,
  type WriteFramesOptions,
  type WriteVideoOptions,
  type WriteVideoResult,
} from './io/video.js';
export { probeVideo, readVideoFrames, type VideoInfo, type ReadVideoOptions } from './io/video-read.js';
