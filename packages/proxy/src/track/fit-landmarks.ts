/**
 * Fit a FLAME-layout head (FLAME or the synthetic head) to a sequence of 2D landmarks: one identity shared by the
 * sequence, and per frame the expression, the paper pose P = global ⊕ jaw and a translation, with temporal
 * smoothing — the landmark stage of monocular face trackers (metrical-tracker, DECA's fitting), without the
 * photometric stage.
 *
 * Camera: a pinhole at the world origin looking down world −z (OpenCV axes: x right, y down, z forward, i.e.
 * camera-to-world rotation diag(1, −1, −1)); the head faces +z, so a frontal head has a zero global rotation.
 * {@link headCameraToWorld} turns a frame's translation into the equivalent camera with the head at the origin
 * (the INSTA convention: `transform_matrix` is the camera, the pose holds the head rotation).
 *
 * Energy, minimised with Adam over every frame at once (tfjs autodiff):
 *   E = Σ_t Σ_k w·‖π(R_t, t_t, β, ψ_t, θ_t)_k − l_tk‖² / s²                        (landmark term, s = 1% of the image)
 *     + λ_β‖β‖² + λ_ψ Σ_t‖ψ_t‖² + λ_jaw Σ_t‖θ_t^{y,z}‖²                              (priors)
 *     + Σ_t (μ_rot‖r_t − r_{t−1}‖² + μ_jaw‖θ_t − θ_{t−1}‖² + μ_ψ‖ψ_t − ψ_{t−1}‖² + μ_tr‖t_t − t_{t−1}‖²)  (smoothing)
 * in two stages: rigid (rotation, translation) from a depth guessed from the landmarks' spread, then everything.
 * Nothing is random: the result depends only on the inputs and the config.
 *
 * @example
 * ```ts
 * import { createSyntheticHead, LandmarkRig, syntheticMediapipeEmbedding, fitLandmarkSequence, trackingCamera } from '@consistent-avatar/proxy';
 * const head = createSyntheticHead();
 * const rig = new LandmarkRig(head.model, syntheticMediapipeEmbedding());
 * const camera = trackingCamera(512, 512);
 * const fit = fitLandmarkSequence(rig, camera, observedPoints); // observedPoints: Float32Array[K*2] per frame
 * console.log(fit.paperPose[0], fit.reprojectionErrorPx[0]);
 * rig.dispose(); head.dispose();
 * ```
 */
