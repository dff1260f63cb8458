/**
 * Flow end-point error: the mean Euclidean distance between two flow fields (Baker et al., "A Database and
 * Evaluation Methodology for Optical Flow", IJCV 2011).
 */
import { ValidationError } from '@consistent-avatar/core';
import type { FlowField } from './farneback.js';
import { flowBorder, type FlowRegionOptions } from './flow-curve.js';

/**
 * Mean `‖a(x) − b(x)‖₂` over the field minus `border` pixels on each side, in pixels.
 *
 * @param a - flow `[H, W, 2]` (e.g. of the generated video, or an estimate).
 * @param b - flow of the same size (e.g. of the real video, or the ground truth).
 * @example
 * ```ts
 * const zero = { data: new Float32Array(4 * 4 * 2), height: 4, width: 4 };
 * const ones = { data: new Float32Array(4 * 4 * 2).fill(1), height: 4, width: 4 };
 * endPointError(zero, ones); // 1.41421…
 * ```
 */
export function endPointError(a: FlowField, b: FlowField, options: FlowRegionOptions = {}): number {
  const fn = 'endPointError';
  const border = flowBorder(fn, a, options.border, 'a');
  flowBorder(fn, b, border, 'b');
  if (a.height !== b.height || a.width !== b.width) {
    throw new ValidationError(fn, 'b', `a ${a.height}×${a.width} flow field`, `${b.height}×${b.width}`);
  }
  const { height, width } = a;
  let sum = 0;
  for (let y = border; y < height - border; y++) {
    for (let x = border, i = (y * width + border) * 2; x < width - border; x++, i += 2) {
      sum += Math.hypot(a.data[i]! - b.data[i]!, a.data[i + 1]! - b.data[i + 1]!);
    }
  }
  return sum / ((height - 2 * border) * (width - 2 * border));
}
