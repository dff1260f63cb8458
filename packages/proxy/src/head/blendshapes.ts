/**
 * Blendshape bases of the **synthetic** head, as displacement fields in metres evaluated at each vertex's face
 * angles (X, Y). Layout follows FLAME: 300 identity components and 100 expression components.
 *
 * Expression components (coefficient ≈ 1 is a clear, natural expression; ±2 is strong):
 * 0 lips part (the jaw-open helper; the jaw itself opens through the jaw joint), 1 smile, 2 frown (lip-corner
 * depressor), 3 brow raise, 4 brow lower / furrow, 5 blink (both eyes), 6 lip press, 7 pucker, 8 cheek puff,
 * 9 inner-brow raise (sad), 10 nose wrinkle, 11 upper-lip raise, 12 lip stretch, 13 eye widen, 14 smirk
 * (left corner up), 15 mouth-corner pull-in; 16–99 small smooth seeded random fields (amplitude decaying).
 *
 * Identity components: 0 head width, 1 head height, 2 face depth, 3 nose size, 4 jaw width, 5 chin, 6 brow ridge,
 * 7 cheek fullness, 8 lip fullness, 9 lower-face length, 10 nose width, 11 eye depth; 12–299 small smooth seeded
 * random fields.
 *
 * @example
 * ```ts
 * import { SYNTHETIC_EXPRESSION_NAMES } from '@consistent-avatar/proxy';
 * console.log(SYNTHETIC_EXPRESSION_NAMES[1]); // 'smile'
 * ```
 */
import { Rng } from '@consistent-avatar/core';
import { Region, type SyntheticTopology } from './geometry.js';
import { SYNTHETIC_FACE, bump, smoothstep } from './surface.js';

/**
 * Names of the leading synthetic expression components.
 * @example
 * ```ts
 * const smile = new Float32Array(100); smile[SYNTHETIC_EXPRESSION_NAMES.indexOf('smile')] = 1.5;
 * ```
 */
export const SYNTHETIC_EXPRESSION_NAMES = [
  'lipsPart', 'smile', 'frown', 'browRaise', 'browLower', 'blink', 'lipPress', 'pucker',
  'cheekPuff', 'innerBrowRaise', 'noseWrinkle', 'upperLipRaise', 'lipStretch', 'eyeWiden', 'smirk', 'cornerPullIn',
] as const;

/**
 * Names of the leading synthetic identity components.
 * @example
 * ```ts
 * const wideJaw = new Float32Array(300); wideJaw[SYNTHETIC_SHAPE_NAMES.indexOf('jawWidth')] = 1;
 * ```
 */
export const SYNTHETIC_SHAPE_NAMES = [
  'headWidth', 'headHeight', 'faceDepth', 'noseSize', 'jawWidth', 'chin', 'browRidge', 'cheekFullness',
  'lipFullness', 'lowerFaceLength', 'noseWidth', 'eyeDepth',
] as const;

type Field = (x: number, y: number, p: [number, number, number], region: Region) => [number, number, number];

const F = SYNTHETIC_FACE;
const mm = 0.001;
/** Mask of the lower lip (below the slit) / upper lip, for fields that move lips apart. */
const isLower = (y: number, region: Region) => region === Region.LowerLip || y < F.lipY - 1e-6;
const lipBand = (x: number, y: number) => bump(x, y, 0, F.lipY, F.mouthHalfWidth * 0.75, 0.09);
const cornerL = (x: number, y: number) => bump(x, y, F.mouthHalfWidth, F.lipY, 0.09, 0.09);
const cornerR = (x: number, y: number) => bump(x, y, -F.mouthHalfWidth, F.lipY, 0.09, 0.09);
const eyeLid = (ax: number, y: number) => bump(ax, y, F.eyeX, F.eyeY + 0.01, 0.12, 0.07);
const upperLid = (ax: number, y: number) => bump(ax, y, F.eyeX, F.eyeY + 0.07, 0.12, 0.05);
const brow = (ax: number, y: number) => bump(ax, y, 0.36, F.browY + 0.03, 0.22, 0.12);

