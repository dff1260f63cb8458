/**
 * Static landmarks as barycentric interpolations of mesh vertices (FLAME's `landmark_embedding`:
 * `lmk_faces_idx` / `lmk_bary_coords`, or DECA's `full_lmk_faces_idx` / `full_lmk_bary_coords` for all 68).
 * Differentiable (tf.gather + weighted sum).
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { barycentricLandmarks } from '@consistent-avatar/proxy';
 * const verts = tf.tensor3d([[[0, 0, 0], [1, 0, 0], [0, 1, 0]]]);                 // [1, 3, 3]
 * const lmk = barycentricLandmarks(verts, new Uint32Array([0, 1, 2]), new Int32Array([0]), new Float32Array([1 / 3, 1 / 3, 1 / 3]));
 * // [1, 1, 3] = the triangle's centroid
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';

/**
 * @param vertices - `[B, V, 3]` posed vertices.
 * @param faces - `[F*3]` triangle vertex indices.
 * @param faceIndices - `[K]` triangle per landmark.
 * @param barycentrics - `[K*3]` barycentric weights per landmark.
 * @returns `[B, K, 3]` landmark positions.
 * @example
 * ```ts
 * const lmk = barycentricLandmarks(out.vertices, flame.faces, embedding.faceIndices, embedding.barycentrics); // [B, 68, 3]
 * ```
 */
export function barycentricLandmarks(
  vertices: tf.Tensor3D,
  faces: Uint32Array | Int32Array,
  faceIndices: Int32Array | Uint32Array,
  barycentrics: Float32Array,
): tf.Tensor3D {
  const fn = 'barycentricLandmarks';
  if (!(vertices instanceof tf.Tensor) || vertices.rank !== 3 || vertices.shape[2] !== 3) {
    throw new ValidationError(fn, 'vertices', 'a tensor [B, V, 3]', vertices);
  }
  const k = faceIndices.length;
  if (barycentrics.length !== k * 3) throw new ValidationError(fn, 'barycentrics', `${k * 3} values (K × 3)`, barycentrics);
  const numFaces = faces.length / 3;
  const idx = new Int32Array(k * 3);
  for (let i = 0; i < k; i++) {
    const f = faceIndices[i]!;
    if (f < 0 || f >= numFaces) throw new ValidationError(fn, `faceIndices[${i}]`, `a face index in [0, ${numFaces})`, f);
    for (let c = 0; c < 3; c++) idx[i * 3 + c] = faces[f * 3 + c]!;
  }
  return tf.tidy(() => {
    const b = vertices.shape[0];
    const corners = tf.gather(vertices, tf.tensor1d(idx, 'int32'), 1).reshape([b, k, 3, 3]); // [B, K, corner, xyz]
    const w = tf.tensor3d(barycentrics, [k, 3, 1]).expandDims(0); // [1, K, 3, 1]
    return tf.sum(tf.mul(corners, w), 2) as tf.Tensor3D; // [B, K, 3]
  });
}
