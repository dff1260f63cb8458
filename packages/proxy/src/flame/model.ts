/**
 * The FLAME head model (Li et al. 2017) as FLAME_PyTorch / smplx evaluate it: shape + expression blendshapes,
 * pose correctives, joint regression, a kinematic chain (global → neck → jaw / eyes) and linear blend skinning.
 *
 * FLAME is licensed (flame.is.tue.mpg.de): this library never ships it. Convert your copy of the official
 * `generic_model.pkl` (FLAME 2020) to `.npz` once with Python:
 *
 * ```python
 * import pickle, numpy as np
 * with open('generic_model.pkl', 'rb') as f:
 *     m = pickle.load(f, encoding='latin1')          # needs chumpy installed, or a chumpy-free copy
 * arr = lambda x: np.asarray(getattr(x, 'r', x))      # chumpy arrays → numpy
 * out = {k: arr(m[k]) for k in ['v_template', 'shapedirs', 'posedirs', 'weights', 'kintree_table', 'f']}
 * out['J_regressor'] = m['J_regressor'].toarray()     # scipy sparse → dense [5, 5023]
 * # optional: 68 static landmarks (DECA's landmark_embedding.npy) and UVs (head_template_mesh.obj vt / ft)
 * # lmk = np.load('landmark_embedding.npy', allow_pickle=True).item()
 * # out['lmk_faces_idx'] = lmk['full_lmk_faces_idx'][0]; out['lmk_bary_coords'] = lmk['full_lmk_bary_coords'][0]
 * np.savez('flame2020.npz', **out)
 * ```
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { FlameModel } from '@consistent-avatar/proxy';
 * const flame = FlameModel.fromNpz('flame2020.npz');       // 300 shape + 100 expression components
 * const { vertices, joints } = flame.forward({
 *   expression: tf.zeros([1, 100]) as tf.Tensor2D,
 *   paperPose: tf.tensor2d([[0, 0.2, 0, 0.15, 0, 0]]),            // P ∈ R^6 = [global, jaw]
 * });
 * // vertices [1, 5023, 3], joints [1, 5, 3]
 * flame.dispose();
 * ```
 */
import { checkFinite, tf, FormatError, ValidationError, readNpz } from '@consistent-avatar/core';
import { linearBlendSkinning, type LbsModelTensors } from './lbs.js';
import { barycentricLandmarks } from './landmarks.js';
import { paperPoseToFull } from './pose.js';

/** A numeric array with its shape (what `readNpz` returns per key). */
export interface NdArrayLike {
  data: ArrayLike<number> | BigInt64Array | BigUint64Array;
  shape: readonly number[];
}

/** Options for {@link FlameModel.fromArrays} / {@link FlameModel.fromNpz}. */
export interface FlameLoadOptions {
  /** How many of the `shapedirs` components are identity (the rest are expression). Default 300 (FLAME 2020). */
  shapeSplit?: number;
  /** Identity components to keep (≤ shapeSplit). Default: all. DECA keeps 100. */
  shapeComponents?: number;
  /** Expression components to keep. Default: all after the split (FLAME 2020: 100; DECA keeps 50). */
  expressionComponents?: number;
}

/** Per-call parameters of {@link FlameModel.forward}. Missing ones are zeros; shorter coefficient vectors are zero-padded. */
export interface FlameParams {
  /** `[B, ≤ numShape]` identity coefficients. */
  shape?: tf.Tensor2D;
  /** `[B, ≤ numExpression]` expression coefficients. */
  expression?: tf.Tensor2D;
  /** `[B, 15]` full pose (global, neck, jaw, eyeL, eyeR; axis-angle). Exclusive with `paperPose`. */
  pose?: tf.Tensor2D;
  /** `[B, 6]` paper pose P = [global, jaw]. Exclusive with `pose`. */
  paperPose?: tf.Tensor2D;
  /** `[B, 3]` translation added after skinning. */
  translation?: tf.Tensor2D;
  /** Accept NaN / ±Infinity in the parameters (rejected by default: the library's non-finite policy). */
  allowNonFinite?: boolean;
}

/** Output of {@link FlameModel.forward}. */
export interface FlameOutput {
  /** `[B, V, 3]` posed vertices. */
  vertices: tf.Tensor3D;
  /** `[B, J, 3]` posed joints. */
  joints: tf.Tensor3D;
  /** `[B, K, 3]` static 3D landmarks when the model has a landmark embedding. */
  landmarks?: tf.Tensor3D;
}

/** Optional UV layout: per-corner texture coordinates. */
export interface MeshUvs {
  /** `[T, 2]` texture coordinates in [0, 1] (v up, as OBJ `vt`). */
  uv: Float32Array;
  /** `[F, 3]` indices into `uv` per face corner. */
  uvFaces: Uint32Array;
}

