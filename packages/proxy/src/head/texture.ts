/**
 * Procedural albedo of the **synthetic** head (UV atlas, see `geometry.ts`), with the high-frequency detail the
 * paper's TSD is about: skin pores (seeded noise), fine skin texture, wrinkles (forehead, glabella, crow's feet,
 * nasolabial folds) whose depth follows the expression, eyebrows, eyelashes, lips with lip lines, irises, teeth and
 * hair. {@link wrinkledTexture} gives the per-frame albedo for an expression vector.
 *
 * @example
 * ```ts
 * import { buildSyntheticTexture, wrinkledTexture } from '@consistent-avatar/proxy';
 * const tex = buildSyntheticTexture({ size: 512, seed: 7 });
 * const frameAlbedo = wrinkledTexture(tex, new Float32Array(100).fill(0).map((_, i) => (i === 1 ? 1.5 : 0))); // smiling
 * ```
 */
import { checkFinite, ValidationError, hashString } from '@consistent-avatar/core';
import type { Texture } from '../raster/shading.js';
import { SYNTHETIC_FACE, bump, smoothstep } from './surface.js';

/**
 * Wrinkle groups and the expression components that deepen them.
 * @example
 * ```ts
 * console.log(WRINKLE_DRIVERS.forehead); // [{ component: 3, gain: 1 }, …]: brow raise deepens forehead lines
 * ```
 */
export const WRINKLE_DRIVERS: Record<string, { component: number; gain: number }[]> = {
  forehead: [{ component: 3, gain: 1 }, { component: 9, gain: 0.6 }, { component: 13, gain: 0.4 }],
  glabella: [{ component: 4, gain: 1 }, { component: 9, gain: 0.4 }],
  crowsFeet: [{ component: 1, gain: 1 }, { component: 14, gain: 0.4 }],
  nasolabial: [{ component: 1, gain: 0.9 }, { component: 11, gain: 0.6 }, { component: 10, gain: 0.7 }],
};

/** Appearance parameters of one synthetic identity. */
export interface SyntheticAppearance {
  skin: [number, number, number];
  lips: [number, number, number];
  hair: [number, number, number];
  iris: [number, number, number];
}

/** The procedural texture: the base albedo plus per-group wrinkle masks. */
export interface SyntheticTexture {
  /** Base albedo (wrinkles at their rest depth), `[size, size, 3]`. */
  albedo: Texture;
  /** Wrinkle darkening masks in [0, 1], one `[size*size]` per group of {@link WRINKLE_DRIVERS}. */
  wrinkles: Record<string, Float32Array>;
  appearance: SyntheticAppearance;
}

function hash2(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return ((h ^ (h >>> 15)) >>> 0) / 4294967296;
}

