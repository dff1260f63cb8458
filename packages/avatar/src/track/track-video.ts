/**
 * `ca track`: a researcher's own video (or folder of frames) → an INSTA-layout dataset that `ca run --data DIR`
 * reads. The offline path to "FLAME parameters for my own video":
 *
 * 1. Detect: `@vladmandic/human`'s face mesh (MediaPipe's 468 points, models inside the npm package, wasm) on every
 *    frame. A frame without a face stops the run with an error naming which frames and how many (or, with
 *    `dropMissing`, is left out and listed in `tracking.json`).
 * 2. Crop: one square for the whole sequence (INSTA keeps one camera intrinsics per subject), centred on the median
 *    face-mesh box, `cropScale` × its median size, resized to `size`² (default 512², INSTA's).
 * 3. Fit (proxy's {@link fitLandmarkSequence}): shared shape, per-frame expression, P = global ⊕ jaw and translation,
 *    with temporal smoothing, to a user-supplied FLAME (`--flame DIR`: a FLAME `.npz` and FLAME's
 *    `mediapipe_landmark_embedding.npz`) or, when none is given, to the embedded **synthetic** head (said in the
 *    output and in `tracking.json`: its parameters are not FLAME's).
 * 4. Mask and write: the fitted mesh rendered from the crop camera gives the head mask (the images' alpha and a
 *    skin label map, as INSTA's matting and face parsing would); frames, expression, pose (global ⊕ jaw, our
 *    `flame/pose`), the tracker's 6D jaw and the camera (the head at the origin, INSTA's convention) through proxy's
 *    INSTA writer; `tracking.json` records the model, per-frame landmarks and errors, the crop and the timings.
 *
 * The dataset folder appears whole or not at all (written beside it and renamed). Nothing is random.
 *
 * @example
 * ```ts
 * import { trackVideo } from '@consistent-avatar/avatar';
 * const result = await trackVideo('talk.mp4', { out: 'data/me', config: { size: 512 } });
 * console.log(result.model, result.frames, result.meanReprojectionErrorPx);
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  FormatError, ValidationError, configField as f, moveFolderIntoPlace, prepareFolderReplacement, resolveConfig, tf,
  writeJsonAtomic, writePng, type ConfigSchema, type Image,
} from '@consistent-avatar/core';
import { FaceAnalyzer } from '@consistent-avatar/metrics';
import {
  FlameModel, INSTA_FACE_PARSING_LABELS, TRACKED_SYNTHETIC_LABEL, flameModelFile, LANDMARK_FIT_DEFAULTS, LANDMARK_FIT_FIELDS, LandmarkRig, createSyntheticHead, embeddedPoints, fitLandmarkSequence,
  headCameraToWorld, rasterize, readMediapipeEmbedding, syntheticMediapipeEmbedding, trackingCamera, writeInstaDataset,
  type LandmarkEmbedding, type LandmarkFitConfig, type PinholeCamera,
} from '@consistent-avatar/proxy';
import { openFrameSource, type SourceFrame } from './frame-source.js';

/**
 * Config of {@link trackVideo}: the input, crop and output fields, and the landmark fit's ({@link LandmarkFitConfig}).
 * @example
 * ```ts
 * const config: TrackConfig = resolveTrackConfig({ size: 256, firstFrame: 160, maxFrames: 40 });
 * ```
 */
export interface TrackConfig extends LandmarkFitConfig {
  /** Output frame size (square). Default 512 (INSTA's). */
  size: number;
  /** Focal length in output pixels; null: 2 × size (≈ 28° field of view). */
  focal: number | null;
  /** Crop side as a multiple of the median face-mesh box. Default 2. */
  cropScale: number;
  /** Skip this many input frames first (e.g. to start after a scene cut). Default 0. */
  firstFrame: number;
  /** Keep every n-th input frame. Default 1. */
  every: number;
  /** At most this many frames (after `every`); null: all. */
  maxFrames: number | null;
  /** Minimum face detection confidence. Default 0.3. */
  minConfidence: number;
  /** Leave frames without a face out (listed in tracking.json) instead of failing. Default false. */
  dropMissing: boolean;
  /** Held-out frames at the end; null: min(350, ⌊frames / 4⌋), at least 1. */
  testFrames: number | null;
}

