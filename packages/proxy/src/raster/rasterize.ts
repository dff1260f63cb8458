/**
 * A z-buffered triangle rasterizer in plain typed-array JavaScript (fast on the CPU, no tensors): edge functions
 * over each triangle's bounding box evaluated incrementally, perspective-correct barycentrics
 * (b_i ∝ λ_i / z_i, with λ the screen-space barycentrics), back-face culling, and a deferred shading pass that
 * reads only the visible triangle per pixel.
 *
 * Per-pixel outputs (row-major, top row first):
 * - `rgb [H*W*3]`: texture sampled bilinearly at the interpolated UV (or the constant `color`), optionally shaded
 *   (Lambert or 9-coefficient spherical harmonics, evaluated on the camera-space normal), over `background`.
 * - `normal [H*W*3]`: smooth camera-space normals encoded to [0, 1] as n·0.5 + 0.5 (OpenGL camera axes by default:
 *   x right, y up, z towards the viewer, so a surface facing the camera is (0.5, 0.5, 1)); background 0.
 * - `depth [H*W]`: OpenCV camera z (distance along the optical axis), `Infinity` where empty.
 * - `mask [H*W]`: coverage in [0, 1] (fractional at edges when supersampling).
 * - `uv [H*W*2]`, `triangleId [H*W]` (−1 where empty), `barycentrics [H*W*3]` (perspective-correct).
 *
 * Supersampling (`supersample: s`) rasterizes at s× resolution and box-filters rgb / normal / mask; the
 * geometric buffers (depth, uv, triangleId, barycentrics) come from one sample per pixel (the sample nearest the
 * pixel centre).
 *
 * @example
 * ```ts
 * import { rasterize, lookAtCamera } from '@consistent-avatar/proxy';
 * const cam = lookAtCamera({ eye: [0, 0, 2], target: [0, 0, 0], fx: 300, fy: 300, width: 128, height: 128 });
 * const quad = { positions: new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]), faces: new Uint32Array([0, 1, 2, 0, 2, 3]) };
 * const out = rasterize(quad, cam, { color: [1, 0.5, 0.2] });
 * console.log(out.depth[64 * 128 + 64]); // 2
 * ```
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';
import { type PinholeCamera, worldToCameraCv } from './camera.js';
import { sampleTextureBilinear, shBasis, type Texture } from './shading.js';

/** A triangle mesh in world coordinates. */
export interface RasterMesh {
  /** `[V*3]` world positions. */
  positions: Float32Array;
  /** `[F*3]` vertex indices, counter-clockwise seen from outside. */
  faces: Uint32Array;
  /** `[T*2]` texture coordinates (u right, v up). */
  uvs?: Float32Array;
  /** `[F*3]` indices into `uvs` per corner (default: `faces`, i.e. per-vertex UVs). */
  uvFaces?: Uint32Array;
  /** `[V*3]` world-space vertex normals (default: area-weighted from the faces). */
  normals?: Float32Array;
}

/** Options of {@link rasterize}. */
export interface RasterOptions {
  /** Albedo texture sampled at the UVs (needs `mesh.uvs`). */
  texture?: Texture;
  /** Constant albedo when there is no texture. Default [0.8, 0.8, 0.8]. */
  color?: [number, number, number];
  /** `'none'` (albedo only, default), `'lambert'`, or `'sh'` (9×3 coefficients in `sh`). */
  shading?: 'none' | 'lambert' | 'sh';
  /** Lambert: light direction in camera (OpenGL) axes, towards the light. Default [0.3, 0.4, 1]. */
  lightDirection?: [number, number, number];
  /** Lambert ambient term. Default 0.35. */
  ambient?: number;
  /** SH coefficients `[27]` (k-major, rgb-minor), DECA basis on the OpenGL camera-space normal. */
  sh?: ArrayLike<number>;
  /** Background colour. Default [0, 0, 0]. */
  background?: [number, number, number];
  /** Supersampling factor per axis (1–4). Default 1. */
  supersample?: number;
  /** Skip triangles facing away from the camera. Default true. */
  cullBackfaces?: boolean;
  /** Camera axes of the encoded normals. Default `'opengl'`. */
  normalSpace?: 'opengl' | 'opencv';
  /** Near plane (OpenCV z): triangles with a vertex closer are skipped. Default 1e-3. */
  near?: number;
}

