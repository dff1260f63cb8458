/**
 * The **synthetic** head: a procedural head model with FLAME's interface (300 identity + 100 expression
 * components, 5 joints global → neck → jaw / eyeL / eyeR, full pose 15 or paper pose 6), a closed UV-mapped mesh,
 * a procedural albedo with pores, wrinkles, brows, lashes, lips and irises, and several seeded identities.
 * It is the embedded default of ConsistentAvatar-TS — labelled "synthetic" everywhere it appears, because it is
 * not FLAME and not a real person.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { createSyntheticHead, rasterize, lookAtCamera } from '@consistent-avatar/proxy';
 * const head = createSyntheticHead({ identity: 2 });
 * const positions = head.vertices({ expression: head.emotion('happy'), paperPose: [0, 0.2, 0, 0.1, 0, 0] });
 * const cam = lookAtCamera({ eye: [0, 0, 0.6], target: [0, -0.01, 0], fx: 1000, fy: 1000, width: 512, height: 512 });
 * const frame = rasterize({ positions, faces: head.faces, uvs: head.uvs }, cam, { texture: head.texture.albedo, shading: 'lambert' });
 * head.dispose();
 * ```
 */
import { tf, ValidationError, Rng } from '@consistent-avatar/core';
import { FlameModel, type NdArrayLike } from '../flame/model.js';
import type { Texture } from '../raster/shading.js';
import { syntheticBlendshapes } from './blendshapes.js';
import { buildSyntheticTopology, type SyntheticTopology } from './geometry.js';
import { syntheticLandmarkEmbedding } from './landmarks68.js';
import { SYNTHETIC_EMOTION_PROTOTYPES, syntheticEmotionExpression, type SyntheticEmotion } from './emotions.js';
import { buildSyntheticTexture, wrinkledTexture, type SyntheticTexture } from './texture.js';

/**
 * Number of identity / expression components of the synthetic head (FLAME 2020's).
 * @example
 * ```ts
 * const beta = new Float32Array(SYNTHETIC_NUM_SHAPE); // 300 identity coefficients
 * ```
 */
export const SYNTHETIC_NUM_SHAPE = 300;
/**
 * SYNTHETIC_NUM_EXPRESSION.
 * @example
 * ```ts
 * const psi = new Float32Array(SYNTHETIC_NUM_EXPRESSION); // 100 expression coefficients
 * ```
 */
export const SYNTHETIC_NUM_EXPRESSION = 100;

/** Options of {@link createSyntheticHead}. */
export interface SyntheticHeadOptions {
  /** Identity index (shape coefficients and appearance). Default 0. */
  identity?: number;
  /** Seed of the model's random bases (components 16+ / 12+). Default 0. */
  seed?: number;
  /** Albedo size in texels. Default 512. */
  textureSize?: number;
}

/** Per-frame parameters in plain arrays (single frame). */
export interface SyntheticFrameParams {
  /** Up to 100 expression coefficients. */
  expression?: ArrayLike<number>;
  /** Full pose (15) … */
  pose?: ArrayLike<number>;
  /** … or paper pose (6 = global, jaw). */
  paperPose?: ArrayLike<number>;
  /** Translation (3), metres. */
  translation?: ArrayLike<number>;
}

/**
 * The arrays a FLAME `.npz` would hold, for the synthetic head (keys as FLAME's).
 * @example
 * ```ts
 * const flame = FlameModel.fromArrays(syntheticFlameArrays(buildSyntheticTopology()), { shapeSplit: 300 });
 * ```
 */
