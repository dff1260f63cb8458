/**
 * `@consistent-avatar/proxy`: stage 1 of ConsistentAvatar — FLAME (linear blend skinning as smplx / FLAME_PyTorch
 * compute it) and the procedural **synthetic** head, the typed-array rasterizer and cameras, the coarse proxy avatar
 * (a UV texture + SH lighting fitted to the training frames; the paper uses INSTA), and the dataset readers / writers
 * (INSTA, NeRFace, IMAvatar layouts) with the synthetic dataset generator.
 *
 * @example
 * ```ts
 * import { synthesizeDataset, readInstaDataset, fitProxyAvatar, renderProxy, frameParams } from '@consistent-avatar/proxy';
 * const { root } = await synthesizeDataset({ out: 'data/synthetic', frames: 64, size: 64, testFrames: 8, seed: 1 });
 * const dataset = readInstaDataset(root);
 * const proxy = await fitProxyAvatar(dataset, { seed: 0 });
 * const { rgb, normal } = renderProxy(proxy, frameParams(dataset.frames[0]!)); // Float32Array [H·W·3] each
 * proxy.dispose();
 * ```
 *
 * @packageDocumentation
 */
// FLAME (linear blend skinning as smplx / FLAME_PyTorch compute it).
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
export { readFlameFolder, flameModelFile, readObjUvs, FLAME_MODEL_FILES, FLAME_UV_FILE } from './flame/folder.js';
// the typed-array rasterizer.
export {
  lookAtCamera,
  projectPoints,
  rigidProblem,
  invertRigid,
  worldToCameraCv,
  validateCamera,
  type PinholeCamera,
  type CameraConvention,
} from './raster/camera.js';
export { rasterize, vertexNormals, type RasterMesh, type RasterOptions, type RasterOutput } from './raster/rasterize.js';
export { sampleTextureBilinear, shBasis, defaultShCoefficients, SH_CONSTANTS, type Texture } from './raster/shading.js';
// the synthetic head (procedural, FLAME-compatible; labelled "synthetic" everywhere).
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
  SYNTHETIC_EMOTIONS,
  SYNTHETIC_EMOTION_PROTOTYPES,
  syntheticEmotionExpression,
  type SyntheticEmotion,
} from './head/emotions.js';
// datasets (INSTA / NeRFace / IMAvatar layouts) and the synthetic dataset generator.
export { splitLastFrames, resolveInside, type AvatarDataset, type AvatarFrame } from './datasets/common.js';
export { protocolSplit, type ProtocolSplit, type ProtocolSplitOptions } from './datasets/protocol-split.js';
export {
  INSTA_FACE_PARSING_LABELS,
  INSTA_HEAD_CLASSES,
  faceParsingCodes,
  decodeLabelMap,
  readFrameMask,
  type FaceParsingClass,
  type FrameMaskSource,
} from './datasets/masks.js';
export { axisAngleToMatrix, matrixToAxisAngle, rotation6dToMatrix, matrixToRotation6d } from './datasets/rotation.js';
export {
  readInstaDataset,
  writeInstaDataset,
  headRotationFromCamera,
  type ReadInstaOptions,
  type InstaFrameInput,
  type InstaDatasetInput,
} from './datasets/insta.js';
export { readNerfaceDataset, writeNerfaceDataset, type NerfaceFrameInput } from './datasets/nerface.js';
export { readImavatarDataset, writeImavatarDataset, type ImavatarFrameInput, type ReadImavatarOptions } from './datasets/imavatar.js';
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
// the proxy avatar (low-resolution UV texture + SH fitted through differentiable texture sampling).
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
// landmark tracking (a video's face-mesh landmarks → FLAME / synthetic-head parameters).
export {
  MEDIAPIPE_FACE_POINTS,
  checkLandmarkEmbedding,
  embeddedPoints,
  readMediapipeEmbedding,
  syntheticMediapipeEmbedding,
  type LandmarkEmbedding,
} from './track/landmark-embedding.js';
export { LandmarkRig, type LandmarkRigParams } from './track/landmark-rig.js';
export {
  fitLandmarkSequence,
  resolveLandmarkFitConfig,
  trackingCamera,
  headCameraToWorld,
  LANDMARK_FIT_DEFAULTS,
  LANDMARK_FIT_FIELDS,
  type LandmarkFitConfig,
  type LandmarkFitResult,
} from './track/fit-landmarks.js';
export { readTrackedModel, TRACKED_SYNTHETIC_LABEL } from './track/tracking-record.js';