/** Output of {@link rasterize}. */
export interface RasterOutput {
  width: number;
  height: number;
  rgb: Float32Array;
  normal: Float32Array;
  depth: Float32Array;
  mask: Float32Array;
  uv: Float32Array;
  triangleId: Int32Array;
  barycentrics: Float32Array;
}

/**
 * Area-weighted vertex normals `[V*3]` of a triangle mesh (CCW outward).
 * @example
 * ```ts
 * const normals = vertexNormals(mesh.positions, mesh.faces); // [V*3], unit length
 * ```
 */
export function vertexNormals(positions: Float32Array, faces: Uint32Array): Float32Array {
  if (!(positions instanceof Float32Array) || positions.length % 3 !== 0) throw new ValidationError('vertexNormals', 'positions', 'a Float32Array [V*3]', positions);
  checkFinite('vertexNormals', 'positions', positions); // a NaN vertex made the normals of every face around it NaN
  const n = new Float32Array(positions.length);
  for (let f = 0; f < faces.length; f += 3) {
    const a = faces[f]! * 3, b = faces[f + 1]! * 3, c = faces[f + 2]! * 3;
    const e1x = positions[b]! - positions[a]!, e1y = positions[b + 1]! - positions[a + 1]!, e1z = positions[b + 2]! - positions[a + 2]!;
    const e2x = positions[c]! - positions[a]!, e2y = positions[c + 1]! - positions[a + 1]!, e2z = positions[c + 2]! - positions[a + 2]!;
    const nx = e1y * e2z - e1z * e2y, ny = e1z * e2x - e1x * e2z, nz = e1x * e2y - e1y * e2x;
    n[a] = n[a]! + nx; n[a + 1] = n[a + 1]! + ny; n[a + 2] = n[a + 2]! + nz;
    n[b] = n[b]! + nx; n[b + 1] = n[b + 1]! + ny; n[b + 2] = n[b + 2]! + nz;
    n[c] = n[c]! + nx; n[c + 1] = n[c + 1]! + ny; n[c + 2] = n[c + 2]! + nz;
  }
  for (let i = 0; i < n.length; i += 3) {
    const l = Math.sqrt(n[i]! * n[i]! + n[i + 1]! * n[i + 1]! + n[i + 2]! * n[i + 2]!) || 1;
    n[i] = n[i]! / l;
    n[i + 1] = n[i + 1]! / l;
    n[i + 2] = n[i + 2]! / l;
  }
  return n;
}

interface Visibility {
  width: number;
  height: number;
  depth: Float32Array;
  triangleId: Int32Array;
  /** perspective-correct b0, b1 per pixel (b2 = 1 − b0 − b1). */
  bary: Float32Array;
}

