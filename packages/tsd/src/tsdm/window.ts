/**
 * The temporal window of TSDM conditions (`config.temporalWindow` = K): for a frame t of a sequence, the proxy TSDs,
 * poses and expressions of frames t−K … t+K, clamped at the sequence ends (the first frame is its own predecessor,
 * the last its own successor), packed as the batch tensors' data that {@link TsdmModel.condition} and
 * {@link TsdmModel.predictNoise} take. With K = 0 it is the frame alone (the paper's conditioning).
 *
 * @packageDocumentation
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';
import type { TsdmConfig } from './config.js';
import type { TsdmFrame } from './condition.js';

/**
 * The packed inputs of a batch of frames (row-major data of the tensors, `W = 2K + 1` window frames).
 * @example
 * ```ts
 * const inputs: TsdmWindowInputs = tsdmWindowInputs(frames, [0, 1], config);
 * ```
 */
export interface TsdmWindowInputs {
  /** Frames in the batch. */
  batch: number;
  /** The frames' own proxy TSD `[B, size, size, 3]` (input of the encoder E, and the base of the residual target). */
  proxy: Float32Array;
  /** The window's proxy TSDs stacked along channels, oldest first: `[B, size, size, 3·W]`. */
  proxyWindow: Float32Array;
  /** The window's poses, oldest first: `[B, W·poseDim]`. */
  pose: Float32Array;
  /** The window's expressions, oldest first: `[B, W·expressionDim]`. */
  expression: Float32Array;
}

/**
 * Pack the conditions of frames `centers` of the sequence `frames` with their temporal window.
 *
 * @param frames - a sequence in time order (consecutive frames; from `prepareTsdmData` or a test slice of it).
 * @param centers - indices into `frames` of the batch's frames.
 * @param config - `size`, `poseDim`, `expressionDim`, `temporalWindow`.
 * @returns the packed data (see {@link TsdmWindowInputs} for the shapes). Values are copied unchecked (once per
 *   training step): `trainTsdm` and `alignTsd` check the frames for NaN / ±Infinity before they call it.
 * @example
 * ```ts
 * import { tsdmWindowInputs, resolveTsdmConfig } from '@consistent-avatar/tsd';
 * const c = resolveTsdmConfig({ temporalWindow: 1 });
 * const { proxyWindow, pose } = tsdmWindowInputs(data.frames, [0, 5], c); // [2, 32, 32, 9], [2, 18]
 * ```
 */
export function tsdmWindowInputs(
  frames: readonly Pick<TsdmFrame, 'proxy' | 'pose' | 'expression'>[],
  centers: readonly number[],
  config: Pick<TsdmConfig, 'size' | 'poseDim' | 'expressionDim' | 'temporalWindow'>,
): TsdmWindowInputs {
  const FN = 'tsdmWindowInputs';
  const K = config.temporalWindow, W = 2 * K + 1, S = config.size, n = S * S * 3;
  const P = config.poseDim, E = config.expressionDim;
  if (!Number.isInteger(K) || K < 0) throw new ValidationError(FN, 'config.temporalWindow', 'a non-negative integer', K);
  if (!Array.isArray(frames) || frames.length === 0) throw new ValidationError(FN, 'frames', 'a non-empty array of frames', frames);
  const B = centers.length;
  for (const t of centers) if (!Number.isInteger(t) || t < 0 || t >= frames.length) throw new ValidationError(FN, 'centers', `indices in [0, ${frames.length})`, t);
  const proxy = new Float32Array(B * n), proxyWindow = new Float32Array(B * n * W);
  const pose = new Float32Array(B * W * P), expression = new Float32Array(B * W * E);
  centers.forEach((t, b) => {
    proxy.set(frames[t]!.proxy, b * n);
    for (let w = 0; w < W; w++) {
      const f = frames[Math.min(frames.length - 1, Math.max(0, t + w - K))]!; // clamped at the sequence ends
      // [S·S, 3] of frame t+w−K into channels 3w … 3w+2 of [B, S·S, 3·W]
      for (let p = 0, src = 0, dst = b * n * W + 3 * w; p < S * S; p++, src += 3, dst += 3 * W) {
        proxyWindow[dst] = f.proxy[src]!;
        proxyWindow[dst + 1] = f.proxy[src + 1]!;
        proxyWindow[dst + 2] = f.proxy[src + 2]!;
      }
      pose.set(f.pose, (b * W + w) * P); // [B, W, P] → [B, W·P]
      expression.set(f.expression, (b * W + w) * E); // [B, W, E] → [B, W·E]
    }
  });
  return { batch: B, proxy, proxyWindow, pose, expression };
}

/**
 * Validate the conditions of every frame of a sequence (what {@link tsdmWindowInputs} reads): `proxy` of
 * `size·size·3` values, `pose` of `poseDim`, `expression` of `expressionDim`. Run once per call of a public entry
 * point, not per batch.
 * @param fn - the public function, for the message; `label` - how it names the array (`'frames'`, `'data.frames'`).
 */
export function checkTsdmFrames(
  fn: string,
  label: string,
  frames: readonly Pick<TsdmFrame, 'proxy' | 'pose' | 'expression'>[],
  config: Pick<TsdmConfig, 'size' | 'poseDim' | 'expressionDim'>,
): void {
  const S = config.size, n = S * S * 3;
  frames.forEach((f, i) => {
    if (!f || f.proxy?.length !== n) throw new ValidationError(fn, `${label}[${i}].proxy`, `${n} values ([${S}, ${S}, 3])`, f?.proxy?.length);
    if (f.pose?.length !== config.poseDim) throw new ValidationError(fn, `${label}[${i}].pose`, `${config.poseDim} values`, f.pose?.length);
    if (f.expression?.length !== config.expressionDim) throw new ValidationError(fn, `${label}[${i}].expression`, `${config.expressionDim} values`, f.expression?.length);
    checkFinite(fn, `${label}[${i}].proxy`, f.proxy);
    checkFinite(fn, `${label}[${i}].pose`, f.pose);
    checkFinite(fn, `${label}[${i}].expression`, f.expression);
  });
}
