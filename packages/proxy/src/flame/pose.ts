/**
 * FLAME pose conventions.
 *
 * - **Full pose** (FLAME_PyTorch, IMAvatar): 15 axis-angle values = global 3 | neck 3 | jaw 3 | eyeL 3 | eyeR 3.
 * - **Paper pose** P ∈ R^6 (ConsistentAvatar, DECA): global 3 | jaw 3, with neck and eyes fixed at 0.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { paperPoseToFull, fullPoseToPaper } from '@consistent-avatar/proxy';
 * const full = paperPoseToFull(tf.tensor2d([[0.1, 0, 0, 0.3, 0, 0]])); // [1, 15]
 * const p6 = fullPoseToPaper(full);                                      // [1, 6] — the same six numbers
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';

/**
 * Joint names of the FLAME kinematic tree, in order (parents [−1, 0, 1, 1, 1]).
 * @example
 * ```ts
 * console.log(FLAME_JOINT_NAMES.indexOf('jaw') * 3); // 6: the jaw's offset in the full pose
 * ```
 */
export const FLAME_JOINT_NAMES = ['global', 'neck', 'jaw', 'eyeLeft', 'eyeRight'] as const;
/**
 * Parents of the FLAME joints (root −1, neck ← root, jaw / eyes ← neck).
 * @example
 * ```ts
 * console.log(FLAME_PARENTS[2]); // 1: the jaw hangs from the neck
 * ```
 */
export const FLAME_PARENTS: readonly number[] = [-1, 0, 1, 1, 1];

/**
 * Paper pose `[B, 6]` (global ⊕ jaw) → full FLAME pose `[B, 15]`.
 *
 * @param paperPose - `[B, 6]` axis-angle.
 * @param extra - optional neck `[B, 3]` and eyes `[B, 6]` (default zeros).
 * @returns `[B, 15]` = global | neck | jaw | eyeL | eyeR. Values are copied as they are, NaN included (an unchecked
 *   tensor op inside `FlameModel.forward`, which checks its parameters).
 * @example
 * ```ts
 * const full = paperPoseToFull(tf.zeros([2, 6]) as tf.Tensor2D); // [2, 15]
 * ```
 */
export function paperPoseToFull(paperPose: tf.Tensor2D, extra: { neck?: tf.Tensor2D; eyes?: tf.Tensor2D } = {}): tf.Tensor2D {
  if (!(paperPose instanceof tf.Tensor) || paperPose.rank !== 2 || paperPose.shape[1] !== 6) {
    throw new ValidationError('paperPoseToFull', 'paperPose', 'a tensor [B, 6] (global 3 ⊕ jaw 3)', paperPose);
  }
  const b = paperPose.shape[0];
  if (extra.neck && (extra.neck.rank !== 2 || extra.neck.shape[0] !== b || extra.neck.shape[1] !== 3)) {
    throw new ValidationError('paperPoseToFull', 'extra.neck', `a tensor [${b}, 3]`, extra.neck);
  }
  if (extra.eyes && (extra.eyes.rank !== 2 || extra.eyes.shape[0] !== b || extra.eyes.shape[1] !== 6)) {
    throw new ValidationError('paperPoseToFull', 'extra.eyes', `a tensor [${b}, 6]`, extra.eyes);
  }
  return tf.tidy(() => {
    const global = paperPose.slice([0, 0], [b, 3]); // [B, 3]
    const jaw = paperPose.slice([0, 3], [b, 3]); // [B, 3]
    const neck = extra.neck ?? tf.zeros([b, 3]);
    const eyes = extra.eyes ?? tf.zeros([b, 6]);
    return tf.concat([global, neck, jaw, eyes], 1) as tf.Tensor2D; // [B, 15]
  });
}

/**
 * Full FLAME pose `[B, 15]` → paper pose `[B, 6]` (global ⊕ jaw; neck and eyes dropped).
 *
 * @example
 * ```ts
 * const p6 = fullPoseToPaper(tf.zeros([1, 15]) as tf.Tensor2D); // [1, 6]
 * ```
 */
export function fullPoseToPaper(fullPose: tf.Tensor2D): tf.Tensor2D {
  if (!(fullPose instanceof tf.Tensor) || fullPose.rank !== 2 || fullPose.shape[1] !== 15) {
    throw new ValidationError('fullPoseToPaper', 'fullPose', 'a tensor [B, 15] (global, neck, jaw, eyeL, eyeR)', fullPose);
  }
  return tf.tidy(() => {
    const b = fullPose.shape[0];
    return tf.concat([fullPose.slice([0, 0], [b, 3]), fullPose.slice([0, 6], [b, 3])], 1) as tf.Tensor2D; // [B, 6]
  });
}
