/**
 * Pinhole cameras as INSTA / NeRF datasets store them: intrinsics (fx, fy, cx, cy in pixels) and a 4×4
 * camera-to-world matrix (`transform_matrix`).
 *
 * Axis conventions of the camera frame (the columns of the rotation part of camera-to-world):
 * - `'opencv'` (INSTA, metrical-tracker, IMAvatar): x right, y **down**, z **forward** (the camera looks along +z).
 * - `'opengl'` (NeRF / Blender / NeRFace, instant-ngp): x right, y **up**, z **backward** (the camera looks along −z).
 *   Converting one to the other flips the y and z axes: c2w_cv = c2w_gl · diag(1, −1, −1, 1).
 *
 * Pixel coordinates: u = fx·x/z + cx, v = fy·y/z + cy in the OpenCV frame. Pixel (col, row) covers
 * [col, col + 1) × [row, row + 1) and is sampled at its centre (col + 0.5, row + 0.5) — the NeRF / instant-ngp /
 * INSTA convention (`pixelCenter: 0.5`, default); set `pixelCenter: 0` for OpenCV's integer-centre convention.
 *
 * @example
 * ```ts
 * import { lookAtCamera, projectPoints } from '@consistent-avatar/proxy';
 * const cam = lookAtCamera({ eye: [0, 0, 1], target: [0, 0, 0], fx: 1000, fy: 1000, width: 512, height: 512 });
 * const { pixels, depth } = projectPoints(cam, new Float32Array([0, 0, 0])); // pixels ≈ [256, 256], depth 1
 * ```
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';

/** Camera-frame axis convention (see the module docs). */
export type CameraConvention = 'opencv' | 'opengl';

/** A pinhole camera. */
export interface PinholeCamera {
  /** Image size in pixels. */
  width: number;
  height: number;
  /** Focal lengths and principal point in pixels. */
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** 4×4 camera-to-world matrix, row-major (16 numbers), in `convention`'s camera axes. */
  cameraToWorld: ArrayLike<number>;
  /** Axis convention of `cameraToWorld`. Default `'opencv'`. */
  convention?: CameraConvention;
  /** Where a pixel is sampled inside its square: 0.5 = centre (default), 0 = OpenCV integer centres. */
  pixelCenter?: number;
}

/**
 * Check a camera and return the world→camera matrix in **OpenCV** axes (row-major 4×4, float64).
 * @example
 * ```ts
 * const w2c = worldToCameraCv(camera); // Float64Array(16), OpenCV axes whatever camera.convention is
 * ```
 */
export function worldToCameraCv(camera: PinholeCamera, fn = 'worldToCameraCv'): Float64Array {
  validateCamera(camera, fn);
  const m = Array.from(camera.cameraToWorld as ArrayLike<number>, Number);
  if ((camera.convention ?? 'opencv') === 'opengl') {
    // c2w_cv = c2w_gl · diag(1, −1, −1, 1): negate the y and z columns.
    for (let r = 0; r < 4; r++) {
      m[r * 4 + 1] = -m[r * 4 + 1]!;
      m[r * 4 + 2] = -m[r * 4 + 2]!;
    }
  }
  return invertRigid(m);
}

/**
 * Inverse of a rigid (rotation + translation) row-major 4×4 matrix.
 * @example
 * ```ts
 * const w2c = invertRigid(camera.cameraToWorld);
 * ```
 */
export function invertRigid(m: ArrayLike<number>): Float64Array {
  if (!m || m.length !== 16) throw new ValidationError('invertRigid', 'm', 'a row-major 4×4 matrix (16 numbers)', m);
  checkFinite('invertRigid', 'm', m);
  const out = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r * 4 + c] = m[c * 4 + r]!; // Rᵀ
  }
  for (let r = 0; r < 3; r++) {
    out[r * 4 + 3] = -(out[r * 4]! * m[3]! + out[r * 4 + 1]! * m[7]! + out[r * 4 + 2]! * m[11]!); // −Rᵀt
  }
  out[15] = 1;
  return out;
}

/**
 * Validate a camera's fields (throws ValidationError naming `fn`).
 * @example
 * ```ts
 * validateCamera(camera, 'myRenderer'); // throws ValidationError naming myRenderer
 * ```
 */
export function validateCamera(camera: PinholeCamera, fn: string): void {
  if (camera == null || typeof camera !== 'object') throw new ValidationError(fn, 'camera', 'a PinholeCamera object', camera);
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(camera[k]) || camera[k] <= 0) throw new ValidationError(fn, `camera.${k}`, 'a positive integer', camera[k]);
  }
  for (const k of ['fx', 'fy', 'cx', 'cy'] as const) {
    if (typeof camera[k] !== 'number' || !Number.isFinite(camera[k])) throw new ValidationError(fn, `camera.${k}`, 'a finite number (pixels)', camera[k]);
  }
  if (camera.fx === 0 || camera.fy === 0) throw new ValidationError(fn, 'camera.fx/fy', 'non-zero focal lengths', 0);
  if (!camera.cameraToWorld || camera.cameraToWorld.length !== 16) {
    throw new ValidationError(fn, 'camera.cameraToWorld', 'a row-major 4×4 matrix (16 numbers)', camera.cameraToWorld);
  }
  const problem = rigidProblem(camera.cameraToWorld);
  if (problem) throw new ValidationError(fn, 'camera.cameraToWorld', 'a rigid camera-to-world matrix (orthonormal rotation, det +1, last row 0 0 0 1)', problem);
  if (camera.convention !== undefined && camera.convention !== 'opencv' && camera.convention !== 'opengl') {
    throw new ValidationError(fn, 'camera.convention', "'opencv' or 'opengl'", camera.convention);
  }
}

