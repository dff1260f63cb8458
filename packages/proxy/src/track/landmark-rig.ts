/**
 * A landmark rig: the part of a FLAME-layout model's linear blend skinning that the landmarks of an embedding need,
 * exact and differentiable, so a landmark fit does not pose every vertex at every step.
 *
 * Linear blend skinning (smplx `lbs()`, see `flame/lbs.ts`) poses a vertex from its own rows of the template,
 * blendshapes, pose correctives and skinning weights, plus the joints — and the joints come from the whole shaped
 * mesh (J = J_regressor · v_shaped). Since J_regressor · v_shaped = J_regressor · v_template + (J_regressor ·
 * shapedirs) · β is linear, the rig keeps:
 * 1. the rows of the vertices the landmark triangles use (n of V),
 * 2. J extra "joint vertices" whose template and blendshape rows are J_regressor · v_template and
 *    J_regressor · shapedirs, and
 * 3. a joint regressor that picks those J rows (one-hot),
 * and runs the same {@link linearBlendSkinning} on n + J vertices: the n posed vertices equal the full model's.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { createSyntheticHead, LandmarkRig, syntheticMediapipeEmbedding } from '@consistent-avatar/proxy';
 * const head = createSyntheticHead();
 * const rig = new LandmarkRig(head.model, syntheticMediapipeEmbedding());
 * const landmarks = rig.forward({ paperPose: tf.tensor2d([[0, 0.2, 0, 0.1, 0, 0]]) }); // [1, K, 3]
 * rig.dispose(); head.dispose();
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import { barycentricLandmarks } from '../flame/landmarks.js';
import { linearBlendSkinning, type LbsModelTensors } from '../flame/lbs.js';
import type { FlameModel } from '../flame/model.js';
import { paperPoseToFull } from '../flame/pose.js';
import { checkLandmarkEmbedding, type LandmarkEmbedding } from './landmark-embedding.js';

/**
 * Per-call parameters of {@link LandmarkRig.forward} (missing: zeros; shorter coefficient vectors: zero-padded).
 * @example
 * ```ts
 * const params: LandmarkRigParams = { paperPose: tf.zeros([4, 6]) as tf.Tensor2D, shape: tf.zeros([1, 50]) as tf.Tensor2D };
 * ```
 */
export interface LandmarkRigParams {
  /** `[1 or B, ≤ numShape]` identity coefficients (one row is shared by every frame). */
  shape?: tf.Tensor2D;
  /** `[B, ≤ numExpression]` expression coefficients. */
  expression?: tf.Tensor2D;
  /** `[B, 6]` paper pose P = global ⊕ jaw (axis-angle). */
  paperPose: tf.Tensor2D;
  /** `[B, 3]` translation added after skinning. */
  translation?: tf.Tensor2D;
}

/**
 * The rig (holds tensors: call {@link LandmarkRig.dispose}).
 * @example
 * ```ts
 * const rig = new LandmarkRig(flame, readMediapipeEmbedding('flame/mediapipe_landmark_embedding.npz'), { shape: 100, expression: 50 });
 * const lmk = rig.forward({ paperPose }); // [B, 105, 3]
 * rig.dispose();
 * ```
 */
export class LandmarkRig {
  /** Identity / expression components of the model. */
  readonly numShape: number;
  readonly numExpression: number;
  /** Number of landmarks K. */
  readonly numLandmarks: number;
  private readonly tensors: LbsModelTensors;
  private readonly localFaces: Uint32Array;
  private readonly localFaceIndices: Int32Array;
  private readonly barycentrics: Float32Array;
  private readonly numRigVertices: number;
  private disposed = false;

