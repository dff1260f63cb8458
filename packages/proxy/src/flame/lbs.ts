/**
 * Linear blend skinning exactly as smplx's `lbs()` computes it (the function FLAME_PyTorch and DECA use), batched
 * and differentiable (every step is a tfjs op, so gradients reach shape, expression and pose).
 *
 * Steps (smplx `smplx/lbs.py`: `lbs()` and `batch_rigid_transform()`; docs/sources.md §flame):
 * 1. v_shaped = v_template + Σ_l β_l·shapedirs[..., l]
 * 2. J = J_regressor · v_shaped
 * 3. R_j = Rodrigues(θ_j); pose_feature = flatten(R_1..J−1 − I)
 * 4. v_posed = v_shaped + pose_feature · posedirs
 * 5. rigid chain along `parents`: T_j = T_parent(j) · [R_j | J_j − J_parent(j)], A_j = T_j − [0 | T_j·(J_j, 0)]
 * 6. v = (Σ_j w_vj A_j) · [v_posed; 1]
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { linearBlendSkinning } from '@consistent-avatar/proxy';
 * // see FlameModel.forward for the usual entry point
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import { batchRodrigues } from './rodrigues.js';

/** The model tensors {@link linearBlendSkinning} needs (all float32). */
export interface LbsModelTensors {
  /** `[V, 3]` rest template. */
  vTemplate: tf.Tensor2D;
  /** `[L, V*3]` blendshape directions (transposed smplx `shapedirs` [V, 3, L]), L = shape + expression components. */
  shapedirsT: tf.Tensor2D;
  /** `[(J−1)*9, V*3]` pose-corrective directions (smplx's reshaped + transposed `posedirs`). */
  posedirsT: tf.Tensor2D;
  /** `[J, V]` joint regressor. */
  jRegressor: tf.Tensor2D;
  /** `[V, J]` skinning weights. */
  weights: tf.Tensor2D;
  /** Parent index per joint (root: −1). Parents must precede children. */
  parents: number[];
}

/** Output of {@link linearBlendSkinning}. */
export interface LbsOutput {
  /** `[B, V, 3]` posed vertices. */
  vertices: tf.Tensor3D;
  /** `[B, J, 3]` posed joint locations. */
  joints: tf.Tensor3D;
}

/**
 * Batched linear blend skinning.
 *
 * @param betas - `[B, L]` concatenated blend coefficients (shape ⊕ expression).
 * @param fullPose - `[B, J*3]` axis-angle per joint (FLAME: 15 = global, neck, jaw, eyeL, eyeR).
 * @param model - the model tensors.
 * @returns posed vertices `[B, V, 3]` and joints `[B, J, 3]`.
 *
 * @example
 * ```ts
 * const { vertices, joints } = linearBlendSkinning(betas, pose, model.tensors);
 * ```
 */