/**
 * Defaults of {@link TrackConfig}.
 * @example
 * ```ts
 * const quick: Partial<TrackConfig> = { ...TRACK_DEFAULTS, size: 128, fullSteps: 150 };
 * ```
 */
export const TRACK_DEFAULTS: TrackConfig = {
  ...LANDMARK_FIT_DEFAULTS,
  size: 512,
  focal: null,
  cropScale: 2,
  firstFrame: 0,
  every: 1,
  maxFrames: null,
  minConfidence: 0.3,
  dropMissing: false,
  testFrames: null,
};

const FIELDS: ConfigSchema<TrackConfig> = {
  ...LANDMARK_FIT_FIELDS,
  size: f.integer({ min: 16, max: 4096 }),
  focal: f.nullable(f.positiveNumber()),
  cropScale: f.number({ min: 1, max: 10 }),
  firstFrame: f.nonNegativeInt(),
  every: f.positiveInt(),
  maxFrames: f.nullable(f.positiveInt()),
  minConfidence: f.number({ min: 0, max: 1 }),
  dropMissing: f.boolean(),
  testFrames: f.nullable(f.positiveInt()),
};

/**
 * The config spec of {@link trackVideo} (for `readConfigFile`).
 * @example
 * ```ts
 * const config = resolveConfig(TRACK_CONFIG_SPEC, { size: 256 });
 * ```
 */
export const TRACK_CONFIG_SPEC = { fn: 'trackVideo', fields: FIELDS, defaults: TRACK_DEFAULTS } as const;

/**
 * Validate a partial {@link TrackConfig} and fill in the defaults (errors name the field).
 * @example
 * ```ts
 * resolveTrackConfig({ size: 256, fullSteps: 200 });
 * ```
 */
export function resolveTrackConfig(partial: Partial<TrackConfig> = {}): TrackConfig {
  return resolveConfig(TRACK_CONFIG_SPEC, partial);
}

/**
 * Progress of {@link trackVideo}.
 * @example
 * ```ts
 * const onProgress = (p: TrackProgress) => console.log(p.stage, p.done, p.total);
 * ```
 */
export interface TrackProgress {
  stage: 'detect' | 'fit' | 'write';
  done: number;
  /** Total when known (null while decoding a video of unknown length). */
  total: number | null;
}

/**
 * Options of {@link trackVideo}.
 * @example
 * ```ts
 * const options: TrackOptions = { out: 'data/me', flame: '/data/flame', config: { size: 512 } };
 * ```
 */
export interface TrackOptions {
  /** The dataset folder to write (absent, empty, or a previous `ca track` output, which is replaced). */
  out: string;
  /** A folder with a FLAME `.npz` and FLAME's `mediapipe_landmark_embedding.npz`; null / absent: the synthetic head. */
  flame?: string | null;
  /** {@link TrackConfig} overrides. */
  config?: Partial<TrackConfig>;
  /** Called as frames are detected, fitted and written (stage, frames done, total). */
  onProgress?: (progress: TrackProgress) => void;
}

/**
 * What {@link trackVideo} did.
 * @example
 * ```ts
 * const { root, frames, dropped, timings }: TrackResult = await trackVideo('talk.mp4', { out: 'data/me' });
 * ```
 */
export interface TrackResult {
  /** The dataset folder. */
  root: string;
  /** Frames written. */
  frames: number;
  /** Input frames left out for lack of a face (`dropMissing`), by name. */
  dropped: string[];
  /** The model fitted: `'synthetic head (embedded default, not FLAME)'` or `'FLAME (<file>)'`. */
  model: string;
  /** Mean landmark reprojection error over frames, in output pixels. */
  meanReprojectionErrorPx: number;
  /** Wall time per stage in ms. */
  timings: { detectMs: number; fitMs: number; writeMs: number };
}

/** The model and embedding the tracker fits. */
interface TrackingModel {
  model: FlameModel;
  embedding: LandmarkEmbedding;
  label: string;
  dispose(): void;
}

/**
 * Load a FLAME folder: `mediapipe_landmark_embedding.npz` and one FLAME model `.npz` (the standard keys, see
 * `FlameModel.fromNpz`; chosen by proxy's `flameModelFile`, as `readFlameFolder` does). Null: the synthetic head.
 */
