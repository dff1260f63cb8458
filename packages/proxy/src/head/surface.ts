/**
 * The synthetic head's rest surface as a function of face angles (X = azimuth, 0 at the front, positive towards
 * the head's left = +x; Y = elevation, 0 at eye level, positive up). Metres; y up, the face looks along +z.
 * Shared by the mesh builder, the blendshapes and the procedural texture so all three agree on where features are.
 *
 * Labelled **synthetic** everywhere: this is a procedural stand-in for FLAME, not a scan of anyone.
 *
 * @example
 * ```ts
 * import { SYNTHETIC_FACE, syntheticSurfacePoint } from '@consistent-avatar/proxy';
 * const noseTip = syntheticSurfacePoint(0, SYNTHETIC_FACE.noseTipY); // [x, y, z] in metres
 * ```
 */
import { checkFinite } from '@consistent-avatar/core';

/**
 * Landmark angles (radians) of the synthetic face layout.
 * @example
 * ```ts
 * const mouthCorner = syntheticSurfacePoint(SYNTHETIC_FACE.mouthHalfWidth, SYNTHETIC_FACE.lipY);
 * ```
 */
export const SYNTHETIC_FACE = {
  eyeX: 0.4,
  eyeY: 0.02,
  browY: 0.22,
  noseTipY: -0.33,
  lipY: -0.6,
  mouthHalfWidth: 0.3,
  chinY: -0.98,
  /** Elevation below which the surface turns into the neck. */
  neckStartY: -0.95,
} as const;

/**
 * Gaussian bump in face-angle space.
 * @example
 * ```ts
 * bump(0, 0, 0, 0, 1, 1); // 1 at the centre
 * ```
 */
export function bump(x: number, y: number, cx: number, cy: number, sx: number, sy: number): number {
  const dx = (x - cx) / sx, dy = (y - cy) / sy;
  return Math.exp(-0.5 * (dx * dx + dy * dy));
}

/**
 * Smoothstep from edge0 to edge1 (edge0 may exceed edge1 for a falling step).
 * @example
 * ```ts
 * smoothstep(0, 1, 0.5); // 0.5
 * ```
 */
export function smoothstep(edge0: number, edge1: number, v: number): number {
  const t = Math.min(1, Math.max(0, (v - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

/**
 * Radial relief of the face (metres along the outward direction) at (X, Y): nose, brows, sockets, lips, chin, ears.
 * @example
 * ```ts
 * faceRelief(0, SYNTHETIC_FACE.noseTipY); // ≈ 0.02 m: the nose
 * ```
 */
export function faceRelief(x: number, y: number): number {
  const F = SYNTHETIC_FACE;
  const ax = Math.abs(x);
  let d = 0;
  // Flatten the front a little (a face is flatter than an ellipsoid) and bring the lower face forward.
  d += 0.006 * Math.pow(Math.max(0, Math.cos(x)), 4) * smoothstep(0.9, 0.3, y) * smoothstep(-1.15, -0.6, y);
  d -= 0.0075 * bump(ax, y, F.eyeX, F.eyeY, 0.15, 0.08); // eye sockets
  d += 0.0045 * bump(ax, y, 0.36, F.browY, 0.2, 0.055); // brow ridge
  d += 0.0065 * bump(x, y, 0, -0.08, 0.05, 0.2); // nose bridge
  d += 0.021 * bump(x, y, 0, F.noseTipY, 0.07, 0.08); // nose tip
  d += 0.006 * bump(ax, y, 0.1, F.noseTipY - 0.05, 0.045, 0.045); // alae
  d -= 0.006 * bump(x, y, 0, F.noseTipY - 0.13, 0.09, 0.03); // under the nose
  d += 0.0035 * bump(x, y, 0, F.lipY + 0.06, 0.2, 0.045); // upper lip
  d += 0.004 * bump(x, y, 0, F.lipY - 0.07, 0.18, 0.05); // lower lip
  d -= 0.0035 * bump(x, y, 0, F.lipY - 0.2, 0.16, 0.05); // mentolabial sulcus
  d += 0.009 * bump(x, y, 0, F.chinY + 0.1, 0.16, 0.11); // chin
  d += 0.0035 * bump(ax, y, 0.5, -0.22, 0.17, 0.15); // cheekbones
  d += 0.012 * bump(ax, y, Math.PI / 2, -0.08, 0.09, 0.2); // ears
  return d;
}

/**
 * Unit direction of face angles (X, Y).
 * @example
 * ```ts
 * faceDirection(0, 0); // [0, 0, 1]: straight ahead
 * ```
 */
export function faceDirection(x: number, y: number): [number, number, number] {
  return [Math.cos(y) * Math.sin(x), Math.sin(y), Math.cos(y) * Math.cos(x)];
}

/**
 * Rest surface point at face angles (X, Y): a super-ellipsoid cranium with relief, narrowing jaw, and a neck
 * below `neckStartY` (Y = −π/2 is the bottom of the neck).
 * @example
 * ```ts
 * const [x, y, z] = syntheticSurfacePoint(0, 0); // the skin between the eyes
 * ```
 */
export function syntheticSurfacePoint(x: number, y: number): [number, number, number] {
  checkFinite('syntheticSurfacePoint', 'x', x);
  checkFinite('syntheticSurfacePoint', 'y', y);
  const [dx, dy, dz] = faceDirection(x, y);
  const a = 0.077, b = 0.112, c = 0.1, n = 2.4;
  const r = Math.pow(Math.pow(Math.abs(dx / a), n) + Math.pow(Math.abs(dy / b), n) + Math.pow(Math.abs(dz / c), n), -1 / n);
  const rel = faceRelief(x, y);
  let px = dx * (r + rel), py = dy * (r + rel), pz = dz * (r + rel);
  // Narrower jaw towards the chin.
  px *= 1 - 0.2 * smoothstep(-0.2, -1.0, y);
  // Neck: blend to a cylinder under the head.
  const t = smoothstep(SYNTHETIC_FACE.neckStartY, -1.35, y);
  if (t > 0) {
    const neckR = 0.05;
    const depth = (SYNTHETIC_FACE.neckStartY - y) / (Math.PI / 2 + SYNTHETIC_FACE.neckStartY); // 0 … 1
    // Close the neck with a cap in the last 8 % (the bottom row collapses to a point: the mesh stays closed).
    const capR = neckR * Math.min(1, (1 - depth) / 0.08);
    const nx = capR * Math.sin(x), nz = -0.018 + capR * Math.cos(x), ny = -0.075 - 0.1 * Math.min(1, depth);
    px = px * (1 - t) + nx * t;
    py = py * (1 - t) + ny * t;
    pz = pz * (1 - t) + nz * t;
  }
  return [px, py, pz];
}