export function linearBlendSkinning(betas: tf.Tensor2D, fullPose: tf.Tensor2D, model: LbsModelTensors): LbsOutput {
  const fn = 'linearBlendSkinning';
  const numJoints = model.parents.length;
  const numVerts = model.vTemplate.shape[0];
  if (!(betas instanceof tf.Tensor) || betas.rank !== 2 || betas.shape[1] !== model.shapedirsT.shape[0]) {
    throw new ValidationError(fn, 'betas', `a tensor [B, ${model.shapedirsT.shape[0]}]`, betas);
  }
  if (!(fullPose instanceof tf.Tensor) || fullPose.rank !== 2 || fullPose.shape[1] !== numJoints * 3) {
    throw new ValidationError(fn, 'fullPose', `a tensor [B, ${numJoints * 3}]`, fullPose);
  }
  if (betas.shape[0] !== fullPose.shape[0]) {
    throw new ValidationError(fn, 'fullPose', `the same batch size as betas (${betas.shape[0]})`, fullPose);
  }
  return tf.tidy(() => {
    const batch = betas.shape[0];
    // 1. Shape + expression blendshapes.
    const vShaped = tf.add(model.vTemplate.reshape([1, numVerts * 3]), tf.matMul(betas, model.shapedirsT)); // [B, V*3]
    // 2. Joint regression: J = J_regressor · v_shaped, batched via one matmul over [V, B*3].
    const vShapedVB = vShaped.reshape([batch, numVerts, 3]).transpose([1, 0, 2]).reshape([numVerts, batch * 3]); // [V, B*3]
    const joints = tf.matMul(model.jRegressor, vShapedVB).reshape([numJoints, batch, 3]).transpose([1, 0, 2]); // [B, J, 3]
    // 3. Rotations and the pose feature (R − I of the non-root joints, row-major).
    const rot = batchRodrigues(fullPose.reshape([batch * numJoints, 3])).reshape([batch, numJoints, 3, 3]); // [B, J, 3, 3]
    const eye = tf.eye(3).reshape([1, 1, 3, 3]);
    const poseFeature = tf.sub(rot.slice([0, 1, 0, 0], [batch, numJoints - 1, 3, 3]), eye).reshape([batch, (numJoints - 1) * 9]); // [B, (J−1)*9]
    // 4. Pose correctives.
    const vPosed = tf.add(vShaped, tf.matMul(poseFeature, model.posedirsT)).reshape([batch, numVerts, 3]); // [B, V, 3]
    // 5. Rigid transform chain.
    const rotJ = tf.unstack(rot, 1) as tf.Tensor3D[]; // J × [B, 3, 3]
    const jointsJ = tf.unstack(joints, 1) as tf.Tensor2D[]; // J × [B, 3]
    const bottom = tf.tile(tf.tensor3d([0, 0, 0, 1], [1, 1, 4]), [batch, 1, 1]); // [B, 1, 4]
    const chain: tf.Tensor3D[] = [];
    for (let j = 0; j < numJoints; j++) {
      const parent = model.parents[j]!;
      const rel = parent < 0 ? jointsJ[j]! : tf.sub(jointsJ[j]!, jointsJ[parent]!); // [B, 3]
      const local = tf.concat([tf.concat([rotJ[j]!, rel.reshape([batch, 3, 1])], 2), bottom], 1) as tf.Tensor3D; // [B, 4, 4]
      chain.push(parent < 0 ? local : (tf.matMul(chain[parent]!, local) as tf.Tensor3D));
    }
    const transforms = tf.stack(chain, 1) as tf.Tensor4D; // [B, J, 4, 4]
    const posedJoints = transforms.slice([0, 0, 0, 3], [batch, numJoints, 3, 1]).reshape([batch, numJoints, 3]); // [B, J, 3]
    // A_j = T_j − [0 | T_j·(J_j, 0)]: remove the rest-pose joint location.
    const jointsHom = tf.concat([joints, tf.zeros([batch, numJoints, 1])], 2).reshape([batch, numJoints, 4, 1]); // [B, J, 4, 1]
    const tj = tf.matMul(transforms.reshape([batch * numJoints, 4, 4]), jointsHom.reshape([batch * numJoints, 4, 1])); // [B*J, 4, 1]
    const correction = tf.concat([tf.zeros([batch * numJoints, 4, 3]), tj], 2).reshape([batch, numJoints, 4, 4]); // [B, J, 4, 4]
    const relTransforms = tf.sub(transforms, correction); // [B, J, 4, 4]
    // 6. Skinning: T_v = Σ_j w_vj A_j, v = T_v · [v_posed; 1].
    const aJB = relTransforms.reshape([batch, numJoints, 16]).transpose([1, 0, 2]).reshape([numJoints, batch * 16]); // [J, B*16]
    const perVertex = tf.matMul(model.weights, aJB).reshape([numVerts, batch, 4, 4]).transpose([1, 0, 2, 3]); // [B, V, 4, 4]
    const rotPart = perVertex.slice([0, 0, 0, 0], [batch, numVerts, 3, 3]); // [B, V, 3, 3]
    const transPart = perVertex.slice([0, 0, 0, 3], [batch, numVerts, 3, 1]).reshape([batch, numVerts, 3]); // [B, V, 3]
    const rotated = tf.sum(tf.mul(rotPart, vPosed.reshape([batch, numVerts, 1, 3])), 3); // [B, V, 3]
    const vertices = tf.add(rotated, transPart) as tf.Tensor3D;
    return { vertices, joints: posedJoints as tf.Tensor3D };
  });
}