/** The named expression fields (world displacement at coefficient 1). */
const EXPRESSION_FIELDS: Field[] = [
  // 0 lips part: upper lip up a little, lower lip down.
  (x, y, _p, r) => {
    const w = bump(x, y, 0, F.lipY, F.mouthHalfWidth * 0.8, 0.12);
    return isLower(y, r) ? [0, -3.5 * mm * w, -0.5 * mm * w] : [0, 1.5 * mm * w, 0];
  },
  // 1 smile: corners up, out and back; cheeks up and forward; lower lids up.
  (x, y) => {
    const c = cornerL(x, y) + cornerR(x, y);
    const cheek = bump(Math.abs(x), y, 0.42, -0.3, 0.15, 0.15);
    const lid = bump(Math.abs(x), y, F.eyeX, F.eyeY - 0.08, 0.12, 0.04);
    return [Math.sign(x) * 4 * mm * c, 4.5 * mm * c + 2.5 * mm * cheek + 1.2 * mm * lid, -2 * mm * c + 2 * mm * cheek];
  },
  // 2 frown: corners down and slightly out; chin boss up.
  (x, y) => {
    const c = cornerL(x, y) + cornerR(x, y);
    const chin = bump(x, y, 0, F.chinY + 0.1, 0.14, 0.1);
    return [Math.sign(x) * 1 * mm * c, -4 * mm * c + 1.5 * mm * chin, 1 * mm * chin];
  },
  // 3 brow raise: brows and forehead skin up.
  (x, y) => {
    const w = brow(Math.abs(x), y) + 0.5 * bump(x, y, 0, 0.5, 0.5, 0.2) + 0.5 * upperLid(Math.abs(x), y);
    return [0, 4.5 * mm * w, 0.8 * mm * brow(Math.abs(x), y)];
  },
  // 4 brow lower / furrow: inner brows down and together.
  (x, y) => {
    const w = bump(Math.abs(x), y, 0.22, F.browY, 0.16, 0.09);
    return [-Math.sign(x) * 2.5 * mm * w, -3.5 * mm * w, 1 * mm * w];
  },
  // 5 blink: upper lids bulge down and out over the eyeballs.
  (x, y) => {
    const w = eyeLid(Math.abs(x), y);
    return [0, -1.2 * mm * w, 10 * mm * w];
  },
  // 6 lip press: lips thinner and pushed in.
  (x, y, _p, r) => {
    const w = lipBand(x, y);
    return [0, (isLower(y, r) ? 1.2 : -1.2) * mm * w, -2 * mm * w];
  },
  // 7 pucker: lips forward and narrower.
  (x, y) => {
    const w = bump(x, y, 0, F.lipY, F.mouthHalfWidth * 1.1, 0.14);
    return [-x * 12 * mm * w, 0, 6 * mm * w];
  },
  // 8 cheek puff: cheeks out.
  (x, y) => {
    const w = bump(Math.abs(x), y, 0.55, -0.55, 0.22, 0.2);
    return [Math.sign(x) * 6 * mm * w, 0, 4 * mm * w];
  },
  // 9 inner-brow raise.
  (x, y) => {
    const w = bump(Math.abs(x), y, 0.15, F.browY + 0.02, 0.14, 0.12);
    return [0, 4 * mm * w, 0.5 * mm * w];
  },
  // 10 nose wrinkle: nose sides and upper lip up.
  (x, y) => {
    const w = bump(Math.abs(x), y, 0.12, F.noseTipY + 0.05, 0.08, 0.12) + 0.5 * bump(x, y, 0, F.lipY + 0.08, 0.25, 0.06);
    return [0, 2.5 * mm * w, 0.5 * mm * w];
  },
  // 11 upper-lip raise.
  (x, y, _p, r) => {
    const w = isLower(y, r) ? 0 : bump(x, y, 0, F.lipY + 0.03, 0.25, 0.08);
    return [0, 3 * mm * w, 1 * mm * w];
  },
  // 12 lip stretch: corners out horizontally and back.
  (x, y) => {
    const c = cornerL(x, y) + cornerR(x, y);
    return [Math.sign(x) * 4 * mm * c, -0.5 * mm * c, -2 * mm * c];
  },
  // 13 eye widen: upper lids up (the eyeballs show more).
  (x, y) => {
    const w = upperLid(Math.abs(x), y);
    return [0, 2.5 * mm * w, -1 * mm * w];
  },
  // 14 smirk: left corner up and out.
  (x, y) => {
    const c = cornerL(x, y);
    return [3 * mm * c, 4 * mm * c, -1.5 * mm * c];
  },
  // 15 corner pull-in.
  (x, y) => {
    const c = cornerL(x, y) + cornerR(x, y);
    return [-Math.sign(x) * 3 * mm * c, 0, 1 * mm * c];
  },
];