/** The visibility pass: z-buffer, triangle ids and perspective-correct barycentrics. */
function visibilityPass(
  camPos: Float32Array, faces: Uint32Array, width: number, height: number,
  fx: number, fy: number, cx: number, cy: number, cull: boolean, near: number,
): Visibility {
  const numV = camPos.length / 3;
  const sx = new Float32Array(numV), sy = new Float32Array(numV), iz = new Float32Array(numV);
  for (let v = 0; v < numV; v++) {
    const z = camPos[v * 3 + 2]!;
    iz[v] = 1 / z;
    // Pixel-index space: pixel (col, row) is sampled at integer (col, row).
    sx[v] = fx * camPos[v * 3]! * iz[v]! + cx;
    sy[v] = fy * camPos[v * 3 + 1]! * iz[v]! + cy;
  }
  const n = width * height;
  const depth = new Float32Array(n).fill(Infinity);
  const triangleId = new Int32Array(n).fill(-1);
  const bary = new Float32Array(n * 2);
  const numF = faces.length / 3;
  for (let f = 0; f < numF; f++) {
    const i0 = faces[f * 3]!, i1 = faces[f * 3 + 1]!, i2 = faces[f * 3 + 2]!;
    const z0 = camPos[i0 * 3 + 2]!, z1 = camPos[i1 * 3 + 2]!, z2 = camPos[i2 * 3 + 2]!;
    if (z0 <= near || z1 <= near || z2 <= near) continue;
    if (cull) {
      // Front-facing iff the face normal points towards the camera: dot((p1−p0)×(p2−p0), p0) < 0.
      const ax = camPos[i0 * 3]!, ay = camPos[i0 * 3 + 1]!;
      const e1x = camPos[i1 * 3]! - ax, e1y = camPos[i1 * 3 + 1]! - ay, e1z = z1 - z0;
      const e2x = camPos[i2 * 3]! - ax, e2y = camPos[i2 * 3 + 1]! - ay, e2z = z2 - z0;
      const nx = e1y * e2z - e1z * e2y, ny = e1z * e2x - e1x * e2z, nz = e1x * e2y - e1y * e2x;
      if (nx * ax + ny * ay + nz * z0 >= 0) continue;
    }
    const x0 = sx[i0]!, y0 = sy[i0]!, x1 = sx[i1]!, y1 = sy[i1]!, x2 = sx[i2]!, y2 = sy[i2]!;
    let minX = Math.ceil(Math.min(x0, x1, x2)), maxX = Math.floor(Math.max(x0, x1, x2));
    let minY = Math.ceil(Math.min(y0, y1, y2)), maxY = Math.floor(Math.max(y0, y1, y2));
    if (minX < 0) minX = 0;
    if (minY < 0) minY = 0;
    if (maxX > width - 1) maxX = width - 1;
    if (maxY > height - 1) maxY = height - 1;
    if (minX > maxX || minY > maxY) continue;
    // Edge functions E_ab(p) = (b.x − a.x)(p.y − a.y) − (b.y − a.y)(p.x − a.x); w0 = E_12, w1 = E_20, w2 = E_01.
    const area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
    if (area === 0 || !Number.isFinite(area)) continue;
    const s = area > 0 ? 1 : -1;
    const invArea = 1 / (area * s);
    const a0 = -(y2 - y1) * s, b0 = (x2 - x1) * s; // ∂w0/∂x, ∂w0/∂y
    const a1 = -(y0 - y2) * s, b1 = (x0 - x2) * s;
    const a2 = -(y1 - y0) * s, b2 = (x1 - x0) * s;
    let w0row = ((x2 - x1) * (minY - y1) - (y2 - y1) * (minX - x1)) * s;
    let w1row = ((x0 - x2) * (minY - y2) - (y0 - y2) * (minX - x2)) * s;
    let w2row = ((x1 - x0) * (minY - y0) - (y1 - y0) * (minX - x0)) * s;
    const iz0 = iz[i0]!, iz1 = iz[i1]!, iz2 = iz[i2]!;
    for (let py = minY; py <= maxY; py++) {
      let w0 = w0row, w1 = w1row, w2 = w2row;
      let p = py * width + minX;
      for (let px = minX; px <= maxX; px++, p++, w0 += a0, w1 += a1, w2 += a2) {
        if (w0 < 0 || w1 < 0 || w2 < 0) continue;
        // Perspective-correct: 1/z interpolates linearly in screen space.
        const l0 = w0 * invArea * iz0, l1 = w1 * invArea * iz1, l2 = w2 * invArea * iz2;
        const invZ = l0 + l1 + l2;
        const z = 1 / invZ;
        if (z >= depth[p]!) continue;
        depth[p] = z;
        triangleId[p] = f;
        bary[p * 2] = l0 * z;
        bary[p * 2 + 1] = l1 * z;
      }
      w0row += b0;
      w1row += b1;
      w2row += b2;
    }
  }
  return { width, height, depth, triangleId, bary };
}