function loadTrackingModel(flame: string | null | undefined): TrackingModel {
  const fn = 'trackVideo';
  if (flame === null || flame === undefined) {
    const head = createSyntheticHead({ identity: 0, textureSize: 64 });
    return { model: head.model, embedding: syntheticMediapipeEmbedding(), label: TRACKED_SYNTHETIC_LABEL, dispose: () => head.dispose() };
  }
  if (typeof flame !== 'string' || !fs.existsSync(flame) || !fs.statSync(flame).isDirectory()) {
    throw new ValidationError(fn, 'options.flame', 'a folder holding a FLAME .npz and mediapipe_landmark_embedding.npz', flame);
  }
  const embeddingFile = path.join(flame, 'mediapipe_landmark_embedding.npz');
  if (!fs.existsSync(embeddingFile)) {
    throw new ValidationError(fn, 'options.flame', `a folder with FLAME's mediapipe_landmark_embedding.npz (from the FLAME website)`, `${flame} (missing ${embeddingFile})`);
  }
  const modelFile = flameModelFile(flame, fn, 'options.flame');
  const model = FlameModel.fromNpz(modelFile, { shapeSplit: 300 });
  return { model, embedding: readMediapipeEmbedding(embeddingFile), label: `FLAME (${modelFile})`, dispose: () => model.dispose() };
}

/** A square crop in source pixels: x0, y0 (top-left, continuous) and side. */
interface Crop {
  x0: number;
  y0: number;
  side: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Step 2: the sequence's crop from the face-mesh boxes. */
function sequenceCrop(meshes: Float32Array[], cropScale: number): Crop {
  const boxes = meshes.map((m) => {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < 468; i++) {
      x0 = Math.min(x0, m[3 * i]!); x1 = Math.max(x1, m[3 * i]!);
      y0 = Math.min(y0, m[3 * i + 1]!); y1 = Math.max(y1, m[3 * i + 1]!);
    }
    return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, size: Math.max(x1 - x0, y1 - y0) };
  });
  const side = cropScale * median(boxes.map((b) => b.size));
  return { x0: median(boxes.map((b) => b.cx)) - side / 2, y0: median(boxes.map((b) => b.cy)) - side / 2, side };
}

/** Crop + bilinear resize of an RGB image to `size`² (outside the frame: black). Output pixel j's centre maps to x0 + (j + ½)·side/size. */
function cropResize(image: Image, crop: Crop, size: number): Float32Array {
  return tf.tidy(() => {
    const scale = image.data instanceof Uint8Array ? 1 / 255 : 1;
    const input = tf.mul(tf.tensor4d(Float32Array.from(image.data), [1, image.height, image.width, 3]), scale) as tf.Tensor4D; // [1, H, W, 3]
    const s = crop.side / size;
    // cropAndResize samples index y1·(H−1) + j·(y2 − y1)·(H−1)/(size − 1): match pixel centres (index = coordinate − ½).
    const first = (o: number) => o + 0.5 * s - 0.5, last = (o: number) => o + (size - 0.5) * s - 0.5;
    const h = Math.max(1, image.height - 1), w = Math.max(1, image.width - 1);
    const box = tf.tensor2d([[first(crop.y0) / h, first(crop.x0) / w, last(crop.y0) / h, last(crop.x0) / w]]);
    const out = tf.image.cropAndResize(input, box, tf.tensor1d([0], 'int32'), [size, size], 'bilinear', 0); // [1, size, size, 3]
    return tf.clipByValue(out, 0, 1).dataSync() as Float32Array;
  });
}

/**
 * Track a video or a folder of frames into an INSTA-layout dataset (see the module docs).
 *
 * @param input - a video file (needs ffmpeg) or a folder of PNG frames.
 * @throws ValidationError naming the frames without a face (which and how many), a bad config field or FLAME folder;
 *   IoError for an unreadable input; FormatError for a file that is not a video; BackendUnavailableError without ffmpeg.
 * @example
 * ```ts
 * const { root, model } = await trackVideo('frames/', { out: 'data/me', config: { size: 256 } });
 * ```
 */