function toFloat32(a: NdArrayLike): Float32Array {
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]);
  return out;
}

function prod(shape: readonly number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

/**
 * A FLAME-layout head model; holds tensors, so call {@link FlameModel.dispose} when done.
 * @example
 * ```ts
 * const flame = FlameModel.fromNpz('flame2020.npz');
 * const { vertices } = flame.forward({ paperPose: tf.tensor2d([[0, 0.3, 0, 0.2, 0, 0]]) }); // [1, 5023, 3]
 * flame.dispose();
 * ```
 */
export class FlameModel {
  /** Identity components used. */
  readonly numShape: number;
  /** Expression components used. */
  readonly numExpression: number;
  readonly numVertices: number;
  readonly numJoints: number;
  /** `[F*3]` triangle vertex indices. */
  readonly faces: Uint32Array;
  /** Parent per joint (root −1). */
  readonly parents: number[];
  /** UV layout when the file had `vt` / `ft`. */
  readonly uvs?: MeshUvs;
  /** Static landmark embedding when present. */
  readonly landmarkEmbedding?: { faceIndices: Int32Array; barycentrics: Float32Array };
  /** The LBS tensors (float32). */
  readonly tensors: LbsModelTensors;
  private disposed = false;

  private constructor(init: {
    numShape: number; numExpression: number; faces: Uint32Array; parents: number[]; tensors: LbsModelTensors;
    uvs?: MeshUvs; landmarkEmbedding?: { faceIndices: Int32Array; barycentrics: Float32Array };
  }) {
    this.numShape = init.numShape;
    this.numExpression = init.numExpression;
    this.faces = init.faces;
    this.parents = init.parents;
    this.tensors = init.tensors;
    this.numVertices = init.tensors.vTemplate.shape[0];
    this.numJoints = init.parents.length;
    if (init.uvs) this.uvs = init.uvs;
    if (init.landmarkEmbedding) this.landmarkEmbedding = init.landmarkEmbedding;
  }

  /**
   * Build from arrays with FLAME's key names: `v_template [V,3]`, `shapedirs [V,3,L]`, `posedirs [V,3,(J−1)·9]`,
   * `J_regressor [J,V]`, `weights [V,J]`, `kintree_table [2,J]` (root parent −1 or 2^32−1), `f [F,3]`; optional
   * `vt [T,2]` + `ft [F,3]`, and `lmk_faces_idx [K]` + `lmk_bary_coords [K,3]` (or `full_lmk_*`, `static_lmk_*`).
   *
   * @param source - label used in error messages (a path).
   * @example
   * ```ts
   * const flame = FlameModel.fromArrays(readNpz('flame2020.npz'));
   * ```
   */
  static fromArrays(arrays: Record<string, NdArrayLike>, options: FlameLoadOptions = {}, source = '<arrays>'): FlameModel {
    const need = (key: string, rank: number): NdArrayLike => {
      const a = arrays[key];
      if (!a) throw new FormatError('flame', source, `missing key '${key}'`);
      if (a.shape.length !== rank || prod(a.shape) !== a.data.length) {
        throw new FormatError('flame', source, `'${key}' should have rank ${rank}, got shape [${a.shape.join(', ')}]`);
      }
      return a;
    };
    const vTemplate = need('v_template', 2);
    const numVerts = vTemplate.shape[0]!;
    if (vTemplate.shape[1] !== 3) throw new FormatError('flame', source, `'v_template' should be [V, 3]`);
    const shapedirs = need('shapedirs', 3);
    const posedirs = need('posedirs', 3);
    const jReg = need('J_regressor', 2);
    const weights = need('weights', 2);
    const kintree = need('kintree_table', 2);
    const f = need('f', 2);
    const numJoints = jReg.shape[0]!;
    if (shapedirs.shape[0] !== numVerts || shapedirs.shape[1] !== 3) throw new FormatError('flame', source, `'shapedirs' should be [${numVerts}, 3, L]`);
    if (posedirs.shape[0] !== numVerts || posedirs.shape[1] !== 3 || posedirs.shape[2] !== (numJoints - 1) * 9) {
      throw new FormatError('flame', source, `'posedirs' should be [${numVerts}, 3, ${(numJoints - 1) * 9}], got [${posedirs.shape.join(', ')}]`);
    }
    if (jReg.shape[1] !== numVerts) throw new FormatError('flame', source, `'J_regressor' should be [J, ${numVerts}]`);
    if (weights.shape[0] !== numVerts || weights.shape[1] !== numJoints) throw new FormatError('flame', source, `'weights' should be [${numVerts}, ${numJoints}]`);
    if (kintree.shape[0] !== 2 || kintree.shape[1] !== numJoints) throw new FormatError('flame', source, `'kintree_table' should be [2, ${numJoints}]`);
    if (f.shape[1] !== 3) throw new FormatError('flame', source, `'f' should be [F, 3]`);

    // Parents from the kintree's first row; root is −1 or 2^32−1 (uint32 wrap-around in the official pickle).
    const parents: number[] = [];
    for (let j = 0; j < numJoints; j++) {
      const p = Number(kintree.data[j]);
      const parent = j === 0 || p < 0 || p >= numJoints ? -1 : p;
      if (parent >= j) throw new FormatError('flame', source, `kintree_table: parent of joint ${j} is ${parent}, parents must precede children`);
      parents.push(parent);
    }
    const numFaces = f.shape[0]!;
    const faces = new Uint32Array(numFaces * 3);
    for (let i = 0; i < faces.length; i++) {
      const v = Number(f.data[i]);
      if (!(v >= 0 && v < numVerts)) throw new FormatError('flame', source, `'f' has vertex index ${v} outside [0, ${numVerts})`);
      faces[i] = v;
    }

    const total = shapedirs.shape[2]!;
    const split = options.shapeSplit ?? Math.min(300, total);
    if (!Number.isInteger(split) || split < 0 || split > total) {
      throw new ValidationError('FlameModel.fromArrays', 'options.shapeSplit', `an integer in [0, ${total}]`, options.shapeSplit);
    }
    const numShape = options.shapeComponents ?? split;
    const numExpression = options.expressionComponents ?? total - split;
    if (!Number.isInteger(numShape) || numShape < 0 || numShape > split) {
      throw new ValidationError('FlameModel.fromArrays', 'options.shapeComponents', `an integer in [0, ${split}]`, options.shapeComponents);
    }
    if (!Number.isInteger(numExpression) || numExpression < 0 || numExpression > total - split) {
      throw new ValidationError('FlameModel.fromArrays', 'options.expressionComponents', `an integer in [0, ${total - split}]`, options.expressionComponents);
    }
    // shapedirs [V, 3, total] → kept components ⊕, transposed to [L, V*3] (DECA: shape[:n] ⊕ shapedirs[split:split+n_exp]).
    const numL = numShape + numExpression;
    const sd = shapedirs.data;
    const shapedirsT = new Float32Array(numL * numVerts * 3);
    for (let l = 0; l < numL; l++) {
      const src = l < numShape ? l : split + (l - numShape);
      for (let k = 0; k < numVerts * 3; k++) shapedirsT[l * numVerts * 3 + k] = Number(sd[k * total + src]);
    }
    // posedirs [V, 3, P] → reshape [V*3, P] → transpose [P, V*3] (smplx / FLAME_PyTorch).
    const numP = (numJoints - 1) * 9;
    const pd = posedirs.data;
    const posedirsT = new Float32Array(numP * numVerts * 3);
    for (let k = 0; k < numVerts * 3; k++) for (let p = 0; p < numP; p++) posedirsT[p * numVerts * 3 + k] = Number(pd[k * numP + p]);

    let uvs: MeshUvs | undefined;
    if (arrays.vt && arrays.ft) {
      const ft = arrays.ft;
      if (ft.shape[0] !== numFaces) throw new FormatError('flame', source, `'ft' should have ${numFaces} faces like 'f'`);
      uvs = { uv: toFloat32(arrays.vt), uvFaces: Uint32Array.from(ft.data as ArrayLike<number>, Number) };
    }
    let landmarkEmbedding: { faceIndices: Int32Array; barycentrics: Float32Array } | undefined;
    for (const prefix of ['lmk', 'full_lmk', 'static_lmk']) {
      const fi = arrays[`${prefix}_faces_idx`];
      const bc = arrays[`${prefix}_bary_coords`];
      if (fi && bc) {
        const faceIndices = Int32Array.from(fi.data as ArrayLike<number>, Number);
        const barycentrics = toFloat32(bc);
        if (barycentrics.length !== faceIndices.length * 3) throw new FormatError('flame', source, `'${prefix}_bary_coords' should be [K, 3] with K = ${faceIndices.length}`);
        landmarkEmbedding = { faceIndices, barycentrics };
        break;
      }
    }

    const tensors: LbsModelTensors = {
      vTemplate: tf.tensor2d(toFloat32(vTemplate), [numVerts, 3]),
      shapedirsT: tf.tensor2d(shapedirsT, [numL, numVerts * 3]),
      posedirsT: tf.tensor2d(posedirsT, [numP, numVerts * 3]),
      jRegressor: tf.tensor2d(toFloat32(jReg), [numJoints, numVerts]),
      weights: tf.tensor2d(toFloat32(weights), [numVerts, numJoints]),
      parents,
    };
    return new FlameModel({
      numShape, numExpression, faces, parents, tensors,
      ...(uvs ? { uvs } : {}),
      ...(landmarkEmbedding ? { landmarkEmbedding } : {}),
    });
  }

  /**
   * Load a FLAME model from an `.npz` with the standard keys (see {@link FlameModel.fromArrays}).
   *
   * @example
   * ```ts
   * const flame = FlameModel.fromNpz('flame2020.npz', { shapeComponents: 100, expressionComponents: 50 }); // DECA dims
   * ```
   */
  static fromNpz(path: string, options: FlameLoadOptions = {}): FlameModel {
    if (typeof path !== 'string' || path.length === 0) throw new ValidationError('FlameModel.fromNpz', 'path', 'a file path', path);
    const arrays = readNpz(path) as Record<string, NdArrayLike>;
    return FlameModel.fromArrays(arrays, options, path);
  }

  /**
   * Pose the model.
   *
   * @returns vertices `[B, V, 3]`, joints `[B, J, 3]` and (when an embedding is present) landmarks `[B, K, 3]`.
   * @example
   * ```ts
   * const out = flame.forward({ shape, expression, pose }); // pose [B, 15]
   * ```
   */
  forward(params: FlameParams): FlameOutput {
    const fn = 'FlameModel.forward';
    if (this.disposed) throw new ValidationError(fn, 'this', 'a model that has not been disposed', 'disposed model');
    if (params.pose && params.paperPose) throw new ValidationError(fn, 'params', 'either pose [B, 15] or paperPose [B, 6], not both', params);
    const candidates = [params.shape, params.expression, params.pose, params.paperPose, params.translation].filter((t) => t != null);
    for (const t of candidates) {
      if (!(t instanceof tf.Tensor) || t.rank !== 2) throw new ValidationError(fn, 'params', 'rank-2 tensors [B, n]', t);
    }
    for (const name of ['shape', 'expression', 'pose', 'paperPose', 'translation'] as const) {
      if (params[name]) checkFinite(fn, `params.${name}`, params[name]!, params);
    }
    const batch = candidates.length > 0 ? candidates[0]!.shape[0] : 1;
    for (const t of candidates) if (t!.shape[0] !== batch) throw new ValidationError(fn, 'params', `the same batch size ${batch} for every tensor`, t);
    const checkWidth = (t: tf.Tensor2D | undefined, name: string, max: number, exact = false) => {
      if (t && (exact ? t.shape[1] !== max : t.shape[1] > max)) {
        throw new ValidationError(fn, `params.${name}`, exact ? `[B, ${max}]` : `[B, ≤ ${max}]`, t);
      }
    };
    checkWidth(params.shape, 'shape', this.numShape);
    checkWidth(params.expression, 'expression', this.numExpression);
    checkWidth(params.pose, 'pose', this.numJoints * 3, true);
    checkWidth(params.paperPose, 'paperPose', 6, true);
    checkWidth(params.translation, 'translation', 3, true);
    if (params.paperPose && this.numJoints !== 5) throw new ValidationError(fn, 'params.paperPose', 'a 5-joint FLAME model', this.numJoints);
    const pad = (t: tf.Tensor2D | undefined, n: number): tf.Tensor2D =>
      t ? (t.shape[1] === n ? t : (tf.pad(t, [[0, 0], [0, n - t.shape[1]]]) as tf.Tensor2D)) : (tf.zeros([batch, n]) as tf.Tensor2D);
    return tf.tidy(() => {
      const betas = tf.concat([pad(params.shape, this.numShape), pad(params.expression, this.numExpression)], 1) as tf.Tensor2D; // [B, L]
      const pose = params.pose ?? (params.paperPose ? paperPoseToFull(params.paperPose) : (tf.zeros([batch, this.numJoints * 3]) as tf.Tensor2D));
      let { vertices, joints } = linearBlendSkinning(betas, pose, this.tensors);
      if (params.translation) {
        const t = params.translation.reshape([batch, 1, 3]);
        vertices = tf.add(vertices, t);
        joints = tf.add(joints, t);
      }
      const out: FlameOutput = { vertices, joints };
      if (this.landmarkEmbedding) {
        out.landmarks = barycentricLandmarks(vertices, this.faces, this.landmarkEmbedding.faceIndices, this.landmarkEmbedding.barycentrics);
      }
      return out as unknown as tf.TensorContainerObject;
    }) as unknown as FlameOutput;
  }

  /** Release the model tensors. @example `flame.dispose();` */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const t = this.tensors;
    tf.dispose([t.vTemplate, t.shapedirsT, t.posedirsT, t.jRegressor, t.weights]);
  }
}
