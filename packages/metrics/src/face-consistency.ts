/**
 * Pose, expression, emotion and identity consistency between generated and real frames, from
 * {@link FaceAnalyzer} results. Frames where either side has no detected face are counted as failures and left out
 * of every mean — nothing is imputed.
 *
 * - Head-pose error: mean absolute difference of pitch / yaw / roll in degrees.
 * - Mesh-landmark distance: the generated 2-D mesh aligned to the real one by a similarity Procrustes fit on all
 *   478 points, then the mean point distance over the mouth (outer + inner lips) and the eyes (upper + lower
 *   lids), in units of the real face's inter-ocular distance (outer eye corners 33 and 263).
 * - Emotion agreement: fraction of compared frames whose top emotions are equal.
 * - Identity similarity (CSIM): cosine similarity of the face embeddings.
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';
import type { FaceAnalysis } from './face-analyzer.js';
import { applySimilarity2d, procrustes2d } from './procrustes.js';

/**
 * MediaPipe face-mesh indices (from human's `facemeshcoords.ts`).
 * @example
 * ```ts
 * const upperLip = MESH_REGIONS.mouth.slice(0, 11); // face-mesh point indices
 * ```
 */
export const MESH_REGIONS = {
  mouth: [
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321, 375, 78, 191, 80, 81, 82,
    13, 312, 311, 310, 415, 308, 95, 88, 178, 87, 14, 317, 402, 318, 324,
  ],
  eyes: [
    246, 161, 160, 159, 158, 157, 173, 33, 7, 163, 144, 145, 153, 154, 155, 133, 466, 388, 387, 386, 385, 384, 398,
    263, 249, 390, 373, 374, 380, 381, 382, 362,
  ],
} as const;

/**
 * Per compared frame (both faces found); `null` rows are frames with a detection failure.
 * @example
 * ```ts
 * const row: FaceFrameComparison = compareFaces(generatedFace, realFace);
 * console.log(row.poseErrorDeg.yaw, row.identitySimilarity);
 * ```
 */
export interface FaceFrameComparison {
  readonly poseErrorDeg: { readonly pitch: number; readonly yaw: number; readonly roll: number };
  readonly mouthDistance: number;
  readonly eyesDistance: number;
  readonly emotionGenerated: string | null;
  readonly emotionReference: string | null;
  readonly identitySimilarity: number | null;
}

/**
 * Result of {@link faceConsistency}. Means are `null` when no frame could be compared.
 * @example
 * ```ts
 * const r: FaceConsistencyResult = faceConsistency(generatedFaces, realFaces);
 * console.log(`${r.comparedFrames}/${r.frames} compared`, r.failures);
 * ```
 */
export interface FaceConsistencyResult {
  readonly frames: number;
  /** Frame indices where no face was found in the generated / real frame. */
  readonly failures: { readonly generated: number[]; readonly reference: number[] };
  readonly comparedFrames: number;
  readonly headPoseErrorDeg: { pitch: number; yaw: number; roll: number; mean: number } | null;
  readonly meshDistance: { mouth: number; eyes: number } | null;
  readonly emotionAgreement: number | null;
  readonly identitySimilarity: number | null;
  readonly perFrame: (FaceFrameComparison | null)[];
}

/**
 * Cosine similarity of two embeddings (CSIM).
 *
 * @example
 * ```ts
 * cosineSimilarity(new Float32Array([1, 0]), new Float32Array([1, 1])); // 0.7071…
 * ```
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) {
    throw new ValidationError('cosineSimilarity', 'b', `a vector of length ${a.length}`, b);
  }
  checkFinite('cosineSimilarity', 'a', a);
  checkFinite('cosineSimilarity', 'b', b);
  let ab = 0, aa = 0, bb = 0; // prettier-ignore
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

function xy(mesh: Float32Array): Float64Array {
  const n = mesh.length / 3;
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = mesh[3 * i]!;
    out[2 * i + 1] = mesh[3 * i + 1]!;
  }
  return out;
}

/**
 * Compare one generated face with one real face.
 *
 * @example
 * ```ts
 * const row = compareFaces(generatedFace, realFace); // row.mouthDistance in inter-ocular units
 * ```
 */
