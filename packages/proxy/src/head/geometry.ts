/**
 * Topology of the **synthetic** head: a latitude–longitude grid over the face angles (closed: the top pole and the
 * neck cap collapse to points, the back seam duplicates its column for the UV seam), a slit along the lip line
 * (upper- and lower-lip copies of the vertices so the mouth can open), a mouth cavity plate with teeth behind the
 * lips, and two eyeballs. Also the skinning weights, joint regressor and a UV atlas:
 * - head: u = 0.5 + X / 2π, v = 0.125 + 0.875 · (Y + π/2) / π (v up),
 * - eye patches: centres (0.0625, 0.0625) left and (0.1875, 0.0625) right, radius 0.055,
 * - mouth cavity: u ∈ [0.25, 1], v ∈ [0, 0.125].
 *
 * @example
 * ```ts
 * import { buildSyntheticTopology } from '@consistent-avatar/proxy';
 * const topo = buildSyntheticTopology();
 * console.log(topo.numVertices, topo.faces.length / 3); // ≈ 5k vertices, ≈ 10k triangles
 * ```
 */
import { SYNTHETIC_FACE, smoothstep, syntheticSurfacePoint } from './surface.js';

/** Vertex regions of the synthetic head. */
export const enum Region {
  Skin = 0,
  LowerLip = 1,
  EyeLeft = 2,
  EyeRight = 3,
  Mouth = 4,
}

/** The synthetic head's template and rig (what FLAME's file would hold). */
export interface SyntheticTopology {
  numVertices: number;
  /** `[V*3]` rest positions. */
  positions: Float32Array;
  /** `[F*3]` CCW-outward triangles. */
  faces: Uint32Array;
  /** `[V*2]` per-vertex UVs (the UV layout shares the vertex indexing: ft = f). */
  uvs: Float32Array;
  /** `[V]` face angles X, Y of each vertex (eyeball / mouth vertices: of their anchor on the face). */
  angleX: Float32Array;
  angleY: Float32Array;
  /** `[V]` region label of each vertex: 0 skin, 1 lower lip, 2 left eye, 3 right eye, 4 mouth. */
  region: Uint8Array;
  /** `[V*5]` skinning weights (root, neck, jaw, eyeL, eyeR). */
  weights: Float32Array;
  /** `[5*V]` joint regressor. */
  jRegressor: Float32Array;
  /** Eyeball centres (rest), radius. */
  eyeCentres: [number, number, number][];
  eyeRadius: number;
}

const ROWS = 64;
const COLS = 96;

function headUv(x: number, y: number): [number, number] {
  return [0.5 + x / (2 * Math.PI), 0.125 + (0.875 * (y + Math.PI / 2)) / Math.PI];
}

/**
 * Build the synthetic head's topology and rig (deterministic; no randomness).
 * @example
 * ```ts
 * const { positions, faces, uvs } = buildSyntheticTopology(); // rest mesh of the synthetic head
 * ```
 */
