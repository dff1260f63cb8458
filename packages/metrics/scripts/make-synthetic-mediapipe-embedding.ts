/**
 * Build the **synthetic** head's MediaPipe landmark embedding — the file FLAME ships as
 * `mediapipe_landmark_embedding.npz` (a triangle and barycentric coordinates per MediaPipe face-mesh index), made
 * for the synthetic head the way such embeddings are made: by detecting the landmarks on renders of the model.
 *
 * 1. Render synthetic identity 0 (neutral expression, mouth closed) at 512² under 7 head rotations.
 * 2. Run `@vladmandic/human`'s face mesh (MediaPipe's 468 points + 10 iris points) on each render.
 * 3. For each of the 468 points, read the visible triangle and its perspective-correct barycentrics under the
 *    landmark's pixel (the rasterizer's `triangleId` / `barycentrics` buffers) and map the hit to the rest mesh.
 * 4. Keep a point when it lands on skin or lip in every view and its rest-mesh hits agree (spread ≤ MAX_SPREAD_M):
 *    sliding silhouette points (the face oval seen from the side) and points on the eyeballs are dropped, as
 *    FLAME's embedding drops them. The kept point's triangle is the view whose hit is nearest the median hit.
 *
 * Only identity 0 at a neutral expression is used, so the tracker's accuracy bench (other identities, poses and
 * expressions) is measured on renders the embedding never saw.
 *
 * Run (writes packages/proxy/src/track/synthetic-mediapipe-embedding.data.ts):
 *   node --conditions=source --import tsx packages/metrics/scripts/make-synthetic-mediapipe-embedding.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@consistent-avatar/core';
import { createSyntheticHead, defaultShCoefficients, lookAtCamera, rasterize } from '@consistent-avatar/proxy';
import { FaceAnalyzer } from '../src/face-analyzer.js';

const SIZE = 512;
const MAX_SPREAD_M = 0.006;
const VIEWS: [number, number, number][] = [[0, 0, 0], [0, 0.3, 0], [0, -0.3, 0], [0.2, 0, 0], [-0.2, 0, 0], [0.1, 0.15, 0.1], [-0.1, -0.15, -0.1]];
const OUT = fileURLToPath(new URL('../../proxy/src/track/synthetic-mediapipe-embedding.data.ts', import.meta.url));

await initBackend('wasm');
const analyzer = await FaceAnalyzer.create();
const head = createSyntheticHead({ identity: 0, textureSize: 1024 });
const { positions: rest, region } = head.topology;
const faces = head.faces;
// The camera of the synthetic datasets at 512² (syntheticCamera), built here to keep the script self-describing.
const camera = lookAtCamera({ eye: [0, -0.01, 0.62], target: [0, -0.018, 0], fx: 1.95 * SIZE, fy: 1.95 * SIZE, width: SIZE, height: SIZE });
type Hit = { face: number; bary: [number, number, number]; restPoint: [number, number, number] } | null;
const hits: Hit[][] = Array.from({ length: 468 }, () => []);
for (const rotation of VIEWS) {
  const positions = head.vertices({ paperPose: [...rotation, 0, 0, 0] });
  const r = rasterize({ positions, faces, uvs: head.uvs }, camera, { texture: head.albedo(), shading: 'sh', sh: defaultShCoefficients(), supersample: 2 });
  const [face] = await analyzer.analyze({ width: SIZE, height: SIZE, channels: 3, data: r.rgb });
  if (!face) throw new Error(`no face detected in the view rotated by ${rotation.join(', ')}`);
  for (let k = 0; k < 468; k++) {
    const col = Math.min(SIZE - 1, Math.max(0, Math.floor(face.mesh[k * 3]!)));
    const row = Math.min(SIZE - 1, Math.max(0, Math.floor(face.mesh[k * 3 + 1]!)));
    const pixel = row * SIZE + col;
    const t = r.triangleId[pixel]!;
    const corners = t >= 0 ? [faces[t * 3]!, faces[t * 3 + 1]!, faces[t * 3 + 2]!] : [];
    // Skin (0) and lower lip (1) only: eyeballs turn with the gaze and the mouth cavity is not the face surface.
    if (t < 0 || corners.some((v) => region[v]! > 1)) {
      hits[k]!.push(null);
      continue;
    }
    const bary: [number, number, number] = [r.barycentrics[pixel * 3]!, r.barycentrics[pixel * 3 + 1]!, r.barycentrics[pixel * 3 + 2]!];
    const restPoint = [0, 1, 2].map((axis) => corners.reduce((s, v, c) => s + bary[c]! * rest[v * 3 + axis]!, 0)) as [number, number, number];
    hits[k]!.push({ face: t, bary, restPoint });
  }
}
const landmarkIndices: number[] = [];
const faceIndices: number[] = [];
const barycentrics: number[] = [];
let dropped = 0;
for (let k = 0; k < 468; k++) {
  const seen = hits[k]!.filter((h): h is NonNullable<Hit> => h !== null);
  if (seen.length < VIEWS.length) {
    dropped++;
    continue;
  }
  const median = [0, 1, 2].map((axis) => {
    const values = seen.map((h) => h.restPoint[axis]!).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  });
  const distance = (h: NonNullable<Hit>) => Math.hypot(h.restPoint[0] - median[0]!, h.restPoint[1] - median[1]!, h.restPoint[2] - median[2]!);
  const spread = Math.max(...seen.map(distance));
  if (spread > MAX_SPREAD_M) {
    dropped++;
    continue;
  }
  const best = seen.reduce((a, b) => (distance(b) < distance(a) ? b : a));
  landmarkIndices.push(k);
  faceIndices.push(best.face);
  barycentrics.push(...best.bary.map((v) => Number(v.toFixed(6))));
}
head.dispose();
analyzer.dispose();
const text = `/**
 * GENERATED by packages/metrics/scripts/make-synthetic-mediapipe-embedding.ts — do not edit by hand.
 * The synthetic head's MediaPipe landmark embedding (${landmarkIndices.length} of the 468 face-mesh points; ${dropped} dropped as
 * off-skin or inconsistent across ${VIEWS.length} views, spread > ${MAX_SPREAD_M * 1000} mm), in the layout of FLAME's
 * \`mediapipe_landmark_embedding.npz\`: \`landmark_indices\`, \`lmk_face_idx\`, \`lmk_b_coords\`.
 */
/** MediaPipe face-mesh index per landmark. */
export const SYNTHETIC_MEDIAPIPE_LANDMARK_INDICES: readonly number[] = ${JSON.stringify(landmarkIndices)};
/** Synthetic-head triangle per landmark. */
export const SYNTHETIC_MEDIAPIPE_FACE_INDICES: readonly number[] = ${JSON.stringify(faceIndices)};
/** Barycentric coordinates per landmark (K × 3, row-major). */
export const SYNTHETIC_MEDIAPIPE_BARYCENTRICS: readonly number[] = ${JSON.stringify(barycentrics)};
`;
writeFileSync(OUT, text);
console.log(`kept ${landmarkIndices.length} landmarks, dropped ${dropped}; wrote ${OUT}`);
