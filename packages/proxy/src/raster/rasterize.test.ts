import { describe, it, expect } from 'vitest';
import { rasterize, vertexNormals } from './rasterize.js';
import { lookAtCamera, projectPoints, type PinholeCamera } from './camera.js';
import { sampleTextureBilinear } from './shading.js';

const W = 96, H = 80;
const fx = 110, fy = 105, cx = 47.3, cy = 41.1;

/** Ray direction (OpenCV camera axes, z = 1) through the centre of pixel (col, row). */
const ray = (col: number, row: number) => [(col + 0.5 - cx) / fx, (row + 0.5 - cy) / fy, 1];

function cube(half: number): { positions: Float32Array; faces: Uint32Array } {
  const p: number[] = [];
  for (const x of [-half, half]) for (const y of [-half, half]) for (const z of [-half, half]) p.push(x, y, z);
  const idx = (x: number, y: number, z: number) => x * 4 + y * 2 + z;
  // CCW seen from outside, two triangles per face.
  const quads = [
    [idx(1, 0, 0), idx(1, 1, 0), idx(1, 1, 1), idx(1, 0, 1)], // +x
    [idx(0, 0, 0), idx(0, 0, 1), idx(0, 1, 1), idx(0, 1, 0)], // −x
    [idx(0, 1, 0), idx(0, 1, 1), idx(1, 1, 1), idx(1, 1, 0)], // +y
    [idx(0, 0, 0), idx(1, 0, 0), idx(1, 0, 1), idx(0, 0, 1)], // −y
    [idx(0, 0, 1), idx(1, 0, 1), idx(1, 1, 1), idx(0, 1, 1)], // +z
    [idx(0, 0, 0), idx(0, 1, 0), idx(1, 1, 0), idx(1, 0, 0)], // −z
  ];
  const f: number[] = [];
  for (const [a, b, c, d] of quads) f.push(a!, b!, c!, a!, c!, d!);
  return { positions: new Float32Array(p), faces: new Uint32Array(f) };
}

