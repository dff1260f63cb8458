/**
 * Rotation conversions the dataset readers need, in plain float64 (no tensors): axis-angle ↔ 3×3 matrix and the
 * continuous 6D representation (Zhou et al. 2019) that metrical-tracker stores FLAME joint rotations in. The 6D
 * vector is the first two **rows** of the matrix (PyTorch3D's `matrix_to_rotation_6d`); decoding orthonormalises
 * them with Gram–Schmidt and takes the third row as their cross product (`rotation_6d_to_matrix`).
 *
 * Matrices are row-major 9-vectors.
 *
 * @example
 * ```ts
 * import { axisAngleToMatrix, matrixToAxisAngle, rotation6dToMatrix } from '@consistent-avatar/proxy';
 * const R = axisAngleToMatrix([0.2, 0, 0]);
 * matrixToAxisAngle(R); // ≈ [0.2, 0, 0]
 * matrixToAxisAngle(rotation6dToMatrix([1, 0, 0, 0, 1, 0])); // [0, 0, 0]
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';

function finiteVector(fn: string, arg: string, v: ArrayLike<number>, n: number): void {
  if (v == null || typeof v.length !== 'number' || v.length !== n) throw new ValidationError(fn, arg, `${n} numbers`, v);
  for (let i = 0; i < n; i++) if (!Number.isFinite(v[i])) throw new ValidationError(fn, arg, `${n} finite numbers`, v);
}

/**
 * Rodrigues' formula: axis-angle (3, radians) → row-major 3×3 rotation.
 * @example
 * ```ts
 * axisAngleToMatrix([0, Math.PI / 2, 0]); // ≈ [0, 0, 1, 0, 1, 0, -1, 0, 0]
 * ```
 */
export function axisAngleToMatrix(axisAngle: ArrayLike<number>): Float64Array {
  finiteVector('axisAngleToMatrix', 'axisAngle', axisAngle, 3);
  const [x, y, z] = [Number(axisAngle[0]), Number(axisAngle[1]), Number(axisAngle[2])];
  const angle = Math.hypot(x, y, z);
  const out = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  if (angle < 1e-12) return out;
  const [kx, ky, kz] = [x / angle, y / angle, z / angle];
  const c = Math.cos(angle), s = Math.sin(angle), t = 1 - c;
  out.set([
    c + kx * kx * t, kx * ky * t - kz * s, kx * kz * t + ky * s,
    ky * kx * t + kz * s, c + ky * ky * t, ky * kz * t - kx * s,
    kz * kx * t - ky * s, kz * ky * t + kx * s, c + kz * kz * t,
  ]);
  return out;
}

/**
 * Logarithm map: row-major 3×3 rotation → axis-angle (3, radians, angle in [0, π]). Stable near 0 and near π.
 * @example
 * ```ts
 * matrixToAxisAngle(axisAngleToMatrix([0.1, -0.2, 0.3])); // ≈ [0.1, -0.2, 0.3]
 * ```
 */
export function matrixToAxisAngle(matrix: ArrayLike<number>): Float64Array {
  finiteVector('matrixToAxisAngle', 'matrix', matrix, 9);
  const m = (r: number, c: number) => Number(matrix[r * 3 + c]);
  const cos = Math.min(1, Math.max(-1, (m(0, 0) + m(1, 1) + m(2, 2) - 1) / 2));
  const angle = Math.acos(cos);
  const v = [m(2, 1) - m(1, 2), m(0, 2) - m(2, 0), m(1, 0) - m(0, 1)]; // 2 sin(θ) · axis
  if (angle < 1e-7) return new Float64Array([v[0]! / 2, v[1]! / 2, v[2]! / 2]);
  if (Math.PI - angle < 1e-4) {
    // Near π the antisymmetric part vanishes: read the axis off the diagonal (R = 2kkᵀ − I), sign from v.
    const k = [0, 1, 2].map((i) => Math.sqrt(Math.max(0, (m(i, i) + 1) / 2)));
    const big = k.indexOf(Math.max(...k));
    for (let i = 0; i < 3; i++) if (i !== big) k[i] = (m(big, i) + m(i, big)) / (4 * k[big]!);
    const norm = Math.hypot(k[0]!, k[1]!, k[2]!);
    const sign = v[big]! < 0 ? -1 : 1;
    return new Float64Array(k.map((x) => (sign * angle * x) / norm));
  }
  const scale = angle / (2 * Math.sin(angle));
  return new Float64Array(v.map((x) => x * scale));
}

/**
 * metrical-tracker's 6D rotation (first two rows of the matrix) → row-major 3×3 rotation (Gram–Schmidt).
 * @example
 * ```ts
 * rotation6dToMatrix([1, 0, 0, 0, 1, 0]); // identity
 * ```
 */
export function rotation6dToMatrix(d6: ArrayLike<number>): Float64Array {
  finiteVector('rotation6dToMatrix', 'd6', d6, 6);
  const a1 = [Number(d6[0]), Number(d6[1]), Number(d6[2])];
  const a2 = [Number(d6[3]), Number(d6[4]), Number(d6[5])];
  const n1 = Math.hypot(...a1);
  if (n1 < 1e-12) throw new ValidationError('rotation6dToMatrix', 'd6', 'a non-zero first row', d6);
  const b1 = a1.map((x) => x / n1);
  const dot = b1[0]! * a2[0]! + b1[1]! * a2[1]! + b1[2]! * a2[2]!;
  const u2 = a2.map((x, i) => x - dot * b1[i]!);
  const n2 = Math.hypot(...u2);
  if (n2 < 1e-12) throw new ValidationError('rotation6dToMatrix', 'd6', 'two linearly independent rows', d6);
  const b2 = u2.map((x) => x / n2);
  const b3 = [b1[1]! * b2[2]! - b1[2]! * b2[1]!, b1[2]! * b2[0]! - b1[0]! * b2[2]!, b1[0]! * b2[1]! - b1[1]! * b2[0]!];
  return new Float64Array([...b1, ...b2, ...b3]);
}

/**
 * Row-major 3×3 rotation → metrical-tracker's 6D representation (its first two rows).
 * @example
 * ```ts
 * matrixToRotation6d(axisAngleToMatrix([0.2, 0, 0])); // [1, 0, 0, 0, cos 0.2, −sin 0.2]
 * ```
 */
export function matrixToRotation6d(matrix: ArrayLike<number>): Float64Array {
  finiteVector('matrixToRotation6d', 'matrix', matrix, 9);
  return Float64Array.from({ length: 6 }, (_, i) => Number(matrix[i]));
}