export function buildSyntheticTopology(): SyntheticTopology {
  const F = SYNTHETIC_FACE;
  const pos: number[] = [], uv: number[] = [], ax: number[] = [], ay: number[] = [], reg: number[] = [];
  const faces: number[] = [];
  const add = (p: number[], t: [number, number], x: number, y: number, r: Region): number => {
    pos.push(p[0]!, p[1]!, p[2]!);
    uv.push(t[0], t[1]);
    ax.push(x);
    ay.push(y);
    reg.push(r);
    return ax.length - 1;
  };
  // 1. Head grid: row 0 = top pole, row ROWS = bottom of the neck; col 0 and col COLS both at the back (seam).
  const grid: number[][] = [];
  const rowY: number[] = [];
  // Rows are spaced more densely over the face (Y in [−1.1, 0.6]) than over the cranium and neck.
  for (let r = 0; r <= ROWS; r++) {
    const s = r / ROWS; // 0 … 1
    const warped = s + 0.12 * Math.sin(2 * Math.PI * (s - 0.5)) * -1; // denser around the middle
    rowY.push(Math.PI / 2 - warped * Math.PI);
  }
  // Snap the row closest to the lip line onto it.
  let lipRow = 0;
  for (let r = 0; r <= ROWS; r++) if (Math.abs(rowY[r]! - F.lipY) < Math.abs(rowY[lipRow]! - F.lipY)) lipRow = r;
  rowY[lipRow] = F.lipY;
  for (let r = 0; r <= ROWS; r++) {
    const row: number[] = [];
    for (let c = 0; c <= COLS; c++) {
      const x = -Math.PI + (2 * Math.PI * c) / COLS;
      const y = rowY[r]!;
      row.push(add(syntheticSurfacePoint(x, y), headUv(x, y), x, y, Region.Skin));
    }
    grid.push(row);
  }
  // 2. The lip slit: duplicate the lip-row vertices strictly inside the mouth; the lower copies serve the rows below.
  const lowerCopy = new Map<number, number>();
  for (let c = 0; c <= COLS; c++) {
    const x = -Math.PI + (2 * Math.PI * c) / COLS;
    if (Math.abs(x) < F.mouthHalfWidth - 1e-6) {
      const v = grid[lipRow]![c]!;
      lowerCopy.set(v, add([pos[v * 3]!, pos[v * 3 + 1]!, pos[v * 3 + 2]!], [uv[v * 2]!, uv[v * 2 + 1]!], x, F.lipY, Region.LowerLip));
    }
  }
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS; c++) {
      let a = grid[r]![c]!, b = grid[r + 1]![c]!, cc = grid[r + 1]![c + 1]!, d = grid[r]![c + 1]!;
      if (r === lipRow) {
        a = lowerCopy.get(a) ?? a;
        d = lowerCopy.get(d) ?? d;
      }
      // Quad (a top-left, b bottom-left, cc bottom-right, d top-right) seen from outside: CCW = a, b, cc.
      // Row 0 is the top pole (a ≡ d) and row ROWS the bottom of the neck cap (b ≡ cc): skip the collapsed halves.
      if (r < ROWS - 1) faces.push(a, b, cc);
      if (r > 0) faces.push(a, cc, d);
    }
  }
  // 3. Mouth cavity: two plates inside the head behind the lips, facing +z — an upper one fixed to the head and a
  //    lower one riding on the jaw. They overlap at rest, so an opening mouth always shows cavity and teeth.
  const plateCols = 16, plateRows = 8;
  // Each plate is the lip-line curve (11–19 mm inside the skin) swept vertically: smooth, without the nose / chin
  // relief, so it never pokes through the skin. t is the vertical offset in units of 20 mm from the lip line.
  const sheets = [
    { tTop: 1, tBottom: -1.0, tvTop: 1, tvBottom: 0.4, inset: 0.011, lower: false },
    { tTop: 1.4, tBottom: -1.0, tvTop: 0.6, tvBottom: 0, inset: 0.013, lower: true },
  ];
  const plateLower = new Set<number>();
  for (const sheet of sheets) {
    const plate: number[][] = [];
    for (let j = 0; j <= plateRows; j++) {
      const a = j / plateRows;
      const t = sheet.tTop + (sheet.tBottom - sheet.tTop) * a;
      const row: number[] = [];
      for (let i = 0; i <= plateCols; i++) {
        const s = -1 + (2 * i) / plateCols;
        // Narrower below the lip line (the jaw narrows towards the chin), deeper at the sides.
        const x = s * (F.mouthHalfWidth + 0.42) * (1 - 0.15 * Math.max(0, -t));
        const p = syntheticSurfacePoint(x, F.lipY);
        const inset = sheet.inset + 0.004 * s * s;
        const len = Math.hypot(p[0], p[2]);
        const below = Math.max(0, -t); // the chin recedes under the lower lip
        const q = [p[0] * (1 - inset / len), p[1] + 0.02 * t, p[2] * (1 - inset / len) - 0.004 * t * t - 0.006 * below * below];
        const tv = sheet.tvTop + (sheet.tvBottom - sheet.tvTop) * a;
        const id = add(q, [0.25 + 0.75 * (i / plateCols), 0.125 * tv], x, F.lipY + 0.2 * t, Region.Mouth);
        if (sheet.lower) plateLower.add(id);
        row.push(id);
      }
      plate.push(row);
    }
    for (let j = 0; j < plateRows; j++) {
      for (let i = 0; i < plateCols; i++) {
        const a = plate[j]![i]!, b = plate[j + 1]![i]!, c = plate[j + 1]![i + 1]!, d = plate[j]![i + 1]!;
        // Seen from +z, top-left a, bottom-left b: CCW is a, b, c.
        faces.push(a, b, c, a, c, d);
      }
    }
  }
  // 4. Eyeballs: lat-long spheres with poles on the optical (z) axis; centred so the front protrudes from the socket.
  const eyeRadius = 0.0118;
  const eyeCentres: [number, number, number][] = [];
  const eyeRings = 12, eyeSegs = 18;
  for (const side of [1, -1]) {
    // Left eye (+x side of the head) is joint 3, FLAME's "left" = the subject's left.
    const skin = syntheticSurfacePoint(side * F.eyeX, F.eyeY);
    const centre: [number, number, number] = [skin[0] * 0.97, skin[1], skin[2] - eyeRadius + 0.0042];
    eyeCentres.push(centre);
    const regionId = side > 0 ? Region.EyeLeft : Region.EyeRight;
    const patch: [number, number] = side > 0 ? [0.0625, 0.0625] : [0.1875, 0.0625];
    const ids: number[][] = [];
    for (let r = 0; r <= eyeRings; r++) {
      const th = (r / eyeRings) * Math.PI; // 0 = front pole
      const row: number[] = [];
      const count = r === 0 || r === eyeRings ? 1 : eyeSegs;
      for (let s = 0; s < count; s++) {
        const ph = (2 * Math.PI * s) / eyeSegs;
        const d = [Math.sin(th) * Math.cos(ph), Math.sin(th) * Math.sin(ph), Math.cos(th)];
        const p = [centre[0] + eyeRadius * d[0]!, centre[1] + eyeRadius * d[1]!, centre[2] + eyeRadius * d[2]!];
        row.push(add(p, [patch[0] + 0.055 * d[0]!, patch[1] + 0.055 * d[1]!], side * F.eyeX, F.eyeY, regionId));
      }
      ids.push(row);
    }
    for (let r = 0; r < eyeRings; r++) {
      for (let s = 0; s < eyeSegs; s++) {
        const s1 = (s + 1) % eyeSegs;
        const a = ids[r]![r === 0 ? 0 : s]!, d = ids[r]![r === 0 ? 0 : s1]!;
        const b = ids[r + 1]![r + 1 === eyeRings ? 0 : s]!, c = ids[r + 1]![r + 1 === eyeRings ? 0 : s1]!;
        // Outward CCW: going around +φ (counter-clockwise seen from the front pole) then back along θ.
        if (r > 0) faces.push(a, c, d);
        if (r + 1 < eyeRings) faces.push(a, b, c);
      }
    }
  }
  // Fix the winding of every face so its normal points away from the local centre (head: origin-ish; eyes: their centre).
  const numV = ax.length;
  const positions = new Float32Array(pos);
  for (let f = 0; f < faces.length; f += 3) {
    const i0 = faces[f]!, i1 = faces[f + 1]!, i2 = faces[f + 2]!;
    const r0 = reg[i0]!;
    if (r0 === Region.Mouth) continue; // the plate faces +z by construction
    const e1 = [0, 1, 2].map((k) => positions[i1 * 3 + k]! - positions[i0 * 3 + k]!);
    const e2 = [0, 1, 2].map((k) => positions[i2 * 3 + k]! - positions[i0 * 3 + k]!);
    const n = [e1[1]! * e2[2]! - e1[2]! * e2[1]!, e1[2]! * e2[0]! - e1[0]! * e2[2]!, e1[0]! * e2[1]! - e1[1]! * e2[0]!];
    let centre: number[] = [0, 0, 0];
    if (r0 === Region.EyeLeft) centre = eyeCentres[0]!;
    else if (r0 === Region.EyeRight) centre = eyeCentres[1]!;
    else {
      // Head and neck: the axis point at the triangle's height (the neck is a cylinder about (0, y, −0.018)).
      centre = [0, positions[i0 * 3 + 1]! * 0.5, -0.01];
    }
    const out = [0, 1, 2].map((k) => (positions[i0 * 3 + k]! + positions[i1 * 3 + k]! + positions[i2 * 3 + k]!) / 3 - centre[k]!);
    if (n[0]! * out[0]! + n[1]! * out[1]! + n[2]! * out[2]! < 0) {
      faces[f + 1] = i2;
      faces[f + 2] = i1;
    }
  }

  // 5. Skinning weights: root (neck base), neck (head), jaw (lower face), eyes.
  const weights = new Float32Array(numV * 5);
  for (let v = 0; v < numV; v++) {
    const x = ax[v]!, y = ay[v]!, r = reg[v]!;
    if (r === Region.EyeLeft || r === Region.EyeRight) {
      weights[v * 5 + (r === Region.EyeLeft ? 3 : 4)] = 1;
      continue;
    }
    const py = positions[v * 3 + 1]!;
    const rootW = smoothstep(-0.085, -0.16, py); // lower neck follows the root
    let jaw = 0;
    if (r === Region.LowerLip) jaw = 1;
    else if (r === Region.Mouth) jaw = plateLower.has(v) ? 1 : 0;
    else if (y < F.lipY + 1e-6 || Math.abs(x) >= F.mouthHalfWidth) {
      // Inside the mouth span the lower face is fully jaw right below the slit; outside it blends over the cheeks.
      // Beyond the mouth corners the transition is centred on the lip line (the corner itself is half jaw, half head)
      // and widens towards the cheeks, so the skin at the ends of the slit stretches instead of folding.
      const ex = Math.max(0, Math.abs(x) - F.mouthHalfWidth);
      const halfWidth = 0.035 + Math.min(0.12, ex * 0.9);
      const below = Math.abs(x) < F.mouthHalfWidth ? (y < F.lipY ? 1 : 0) : smoothstep(F.lipY + halfWidth, F.lipY - halfWidth, y);
      const lateral = smoothstep(1.45, 0.9, Math.abs(x));
      const notNeck = smoothstep(-1.3, -1.05, y);
      jaw = below * lateral * notNeck;
    }
    jaw = Math.min(jaw, 1 - rootW);
    weights[v * 5] = rootW;
    weights[v * 5 + 2] = jaw;
    weights[v * 5 + 1] = 1 - rootW - jaw;
  }

  // 6. Joint regressor: centroids of symmetric vertex sets (so joints follow identity shape like FLAME's).
  const jRegressor = new Float32Array(5 * numV);
  const ringMean = (joint: number, rowIdx: number) => {
    for (let c = 0; c < COLS; c++) jRegressor[joint * numV + grid[rowIdx]![c]!] = 1 / COLS;
  };
  const rowNear = (y: number) => rowY.reduce((best, ry, i) => (Math.abs(ry - y) < Math.abs(rowY[best]! - y) ? i : best), 0);
  ringMean(0, rowNear(-1.42)); // root: a ring low on the neck
  ringMean(1, rowNear(-1.12)); // neck: a ring at the top of the neck
  const jawRow = rowNear(-0.18);
  jRegressor[2 * numV + grid[jawRow]![COLS / 4]!] = 0.5; // jaw hinge: the two side vertices (X = ±π/2)
  jRegressor[2 * numV + grid[jawRow]![(3 * COLS) / 4]!] = 0.5;
  for (let v = 0; v < numV; v++) {
    if (reg[v] === Region.EyeLeft) jRegressor[3 * numV + v] = 1;
    if (reg[v] === Region.EyeRight) jRegressor[4 * numV + v] = 1;
  }
  for (const j of [3, 4]) {
    let s = 0;
    for (let v = 0; v < numV; v++) s += jRegressor[j * numV + v]!;
    for (let v = 0; v < numV; v++) jRegressor[j * numV + v] = jRegressor[j * numV + v]! / s;
  }
  return {
    numVertices: numV,
    positions,
    faces: new Uint32Array(faces),
    uvs: new Float32Array(uv),
    angleX: new Float32Array(ax),
    angleY: new Float32Array(ay),
    region: new Uint8Array(reg),
    weights,
    jRegressor,
    eyeCentres,
    eyeRadius,
  };
}
