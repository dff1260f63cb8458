/**
 * Labelled renders of the **synthetic** head for training and testing a pose / expression regressor: random
 * (pose, expression, identity, lighting, camera) draws rendered through the same path as core's
 * `synthesizeDataset` (`SyntheticHead.verticesBatch` → `rasterize` with the per-frame wrinkled albedo and SH
 * shading, supersampled), with the paper pose P ∈ R^6 (global ⊕ jaw, axis-angle) and the 100 expression
 * coefficients as labels.
 *
 * Draws (all from one seeded {@link Rng}, so a seed reproduces the set):
 * 1. Global rotation, axis-angle components uniform in ±pitch / ±yaw / ±roll (defaults 20° / 30° / 20°).
 * 2. Jaw opening (axis-angle x) uniform in [0, maxJaw] (default 0.35 rad); jaw y / z stay 0 as in FLAME tracking.
 * 3. Expression like `scriptPerformance`: one MEAD emotion prototype × intensity U(0, 1.5) (0 for neutral), a spread
 *    N(0, 0.1) on the 16 named components, speech-like lip parting tied to the jaw, occasional pucker / spread
 *    vowels and blinks, and the stationary spread (N(0, 0.18)) of the performance's slow random walk on 16–99.
 * 4. Nuisances: gaze (eyes, like the performance's shifts), lighting (SH ambient / frontal / from-above / lateral),
 *    head translation (±1 cm x / y, ±3 cm depth) and focal length (±6 %), on a black background as
 *    `synthesizeDataset` renders.
 *
 * @example
 * ```ts
 * import { renderPoseExpressionSet } from '@consistent-avatar/metrics';
 * const set = await renderPoseExpressionSet({ count: 64, size: 64, seed: 1 });
 * console.log(set.images.length, set.poses.length, set.expressions.length); // 64·64·64·3, 64·6, 64·100
 * ```
 */
import { checkFinite, Rng, ValidationError } from '@consistent-avatar/core';
import { createSyntheticHead, defaultShCoefficients, SYNTHETIC_EMOTIONS, rasterize, SH_CONSTANTS, SYNTHETIC_EMOTION_PROTOTYPES, SYNTHETIC_NUM_EXPRESSION, syntheticCamera, type SyntheticEmotion } from '@consistent-avatar/proxy';

/**
 * Options of {@link renderPoseExpressionSet}.
 * @example
 * ```ts
 * const options: PoseExpressionRenderOptions = { count: 4000, size: 64, seed: 1, identities: [0, 1, 2, 3, 4, 5] };
 * ```
 */