/** Value noise in [0, 1] with smooth interpolation. */
function valueNoise(x: number, y: number, seed: number): number {
  const ix = Math.floor(x), iy = Math.floor(y);
  const fx = x - ix, fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
  const a = hash2(ix, iy, seed), b = hash2(ix + 1, iy, seed), c = hash2(ix, iy + 1, seed), d = hash2(ix + 1, iy + 1, seed);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

function fbm(x: number, y: number, seed: number, octaves: number): number {
  let s = 0, amp = 0.5, f = 1;
  for (let o = 0; o < octaves; o++) {
    s += amp * valueNoise(x * f, y * f, seed + o * 1013);
    amp *= 0.5;
    f *= 2;
  }
  return s;
}

/**
 * Appearance of identity `seed` (skin tone, lips, hair, iris), deterministic.
 * @example
 * ```ts
 * const { skin, iris } = syntheticAppearance(3); // RGB in [0, 1]
 * ```
 */
export function syntheticAppearance(seed: number): SyntheticAppearance {
  const r = (k: number) => hash2(seed, k, 0x51ed);
  const tone = 0.35 + 0.6 * r(1); // light … dark
  const skin: [number, number, number] = [0.92 - 0.45 * tone * tone, 0.74 - 0.42 * tone, 0.64 - 0.4 * tone];
  const irises: [number, number, number][] = [[0.35, 0.22, 0.12], [0.25, 0.42, 0.62], [0.3, 0.45, 0.28], [0.2, 0.14, 0.1]];
  const hairs: [number, number, number][] = [[0.12, 0.08, 0.06], [0.3, 0.2, 0.12], [0.05, 0.05, 0.05], [0.5, 0.36, 0.2]];
  return {
    skin,
    lips: [skin[0] * 0.85 + 0.05, skin[1] * 0.55, skin[2] * 0.6],
    hair: hairs[Math.floor(r(2) * hairs.length)]!,
    iris: irises[Math.floor(r(3) * irises.length)]!,
  };
}

/**
 * Build the procedural albedo.
 *
 * @param options.size - texture size in texels (square). Default 512.
 * @param options.seed - identity seed (appearance and noise). Default 0.
 * @example
 * ```ts
 * const { albedo, wrinkles } = buildSyntheticTexture({ size: 512, seed: 0 });
 * ```
 */
export function buildSyntheticTexture(options: { size?: number; seed?: number } = {}): SyntheticTexture {
  const size = options.size ?? 512;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(size) || size < 64 || size > 4096) throw new ValidationError('buildSyntheticTexture', 'options.size', 'an integer in [64, 4096]', size);
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError('buildSyntheticTexture', 'options.seed', 'a non-negative integer', seed);
  const F = SYNTHETIC_FACE;
  const app = syntheticAppearance(seed);
  const ns = hashString(`synthetic-texture-${seed}`);
  const data = new Float32Array(size * size * 3);
  const wrinkles: Record<string, Float32Array> = {};
  for (const k of Object.keys(WRINKLE_DRIVERS)) wrinkles[k] = new Float32Array(size * size);
  // Texel density of the head region: X spans 2π over `size` texels.
  const perRad = size / (2 * Math.PI);
  for (let j = 0; j < size; j++) {
    const v = 1 - (j + 0.5) / size;
    for (let i = 0; i < size; i++) {
      const u = (i + 0.5) / size;
      const o = (j * size + i) * 3;
      const t = j * size + i;
      let r: number, g: number, b: number;
      if (v >= 0.125) {
        // Head region: face angles of this texel.
        const x = (u - 0.5) * 2 * Math.PI;
        const y = ((v - 0.125) / 0.875) * Math.PI - Math.PI / 2;
        const ax = Math.abs(x);
        [r, g, b] = app.skin;
        // Low-frequency mottling and redness on cheeks, nose and ears.
        const mott = fbm(x * 6, y * 6, ns, 4) - 0.5;
        r *= 1 + 0.08 * mott; g *= 1 + 0.1 * mott; b *= 1 + 0.1 * mott;
        const red = 0.5 * bump(ax, y, 0.45, -0.3, 0.15, 0.12) + 0.45 * bump(x, y, 0, F.noseTipY, 0.08, 0.08) + 0.3 * bump(ax, y, Math.PI / 2, -0.08, 0.1, 0.2);
        g *= 1 - 0.12 * red; b *= 1 - 0.1 * red;
        // Pores: sparse dark dots at ~2–3 texels, plus fine grain.
        const pore = smoothstep(0.74, 0.92, valueNoise(i * 0.8, j * 0.8, ns + 7));
        const grain = valueNoise(i * 1.3, j * 1.3, ns + 11) - 0.5;
        const faceMask = smoothstep(1.4, 1.1, ax) * smoothstep(-1.0, -0.8, y) * smoothstep(0.85, 0.7, y);
        const pk = 1 - faceMask * (0.11 * pore - 0.04 * grain);
        r *= pk; g *= pk; b *= pk;
        // Lips: vermilion with vertical lip lines.
        const upper = y >= F.lipY && y < F.lipY + 0.065 * (1 - 0.35 * (ax / F.mouthHalfWidth) ** 2) && ax < F.mouthHalfWidth;
        const lower = y < F.lipY && y > F.lipY - 0.085 * (1 - (ax / (F.mouthHalfWidth * 1.05)) ** 2) && ax < F.mouthHalfWidth;
        if (upper || lower) {
          const lines = 0.75 + 0.25 * Math.pow(Math.abs(Math.sin(x * perRad * 0.9 + 2 * valueNoise(i * 0.1, j * 0.3, ns + 3))), 0.3);
          const edge = 1 - 0.4 * Math.exp(-Math.pow((y - F.lipY) / 0.006, 2)); // darker lip line
          r = app.lips[0] * lines * edge; g = app.lips[1] * lines * edge; b = app.lips[2] * lines * edge;
        }
        // Eyebrows: streaky hair along the brow arc.
        const browY = F.browY + 0.035 - 0.14 * Math.pow((ax - 0.38) / 0.3, 2);
        const inBrow = ax > 0.1 && ax < 0.7 ? Math.exp(-Math.pow((y - browY) / 0.032, 2)) * smoothstep(0.08, 0.16, ax) * smoothstep(0.72, 0.6, ax) : 0;
        if (inBrow > 0.02) {
          const strands = smoothstep(0.35, 0.75, valueNoise(x * perRad * 0.35, (y - browY) * perRad * 2.2 + x * perRad * 0.6, ns + 5));
          const k = Math.min(1, inBrow * (0.5 + 0.7 * strands));
          r = r * (1 - k) + app.hair[0] * k; g = g * (1 - k) + app.hair[1] * k; b = b * (1 - k) + app.hair[2] * k;
        }
        // Eyelid line and lashes: the upper rim of the eye opening and a closed-lid lash line at its centre.
        const eyeD = (ax - F.eyeX) / 0.1;
        if (Math.abs(eyeD) < 1.2) {
          const rimY = F.eyeY + 0.05 * Math.sqrt(Math.max(0, 1 - eyeD * eyeD));
          const lash = Math.exp(-Math.pow((y - rimY) / 0.012, 2)) * smoothstep(1.15, 0.8, Math.abs(eyeD));
          const closedLash = Math.exp(-Math.pow((y - F.eyeY - 0.0) / 0.008, 2)) * smoothstep(1.05, 0.7, Math.abs(eyeD));
          const streak = 0.6 + 0.4 * valueNoise(x * perRad * 1.5, y * perRad * 0.3, ns + 9);
          const k = Math.min(1, (0.85 * lash + 0.9 * closedLash) * streak);
          r *= 1 - k; g *= 1 - k; b *= 1 - k;
          // Eyelid skin slightly darker and pinker.
          const lid = bump(ax, y, F.eyeX, F.eyeY + 0.02, 0.1, 0.07);
          g *= 1 - 0.12 * lid; b *= 1 - 0.06 * lid;
        }
        // Hair: cranium above the hairline and at the back.
        const hairline = 0.78 - 0.25 * smoothstep(0.5, 1.3, ax);
        const back = Math.cos(x) < -0.15 && y > -0.45;
        const hairK = Math.max(smoothstep(hairline - 0.02, hairline + 0.04, y), back ? smoothstep(-0.45, -0.3, y) : 0, smoothstep(-0.1, -0.4, Math.cos(x)) * smoothstep(-0.45, -0.3, y));
        if (hairK > 0) {
          const strands = 0.55 + 0.45 * valueNoise(x * perRad * 1.2, y * perRad * 0.15, ns + 13);
          r = r * (1 - hairK) + app.hair[0] * strands * hairK;
          g = g * (1 - hairK) + app.hair[1] * strands * hairK;
          b = b * (1 - hairK) + app.hair[2] * strands * hairK;
        }
        // Nostrils.
        const nostril = bump(ax, y, 0.075, F.noseTipY - 0.1, 0.025, 0.018);
        r *= 1 - 0.6 * nostril; g *= 1 - 0.65 * nostril; b *= 1 - 0.65 * nostril;
        // Wrinkle masks (thin dark lines).
        const line = (d: number, w: number) => Math.exp(-(d * d) / (w * w));
        const wob = 0.01 * (valueNoise(x * 20, y * 5, ns + 17) - 0.5);
        wrinkles.forehead![t] = (line(y - 0.45 + wob - 0.03 * x * x, 0.007) + line(y - 0.52 + wob - 0.03 * x * x, 0.008) + line(y - 0.6 + wob, 0.007)) * smoothstep(0.65, 0.35, ax) * smoothstep(hairline, hairline - 0.06, y);
        wrinkles.glabella![t] = (line(ax - 0.05 + 0.02 * (y - 0.25), 0.009) + 0.6 * line(ax - 0.1, 0.008)) * bump(x, y, 0, 0.3, 0.3, 0.07);
        const fx = ax - (F.eyeX + 0.16), fy = y - F.eyeY;
        const angle = Math.atan2(fy, fx);
        const radial = Math.hypot(fx, fy);
        wrinkles.crowsFeet![t] = fx > -0.03 ? line(Math.sin(angle * 3.5 + 0.3) * radial, 0.006) * smoothstep(0.02, 0.05, radial) * smoothstep(0.2, 0.12, radial) : 0;
        // Nasolabial fold: from the nose wing (0.16, nose−0.05) to beside the mouth corner.
        const s = Math.min(1, Math.max(0, (F.noseTipY - 0.05 - y) / (F.noseTipY - 0.05 - (F.lipY - 0.12))));
        const foldX = 0.16 + 0.2 * s + 0.05 * Math.sin(Math.PI * s);
        wrinkles.nasolabial![t] = y < F.noseTipY - 0.03 && y > F.lipY - 0.16 ? line(ax - foldX, 0.012) : 0;
        for (const k of Object.keys(wrinkles)) wrinkles[k]![t] = Math.min(1, wrinkles[k]![t]!);
        const rest = 0.2 * (wrinkles.forehead![t]! + wrinkles.glabella![t]! + wrinkles.crowsFeet![t]! + wrinkles.nasolabial![t]!);
        const k = 1 - 0.35 * Math.min(1, rest);
        r *= k; g *= k; b *= k;
      } else if (u < 0.25) {
        // Eye patches: sclera, iris with radial fibres and a limbal ring, pupil.
        const cx = u < 0.125 ? 0.0625 : 0.1875;
        const dx = (u - cx) / 0.055, dy = (v - 0.0625) / 0.055;
        const rr = Math.hypot(dx, dy);
        const ang = Math.atan2(dy, dx);
        const vein = smoothstep(0.55, 1.0, rr) * smoothstep(0.85, 1, valueNoise(ang * 12, rr * 6, ns + 19));
        [r, g, b] = [0.93 - 0.05 * vein, 0.9 - 0.35 * vein, 0.86 - 0.35 * vein];
        const irisR = 0.42, pupilR = 0.17;
        if (rr < irisR) {
          const fibre = 0.65 + 0.45 * valueNoise(ang * 40, rr * 10, ns + 23);
          const limbal = smoothstep(irisR * 0.75, irisR, rr);
          const k = fibre * (1 - 0.6 * limbal);
          [r, g, b] = [app.iris[0] * k, app.iris[1] * k, app.iris[2] * k];
          if (rr < pupilR) [r, g, b] = [0.02, 0.02, 0.025];
        }
      } else {
        // Mouth cavity: dark throat, teeth rows near the top and bottom edges, gums.
        const tu = (u - 0.25) / 0.75; // 0 … 1 across
        const tv = v / 0.125; // 0 bottom … 1 top
        const depth = Math.exp(-Math.pow((tv - 0.5) / 0.22, 2)) * Math.exp(-Math.pow((tu - 0.5) / 0.35, 2));
        [r, g, b] = [0.32 - 0.26 * depth, 0.08 - 0.06 * depth, 0.09 - 0.07 * depth];
        const upperTeeth = tv > 0.55 && tv < 0.8, lowerTeeth = tv > 0.22 && tv < 0.42;
        if ((upperTeeth || lowerTeeth) && Math.abs(tu - 0.5) < 0.33) {
          const gap = Math.abs(Math.sin(((tu - 0.5) / 0.33) * Math.PI * 4.5)) < 0.12 ? 0.55 : 1;
          const shade = 1 - 0.35 * Math.pow(Math.abs(tu - 0.5) / 0.33, 2);
          [r, g, b] = [0.93 * gap * shade, 0.9 * gap * shade, 0.82 * gap * shade];
        }
      }
      data[o] = Math.min(1, Math.max(0, r));
      data[o + 1] = Math.min(1, Math.max(0, g));
      data[o + 2] = Math.min(1, Math.max(0, b));
    }
  }
  return { albedo: { width: size, height: size, channels: 3, data }, wrinkles, appearance: app };
}

