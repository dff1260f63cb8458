/**
 * 2-D similarity Procrustes alignment (scale, rotation, translation; no reflection), closed form.
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';

/**
 * A 2-D similarity transform `q ≈ s·R(θ)·p + t`.
 * @example
 * ```ts
 * const t: Similarity2D = procrustes2d(generatedPoints, realPoints);
 * applySimilarity2d(t, generatedPoints);
 * ```
 */
export interface Similarity2D {
  readonly scale: number;
  readonly angle: number;
  readonly tx: number;
  readonly ty: number;
}

/**
 * Least-squares similarity transform mapping `source` onto `target` (`[N, 2]` row-major, N ≥ 2).
 *
 * @example
 * ```ts
 * const p = new Float64Array([0, 0, 1, 0, 0, 1]);
 * const q = new Float64Array([1, 1, 1, 3, -1, 1]); // p rotated 90°, scaled 2, shifted (1, 1)
 * procrustes2d(p, q); // { scale: 2, angle: π/2, tx: 1, ty: 1 }
 * ```
 */
export function procrustes2d(source: ArrayLike<number>, target: ArrayLike<number>): Similarity2D {
  const fn = 'procrustes2d';
  if (source.length !== target.length || source.length < 4 || source.length % 2 !== 0) {
    throw new ValidationError(fn, 'target', `[N, 2] points matching source (${source.length / 2} points)`, target);
  }
  checkFinite(fn, 'source', source);
  checkFinite(fn, 'target', target);
  const n = source.length / 2;
  let spx = 0, spy = 0, sqx = 0, sqy = 0; // prettier-ignore
  for (let i = 0; i < n; i++) {
    spx += source[2 * i]!;
    spy += source[2 * i + 1]!;
    sqx += target[2 * i]!;
    sqy += target[2 * i + 1]!;
  }
  const [mpx, mpy, mqx, mqy] = [spx / n, spy / n, sqx / n, sqy / n];
  let dot = 0; // Σ p·q
  let cross = 0; // Σ p × q
  let norm = 0; // Σ |p|²
  for (let i = 0; i < n; i++) {
    const px = source[2 * i]! - mpx;
    const py = source[2 * i + 1]! - mpy;
    const qx = target[2 * i]! - mqx;
    const qy = target[2 * i + 1]! - mqy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (norm === 0) throw new ValidationError(fn, 'source', 'points that are not all identical', source);
  const angle = Math.atan2(cross, dot);
  const scale = Math.hypot(dot, cross) / norm;
  const c = scale * Math.cos(angle);
  const s = scale * Math.sin(angle);
  return { scale, angle, tx: mqx - (c * mpx - s * mpy), ty: mqy - (s * mpx + c * mpy) };
}

/**
 * Apply a {@link Similarity2D} to `[N, 2]` points.
 *
 * @example
 * ```ts
 * applySimilarity2d({ scale: 2, angle: 0, tx: 1, ty: 0 }, [1, 1]); // Float64Array [3, 2]
 * ```
 */
export function applySimilarity2d(t: Similarity2D, points: ArrayLike<number>): Float64Array {
  const fn = 'applySimilarity2d';
  if (t === null || typeof t !== 'object') throw new ValidationError(fn, 't', 'a Similarity2D { scale, angle, tx, ty }', t);
  checkFinite(fn, 't', [t.scale, t.angle, t.tx, t.ty]);
  if (points.length % 2 !== 0) throw new ValidationError(fn, 'points', 'a flat array of N×2 coordinates', points);
  checkFinite(fn, 'points', points);
  const c = t.scale * Math.cos(t.angle);
  const s = t.scale * Math.sin(t.angle);
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i]!;
    const y = points[i + 1]!;
    out[i] = c * x - s * y + t.tx;
    out[i + 1] = s * x + c * y + t.ty;
  }
  return out;
}
