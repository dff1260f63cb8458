/**
 * The paper's Fig. 7 measure: the mean optical-flow magnitude between adjacent frames, as a curve over time, for
 * the generated and the real video — and how well the two curves agree (mean absolute difference and Pearson
 * correlation).
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';
import type { FlowField } from './farneback.js';

/**
 * Options of {@link meanFlowMagnitude}.
 * @example
 * ```ts
 * meanFlowMagnitude(field, { border: 16 } satisfies FlowRegionOptions);
 * ```
 */
export interface FlowRegionOptions {
  /** Pixels dropped on each side before averaging (flow is unreliable at the border). Default 0. */
  readonly border?: number;
}

/**
 * Check a flow field (finite values: NaN / ±Infinity are a `ValidationError`) and a border width; returns the border.
 *
 * @example
 * ```ts
 * flowBorder('meanFlowMagnitude', { data: new Float32Array(8 * 8 * 2), height: 8, width: 8 }, 2); // 2
 * ```
 */
export function flowBorder(fn: string, field: FlowField, border = 0, arg = 'field'): number {
  if (field === null || typeof field !== 'object' || !(field.data instanceof Float32Array)) {
    throw new ValidationError(fn, arg, 'a flow field {data: Float32Array, height, width}', field);
  }
  if (field.data.length !== field.height * field.width * 2) {
    throw new ValidationError(fn, `${arg}.data`, `length H*W*2 = ${field.height * field.width * 2}`, field.data);
  }
  checkFinite(fn, `${arg}.data`, field.data); // core's non-finite policy: a NaN vector made the mean NaN
  if (!Number.isInteger(border) || border < 0 || 2 * border >= Math.min(field.height, field.width)) {
    throw new ValidationError(fn, 'options.border', `an integer in [0, ${Math.min(field.height, field.width) / 2})`, border);
  }
  return border;
}

/**
 * Mean flow magnitude `mean √(dx² + dy²)` over the field (minus `border` pixels on each side), in pixels.
 *
 * @example
 * ```ts
 * const data = new Float32Array(4 * 4 * 2).fill(0).map((_, i) => (i % 2 === 0 ? 3 : 4));
 * meanFlowMagnitude({ data, height: 4, width: 4 }); // 5
 * ```
 */
export function meanFlowMagnitude(field: FlowField, options: FlowRegionOptions = {}): number {
  const b = flowBorder('meanFlowMagnitude', field, options.border);
  const { data, height, width } = field;
  let sum = 0;
  for (let y = b; y < height - b; y++) {
    for (let x = b, i = (y * width + b) * 2; x < width - b; x++, i += 2) sum += Math.hypot(data[i]!, data[i + 1]!);
  }
  return sum / ((height - 2 * b) * (width - 2 * b));
}

/**
 * Fig. 7 curve: {@link meanFlowMagnitude} of each adjacent-frame flow (`T − 1` values for `T` frames).
 *
 * @example
 * ```ts
 * const curve = flowMagnitudeCurve(flow.computeSequence(frames), { border: 8 });
 * ```
 */
export function flowMagnitudeCurve(fields: readonly FlowField[], options: FlowRegionOptions = {}): number[] {
  if (!Array.isArray(fields)) throw new ValidationError('flowMagnitudeCurve', 'fields', 'an array of flow fields', fields);
  return fields.map((f) => meanFlowMagnitude(f, options));
}

/**
 * Agreement of two curves of equal length.
 * @example
 * ```ts
 * const { meanAbsDiff, pearson }: CurveAgreement = curveAgreement(generatedCurve, realCurve);
 * ```
 */
export interface CurveAgreement {
  /** Mean of `|generated[t] − reference[t]|`. */
  readonly meanAbsDiff: number;
  /** Pearson correlation; `NaN` when either curve is constant (undefined correlation — reported, not invented). */
  readonly pearson: number;
}

/**
 * Mean absolute difference and Pearson correlation between two curves (e.g. generated vs real Fig. 7 curves).
 *
 * @example
 * ```ts
 * curveAgreement([1, 2, 3], [1, 2, 4]); // { meanAbsDiff: 0.333…, pearson: 0.98198… }
 * ```
 */
export function curveAgreement(generated: readonly number[], reference: readonly number[]): CurveAgreement {
  const fn = 'curveAgreement';
  if (!Array.isArray(generated) || generated.length === 0) {
    throw new ValidationError(fn, 'generated', 'a non-empty array of numbers', generated);
  }
  if (!Array.isArray(reference) || reference.length !== generated.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated.length} numbers`, reference);
  }
  checkFinite(fn, 'generated', generated);
  checkFinite(fn, 'reference', reference);
  const n = generated.length;
  let mg = 0;
  let mr = 0;
  let mad = 0;
  for (let t = 0; t < n; t++) {
    mg += generated[t]!;
    mr += reference[t]!;
    mad += Math.abs(generated[t]! - reference[t]!);
  }
  mg /= n;
  mr /= n;
  let sgr = 0;
  let sgg = 0;
  let srr = 0;
  for (let t = 0; t < n; t++) {
    const dg = generated[t]! - mg;
    const dr = reference[t]! - mr;
    sgr += dg * dr;
    sgg += dg * dg;
    srr += dr * dr;
  }
  const pearson = sgg > 0 && srr > 0 ? sgr / Math.sqrt(sgg * srr) : NaN;
  return { meanAbsDiff: mad / n, pearson };
}