import { Adam, configField as f, resolveConfig, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import type { PinholeCamera } from '../raster/camera.js';
import type { LandmarkRig } from './landmark-rig.js';

/**
 * Config of {@link fitLandmarkSequence} (flat, JSON round-trip; defaults in {@link LANDMARK_FIT_DEFAULTS}).
 * @example
 * ```ts
 * const config: LandmarkFitConfig = resolveLandmarkFitConfig({ fullSteps: 200, smoothRotation: 5 });
 * ```
 */
export interface LandmarkFitConfig {
  /** Identity components fitted (≤ the model's). */
  shapeComponents: number;
  /** Expression components fitted (≤ the model's). */
  expressionComponents: number;
  /** Adam steps of the rigid stage (rotation, translation). */
  rigidSteps: number;
  /** Adam steps of the full stage (everything). */
  fullSteps: number;
  /** Adam learning rate (rotations in radians, coefficients, translation in decimetres). */
  learningRate: number;
  /** λ_β, λ_ψ, λ_jaw (jaw side / twist). */
  shapePrior: number;
  expressionPrior: number;
  jawSidePrior: number;
  /** Temporal smoothing μ of rotation, jaw, expression and translation (decimetres). */
  smoothRotation: number;
  smoothJaw: number;
  smoothExpression: number;
  smoothTranslation: number;
}

/**
 * Defaults of {@link LandmarkFitConfig}, set with the accuracy bench (`packages/avatar/bench/track-accuracy.ts`).
 * @example
 * ```ts
 * const quick = { ...LANDMARK_FIT_DEFAULTS, rigidSteps: 60, fullSteps: 120 };
 * ```
 */
export const LANDMARK_FIT_DEFAULTS: LandmarkFitConfig = {
  shapeComponents: 50,
  expressionComponents: 50,
  rigidSteps: 150,
  fullSteps: 400,
  learningRate: 0.02,
  shapePrior: 1e-3,
  expressionPrior: 1e-3,
  jawSidePrior: 10,
  smoothRotation: 20,
  smoothJaw: 5,
  smoothExpression: 0.05,
  smoothTranslation: 20,
};

/**
 * The field checks of {@link LandmarkFitConfig} (for configs that embed it, like `ca track`'s).
 * @example
 * ```ts
 * const fields = { ...LANDMARK_FIT_FIELDS, size: configField.positiveInt() };
 * ```
 */
export const LANDMARK_FIT_FIELDS: ConfigSchema<LandmarkFitConfig> = {
  shapeComponents: f.nonNegativeInt({ max: 400 }),
  expressionComponents: f.nonNegativeInt({ max: 400 }),
  rigidSteps: f.nonNegativeInt({ max: 100_000 }),
  fullSteps: f.nonNegativeInt({ max: 100_000 }),
  learningRate: f.positiveNumber(),
  shapePrior: f.number({ min: 0 }),
  expressionPrior: f.number({ min: 0 }),
  jawSidePrior: f.number({ min: 0 }),
  smoothRotation: f.number({ min: 0 }),
  smoothJaw: f.number({ min: 0 }),
  smoothExpression: f.number({ min: 0 }),
  smoothTranslation: f.number({ min: 0 }),
};

/**
 * Validate a partial {@link LandmarkFitConfig} and fill in the defaults (errors name the field).
 * @example
 * ```ts
 * resolveLandmarkFitConfig({ fullSteps: 100 }); // the defaults with 100 full steps
 * ```
 */
export function resolveLandmarkFitConfig(partial: Partial<LandmarkFitConfig> = {}): LandmarkFitConfig {
  return resolveConfig({ fn: 'resolveLandmarkFitConfig', fields: LANDMARK_FIT_FIELDS, defaults: LANDMARK_FIT_DEFAULTS }, partial);
}

/**
 * Result of {@link fitLandmarkSequence} (plain arrays, one entry per frame).
 * @example
 * ```ts
 * const { shape, expression, paperPose, translation, reprojectionErrorPx }: LandmarkFitResult = fitLandmarkSequence(rig, camera, points);
 * ```
 */
export interface LandmarkFitResult {
  /** `[shapeComponents]` shared identity coefficients. */
  shape: Float32Array;
  /** Per frame `[expressionComponents]`. */
  expression: Float32Array[];
  /** Per frame `[6]` paper pose P = global ⊕ jaw (axis-angle, radians). */
  paperPose: Float32Array[];
  /** Per frame `[3]` head translation in the tracking camera's world (model units: metres). */
  translation: Float32Array[];
  /** Per frame `[K*2]` fitted landmark pixels. */
  projected: Float32Array[];
  /** Per frame mean landmark reprojection error in pixels. */
  reprojectionErrorPx: Float32Array;
  /** The energy after each stage (null: the stage had no steps). */
  energy: { rigid: number | null; full: number | null };
}

/**
 * The tracking camera: intrinsics for a `width × height` image, at the world origin looking down world −z (OpenCV
 * axes). Focal length `focal` in pixels (default 2 × the larger side, a ≈ 28° field of view, like a phone held at
 * arm's length or a studio camera; landmark fits cannot tell focal length from depth well, so it is fixed).
 * @example
 * ```ts
 * const camera = trackingCamera(512, 512); // fx = fy = 1024, cx = cy = 256
 * ```
 */
export function trackingCamera(width: number, height: number, focal = 2 * Math.max(width, height)): PinholeCamera {
  const fn = 'trackingCamera';
  if (!Number.isInteger(width) || width < 1) throw new ValidationError(fn, 'width', 'a positive integer', width);
  if (!Number.isInteger(height) || height < 1) throw new ValidationError(fn, 'height', 'a positive integer', height);
  if (!(focal > 0) || !Number.isFinite(focal)) throw new ValidationError(fn, 'focal', 'a focal length > 0 in pixels', focal);
  return { width, height, fx: focal, fy: focal, cx: width / 2, cy: height / 2, cameraToWorld: [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1], convention: 'opencv' };
}

/**
 * The camera-to-world matrix (row-major 4×4, OpenCV axes) that sees the head **at the origin** as the tracking
 * camera sees it translated by `translation`: the camera moves by −translation.
 * @example
 * ```ts
 * const c2w = headCameraToWorld(fit.translation[0]); // INSTA transform_matrix of frame 0
 * ```
 */
export function headCameraToWorld(translation: ArrayLike<number>): number[] {
  if (!translation || translation.length !== 3 || !Array.from(translation).every(Number.isFinite)) {
    throw new ValidationError('headCameraToWorld', 'translation', '3 finite numbers', translation);
  }
  return [1, 0, 0, -translation[0]!, 0, -1, 0, -translation[1]!, 0, 0, -1, -translation[2]!, 0, 0, 0, 1];
}

/** u = fx·X/(−Z) + cx, v = fy·(−Y)/(−Z) + cy for world points `[B, K, 3]` → `[B, K, 2]` (the tracking camera). */
function project(points: tf.Tensor3D, camera: PinholeCamera): tf.Tensor3D {
  const [b, k] = points.shape;
  const x = points.slice([0, 0, 0], [b, k, 1]);
  const y = points.slice([0, 0, 1], [b, k, 1]);
  const depth = tf.neg(points.slice([0, 0, 2], [b, k, 1])); // camera z = −world Z
  const u = tf.add(tf.mul(tf.div(x, depth), camera.fx), camera.cx);
  const v = tf.add(tf.mul(tf.div(tf.neg(y), depth), camera.fy), camera.cy);
  return tf.concat([u, v], 2) as tf.Tensor3D; // [B, K, 2]
}

/** Σ_t ‖x_t − x_{t−1}‖² / (B − 1) of a `[B, D]` tensor (0 for one frame). */
function temporalEnergy(x: tf.Tensor2D): tf.Scalar {
  const b = x.shape[0];
  if (b < 2) return tf.scalar(0);
  const d = x.shape[1];
  return tf.div(tf.sum(tf.square(tf.sub(x.slice([1, 0], [b - 1, d]), x.slice([0, 0], [b - 1, d])))), b - 1) as tf.Scalar;
}

/**
 * Fit `rig` to per-frame landmarks (see the module docs).
 *
 * @param rig - the model's landmark rig (its embedding fixes the landmark order).
 * @param camera - intrinsics of the images the landmarks are in ({@link trackingCamera}).
 * @param points - per frame `[K*2]` pixel coordinates (u, v) of the rig's K landmarks.
 * @param config - {@link LandmarkFitConfig} overrides.
 * @param onStep - optional callback `(step, total, energy)`.
 * @example
 * ```ts
 * const fit = fitLandmarkSequence(rig, trackingCamera(256, 256), points, { fullSteps: 200 });
 * ```
 */
export function fitLandmarkSequence(
  rig: LandmarkRig,
  camera: PinholeCamera,
  points: readonly Float32Array[],
  config: Partial<LandmarkFitConfig> = {},
  onStep?: (step: number, total: number, energy: number) => void,
): LandmarkFitResult {
  const fn = 'fitLandmarkSequence';
  if (!rig || typeof rig.forward !== 'function') throw new ValidationError(fn, 'rig', 'a LandmarkRig', rig);
  if (!camera || !(camera.fx > 0 && camera.fx < Infinity) || !(camera.fy > 0 && camera.fy < Infinity) || !Number.isFinite(camera.cx) || !Number.isFinite(camera.cy)) {
    throw new ValidationError(fn, 'camera', 'a PinholeCamera with finite fx, fy > 0 and a finite principal point', camera);
  }
  if (!Array.isArray(points) || points.length === 0) throw new ValidationError(fn, 'points', 'a non-empty array of Float32Array [K*2], one per frame', points);
  const k = rig.numLandmarks;
  points.forEach((p, i) => {
    if (!(p instanceof Float32Array) || p.length !== 2 * k) throw new ValidationError(fn, `points[${i}]`, `a Float32Array of ${2 * k} values (K = ${k} landmarks × u, v)`, p);
    if (!p.every(Number.isFinite)) throw new ValidationError(fn, `points[${i}]`, 'finite pixel coordinates', p);
  });
  const c = resolveLandmarkFitConfig(config);
  if (c.shapeComponents > rig.numShape) throw new ValidationError(fn, 'config.shapeComponents', `at most the rig's ${rig.numShape}`, c.shapeComponents);
  if (c.expressionComponents > rig.numExpression) throw new ValidationError(fn, 'config.expressionComponents', `at most the rig's ${rig.numExpression}`, c.expressionComponents);
  const b = points.length;
  const scale = 0.01 * Math.max(camera.width, camera.height); // 1 unit of the landmark term = 1% of the image
  const observed = tf.tensor3d(Float32Array.from(points.flatMap((p) => Array.from(p))), [b, k, 2]); // [B, K, 2]

  // 1. Initial translation: depth from the spread of the observed landmarks vs the rest model's, centre from the centroid.
  const rest = tf.tidy(() => rig.forward({ paperPose: tf.zeros([1, 6]) as tf.Tensor2D }).dataSync() as Float32Array); // [1, K, 3]
  const restCentroid = [0, 1, 2].map((a) => rest.filter((_, i) => i % 3 === a).reduce((s, v) => s + v, 0) / k);
  let restSpread = 0;
  for (let i = 0; i < k; i++) restSpread += (rest[3 * i]! - restCentroid[0]!) ** 2 + (rest[3 * i + 1]! - restCentroid[1]!) ** 2;
  restSpread = Math.sqrt(restSpread / k);
  const translationInit = new Float32Array(3 * b);
  points.forEach((p, t) => {
    let cu = 0, cv = 0;
    for (let i = 0; i < k; i++) { cu += p[2 * i]!; cv += p[2 * i + 1]!; }
    cu /= k; cv /= k;
    let spread = 0;
    for (let i = 0; i < k; i++) spread += (p[2 * i]! - cu) ** 2 + (p[2 * i + 1]! - cv) ** 2;
    spread = Math.sqrt(spread / k) || 1;
    const depth = (camera.fx * restSpread) / spread;
    translationInit[3 * t] = ((cu - camera.cx) * depth) / camera.fx - restCentroid[0]!;
    translationInit[3 * t + 1] = -((cv - camera.cy) * depth) / camera.fy - restCentroid[1]!;
    translationInit[3 * t + 2] = -depth - restCentroid[2]!;
  });
  // Variables: translation in decimetres so one learning rate suits radians, coefficients and position.
  const TRANSLATION_UNIT = 0.1;
  const rotation = tf.tidy(() => tf.variable(tf.zeros([b, 3]), true)) as tf.Variable<tf.Rank.R2>;
  const jaw = tf.tidy(() => tf.variable(tf.zeros([b, 3]), true)) as tf.Variable<tf.Rank.R2>;
  const translation = tf.tidy(() => tf.variable(tf.tensor2d(translationInit.map((v) => v / TRANSLATION_UNIT), [b, 3]), true)) as tf.Variable<tf.Rank.R2>;
  const expression = tf.tidy(() => tf.variable(tf.zeros([b, Math.max(1, c.expressionComponents)]), true)) as tf.Variable<tf.Rank.R2>;
  const shape = tf.tidy(() => tf.variable(tf.zeros([1, Math.max(1, c.shapeComponents)]), true)) as tf.Variable<tf.Rank.R2>;

  const landmarkEnergy = (): tf.Scalar => {
    const pose = tf.concat([rotation, jaw], 1) as tf.Tensor2D; // [B, 6]
    const world = rig.forward({
      shape: c.shapeComponents > 0 ? shape : undefined,
      expression: c.expressionComponents > 0 ? expression : undefined,
      paperPose: pose,
      translation: tf.mul(translation, TRANSLATION_UNIT) as tf.Tensor2D,
    }); // [B, K, 3]
    const residual = tf.div(tf.sub(project(world, camera), observed), scale); // [B, K, 2]
    return tf.div(tf.sum(tf.square(residual)), b * k) as tf.Scalar;
  };
  const rigidEnergy = (): tf.Scalar => tf.tidy(() => tf.addN([
    landmarkEnergy(),
    tf.mul(temporalEnergy(rotation), c.smoothRotation),
    tf.mul(temporalEnergy(translation), c.smoothTranslation),
  ]) as tf.Scalar);
  const fullEnergy = (): tf.Scalar => tf.tidy(() => {
    const jawSide = jaw.slice([0, 1], [b, 2]); // [B, 2] jaw yaw / roll
    return tf.addN([
      landmarkEnergy(),
      tf.mul(tf.sum(tf.square(shape)), c.shapePrior),
      tf.mul(tf.div(tf.sum(tf.square(expression)), b), c.expressionPrior),
      tf.mul(tf.div(tf.sum(tf.square(jawSide)), b), c.jawSidePrior),
      tf.mul(temporalEnergy(rotation), c.smoothRotation),
      tf.mul(temporalEnergy(jaw), c.smoothJaw),
      tf.mul(temporalEnergy(expression), c.smoothExpression),
      tf.mul(temporalEnergy(translation), c.smoothTranslation),
    ]) as tf.Scalar;
  });

  const total = c.rigidSteps + c.fullSteps;
  const energy: { rigid: number | null; full: number | null } = { rigid: null, full: null };
  try {
    // 2. Rigid stage.
    if (c.rigidSteps > 0) {
      const rigid = new Adam([['rotation', rotation], ['translation', translation]], { lr: c.learningRate });
      try {
        for (let s = 0; s < c.rigidSteps; s++) {
          energy.rigid = rigid.step(rigidEnergy).loss;
          onStep?.(s + 1, total, energy.rigid);
        }
      } finally {
        rigid.dispose();
      }
    }
    // 3. Full stage, the learning rate decaying linearly to 10%.
    if (c.fullSteps > 0) {
      const params: Array<[string, tf.Variable]> = [['rotation', rotation], ['translation', translation], ['jaw', jaw]];
      if (c.expressionComponents > 0) params.push(['expression', expression]);
      if (c.shapeComponents > 0) params.push(['shape', shape]);
      const full = new Adam(params, { lr: c.learningRate });
      try {
        for (let s = 0; s < c.fullSteps; s++) {
          full.setLearningRate(c.learningRate * (1 - (0.9 * s) / c.fullSteps));
          energy.full = full.step(fullEnergy).loss;
          onStep?.(c.rigidSteps + s + 1, total, energy.full);
        }
      } finally {
        full.dispose();
      }
    }
    // 4. Read back, with the fitted landmarks and their reprojection error.
    const projectedFlat = tf.tidy(() => {
      const world = rig.forward({
        shape: c.shapeComponents > 0 ? shape : undefined,
        expression: c.expressionComponents > 0 ? expression : undefined,
        paperPose: tf.concat([rotation, jaw], 1) as tf.Tensor2D,
        translation: tf.mul(translation, TRANSLATION_UNIT) as tf.Tensor2D,
      });
      return project(world, camera).dataSync() as Float32Array; // [B, K, 2]
    });
    const rot = rotation.dataSync() as Float32Array, jw = jaw.dataSync() as Float32Array;
    const tr = translation.dataSync() as Float32Array, ex = expression.dataSync() as Float32Array;
    const projected = points.map((_, t) => projectedFlat.slice(t * 2 * k, (t + 1) * 2 * k));
    const reprojectionErrorPx = Float32Array.from(points, (p, t) => {
      let sum = 0;
      for (let i = 0; i < k; i++) sum += Math.hypot(projected[t]![2 * i]! - p[2 * i]!, projected[t]![2 * i + 1]! - p[2 * i + 1]!);
      return sum / k;
    });
    const ne = c.expressionComponents, width = Math.max(1, ne);
    return {
      shape: c.shapeComponents > 0 ? Float32Array.from(shape.dataSync()) : new Float32Array(0),
      expression: points.map((_, t) => ex.slice(t * width, t * width + ne)),
      paperPose: points.map((_, t) => Float32Array.from([...rot.slice(3 * t, 3 * t + 3), ...jw.slice(3 * t, 3 * t + 3)])),
      translation: points.map((_, t) => Float32Array.from(tr.slice(3 * t, 3 * t + 3), (v) => v * TRANSLATION_UNIT)),
      projected,
      reprojectionErrorPx,
      energy,
    };
  } finally {
    tf.dispose([observed, rotation, jaw, translation, expression, shape]);
  }
}
