/**
 * A 68-point landmark embedding for the **synthetic** head in the iBUG-300W layout (jaw 0–16, brows 17–26, nose
 * 27–35, eyes 36–47, mouth 48–67; index 0 is on the subject's right, i.e. the image left), stored as FLAME stores
 * its static landmarks: a triangle per landmark and barycentric coordinates (`lmk_faces_idx`, `lmk_bary_coords`).
 * The points are placed in face-angle space (see `surface.ts`) and embedded in the skin triangle that contains them,
 * so they follow expressions and pose like FLAME's.
 *
 * @example
 * ```ts
 * import { buildSyntheticTopology, syntheticLandmarkEmbedding } from '@consistent-avatar/proxy';
 * const { faceIndices, barycentrics } = syntheticLandmarkEmbedding(buildSyntheticTopology()); // 68 faces, 68×3 weights
 * ```
 */
import { Region, type SyntheticTopology } from './geometry.js';
import { SYNTHETIC_FACE } from './surface.js';

/**
 * The 68 landmark positions in face angles [X, Y] (X > 0 is the subject's left).
 *
 * @example
 * ```ts
 * const [noseTipX, noseTipY] = syntheticLandmarkAngles()[30];
 * ```
 */
export function syntheticLandmarkAngles(): [number, number][] {
  const F = SYNTHETIC_FACE;
  const pts: [number, number][] = [];
  // Jaw 0–16: from the right ear down round the chin to the left ear.
  for (let i = 0; i < 17; i++) {
    const a = -Math.PI / 2 + (Math.PI * i) / 16;
    pts.push([0.95 * Math.sin(a), -0.12 - (Math.abs(F.chinY) - 0.12) * Math.cos(a)]);
  }
  // Brows 17–21 (right, outer → inner) and 22–26 (left, inner → outer), on the brow arc.
  const browY = (ax: number) => F.browY + 0.035 - 0.14 * ((ax - 0.38) / 0.3) ** 2;
  for (const ax of [0.62, 0.5, 0.38, 0.26, 0.14]) pts.push([-ax, browY(ax)]);
  for (const ax of [0.14, 0.26, 0.38, 0.5, 0.62]) pts.push([ax, browY(ax)]);
  // Nose bridge 27–30 and base 31–35.
  for (let i = 0; i < 4; i++) pts.push([0, 0.06 + ((F.noseTipY + 0.01 - 0.06) * i) / 3]);
  for (const x of [-0.12, -0.06, 0, 0.06, 0.12]) pts.push([x, F.noseTipY - 0.09 + 0.02 * (Math.abs(x) > 0.1 ? 1 : 0)]);
  // Eyes: right 36–41 (outer corner, upper ×2, inner corner, lower ×2), left 42–47 (inner corner first).
  const eye = (sign: number, order: [number, number][]) => order.forEach(([dx, dy]) => pts.push([sign * (F.eyeX + dx), F.eyeY + dy]));
  eye(-1, [[0.11, 0], [0.04, 0.035], [-0.04, 0.035], [-0.1, 0], [-0.04, -0.03], [0.04, -0.03]]);
  eye(1, [[-0.1, 0], [-0.04, 0.035], [0.04, 0.035], [0.11, 0], [0.04, -0.03], [-0.04, -0.03]]);
  // Outer lips 48–59: right corner, upper lip to the left corner (54), lower lip back.
  const m = F.mouthHalfWidth * 0.97;
  pts.push([-m, F.lipY + 0.002]);
  for (const [x, dy] of [[-0.6, 0.045], [-0.25, 0.06], [0, 0.05], [0.25, 0.06], [0.6, 0.045]] as const) pts.push([x * m, F.lipY + dy]);
  pts.push([m, F.lipY + 0.002]);
  for (const [x, dy] of [[0.6, -0.06], [0.25, -0.08], [0, -0.085], [-0.25, -0.08], [-0.6, -0.06]] as const) pts.push([x * m, F.lipY + dy]);
  // Inner lips 60–67: corners, upper inner edge, lower inner edge (just above / below the lip slit).
  pts.push([-m * 0.9, F.lipY + 0.004]);
  for (const x of [-0.45, 0, 0.45]) pts.push([x * m, F.lipY + 0.006]);
  pts.push([m * 0.9, F.lipY + 0.004]);
  for (const x of [0.45, 0, -0.45]) pts.push([x * m, F.lipY - 0.006]);
  return pts;
}

/**
 * Embed the 68 landmarks in the synthetic head's skin triangles.
 *
 * @returns `faceIndices [68]` and `barycentrics [68*3]` (FLAME's `lmk_faces_idx` / `lmk_bary_coords`).
 * @example
 * ```ts
 * const emb = syntheticLandmarkEmbedding(buildSyntheticTopology());
 * ```
 */
export function syntheticLandmarkEmbedding(topology: SyntheticTopology): { faceIndices: Int32Array; barycentrics: Float32Array } {
  const { faces, angleX, angleY, region } = topology;
  const pts = syntheticLandmarkAngles();
  const faceIndices = new Int32Array(pts.length).fill(-1);
  const barycentrics = new Float32Array(pts.length * 3);
  for (let f = 0; f < faces.length / 3; f++) {
    const a = faces[f * 3]!, b = faces[f * 3 + 1]!, c = faces[f * 3 + 2]!;
    const ra = region[a]!, rb = region[b]!, rc = region[c]!;
    const skin = (r: number) => r === Region.Skin || r === Region.LowerLip;
    if (!skin(ra) || !skin(rb) || !skin(rc)) continue;
    const xa = angleX[a]!, ya = angleY[a]!, xb = angleX[b]!, yb = angleY[b]!, xc = angleX[c]!, yc = angleY[c]!;
    if (Math.max(xa, xb, xc) - Math.min(xa, xb, xc) > Math.PI) continue; // the back seam
    const det = (yb - yc) * (xa - xc) + (xc - xb) * (ya - yc);
    if (Math.abs(det) < 1e-12) continue;
    for (let k = 0; k < pts.length; k++) {
      if (faceIndices[k]! >= 0) continue;
      const [px, py] = pts[k]!;
      const l0 = ((yb - yc) * (px - xc) + (xc - xb) * (py - yc)) / det;
      const l1 = ((yc - ya) * (px - xc) + (xa - xc) * (py - yc)) / det;
      const l2 = 1 - l0 - l1;
      if (l0 < -1e-9 || l1 < -1e-9 || l2 < -1e-9) continue;
      // Lip landmarks must sit on the right side of the slit: lower-lip points on faces that use lower-lip copies.
      const wantsLower = py < SYNTHETIC_FACE.lipY && Math.abs(px) < SYNTHETIC_FACE.mouthHalfWidth;
      const usesLower = ra === Region.LowerLip || rb === Region.LowerLip || rc === Region.LowerLip;
      const upperSlit = (v: number) => region[v] === Region.Skin && Math.abs(angleY[v]! - SYNTHETIC_FACE.lipY) < 1e-9 && Math.abs(angleX[v]!) < SYNTHETIC_FACE.mouthHalfWidth;
      const usesUpper = upperSlit(a) || upperSlit(b) || upperSlit(c);
      if ((usesLower && !wantsLower) || (usesUpper && wantsLower)) continue;
      faceIndices[k] = f;
      barycentrics.set([l0, l1, l2], k * 3);
    }
  }
  const missing = [...faceIndices].findIndex((f) => f < 0);
  if (missing >= 0) throw new Error(`synthetic landmark ${missing} is not inside any skin triangle`);
  return { faceIndices, barycentrics };
}