  /**
   * @param model - a FLAME-layout model with 5 joints (FLAME or the synthetic head).
   * @param embedding - which triangles and barycentrics the landmarks use.
   * @param components - identity / expression components kept (default: all of the model's); fewer make every
   *   forward pass cheaper (the blendshape product is the rig's largest).
   */
  constructor(model: FlameModel, embedding: LandmarkEmbedding, components: { shape?: number; expression?: number } = {}) {
    const fn = 'LandmarkRig';
    if (!model || !model.tensors || typeof model.numShape !== 'number') throw new ValidationError(fn, 'model', 'a FlameModel', model);
    if (model.numJoints !== 5) throw new ValidationError(fn, 'model', 'a 5-joint FLAME-layout model (global, neck, jaw, eyes)', model.numJoints);
    checkLandmarkEmbedding(fn, 'embedding', embedding, model.faces.length / 3);
    const numShape = components.shape ?? model.numShape;
    const numExpression = components.expression ?? model.numExpression;
    if (!Number.isInteger(numShape) || numShape < 0 || numShape > model.numShape) {
      throw new ValidationError(fn, 'components.shape', `an integer in [0, ${model.numShape}]`, components.shape);
    }
    if (!Number.isInteger(numExpression) || numExpression < 0 || numExpression > model.numExpression) {
      throw new ValidationError(fn, 'components.expression', `an integer in [0, ${model.numExpression}]`, components.expression);
    }
    this.numShape = numShape;
    this.numExpression = numExpression;
    const k = embedding.faceIndices.length;
    this.numLandmarks = k;
    // 1. The vertices the landmark triangles use, renumbered 0 … n−1.
    const used = new Map<number, number>();
    const localFaces = new Uint32Array(3 * k);
    for (let i = 0; i < k; i++) {
      for (let c = 0; c < 3; c++) {
        const v = model.faces[embedding.faceIndices[i]! * 3 + c]!;
        if (!used.has(v)) used.set(v, used.size);
        localFaces[3 * i + c] = used.get(v)!;
      }
    }
    this.localFaces = localFaces;
    this.localFaceIndices = Int32Array.from({ length: k }, (_, i) => i);
    this.barycentrics = Float32Array.from(embedding.barycentrics);
    const n = used.size;
    const joints = model.numJoints;
    this.numRigVertices = n + joints;
    const rows = tf.tensor1d(Int32Array.from(used.keys()), 'int32');
    const t = model.tensors;
    const numVerts = model.numVertices;
    this.tensors = tf.tidy(() => {
      const numPose = t.posedirsT.shape[0];
      // The kept blendshape rows: the first numShape identity and the first numExpression expression components.
      const blendRows = tf.concat([
        t.shapedirsT.slice([0, 0], [numShape, numVerts * 3]),
        t.shapedirsT.slice([model.numShape, 0], [numExpression, numVerts * 3]),
      ], 0); // [L, V*3]
      const numBlend = numShape + numExpression;
      // 2. Template rows: the used vertices, then J_regressor · v_template.
      const vTemplate = tf.concat([tf.gather(t.vTemplate, rows), tf.matMul(t.jRegressor, t.vTemplate)], 0) as tf.Tensor2D; // [n+J, 3]
      // Blendshape rows: the used vertices' and J_regressor · shapedirs.
      const dirs = blendRows.reshape([numBlend, numVerts, 3]); // [L, V, 3]
      const dirsVL = dirs.transpose([1, 0, 2]).reshape([numVerts, numBlend * 3]); // [V, L*3]
      const jointDirs = tf.matMul(t.jRegressor, dirsVL).reshape([joints, numBlend, 3]).transpose([1, 0, 2]); // [L, J, 3]
      const shapedirsT = tf.concat([tf.gather(dirs, rows, 1), jointDirs], 1).reshape([numBlend, (n + joints) * 3]) as tf.Tensor2D; // [L, (n+J)*3]
      // Pose correctives: the used vertices'; the joint vertices have none (joints come from v_shaped).
      const pdirs = t.posedirsT.reshape([numPose, numVerts, 3]); // [P, V, 3]
      const posedirsT = tf.concat([tf.gather(pdirs, rows, 1), tf.zeros([numPose, joints, 3])], 1).reshape([numPose, (n + joints) * 3]) as tf.Tensor2D; // [P, (n+J)*3]
      // 3. The regressor picks the joint vertices; their skinning weights are unused (root).
      const jRegressor = tf.concat([tf.zeros([joints, n]), tf.eye(joints)], 1) as tf.Tensor2D; // [J, n+J]
      const rootOnly = tf.oneHot(tf.zeros([joints], 'int32'), joints).cast('float32'); // [J, J]
      const weights = tf.concat([tf.gather(t.weights, rows), rootOnly], 0) as tf.Tensor2D; // [n+J, J]
      return { vTemplate, shapedirsT, posedirsT, jRegressor, weights, parents: [...model.parents] };
    });
    rows.dispose();
  }

  /**
   * Pose the landmarks.
   * @returns `[B, K, 3]` landmark positions (model / world units, translation included). Runs once per fitting
   *   step: a non-finite parameter row is carried to that frame's landmarks, unchecked (`fitLandmarkSequence` checks
   *   its points).
   * @example
   * ```ts
   * const lmk = rig.forward({ shape, expression, paperPose, translation }); // [B, K, 3]
   * ```
   */
  forward(params: LandmarkRigParams): tf.Tensor3D {
    const fn = 'LandmarkRig.forward';
    if (this.disposed) throw new ValidationError(fn, 'this', 'a rig that has not been disposed', 'disposed');
    const pose = params?.paperPose;
    if (!(pose instanceof tf.Tensor) || pose.rank !== 2 || pose.shape[1] !== 6) throw new ValidationError(fn, 'params.paperPose', 'a tensor [B, 6]', pose);
    const b = pose.shape[0];
    const check = (name: 'shape' | 'expression' | 'translation', max: number, exact: boolean, rowsAllowed: number[]) => {
      const v = params[name];
      if (v === undefined) return;
      if (!(v instanceof tf.Tensor) || v.rank !== 2 || !rowsAllowed.includes(v.shape[0]) || (exact ? v.shape[1] !== max : v.shape[1] > max)) {
        throw new ValidationError(fn, `params.${name}`, `a tensor [${rowsAllowed.join(' or ')}, ${exact ? max : `≤ ${max}`}]`, v);
      }
    };
    check('shape', this.numShape, false, [1, b]);
    check('expression', this.numExpression, false, [b]);
    check('translation', 3, true, [b]);
    return tf.tidy(() => {
      const pad = (v: tf.Tensor2D | undefined, width: number, rows: number) =>
        v ? (tf.pad(v, [[0, 0], [0, width - v.shape[1]]]) as tf.Tensor2D) : (tf.zeros([rows, width]) as tf.Tensor2D);
      let shape = pad(params.shape, this.numShape, b);
      if (shape.shape[0] !== b) shape = tf.tile(shape, [b, 1]) as tf.Tensor2D; // [B, numShape]
      const betas = tf.concat([shape, pad(params.expression, this.numExpression, b)], 1) as tf.Tensor2D; // [B, L]
      const { vertices } = linearBlendSkinning(betas, paperPoseToFull(pose), this.tensors);
      const n = this.numRigVertices - 5;
      let points = vertices.slice([0, 0, 0], [b, n, 3]) as tf.Tensor3D; // [B, n, 3]
      if (params.translation) points = tf.add(points, params.translation.reshape([b, 1, 3])) as tf.Tensor3D;
      return barycentricLandmarks(points, this.localFaces, this.localFaceIndices, this.barycentrics); // [B, K, 3]
    });
  }

  /** Release the tensors. @example `rig.dispose();` */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const t = this.tensors;
    tf.dispose([t.vTemplate, t.shapedirsT, t.posedirsT, t.jRegressor, t.weights]);
  }
}