export interface PoseExpressionRenderOptions {
  /** Number of renders. */
  readonly count: number;
  /** Image size (square). Default 64. */
  readonly size?: number;
  /** Seed of every draw. Default 0. */
  readonly seed?: number;
  /** Synthetic identities, drawn uniformly per render. Default `[0, 1, 2, 3, 4, 5]`. */
  readonly identities?: readonly number[];
  /** Global rotation ranges in degrees (± each axis). Default `{ pitch: 20, yaw: 30, roll: 20 }`. */
  readonly rotationDeg?: { readonly pitch: number; readonly yaw: number; readonly roll: number };
  /** Largest jaw opening (radians). Default 0.35. */
  readonly maxJaw?: number;
  /** Lighting / translation / focal-length jitter. Default true. */
  readonly jitter?: boolean;
  /** Supersampling of the renders (as `synthesizeDataset`). Default 2. */
  readonly supersample?: number;
  /** Progress callback (renders done). */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * What {@link renderPoseExpressionSet} returns: N renders and their labels, row-major.
 * @example
 * ```ts
 * const first = set.images.subarray(0, set.size * set.size * 3); // [S, S, 3] in [0, 1]
 * const jaw = set.poses[3];                                       // render 0's jaw opening (rad)
 * ```
 */
export interface PoseExpressionRenderSet {
  readonly count: number;
  readonly size: number;
  /** `[N, S, S, 3]` RGB in [0, 1]. */
  readonly images: Float32Array;
  /** `[N, 6]` paper pose (global axis-angle ⊕ jaw axis-angle). */
  readonly poses: Float32Array;
  /** `[N, 100]` expression coefficients. */
  readonly expressions: Float32Array;
  /** `[N]` synthetic identity of each render. */
  readonly identities: Int32Array;
  /** The emotion prototype each expression was drawn from. */
  readonly emotions: SyntheticEmotion[];
}

/**
 * One draw of {@link samplePoseExpression}.
 * @example
 * ```ts
 * const draw: PoseExpressionDraw = samplePoseExpression(new Rng(0));
 * head.vertices({ expression: draw.expression, pose: draw.fullPose });
 * ```
 */
export interface PoseExpressionDraw {
  /** `[15]` full pose (global, neck, jaw, eyeL, eyeR). */
  readonly fullPose: Float32Array;
  /** `[6]` paper pose (global ⊕ jaw). */
  readonly pose: Float32Array;
  /** `[100]` expression. */
  readonly expression: Float32Array;
  readonly emotion: SyntheticEmotion;
}

const DEG = Math.PI / 180;

/**
 * Draw one (pose, expression) from the distribution described in the module docs.
 *
 * @example
 * ```ts
 * const { pose, expression, emotion } = samplePoseExpression(new Rng(3));
 * ```
 */
export function samplePoseExpression(
  rng: Rng,
  rotationDeg: { readonly pitch: number; readonly yaw: number; readonly roll: number } = { pitch: 20, yaw: 30, roll: 20 },
  maxJaw = 0.35,
): PoseExpressionDraw {
  const fn = 'samplePoseExpression';
  if (!(rng instanceof Rng)) throw new ValidationError(fn, 'rng', 'a seeded Rng', rng);
  if (rotationDeg === null || typeof rotationDeg !== 'object') throw new ValidationError(fn, 'rotationDeg', '{ pitch, yaw, roll } in degrees', rotationDeg);
  checkFinite(fn, 'rotationDeg', [rotationDeg.pitch, rotationDeg.yaw, rotationDeg.roll]); // pitch, yaw, roll
  checkFinite(fn, 'maxJaw', maxJaw);
  const sym = (half: number) => (2 * rng.next() - 1) * half;
  // 1–2. Global rotation and jaw.
  const fullPose = new Float32Array(15);
  fullPose[0] = sym(rotationDeg.pitch * DEG);
  fullPose[1] = sym(rotationDeg.yaw * DEG);
  fullPose[2] = sym(rotationDeg.roll * DEG);
  const jaw = maxJaw * rng.next();
  fullPose[6] = jaw;
  // Gaze (both eyes), as the performance's gaze shifts.
  const gazePitch = (rng.next() - 0.5) * 0.16, gazeYaw = (rng.next() - 0.5) * 0.3;
  fullPose[9] = gazePitch; fullPose[10] = gazeYaw; fullPose[12] = gazePitch; fullPose[13] = gazeYaw;
  // 3. Expression: prototype × intensity + spread, speech, vowels, blink, weak components.
  const emotion = SYNTHETIC_EMOTIONS[rng.int(SYNTHETIC_EMOTIONS.length)]!;
  const intensity = emotion === 'neutral' ? 0 : 1.5 * rng.next();
  const proto = SYNTHETIC_EMOTION_PROTOTYPES[emotion].expression;
  const expression = new Float32Array(SYNTHETIC_NUM_EXPRESSION);
  const spread = rng.normal(16, 0, 0.1);
  const weak = rng.normal(SYNTHETIC_NUM_EXPRESSION, 0, 0.18);
  for (let k = 0; k < SYNTHETIC_NUM_EXPRESSION; k++) expression[k] = proto[k]! * intensity + (k < 16 ? spread[k]! : weak[k]!);
  expression[0] = expression[0]! + Math.min(1.5, 5 * jaw * (0.5 + 0.5 * rng.next())); // lips part with the jaw
  const vowel = rng.int(3); // 0 open, 1 rounded, 2 spread
  if (vowel === 1) expression[7] = expression[7]! + 0.7 * rng.next();
  if (vowel === 2) expression[12] = expression[12]! + 0.6 * rng.next();
  if (rng.next() < 0.15) expression[5] = Math.max(expression[5]!, rng.next());
  const pose = Float32Array.from([fullPose[0]!, fullPose[1]!, fullPose[2]!, fullPose[6]!, fullPose[7]!, fullPose[8]!]);
  return { fullPose, pose, expression, emotion };
}

/** SH lighting with random ambient, frontal, from-above and lateral terms (channel-equal, white light). */
function jitteredSh(rng: Rng): Float32Array {
  const sh = defaultShCoefficients(0.6 + 0.3 * rng.next(), 0.2 + 0.3 * rng.next(), 0.3 * (rng.next() - 0.3));
  const lateral = 0.3 * (rng.next() - 0.5);
  for (let c = 0; c < 3; c++) sh[1 * 3 + c] = lateral / SH_CONSTANTS[1]!; // basis 1 = x (camera right)
  return sh;
}

/**
 * Render `count` labelled frames of the synthetic head (see the module docs).
 *
 * @returns images `[N, S, S, 3]` and labels (pose `[N, 6]`, expression `[N, 100]`).
 * @example
 * ```ts
 * const train = await renderPoseExpressionSet({ count: 4000, seed: 1 });
 * const heldOut = await renderPoseExpressionSet({ count: 500, seed: 2 });
 * ```
 */
export async function renderPoseExpressionSet(options: PoseExpressionRenderOptions): Promise<PoseExpressionRenderSet> {
  const fn = 'renderPoseExpressionSet';
  const count = options?.count;
  if (!Number.isInteger(count) || count < 1) throw new ValidationError(fn, 'options.count', 'a positive integer', count);
  const size = options.size ?? 64;
  if (!Number.isInteger(size) || size < 16 || size > 512) throw new ValidationError(fn, 'options.size', 'an integer in [16, 512]', size);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError(fn, 'options.seed', 'a non-negative integer', seed);
  const ids = options.identities ?? [0, 1, 2, 3, 4, 5];
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => Number.isInteger(i) && i >= 0)) {
    throw new ValidationError(fn, 'options.identities', 'a non-empty array of non-negative integers', ids);
  }
  const rot = options.rotationDeg ?? { pitch: 20, yaw: 30, roll: 20 };
  if (![rot.pitch, rot.yaw, rot.roll].every((v) => Number.isFinite(v) && v >= 0 && v <= 90)) {
    throw new ValidationError(fn, 'options.rotationDeg', '{ pitch, yaw, roll } in [0, 90] degrees', rot);
  }
  const maxJaw = options.maxJaw ?? 0.35;
  if (!(maxJaw >= 0 && maxJaw <= 1)) throw new ValidationError(fn, 'options.maxJaw', 'a number in [0, 1] (radians)', maxJaw);
  const supersample = options.supersample ?? 2;
  const jitter = options.jitter ?? true;

  // 1. All draws first (one stream, independent of the rendering order).
  const rng = new Rng(seed).fork('pose-expression-renders');
  const draws = Array.from({ length: count }, () => {
    const draw = samplePoseExpression(rng, rot, maxJaw);
    const identity = ids[rng.int(ids.length)]!;
    const translation = jitter ? [0.02 * (rng.next() - 0.5), 0.02 * (rng.next() - 0.5), 0.06 * (rng.next() - 0.5)] : [0, 0, 0];
    const focal = jitter ? 1 + 0.12 * (rng.next() - 0.5) : 1;
    const sh = jitter ? jitteredSh(rng) : defaultShCoefficients();
    return { ...draw, identity, translation, focal, sh };
  });
  const pixels = size * size * 3;
  const images = new Float32Array(count * pixels);
  const poses = new Float32Array(count * 6);
  const expressions = new Float32Array(count * SYNTHETIC_NUM_EXPRESSION);
  draws.forEach((d, i) => {
    poses.set(d.pose, i * 6);
    expressions.set(d.expression, i * SYNTHETIC_NUM_EXPRESSION);
  });

  // 2. Render identity by identity (one head's tensors alive at a time), in batches through the LBS.
  const baseCamera = syntheticCamera(size);
  const chunk = 32;
  let done = 0;
  for (const identity of [...new Set(ids)]) {
    const mine = draws.map((d, i) => (d.identity === identity ? i : -1)).filter((i) => i >= 0);
    if (mine.length === 0) continue;
    const head = createSyntheticHead({ identity, textureSize: 512 });
    try {
      for (let start = 0; start < mine.length; start += chunk) {
        const part = mine.slice(start, start + chunk);
        const verts = head.verticesBatch(part.map((i) => ({ expression: draws[i]!.expression, pose: draws[i]!.fullPose, translation: draws[i]!.translation })));
        part.forEach((i, j) => {
          const d = draws[i]!;
          const camera = { ...baseCamera, fx: baseCamera.fx * d.focal, fy: baseCamera.fy * d.focal };
          const r = rasterize({ positions: verts[j]!, faces: head.faces, uvs: head.uvs }, camera, {
            texture: head.albedo(d.expression), shading: 'sh', sh: d.sh, supersample,
          });
          images.set(r.rgb, i * pixels);
        });
        done += part.length;
        options.onProgress?.(done, count);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      head.dispose();
    }
  }
  for (let k = 0; k < images.length; k++) images[k] = Math.min(1, Math.max(0, images[k]!));
  return {
    count, size, images, poses, expressions,
    identities: Int32Array.from(draws, (d) => d.identity),
    emotions: draws.map((d) => d.emotion),
  };
}