export function syntheticFlameArrays(topology: SyntheticTopology, seed = 0): Record<string, NdArrayLike> {
  const numV = topology.numVertices;
  const shape = syntheticBlendshapes(topology, 'shape', SYNTHETIC_NUM_SHAPE, seed);
  const expr = syntheticBlendshapes(topology, 'expression', SYNTHETIC_NUM_EXPRESSION, seed);
  // shapedirs [V, 3, 300 + 100]: identity then expression, as in FLAME 2020.
  const total = SYNTHETIC_NUM_SHAPE + SYNTHETIC_NUM_EXPRESSION;
  const shapedirs = new Float32Array(numV * 3 * total);
  for (let k = 0; k < numV * 3; k++) {
    shapedirs.set(shape.subarray(k * SYNTHETIC_NUM_SHAPE, (k + 1) * SYNTHETIC_NUM_SHAPE), k * total);
    shapedirs.set(expr.subarray(k * SYNTHETIC_NUM_EXPRESSION, (k + 1) * SYNTHETIC_NUM_EXPRESSION), k * total + SYNTHETIC_NUM_SHAPE);
  }
  const numF = topology.faces.length / 3;
  const landmarks = syntheticLandmarkEmbedding(topology);
  return {
    v_template: { data: topology.positions, shape: [numV, 3] },
    shapedirs: { data: shapedirs, shape: [numV, 3, total] },
    // No pose correctives: the synthetic head's deformation is pure skinning + blendshapes.
    posedirs: { data: new Float32Array(numV * 3 * 36), shape: [numV, 3, 36] },
    J_regressor: { data: topology.jRegressor, shape: [5, numV] },
    weights: { data: topology.weights, shape: [numV, 5] },
    kintree_table: { data: new Int32Array([-1, 0, 1, 1, 1, 0, 1, 2, 3, 4]), shape: [2, 5] },
    f: { data: topology.faces, shape: [numF, 3] },
    vt: { data: topology.uvs, shape: [numV, 2] },
    ft: { data: topology.faces, shape: [numF, 3] },
    // 68 static landmarks (iBUG layout), as FLAME's landmark_embedding stores them.
    lmk_faces_idx: { data: landmarks.faceIndices, shape: [68] },
    lmk_bary_coords: { data: landmarks.barycentrics, shape: [68, 3] },
  };
}

/**
 * Identity coefficients (300) of synthetic identity `index`: the 12 named components vary clearly between
 * identities, the random ones a little.
 *
 * @example
 * ```ts
 * const beta = syntheticIdentityShape(3); // Float32Array(300)
 * ```
 */
export function syntheticIdentityShape(index: number): Float32Array {
  if (!Number.isInteger(index) || index < 0) throw new ValidationError('syntheticIdentityShape', 'index', 'a non-negative integer', index);
  if (index === 0) return new Float32Array(SYNTHETIC_NUM_SHAPE); // identity 0 = the template
  const rng = new Rng(index).fork('synthetic-identity');
  const named = rng.normal(12, 0, 0.9);
  const rest = rng.normal(SYNTHETIC_NUM_SHAPE - 12, 0, 0.5);
  const out = new Float32Array(SYNTHETIC_NUM_SHAPE);
  out.set(named.map((v) => Math.max(-2, Math.min(2, v))), 0);
  out.set(rest, 12);
  return out;
}

/**
 * A synthetic head instance: model + identity + texture. Call {@link SyntheticHead.dispose}.
 * @example
 * ```ts
 * const head = new SyntheticHead({ identity: 1 });
 * const positions = head.vertices({ expression: head.emotion('surprised'), paperPose: [0, 0, 0, head.emotionJaw('surprised'), 0, 0] });
 * head.dispose();
 * ```
 */
export class SyntheticHead {
  /** Always `'synthetic'`: this is not FLAME and not a real person. */
  readonly label = 'synthetic' as const;
  readonly identity: number;
  readonly model: FlameModel;
  readonly topology: SyntheticTopology;
  readonly texture: SyntheticTexture;
  /** Identity coefficients `[300]`. */
  readonly shape: Float32Array;
  readonly faces: Uint32Array;
  readonly uvs: Float32Array;

  private static cache = new Map<string, unknown>();
  private static cached<T>(key: string, make: () => T): T {
    if (!SyntheticHead.cache.has(key)) SyntheticHead.cache.set(key, make());
    return SyntheticHead.cache.get(key) as T;
  }

  constructor(options: SyntheticHeadOptions = {}) {
    const identity = options.identity ?? 0;
    const seed = options.seed ?? 0;
    if (!Number.isInteger(identity) || identity < 0) throw new ValidationError('createSyntheticHead', 'options.identity', 'a non-negative integer', identity);
    if (!Number.isInteger(seed) || seed < 0) throw new ValidationError('createSyntheticHead', 'options.seed', 'a non-negative integer', seed);
    this.identity = identity;
    // The CPU-side arrays are deterministic, so they are built once per process and shared (read-only).
    this.topology = SyntheticHead.cached('topology', buildSyntheticTopology);
    const arrays = SyntheticHead.cached(`arrays-${seed}`, () => syntheticFlameArrays(this.topology, seed));
    this.model = FlameModel.fromArrays(arrays, { shapeSplit: SYNTHETIC_NUM_SHAPE }, 'synthetic head');
    const textureSize = options.textureSize ?? 512;
    this.texture = SyntheticHead.cached(`texture-${textureSize}-${identity}`, () => buildSyntheticTexture({ size: textureSize, seed: identity }));
    this.shape = syntheticIdentityShape(identity);
    this.faces = this.model.faces;
    this.uvs = this.topology.uvs;
  }