describe('rasterize', () => {
  it('a tilted plane gives the analytic ray–plane depth and a constant normal', () => {
    // Camera at the origin looking along +z (OpenCV identity c2w). Plane through (0, 0, 3) with normal n.
    const cam: PinholeCamera = { width: W, height: H, fx, fy, cx, cy, cameraToWorld: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] };
    const n = [0.3, -0.2, -1];
    const nl = Math.hypot(n[0]!, n[1]!, n[2]!);
    const nn = n.map((v) => v / nl);
    // Big quad in the plane: points q with n·(q − (0,0,3)) = 0; span by two tangents.
    const t1 = [1, 0, 0.3], t2 = [0, 1, -0.2];
    const corner = (a: number, b: number) => [a * t1[0]! + b * t2[0]!, a * t1[1]! + b * t2[1]!, 3 + a * t1[2]! + b * t2[2]!];
    const positions = new Float32Array([...corner(-5, -5), ...corner(5, -5), ...corner(5, 5), ...corner(-5, 5)]);
    // Orientation: make the triangles face the camera (normal towards −z, i.e. to the origin).
    const out = rasterize({ positions, faces: new Uint32Array([0, 2, 1, 0, 3, 2]) }, cam, { cullBackfaces: false });
    let maxErr = 0, maxNErr = 0, covered = 0;
    for (let row = 0; row < H; row++) {
      for (let col = 0; col < W; col++) {
        const p = row * W + col;
        if (out.mask[p] === 0) continue;
        covered++;
        const d = ray(col, row);
        // depth z along the optical axis where the ray hits the plane: n·(s·d − (0,0,3)) = 0 → s = 3 n_z / (n·d).
        const s = (3 * nn[2]!) / (nn[0]! * d[0]! + nn[1]! * d[1]! + nn[2]! * d[2]!);
        maxErr = Math.max(maxErr, Math.abs(out.depth[p]! - s) / s);
        // Encoded normal in OpenGL camera axes: the face normal facing the camera, (x, −y, −z) of OpenCV.
        const facing = nn[2]! < 0 ? nn : nn.map((v) => -v);
        const expected = [facing[0]!, -facing[1]!, -facing[2]!].map((v) => v * 0.5 + 0.5);
        for (let c = 0; c < 3; c++) maxNErr = Math.max(maxNErr, Math.abs(out.normal[p * 3 + c]! - expected[c]!));
      }
    }
    expect(covered).toBe(W * H);
    expect(maxErr).toBeLessThan(1e-5); // float32 arithmetic, relative
    expect(maxNErr).toBeLessThan(1e-5);
  });

  it('a cube seen obliquely: depth, normals and triangle ids agree with ray casting', () => {
    const cam = lookAtCamera({ eye: [2.2, 1.7, 2.9], target: [0, 0, 0], fx, fy, cx, cy, width: W, height: H });
    const { positions, faces } = cube(0.6);
    // Flat shading: give each face corner its own vertex so normals are the face normals.
    const flatPos = new Float32Array(faces.length * 3);
    for (let i = 0; i < faces.length; i++) for (let c = 0; c < 3; c++) flatPos[i * 3 + c] = positions[faces[i]! * 3 + c]!;
    const flatFaces = Uint32Array.from({ length: faces.length }, (_, i) => i);
    const out = rasterize({ positions: flatPos, faces: flatFaces }, cam);
    const c2w = cam.cameraToWorld;
    const faceNormals = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]];
    let hits = 0, maxDepthErr = 0, maxNErr = 0, idMismatch = 0;
    for (let row = 0; row < H; row++) {
      for (let col = 0; col < W; col++) {
        const p = row * W + col;
        // Cast the ray in world space and intersect the cube analytically (slab method).
        const dc = ray(col, row);
        const dw = [0, 1, 2].map((r) => c2w[r * 4]! * dc[0]! + c2w[r * 4 + 1]! * dc[1]! + c2w[r * 4 + 2]! * dc[2]!);
        const o = [c2w[3]!, c2w[7]!, c2w[11]!];
        let tNear = -Infinity, tFar = Infinity, axis = -1, sign = 0;
        for (let a = 0; a < 3; a++) {
          const t1 = (-0.6 - o[a]!) / dw[a]!, t2 = (0.6 - o[a]!) / dw[a]!;
          const lo = Math.min(t1, t2), hi = Math.max(t1, t2);
          if (lo > tNear) { tNear = lo; axis = a; sign = t1 < t2 ? -1 : 1; }
          tFar = Math.min(tFar, hi);
        }
        const hit = tNear <= tFar && tNear > 0;
        // Skip pixels within ~1 px of a silhouette or cube edge, where the sample may fall on either side.
        if (!hit) {
          if (out.mask[p] !== 0 && tNear - tFar < -0.02) idMismatch++;
          continue;
        }
        if (tFar - tNear < 0.02) continue;
        if (out.mask[p] === 0) { idMismatch++; continue; }
        hits++;
        maxDepthErr = Math.max(maxDepthErr, Math.abs(out.depth[p]! - tNear) / tNear); // z of a z=1 ray = t
        const faceIdx = Math.floor(out.triangleId[p]! / 2);
        const expectedFace = axis * 2 + (sign > 0 ? 0 : 1);
        const nw = faceNormals[faceIdx]!;
        if (faceIdx !== expectedFace) { idMismatch++; continue; }
        // world normal → OpenCV camera (Rᵀ n) → OpenGL (x, −y, −z) → encoded.
        const ncv = [0, 1, 2].map((c) => c2w[c]! * nw[0]! + c2w[4 + c]! * nw[1]! + c2w[8 + c]! * nw[2]!);
        const enc = [ncv[0]!, -ncv[1]!, -ncv[2]!].map((v) => v * 0.5 + 0.5);
        for (let c = 0; c < 3; c++) maxNErr = Math.max(maxNErr, Math.abs(out.normal[p * 3 + c]! - enc[c]!));
      }
    }
    expect(hits).toBeGreaterThan(500);
    expect(idMismatch).toBe(0);
    expect(maxDepthErr).toBeLessThan(1e-5);
    expect(maxNErr).toBeLessThan(1e-5);
  });

  it('OpenGL and OpenCV camera-to-world conventions render the same image', () => {
    const cv = lookAtCamera({ eye: [0.5, 0.3, 3], target: [0, 0, 0], fx, fy, cx, cy, width: W, height: H });
    const m = Array.from(cv.cameraToWorld);
    for (let r = 0; r < 4; r++) { m[r * 4 + 1] = -m[r * 4 + 1]!; m[r * 4 + 2] = -m[r * 4 + 2]!; }
    const glCam: PinholeCamera = { ...cv, cameraToWorld: m, convention: 'opengl' };
    const mesh = cube(0.5);
    const a = rasterize(mesh, cv, { shading: 'lambert' });
    const b = rasterize(mesh, glCam, { shading: 'lambert' });
    expect(Array.from(b.depth)).toEqual(Array.from(a.depth));
    expect(Array.from(b.rgb)).toEqual(Array.from(a.rgb));
    // Projection of the cube centre lands on the principal point region.
    const { pixels } = projectPoints(glCam, new Float32Array([0, 0, 0]));
    const col = Math.floor(pixels[0]!), row = Math.floor(pixels[1]!);
    expect(a.mask[row * W + col]).toBe(1);
  });

  it('textures with perspective-correct UVs and supersamples edges', () => {
    const cam: PinholeCamera = { width: 64, height: 64, fx: 64, fy: 64, cx: 32, cy: 32, cameraToWorld: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] };
    // A quad receding in depth (z from 1 to 3); u along x, v along y.
    const positions = new Float32Array([-0.3, -0.3, 1, 0.9, -0.3, 3, 0.9, 0.3, 3, -0.3, 0.3, 1]);
    const uvs = new Float32Array([0, 1, 1, 1, 1, 0, 0, 0]);
    const faces = new Uint32Array([0, 2, 1, 0, 3, 2]);
    const out = rasterize({ positions, faces, uvs }, cam, { cullBackfaces: false });
    // Invert the projection at a covered pixel and compare u with the analytic value along the quad.
    let checked = 0;
    for (let p = 0; p < 64 * 64; p++) {
      if (out.mask[p] !== 1) continue;
      const col = p % 64, row = Math.floor(p / 64);
      const z = out.depth[p]!;
      const x = ((col + 0.5 - 32) / 64) * z;
      const uExpected = (x + 0.3) / 1.2;
      expect(Math.abs(out.uv[p * 2]! - uExpected)).toBeLessThan(1e-4);
      expect(Math.abs((z - 1) / 2 - uExpected)).toBeLessThan(1e-4);
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
    const ss = rasterize({ positions, faces, uvs }, cam, { cullBackfaces: false, supersample: 3 });
    const partial = Array.from(ss.mask).filter((m) => m > 0 && m < 1).length;
    expect(partial).toBeGreaterThan(10);
    const total1 = out.mask.reduce((a, b) => a + b, 0), total3 = ss.mask.reduce((a, b) => a + b, 0);
    expect(Math.abs(total1 - total3) / total1).toBeLessThan(0.05);
  });

  it('lookAtCamera puts world up at the top of the image and the subject\'s left (+x seen from +z) on the right', () => {
    const cam = lookAtCamera({ eye: [0, 0, 2], target: [0, 0, 0], fx: 100, fy: 100, width: 64, height: 64 });
    const { pixels, depth } = projectPoints(cam, new Float32Array([0, 0.5, 0, 0.5, 0, 0]));
    expect(pixels[1]).toBeLessThan(32); // +y above the centre
    expect(pixels[2]).toBeGreaterThan(32); // +x right of the centre
    expect(depth[0]).toBeCloseTo(2, 6);
  });

  it('bilinear texture sampling hits texel centres exactly', () => {
    const tex = { width: 4, height: 2, channels: 3, data: Float32Array.from({ length: 24 }, (_, i) => i) };
    const out = new Float32Array(3);
    sampleTextureBilinear(tex, 2.5 / 4, 1 - 0.5 / 2, out, 0); // texel (2, 0)
    expect(Array.from(out)).toEqual([6, 7, 8]);
    sampleTextureBilinear(tex, 2 / 4, 1 - 0.5 / 2, out, 0); // halfway between texels 1 and 2 of row 0
    expect(Array.from(out)).toEqual([4.5, 5.5, 6.5]);
  });

  it('vertex normals of a cube point outward', () => {
    const { positions, faces } = cube(1);
    const n = vertexNormals(positions, faces);
    for (let v = 0; v < 8; v++) {
      const dot = n[v * 3]! * positions[v * 3]! + n[v * 3 + 1]! * positions[v * 3 + 1]! + n[v * 3 + 2]! * positions[v * 3 + 2]!;
      expect(dot).toBeGreaterThan(0);
    }
  });

  it('rejects bad input with clear errors', () => {
    const cam = lookAtCamera({ eye: [0, 0, 2], target: [0, 0, 0], fx: 10, fy: 10, width: 8, height: 8 });
    expect(() => rasterize({ positions: new Float32Array(4), faces: new Uint32Array(3) }, cam)).toThrow(/rasterize: argument 'mesh.positions'/);
    expect(() => rasterize({ positions: new Float32Array(9), faces: new Uint32Array([0, 1, 3]) }, cam)).toThrow(/mesh.faces\[2\]/);
    expect(() => rasterize(cube(1), { ...cam, width: 0 })).toThrow(/camera.width/);
    expect(() => rasterize(cube(1), cam, { supersample: 9 })).toThrow(/supersample/);
  });
});