/**
 * Why a row-major 4×4 matrix is not rigid (a rotation with det +1 and a translation, last row [0, 0, 0, 1]), or null
 * when it is. Tolerance 1e-3 on RᵀR = I (trackers write float32 matrices; scale or shear is far larger).
 *
 * @example
 * ```ts
 * rigidProblem([2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]); // 'RᵀR differs from I by 3 …'
 * rigidProblem(lookAtCamera({ eye: [0, 0, 1], target: [0, 0, 0], fx: 100, fy: 100, width: 64, height: 64 }).cameraToWorld); // null
 * ```
 */
export function rigidProblem(matrix: ArrayLike<number>): string | null {
  if (matrix.length !== 16) return `${matrix.length} values, not 16`;
  for (let i = 0; i < 16; i++) if (typeof matrix[i] !== 'number' || !Number.isFinite(matrix[i])) return `value ${i} is ${String(matrix[i])}`;
  const m = (r: number, c: number) => matrix[r * 4 + c]!;
  if (Math.abs(m(3, 0)) > 1e-6 || Math.abs(m(3, 1)) > 1e-6 || Math.abs(m(3, 2)) > 1e-6 || Math.abs(m(3, 3) - 1) > 1e-6) {
    return `last row [${m(3, 0)}, ${m(3, 1)}, ${m(3, 2)}, ${m(3, 3)}]`;
  }
  let worst = 0;
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      const dot = m(0, a) * m(0, b) + m(1, a) * m(1, b) + m(2, a) * m(2, b);
      worst = Math.max(worst, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  if (worst > 1e-3) return `RᵀR differs from I by ${worst.toPrecision(3)} (scale or shear)`;
  const det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
  if (det < 0) return `determinant ${det.toPrecision(3)} (a reflection)`;
  return null;
}

/**
 * A camera at `eye` looking at `target` (OpenCV axes; world y is up, so image up ≈ +y).
 *
 * @example
 * ```ts
 * const cam = lookAtCamera({ eye: [0, 0, 1.2], target: [0, 0, 0], fx: 1400, fy: 1400, width: 512, height: 512 });
 * ```
 */
export function lookAtCamera(o: {
  eye: [number, number, number];
  target: [number, number, number];
  up?: [number, number, number];
  fx: number;
  fy: number;
  width: number;
  height: number;
  cx?: number;
  cy?: number;
}): PinholeCamera {
  const up = o.up ?? [0, 1, 0];
  const sub = (a: number[], b: number[]) => [a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!];
  const norm = (a: number[]) => {
    const l = Math.hypot(a[0]!, a[1]!, a[2]!);
    if (l === 0) throw new ValidationError('lookAtCamera', 'eye/target/up', 'distinct, non-parallel vectors', o);
    return a.map((x) => x / l);
  };
  const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
  const z = norm(sub(o.target, o.eye)); // forward
  const x = norm(cross(z, up)); // right
  const y = cross(z, x); // down (OpenCV)
  const c2w = [x[0]!, y[0]!, z[0]!, o.eye[0], x[1]!, y[1]!, z[1]!, o.eye[1], x[2]!, y[2]!, z[2]!, o.eye[2], 0, 0, 0, 1];
  const cam: PinholeCamera = {
    width: o.width, height: o.height, fx: o.fx, fy: o.fy,
    cx: o.cx ?? o.width / 2, cy: o.cy ?? o.height / 2, cameraToWorld: c2w, convention: 'opencv',
  };
  validateCamera(cam, 'lookAtCamera');
  return cam;
}

/**
 * Project world points to pixel coordinates (continuous, in the camera's pixel convention) and depth (OpenCV z).
 *
 * @param points - `[N*3]` world positions.
 * @returns `pixels [N*2]` (u, v) and `depth [N]`.
 * @example
 * ```ts
 * const { pixels } = projectPoints(cam, landmarks3d); // 68 landmarks → [136] pixel coordinates
 * ```
 */
export function projectPoints(camera: PinholeCamera, points: ArrayLike<number>): { pixels: Float32Array; depth: Float32Array } {
  const w2c = worldToCameraCv(camera, 'projectPoints');
  if (points === null || typeof points !== 'object' || typeof points.length !== 'number' || points.length % 3 !== 0) {
    throw new ValidationError('projectPoints', 'points', 'a flat array of N×3 numbers', points);
  }
  checkFinite('projectPoints', 'points', points);
  const n = points.length / 3;
  const pixels = new Float32Array(n * 2);
  const depth = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const px = points[i * 3]!, py = points[i * 3 + 1]!, pz = points[i * 3 + 2]!;
    const x = w2c[0]! * px + w2c[1]! * py + w2c[2]! * pz + w2c[3]!;
    const y = w2c[4]! * px + w2c[5]! * py + w2c[6]! * pz + w2c[7]!;
    const z = w2c[8]! * px + w2c[9]! * py + w2c[10]! * pz + w2c[11]!;
    pixels[i * 2] = (camera.fx * x) / z + camera.cx;
    pixels[i * 2 + 1] = (camera.fy * y) / z + camera.cy;
    depth[i] = z;
  }
  return { pixels, depth };
}
