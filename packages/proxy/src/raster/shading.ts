/**
 * Texture sampling and shading used by the rasterizer: bilinear UV lookup (u right, v **up**, OBJ convention:
 * v = 1 is the top row of the texture image), DECA's 9-coefficient spherical-harmonics irradiance and Lambert.
 *
 * @example
 * ```ts
 * import { sampleTextureBilinear, shBasis } from '@consistent-avatar/proxy';
 * const tex = { width: 2, height: 2, channels: 3, data: new Float32Array(12).fill(0.5) };
 * const rgb = new Float32Array(3);
 * sampleTextureBilinear(tex, 0.5, 0.5, rgb, 0); // rgb = [0.5, 0.5, 0.5]
 * const basis = shBasis(0, 0, 1);              // 9 numbers
 * ```
 *
 * Non-finite numbers: `sampleTextureBilinear` and `shBasis` run once per pixel inside `rasterize`, which checks the
 * UVs, normals and texture first; they do not check again and carry a NaN coordinate or normal to their output.
 */
import { checkFinite } from '@consistent-avatar/core';

/** A float image `[height, width, channels]` row-major, top row first, values usually in [0, 1]. */
export interface Texture {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/**
 * Bilinear texture lookup with clamp-to-edge; writes `channels` values into `out` at `offset`.
 * Texel (i, j) centre is at u = (i + 0.5) / W, v = 1 − (j + 0.5) / H.
 * @example
 * ```ts
 * const rgb = new Float32Array(3);
 * sampleTextureBilinear(texture, 0.5, 0.5, rgb, 0);
 * ```
 */
export function sampleTextureBilinear(tex: Texture, u: number, v: number, out: Float32Array, offset: number): void {
  const w = tex.width, h = tex.height, c = tex.channels, d = tex.data;
  let x = u * w - 0.5;
  let y = (1 - v) * h - 0.5;
  if (x < 0) x = 0; else if (x > w - 1) x = w - 1;
  if (y < 0) y = 0; else if (y > h - 1) y = h - 1;
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
  const fx = x - x0, fy = y - y0;
  const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
  const i00 = (y0 * w + x0) * c, i10 = (y0 * w + x1) * c, i01 = (y1 * w + x0) * c, i11 = (y1 * w + x1) * c;
  for (let k = 0; k < c; k++) out[offset + k] = w00 * d[i00 + k]! + w10 * d[i10 + k]! + w01 * d[i01 + k]! + w11 * d[i11 + k]!;
}

/**
 * DECA's SH constant factors (bands 0–2, irradiance convolution folded in).
 * @example
 * ```ts
 * console.log(SH_CONSTANTS[0]); // 1/√(4π)
 * ```
 */
export const SH_CONSTANTS: readonly number[] = (() => {
  const pi = Math.PI;
  const c1 = ((2 * pi) / 3) * Math.sqrt(3 / (4 * pi));
  const c2 = (pi / 4) * 3 * Math.sqrt(5 / (12 * pi));
  return [1 / Math.sqrt(4 * pi), c1, c1, c1, c2, c2, c2, (pi / 4) * (3 / 2) * Math.sqrt(5 / (12 * pi)), (pi / 4) * 0.5 * Math.sqrt(5 / (4 * pi))];
})();

/**
 * The 9 SH basis values (times DECA's constants) for a unit normal: [1, x, y, z, xy, xz, yz, x²−y², 3z²−1].
 * Shading for channel c is Σ_k coeffs[k·3 + c] · basis[k].
 * @example
 * ```ts
 * const basis = shBasis(0, 0, 1); // 9 values for a normal facing the camera
 * ```
 */
export function shBasis(nx: number, ny: number, nz: number): number[] {
  const k = SH_CONSTANTS;
  return [k[0]!, k[1]! * nx, k[2]! * ny, k[3]! * nz, k[4]! * nx * ny, k[5]! * nx * nz, k[6]! * ny * nz, k[7]! * (nx * nx - ny * ny), k[8]! * (3 * nz * nz - 1)];
}

/**
 * SH coefficients `[9*3]` (k-major, rgb-minor) of a soft frontal light with the given ambient level (basis 0 only → ambient).
 * @example
 * ```ts
 * rasterize(mesh, camera, { texture, shading: 'sh', sh: defaultShCoefficients() });
 * ```
 */
export function defaultShCoefficients(ambient = 0.75, frontal = 0.35, fromAbove = 0.15): Float32Array {
  checkFinite('defaultShCoefficients', 'ambient', ambient);
  checkFinite('defaultShCoefficients', 'frontal', frontal);
  checkFinite('defaultShCoefficients', 'fromAbove', fromAbove);
  const coeffs = new Float32Array(27);
  for (let c = 0; c < 3; c++) {
    coeffs[c] = ambient / SH_CONSTANTS[0]!;
    coeffs[3 * 3 + c] = frontal / SH_CONSTANTS[3]!; // towards the camera (+z in OpenGL camera axes)
    coeffs[2 * 3 + c] = fromAbove / SH_CONSTANTS[2]!; // from above (+y)
  }
  return coeffs;
}