/**
 * Rasterize a mesh.
 *
 * @param mesh - world-space triangle mesh (with UVs when texturing).
 * @param camera - pinhole camera (see {@link PinholeCamera} for the axis conventions).
 * @param options - texture / shading / supersampling, see {@link RasterOptions}. NaN / ±Infinity in the mesh, the
 *   camera or the options are refused with a `ValidationError` naming the argument (core's non-finite policy).
 * @returns the per-pixel buffers described in the module docs.
 * @example
 * ```ts
 * const out = rasterize({ positions, faces, uvs }, camera, { texture, shading: 'sh', sh, supersample: 2 });
 * ```
 */
export function rasterize(mesh: RasterMesh, camera: PinholeCamera, options: RasterOptions = {}): RasterOutput {
  const fn = 'rasterize';
  const w2c = worldToCameraCv(camera, fn);
  if (!mesh || !(mesh.positions instanceof Float32Array) || mesh.positions.length % 3 !== 0) {
    throw new ValidationError(fn, 'mesh.positions', 'a Float32Array of V×3 world positions', mesh?.positions);
  }
  if (!(mesh.faces instanceof Uint32Array) || mesh.faces.length % 3 !== 0) {
    throw new ValidationError(fn, 'mesh.faces', 'a Uint32Array of F×3 vertex indices', mesh.faces);
  }
  const numV = mesh.positions.length / 3;
  for (let i = 0; i < mesh.faces.length; i++) {
    if (mesh.faces[i]! >= numV) throw new ValidationError(fn, `mesh.faces[${i}]`, `a vertex index < ${numV}`, mesh.faces[i]);
  }
  const ss = options.supersample ?? 1;
  if (!Number.isInteger(ss) || ss < 1 || ss > 4) throw new ValidationError(fn, 'options.supersample', 'an integer in [1, 4]', ss);
  const shading = options.shading ?? 'none';
  if (!['none', 'lambert', 'sh'].includes(shading)) throw new ValidationError(fn, 'options.shading', "'none', 'lambert' or 'sh'", shading);
  if (shading === 'sh' && (!options.sh || options.sh.length !== 27)) throw new ValidationError(fn, 'options.sh', '27 SH coefficients (9 × rgb)', options.sh);
  const tex = options.texture;
  if (tex) {
    if (!mesh.uvs) throw new ValidationError(fn, 'mesh.uvs', 'texture coordinates when options.texture is given', undefined);
    if (tex.data.length !== tex.width * tex.height * tex.channels || tex.channels < 3) {
      throw new ValidationError(fn, 'options.texture', 'a Texture with data.length = width·height·channels and ≥ 3 channels', tex);
    }
  }
  const uvFaces = mesh.uvFaces ?? mesh.faces;
  if (mesh.uvs && uvFaces.length !== mesh.faces.length) throw new ValidationError(fn, 'mesh.uvFaces', `${mesh.faces.length} indices like faces`, uvFaces);
  // The non-finite policy (core's checkFinite): a NaN vertex made its triangles vanish silently (their area is NaN).
  // The camera's intrinsics and matrix are checked by worldToCameraCv; its pixelCenter here.
  checkFinite(fn, 'mesh.positions', mesh.positions);
  if (mesh.normals) checkFinite(fn, 'mesh.normals', mesh.normals);
  if (mesh.uvs) checkFinite(fn, 'mesh.uvs', mesh.uvs);
  if (camera.pixelCenter !== undefined) checkFinite(fn, 'camera.pixelCenter', camera.pixelCenter);
  if (tex) checkFinite(fn, 'options.texture.data', tex.data);
  for (const key of ['color', 'lightDirection', 'background', 'sh'] as const) {
    const value = options[key];
    if (value !== undefined) checkFinite(fn, `options.${key}`, value);
  }
  for (const key of ['ambient', 'near'] as const) {
    const value = options[key];
    if (value !== undefined) checkFinite(fn, `options.${key}`, value);
  }

  // 1. World → OpenCV camera space (positions and normals).
  const camPos = new Float32Array(numV * 3);
  const p = mesh.positions;
  for (let v = 0; v < numV; v++) {
    const x = p[v * 3]!, y = p[v * 3 + 1]!, z = p[v * 3 + 2]!;
    camPos[v * 3] = w2c[0]! * x + w2c[1]! * y + w2c[2]! * z + w2c[3]!;
    camPos[v * 3 + 1] = w2c[4]! * x + w2c[5]! * y + w2c[6]! * z + w2c[7]!;
    camPos[v * 3 + 2] = w2c[8]! * x + w2c[9]! * y + w2c[10]! * z + w2c[11]!;
  }
  const worldN = mesh.normals ?? vertexNormals(mesh.positions, mesh.faces);
  // Normals in the output axes: OpenGL = (x, −y, −z) of OpenCV.
  const gl = (options.normalSpace ?? 'opengl') === 'opengl';
  const camN = new Float32Array(numV * 3);
  for (let v = 0; v < numV; v++) {
    const x = worldN[v * 3]!, y = worldN[v * 3 + 1]!, z = worldN[v * 3 + 2]!;
    const nx = w2c[0]! * x + w2c[1]! * y + w2c[2]! * z;
    const ny = w2c[4]! * x + w2c[5]! * y + w2c[6]! * z;
    const nz = w2c[8]! * x + w2c[9]! * y + w2c[10]! * z;
    camN[v * 3] = nx;
    camN[v * 3 + 1] = gl ? -ny : ny;
    camN[v * 3 + 2] = gl ? -nz : nz;
  }

  // 2. Visibility at ss× resolution (pixel centres at offset pixelCenter inside each pixel).
  const width = camera.width, height = camera.height;
  const W = width * ss, H = height * ss;
  const pc = camera.pixelCenter ?? 0.5;
  // Sample (col, row) of the ss-grid sits at continuous pixel coordinate ((col + 0.5) / ss − 0.5 + pc, …).
  const cxS = (camera.cx - pc + 0.5) * ss - 0.5, cyS = (camera.cy - pc + 0.5) * ss - 0.5;
  const vis = visibilityPass(camPos, mesh.faces, W, H, camera.fx * ss, camera.fy * ss, cxS, cyS, options.cullBackfaces ?? true, options.near ?? 1e-3);

  // 3. Deferred shading per sample; accumulate into pixels.
  const n = width * height;
  const out: RasterOutput = {
    width, height,
    rgb: new Float32Array(n * 3), normal: new Float32Array(n * 3), depth: new Float32Array(n).fill(Infinity),
    mask: new Float32Array(n), uv: new Float32Array(n * 2), triangleId: new Int32Array(n).fill(-1), barycentrics: new Float32Array(n * 3),
  };
  const bg = options.background ?? [0, 0, 0];
  const color = options.color ?? [0.8, 0.8, 0.8];
  const light = options.lightDirection ?? [0.3, 0.4, 1];
  const ll = Math.hypot(light[0], light[1], light[2]) || 1;
  const lx = light[0] / ll, ly = light[1] / ll, lz = light[2] / ll;
  const ambient = options.ambient ?? 0.35;
  const sh = options.sh;
  const uvs = mesh.uvs;
  const faces = mesh.faces;
  const sample = new Float32Array(tex ? tex.channels : 3);
  const inv = 1 / (ss * ss);
  const centre = Math.floor(ss / 2);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const pix = row * width + col;
      let r = 0, g = 0, b = 0, nxA = 0, nyA = 0, nzA = 0, cover = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const s = (row * ss + sy) * W + col * ss + sx;
          const f = vis.triangleId[s]!;
          const isCentre = sx === centre && sy === centre;
          if (f < 0) {
            r += bg[0]; g += bg[1]; b += bg[2];
            continue;
          }
          const b0 = vis.bary[s * 2]!, b1 = vis.bary[s * 2 + 1]!, b2 = 1 - b0 - b1;
          const v0 = faces[f * 3]! * 3, v1 = faces[f * 3 + 1]! * 3, v2 = faces[f * 3 + 2]! * 3;
          let nx = b0 * camN[v0]! + b1 * camN[v1]! + b2 * camN[v2]!;
          let ny = b0 * camN[v0 + 1]! + b1 * camN[v1 + 1]! + b2 * camN[v2 + 1]!;
          let nz = b0 * camN[v0 + 2]! + b1 * camN[v1 + 2]! + b2 * camN[v2 + 2]!;
          const nl = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1; // (Math.hypot is several times slower in V8)
          nx /= nl; ny /= nl; nz /= nl;
          let u = 0, vv = 0;
          if (uvs) {
            const t0 = uvFaces[f * 3]! * 2, t1 = uvFaces[f * 3 + 1]! * 2, t2 = uvFaces[f * 3 + 2]! * 2;
            u = b0 * uvs[t0]! + b1 * uvs[t1]! + b2 * uvs[t2]!;
            vv = b0 * uvs[t0 + 1]! + b1 * uvs[t1 + 1]! + b2 * uvs[t2 + 1]!;
          }
          let cr = color[0], cg = color[1], cb = color[2];
          if (tex) {
            sampleTextureBilinear(tex, u, vv, sample, 0);
            cr = sample[0]!; cg = sample[1]!; cb = sample[2]!;
          }
          if (shading !== 'none') {
            // Shading uses the OpenGL-axes normal (the SH / light convention), whatever normalSpace encodes.
            const gy = gl ? ny : -ny, gz = gl ? nz : -nz;
            if (shading === 'lambert') {
              const d = Math.max(0, nx * lx + gy * ly + gz * lz);
              const k = ambient + (1 - ambient) * d;
              cr *= k; cg *= k; cb *= k;
            } else {
              const basis = shBasis(nx, gy, gz);
              let sr = 0, sg = 0, sb = 0;
              for (let k = 0; k < 9; k++) {
                sr += sh![k * 3]! * basis[k]!;
                sg += sh![k * 3 + 1]! * basis[k]!;
                sb += sh![k * 3 + 2]! * basis[k]!;
              }
              cr *= sr; cg *= sg; cb *= sb;
            }
          }
          r += cr; g += cg; b += cb;
          nxA += nx * 0.5 + 0.5; nyA += ny * 0.5 + 0.5; nzA += nz * 0.5 + 0.5;
          cover += 1;
          if (isCentre || ss === 1) {
            out.depth[pix] = vis.depth[s]!;
            out.triangleId[pix] = f;
            out.barycentrics[pix * 3] = b0;
            out.barycentrics[pix * 3 + 1] = b1;
            out.barycentrics[pix * 3 + 2] = b2;
            out.uv[pix * 2] = u;
            out.uv[pix * 2 + 1] = vv;
          }
        }
      }
      out.rgb[pix * 3] = r * inv;
      out.rgb[pix * 3 + 1] = g * inv;
      out.rgb[pix * 3 + 2] = b * inv;
      out.normal[pix * 3] = nxA * inv;
      out.normal[pix * 3 + 1] = nyA * inv;
      out.normal[pix * 3 + 2] = nzA * inv;
      out.mask[pix] = cover * inv;
    }
  }
  return out;
}