export async function trackVideo(input: string, options: TrackOptions): Promise<TrackResult> {
  const fn = 'trackVideo';
  if (!options || typeof options !== 'object') throw new ValidationError(fn, 'options', '{ out, flame?, config? }', options);
  const c = resolveTrackConfig(options.config ?? {});
  const source = openFrameSource(input, { every: c.every, maxFrames: c.maxFrames, firstFrame: c.firstFrame });
  if (typeof options.out !== 'string' || options.out.length === 0) throw new ValidationError(fn, 'options.out', 'an output folder path', options.out);
  const { target: outAbs, temporary: tmp } = prepareFolderReplacement(fn, options.out, (names) => names.includes('tracking.json'), 'a new folder, an empty one or a previous ca track dataset (it is replaced)');
  const tracking = loadTrackingModel(options.flame);
  const progress = options.onProgress ?? (() => {});
  const analyzer = await FaceAnalyzer.create({ maxFaces: 1, minConfidence: c.minConfidence });
  try {
    // 1. Detect.
    const t0 = performance.now();
    const meshes: Float32Array[] = [];
    const kept: number[] = [];
    const missing: string[] = [];
    const names: string[] = [];
    let sourceSize: [number, number] | null = null;
    for await (const frame of source.frames()) {
      if (sourceSize && (frame.image.width !== sourceSize[0] || frame.image.height !== sourceSize[1])) {
        throw new ValidationError(fn, 'input', `frames of one size (${sourceSize[0]}×${sourceSize[1]}, as the first)`, `${frame.name}: ${frame.image.width}×${frame.image.height}`);
      }
      sourceSize ??= [frame.image.width, frame.image.height];
      names.push(frame.name);
      const [face] = await analyzer.analyze(frame.image);
      if (face && face.mesh.length >= 468 * 3) {
        meshes.push(face.mesh);
        kept.push(frame.index);
      } else {
        missing.push(frame.name);
      }
      progress({ stage: 'detect', done: names.length, total: null });
    }
    const where = `${source.path} (${names.length} frames read)`;
    if (missing.length > 0 && (!c.dropMissing || kept.length === 0)) {
      const list = missing.length > 12 ? `${missing.slice(0, 12).join(', ')}, …` : missing.join(', ');
      throw new ValidationError(fn, 'input', `a detectable face in every frame${kept.length > 0 ? ' (or config.dropMissing: true)' : ''}`, `no face in ${missing.length} of ${names.length} frames of ${where}: ${list}`);
    }
    const numFrames = kept.length;
    const testFrames = c.testFrames ?? Math.max(1, Math.min(350, Math.floor(numFrames / 4)));
    if (numFrames < 2 || testFrames >= numFrames) {
      throw new ValidationError(fn, 'input', `at least 2 frames with a face, more than config.testFrames (${testFrames})`, `${numFrames} in ${where}`);
    }
    const detectMs = performance.now() - t0;

    // 2. Crop, and the landmarks in crop pixels.
    const crop = sequenceCrop(meshes, c.cropScale);
    const size = c.size;
    const s = crop.side / size;
    const camera: PinholeCamera = trackingCamera(size, size, c.focal ?? 2 * size);
    const points = meshes.map((mesh) => {
      const p = embeddedPoints(mesh, 3, tracking.embedding);
      for (let i = 0; i < p.length; i += 2) {
        p[i] = (p[i]! - crop.x0) / s;
        p[i + 1] = (p[i + 1]! - crop.y0) / s;
      }
      return p;
    });

    // 3. Fit.
    const t1 = performance.now();
    const rig = new LandmarkRig(tracking.model, tracking.embedding, { shape: c.shapeComponents, expression: c.expressionComponents });
    let fit;
    try {
      const fitConfig = Object.fromEntries(Object.keys(LANDMARK_FIT_DEFAULTS).map((k) => [k, c[k as keyof LandmarkFitConfig]])) as Partial<LandmarkFitConfig>;
      fit = fitLandmarkSequence(rig, camera, points, fitConfig, (done, total) => progress({ stage: 'fit', done, total }));
    } finally {
      rig.dispose();
    }
    const fitMs = performance.now() - t1;

    // 4. Mask and write: images (RGBA, alpha = the fitted head's coverage) and label maps into a staging folder.
    const t2 = performance.now();
    const staging = path.join(tmp, '.staging');
    fs.mkdirSync(staging, { recursive: true });
    const ids = kept.map((_, i) => String(i).padStart(5, '0'));
    const keptSet = new Map(kept.map((frameIndex, i) => [frameIndex, i]));
    const frames = [];
    for await (const frame of source.frames() as AsyncGenerator<SourceFrame>) {
      const i = keptSet.get(frame.index);
      if (i === undefined) continue;
      const rgb = cropResize(frame.image, crop, size);
      const vertices = tf.tidy(() => tracking.model.forward({
        shape: tf.tensor2d(fit.shape.length ? fit.shape : new Float32Array(1), [1, Math.max(1, fit.shape.length)]),
        expression: tf.tensor2d(fit.expression[i]!.length ? fit.expression[i]! : new Float32Array(1), [1, Math.max(1, fit.expression[i]!.length)]),
        paperPose: tf.tensor2d(fit.paperPose[i]!, [1, 6]),
        translation: tf.tensor2d(fit.translation[i]!, [1, 3]),
      }).vertices.dataSync() as Float32Array); // [V*3]
      const { mask } = rasterize({ positions: vertices, faces: tracking.model.faces }, camera, { supersample: 2 });
      const rgba = new Float32Array(size * size * 4); // [H, W, 4]
      const labels = new Float32Array(size * size * 3); // [H, W, 3]: red = face-parsing class (skin) where the head is
      for (let p = 0; p < size * size; p++) {
        rgba.set([rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!, mask[p]!], 4 * p);
        if (mask[p]! > 0) labels[3 * p] = INSTA_FACE_PARSING_LABELS.skin / 255;
      }
      const imagePath = path.join(staging, `${ids[i]}.png`);
      const labelPath = path.join(staging, `${ids[i]}.label.png`);
      writePng(imagePath, { width: size, height: size, channels: 4, data: rgba });
      writePng(labelPath, { width: size, height: size, channels: 3, data: labels });
      const expression = new Float32Array(tracking.model.numExpression);
      expression.set(fit.expression[i]!);
      frames.push({ id: ids[i]!, image: imagePath, segMask: labelPath, cameraToWorld: headCameraToWorld(fit.translation[i]!), expression, pose: fit.paperPose[i]! });
      progress({ stage: 'write', done: frames.length, total: numFrames });
    }
    if (frames.length !== numFrames) throw new FormatError('video', source.path, `the second pass read ${frames.length} frames with a face, the first ${numFrames}`);
    const meanReprojectionErrorPx = fit.reprojectionErrorPx.reduce((a, b) => a + b, 0) / numFrames;
    writeJsonAtomic(path.join(tmp, 'tracking.json'), {
      tool: 'ca track',
      model: tracking.label,
      embedding: { source: tracking.embedding.source, landmarks: tracking.embedding.landmarkIndices.length },
      input: { path: path.resolve(source.path), kind: source.kind, frames: names.length, width: sourceSize![0], height: sourceSize![1] },
      dropped: missing,
      crop: { x0: crop.x0, y0: crop.y0, side: crop.side, size },
      config: c,
      shape: Array.from(fit.shape),
      energy: fit.energy,
      frames: ids.map((id, i) => ({
        id, source: names[kept[i]!], reprojectionErrorPx: fit.reprojectionErrorPx[i],
        landmarks: Array.from(points[i]!, (v) => Math.round(v * 100) / 100),
        fittedLandmarks: Array.from(fit.projected[i]!, (v) => Math.round(v * 100) / 100),
      })),
      meanReprojectionErrorPx,
    });
    writeInstaDataset(tmp, {
      width: size, height: size, fx: camera.fx, fy: camera.fy, cx: camera.cx, cy: camera.cy, frames, testFrames, valFrames: Math.min(20, testFrames),
      extra: { tracker: 'ca track', model: tracking.label },
    });
    fs.rmSync(staging, { recursive: true, force: true });
    moveFolderIntoPlace(tmp, outAbs);
    return { root: outAbs, frames: numFrames, dropped: missing, model: tracking.label, meanReprojectionErrorPx, timings: { detectMs, fitMs, writeMs: performance.now() - t2 } };
  } finally {
    analyzer.dispose();
    tracking.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