  /** The expression of a MEAD emotion (intensity 1 by default). @example `head.emotion('sad', 0.5)` */
  emotion(name: SyntheticEmotion, intensity = 1): Float32Array {
    return syntheticEmotionExpression(name, intensity);
  }

  /** Jaw opening (radians) that goes with an emotion prototype. @example `head.emotionJaw('surprised')` */
  emotionJaw(name: SyntheticEmotion, intensity = 1): number {
    return SYNTHETIC_EMOTION_PROTOTYPES[name].jaw * intensity;
  }

  /**
   * Posed vertices of `frames` (batched through the FLAME LBS), as one `[V*3]` Float32Array per frame.
   *
   * @example
   * ```ts
   * const [p0, p1] = head.verticesBatch([{ expression: e0, paperPose: pose0 }, { expression: e1, paperPose: pose1 }]);
   * ```
   */
  verticesBatch(frames: SyntheticFrameParams[]): Float32Array[] {
    const b = frames.length;
    if (b === 0) return [];
    const fill = (key: keyof SyntheticFrameParams, width: number, f: SyntheticFrameParams, i: number, out: Float32Array) => {
      const a = f[key];
      if (a == null) return;
      if (a.length > width) throw new ValidationError('SyntheticHead.vertices', `frames[${i}].${key}`, `at most ${width} values`, a);
      for (let k = 0; k < a.length; k++) out[i * width + k] = Number(a[k]);
    };
    const expr = new Float32Array(b * SYNTHETIC_NUM_EXPRESSION);
    const pose = new Float32Array(b * 15);
    const trans = new Float32Array(b * 3);
    frames.forEach((f, i) => {
      fill('expression', SYNTHETIC_NUM_EXPRESSION, f, i, expr);
      if (f.pose && f.paperPose) throw new ValidationError('SyntheticHead.vertices', `frames[${i}]`, 'either pose or paperPose', f);
      if (f.pose) {
        if (f.pose.length !== 15) throw new ValidationError('SyntheticHead.vertices', `frames[${i}].pose`, '15 values', f.pose);
        fill('pose', 15, f, i, pose);
      } else if (f.paperPose) {
        if (f.paperPose.length !== 6) throw new ValidationError('SyntheticHead.vertices', `frames[${i}].paperPose`, '6 values', f.paperPose);
        for (let k = 0; k < 3; k++) {
          pose[i * 15 + k] = Number(f.paperPose[k]);
          pose[i * 15 + 6 + k] = Number(f.paperPose[3 + k]);
        }
      }
      if (f.translation) {
        if (f.translation.length !== 3) throw new ValidationError('SyntheticHead.vertices', `frames[${i}].translation`, '3 values', f.translation);
        fill('translation', 3, f, i, trans);
      }
    });
    const flat = tf.tidy(() => {
      const shape = tf.tile(tf.tensor2d(this.shape, [1, SYNTHETIC_NUM_SHAPE]), [b, 1]) as tf.Tensor2D;
      const out = this.model.forward({
        shape,
        expression: tf.tensor2d(expr, [b, SYNTHETIC_NUM_EXPRESSION]),
        pose: tf.tensor2d(pose, [b, 15]),
        translation: tf.tensor2d(trans, [b, 3]),
      });
      return out.vertices;
    });
    const data = flat.dataSync() as Float32Array;
    flat.dispose();
    const per = this.model.numVertices * 3;
    return Array.from({ length: b }, (_, i) => data.slice(i * per, (i + 1) * per));
  }

  /** Posed vertices `[V*3]` of one frame. @example `const positions = head.vertices({ paperPose: [0, 0, 0, 0.2, 0, 0] });` */
  vertices(params: SyntheticFrameParams = {}): Float32Array {
    return this.verticesBatch([params])[0]!;
  }

  /** The albedo for a frame's expression (wrinkles deepen with it). @example `head.albedo(expression)` */
  albedo(expression?: ArrayLike<number>): Texture {
    return expression ? wrinkledTexture(this.texture, expression) : this.texture.albedo;
  }

  /** Release the model tensors. @example `head.dispose();` */
  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Create a synthetic head (see {@link SyntheticHead}).
 *
 * @example
 * ```ts
 * const head = createSyntheticHead({ identity: 1, textureSize: 512 });
 * ```
 */
export function createSyntheticHead(options: SyntheticHeadOptions = {}): SyntheticHead {
  return new SyntheticHead(options);
}