/** Named identity fields. */
const SHAPE_FIELDS: Field[] = [
  (_x, _y, p) => [p[0] * 0.08, 0, 0], // head width
  (_x, _y, p) => [0, p[1] * 0.07, 0], // head height
  (x, _y, p) => [0, 0, p[2] * 0.06 * (Math.cos(x) > 0 ? 1 : 0.3)], // face depth
  (x, y) => { const w = bump(x, y, 0, F.noseTipY + 0.05, 0.1, 0.18); return [0, -1 * mm * w, 5 * mm * w]; }, // nose size
  (x, y, p) => [p[0] * 0.12 * smoothstep(-0.2, -0.9, y) * (Math.cos(x) > 0 ? 1 : 0.5), 0, 0], // jaw width
  (x, y) => { const w = bump(x, y, 0, F.chinY + 0.08, 0.16, 0.12); return [0, -1.5 * mm * w, 4 * mm * w]; }, // chin
  (x, y) => { const w = bump(Math.abs(x), y, 0.35, F.browY, 0.22, 0.06); return [0, 0, 3 * mm * w]; }, // brow ridge
  (x, y) => { const w = bump(Math.abs(x), y, 0.5, -0.4, 0.2, 0.2); return [Math.sign(x) * 3 * mm * w, 0, 2 * mm * w]; }, // cheeks
  (x, y, _p, r) => { const w = lipBand(x, y); return [0, (isLower(y, r) ? -1 : 1) * 1 * mm * w, 2 * mm * w]; }, // lips
  (_x, y) => [0, -5 * mm * smoothstep(-0.35, -1.0, y), 0], // lower-face length
  (x, y) => { const w = bump(Math.abs(x), y, 0.1, F.noseTipY - 0.03, 0.06, 0.07); return [Math.sign(x) * 2.5 * mm * w, 0, 0]; }, // nose width
  (x, y) => { const w = bump(Math.abs(x), y, F.eyeX, F.eyeY, 0.14, 0.1); return [0, 0, -2.5 * mm * w]; }, // eye depth
];

/** A smooth random field: a few Gaussian blobs on the face with random 3D directions. */
function randomField(rng: Rng, amplitude: number, faceOnly: boolean): Field {
  const blobs = Array.from({ length: 3 }, () => {
    const u = rng.uniform(6, -1, 1);
    return {
      cx: faceOnly ? u[0]! * 0.7 : u[0]! * Math.PI,
      cy: faceOnly ? -0.35 + u[1]! * 0.6 : u[1]! * 1.2,
      s: 0.12 + 0.12 * Math.abs(u[2]!),
      d: [u[3]!, u[4]!, u[5]!],
    };
  });
  return (x, y) => {
    let dx = 0, dy = 0, dz = 0;
    for (const b of blobs) {
      const w = bump(x, y, b.cx, b.cy, b.s, b.s) * amplitude;
      dx += w * b.d[0]!; dy += w * b.d[1]!; dz += w * b.d[2]!;
    }
    return [dx, dy, dz];
  };
}

/**
 * Evaluate blendshape bases at the topology's vertices.
 *
 * @returns `[V, 3, numComponents]` flattened (FLAME's `shapedirs` layout) for `kind`'s components.
 * @example
 * ```ts
 * const exprDirs = syntheticBlendshapes(buildSyntheticTopology(), 'expression', 100, 0); // [V, 3, 100] flattened
 * ```
 */
export function syntheticBlendshapes(topology: SyntheticTopology, kind: 'shape' | 'expression', numComponents: number, seed: number): Float32Array {
  const named = kind === 'shape' ? SHAPE_FIELDS : EXPRESSION_FIELDS;
  const rng = new Rng(seed).fork(`synthetic-${kind}`);
  const fields: Field[] = [];
  for (let k = 0; k < numComponents; k++) {
    if (k < named.length) fields.push(named[k]!);
    else {
      const decay = 1 / (1 + (k - named.length) / 10);
      fields.push(randomField(rng, (kind === 'shape' ? 1.2 : 0.6) * mm * decay, kind === 'expression'));
    }
  }
  const numV = topology.numVertices;
  const out = new Float32Array(numV * 3 * numComponents);
  const { angleX, angleY, region, positions } = topology;
  // Eyeballs move rigidly with the skin point at the eye centre under identity fields; expressions leave them alone.
  for (let v = 0; v < numV; v++) {
    const r = region[v]! as Region;
    const isEye = r === Region.EyeLeft || r === Region.EyeRight;
    if (isEye && kind === 'expression') continue;
    let p: [number, number, number] = [positions[v * 3]!, positions[v * 3 + 1]!, positions[v * 3 + 2]!];
    if (isEye) p = topology.eyeCentres[r === Region.EyeLeft ? 0 : 1]!;
    const regionForField = isEye ? Region.Skin : r;
    // The mouth plate only follows identity fields (expressions act on the skin surface).
    if (r === Region.Mouth && kind === 'expression') continue;
    for (let k = 0; k < numComponents; k++) {
      const d = fields[k]!(angleX[v]!, angleY[v]!, p, regionForField);
      const base = v * 3 * numComponents;
      out[base + k] = d[0];
      out[base + numComponents + k] = d[1];
      out[base + 2 * numComponents + k] = d[2];
    }
  }
  return out;
}
