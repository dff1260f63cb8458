/**
 * Seeded stand-in stage-3 frames for tests and the kill scenarios: random maps in range (RGB in [0, 1], TSD in
 * [−1, 1]), P (6), E (100), two emotions alternating. Shared by `src/fcsd/fcsd.test.ts`, `src/fcsd/pretrained.test.ts`
 * and `fuzz/kill-scenarios-stages.ts` (same draws in the same order as each had on its own).
 */
import { Rng } from '@consistent-avatar/core';
import type { FcsdData, FcsdFrame } from '../src/fcsd/data.js';

/** Options of {@link toyFcsdData}. */
export interface ToyFcsdDataOptions {
  /** Map side S (maps are [S, S, 3], the mask [S, S]). */
  size: number;
  /** Number of frames. */
  frames: number;
  /** Seed of the one `Rng` every draw comes from. */
  seed: number;
  /** Frame ids: zero-padded to 5 digits (default) or the plain index. */
  ids?: 'padded' | 'plain';
}

/**
 * Frames drawn per frame in the order gt, proxyRgb, normal, gtTsd, proxyTsd, alignedTsd, pose, expression.
 * @example
 * ```ts
 * const data = toyFcsdData({ size: 16, frames: 6, seed: 11 });
 * ```
 */
export function toyFcsdData(options: ToyFcsdDataOptions): FcsdData {
  const { size: S, frames, seed, ids = 'padded' } = options;
  const rng = new Rng(seed);
  const map = (lo: number, hi: number) => Float32Array.from(rng.uniform(S * S * 3, lo, hi));
  const labels = ['happy', 'sad'];
  return {
    size: S,
    labels,
    frames: Array.from({ length: frames }, (_, index): FcsdFrame => ({
      id: ids === 'padded' ? String(index).padStart(5, '0') : String(index), index,
      gt: map(0, 1), proxyRgb: map(0, 1), normal: map(0, 1), mask: new Float32Array(S * S).fill(1),
      gtTsd: map(-1, 1), proxyTsd: map(-1, 1), alignedTsd: map(-1, 1),
      pose: Float32Array.from(rng.normal(6)), expression: Float32Array.from(rng.normal(100)), emotion: labels[index % 2]!,
    })),
  };
}