/**
 * The per-frame albedo: the base texture with each wrinkle group darkened by its drivers' positive expression
 * coefficients (wrinkles deepen with the expression that folds the skin).
 *
 * @param texture - from {@link buildSyntheticTexture}.
 * @param expression - expression coefficients (≥ 16 used; any length).
 * @returns a new `[size, size, 3]` texture.
 * @example
 * ```ts
 * const albedo = wrinkledTexture(tex, expressionOfFrame);
 * ```
 */
export function wrinkledTexture(texture: SyntheticTexture, expression: ArrayLike<number>): Texture {
  checkFinite('wrinkledTexture', 'expression', expression); // a NaN coefficient made every wrinkle texel NaN
  const base = texture.albedo;
  const out = new Float32Array(base.data);
  const n = base.width * base.height;
  const strengths: [Float32Array, number][] = [];
  for (const [group, drivers] of Object.entries(WRINKLE_DRIVERS)) {
    let s = 0;
    for (const d of drivers) s += d.gain * Math.max(0, Number(expression[d.component] ?? 0));
    if (s > 0) strengths.push([texture.wrinkles[group]!, Math.min(1, 0.45 * s)]);
  }
  if (strengths.length === 0) return { ...base, data: out };
  for (let t = 0; t < n; t++) {
    let m = 0;
    for (const [mask, s] of strengths) m += mask[t]! * s;
    if (m === 0) continue;
    const k = 1 - 0.55 * Math.min(1, m);
    out[t * 3] = out[t * 3]! * k;
    out[t * 3 + 1] = out[t * 3 + 1]! * k;
    out[t * 3 + 2] = out[t * 3 + 2]! * k;
  }
  return { width: base.width, height: base.height, channels: 3, data: out };
}