export function compareFaces(generated: FaceAnalysis, reference: FaceAnalysis): FaceFrameComparison {
  const fn = 'compareFaces';
  // The non-finite policy: a NaN mesh point, angle or embedding value made the frame's distances NaN.
  for (const [side, face] of [['generated', generated], ['reference', reference]] as const) {
    if (face === null || typeof face !== 'object' || !(face.mesh instanceof Float32Array) || !(face.embedding instanceof Float32Array) || typeof face.rotation !== 'object' || face.rotation === null) {
      throw new ValidationError(fn, side, 'a FaceAnalysis (mesh, rotation, embedding)', face);
    }
    checkFinite(fn, `${side}.mesh`, face.mesh);
    checkFinite(fn, `${side}.rotation`, [face.rotation.pitch, face.rotation.yaw, face.rotation.roll]); // pitch, yaw, roll
    checkFinite(fn, `${side}.embedding`, face.embedding);
  }
  if (generated.mesh.length !== reference.mesh.length || reference.mesh.length < 3 * 468) {
    throw new ValidationError(fn, 'generated.mesh', `a mesh like the reference's (${reference.mesh.length / 3} points)`, generated.mesh);
  }
  const g = xy(generated.mesh);
  const r = xy(reference.mesh);
  const aligned = applySimilarity2d(procrustes2d(g, r), g);
  const iod = Math.hypot(r[2 * 33]! - r[2 * 263]!, r[2 * 33 + 1]! - r[2 * 263 + 1]!);
  const regionDistance = (idx: readonly number[]) =>
    idx.reduce((s, i) => s + Math.hypot(aligned[2 * i]! - r[2 * i]!, aligned[2 * i + 1]! - r[2 * i + 1]!), 0) / idx.length / iod;
  const hasEmbeddings = generated.embedding.length > 0 && generated.embedding.length === reference.embedding.length;
  return {
    poseErrorDeg: {
      pitch: Math.abs(generated.rotation.pitch - reference.rotation.pitch),
      yaw: Math.abs(generated.rotation.yaw - reference.rotation.yaw),
      roll: Math.abs(generated.rotation.roll - reference.rotation.roll),
    },
    mouthDistance: regionDistance(MESH_REGIONS.mouth),
    eyesDistance: regionDistance(MESH_REGIONS.eyes),
    emotionGenerated: generated.emotion.label,
    emotionReference: reference.emotion.label,
    identitySimilarity: hasEmbeddings ? cosineSimilarity(generated.embedding, reference.embedding) : null,
  };
}

/**
 * Aggregate face consistency over aligned frame lists of analyses (`null` or `[]` = no face found; the first face
 * of a list is used).
 *
 * @example
 * ```ts
 * const analyzer = await FaceAnalyzer.create();
 * const gen = await Promise.all(generatedFrames.map((f) => analyzer.analyze(f)));
 * const real = await Promise.all(realFrames.map((f) => analyzer.analyze(f)));
 * const r = faceConsistency(gen, real);
 * console.log(r.failures, r.headPoseErrorDeg?.mean, r.identitySimilarity);
 * ```
 */
export function faceConsistency(
  generated: readonly (FaceAnalysis | readonly FaceAnalysis[] | null)[],
  reference: readonly (FaceAnalysis | readonly FaceAnalysis[] | null)[],
): FaceConsistencyResult {
  const fn = 'faceConsistency';
  if (!Array.isArray(generated) || generated.length === 0) throw new ValidationError(fn, 'generated', 'a non-empty array', generated);
  if (!Array.isArray(reference) || reference.length !== generated.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated.length} entries`, reference);
  }
  const first = (x: FaceAnalysis | readonly FaceAnalysis[] | null): FaceAnalysis | null =>
    x === null ? null : Array.isArray(x) ? ((x as readonly FaceAnalysis[])[0] ?? null) : (x as FaceAnalysis);
  const failures = { generated: [] as number[], reference: [] as number[] };
  const perFrame: (FaceFrameComparison | null)[] = generated.map((gx, i) => {
    const g = first(gx);
    const r = first(reference[i]!);
    if (!g) failures.generated.push(i);
    if (!r) failures.reference.push(i);
    return g && r ? compareFaces(g, r) : null;
  });
  const rows = perFrame.filter((r): r is FaceFrameComparison => r !== null);
  const avg = (f: (r: FaceFrameComparison) => number) => rows.reduce((s, r) => s + f(r), 0) / rows.length;
  const ids = rows.map((r) => r.identitySimilarity).filter((v): v is number => v !== null && Number.isFinite(v));
  const withEmotion = rows.filter((r) => r.emotionGenerated !== null && r.emotionReference !== null);
  const pose = rows.length
    ? { pitch: avg((r) => r.poseErrorDeg.pitch), yaw: avg((r) => r.poseErrorDeg.yaw), roll: avg((r) => r.poseErrorDeg.roll) }
    : null;
  return {
    frames: generated.length,
    failures,
    comparedFrames: rows.length,
    headPoseErrorDeg: pose ? { ...pose, mean: (pose.pitch + pose.yaw + pose.roll) / 3 } : null,
    meshDistance: rows.length ? { mouth: avg((r) => r.mouthDistance), eyes: avg((r) => r.eyesDistance) } : null,
    emotionAgreement: withEmotion.length
      ? withEmotion.filter((r) => r.emotionGenerated === r.emotionReference).length / withEmotion.length
      : null,
    identitySimilarity: ids.length ? ids.reduce((s, v) => s + v, 0) / ids.length : null,
    perFrame,
  };
}
