/**
 * `normalizeTsd`: map a TSD to the value range a network expects.
 *
 * Which consumer wants which range:
 * - **ControlNet conditioning** (z_c = normal ⊕ TSD, stage 3): **[0, 1]**. diffusers prepares control images with
 *   `VaeImageProcessor(do_normalize=False)` and trains with `ToTensor()` only (`pipeline_controlnet.py`,
 *   `examples/controlnet/train_controlnet.py`; docs/sources.md §controlnet). The released code also feeds its TSD PNG
 *   as `ToTensor()` output in [0, 1] (`scripts/inference.py`; docs/sources.md §consistentavatar-release).
 * - **VAE encoder / UNet sample** (the TSDM generates the aligned TSD as an image, stage 2) and the **TSD encoder
 *   E** (images go into DiffusionRig's ResNet encoder ±1-normalised, docs/sources.md §diffusionrig): **[−1, 1]**.
 *
 * Two modes:
 * - `'fixed'` (default): one constant scale for every frame (`scale`, default 1 in the TSD's units, i.e. the TSD of
 *   a [0, 1] image, or 255 for a uint8 release TSD). A given detail keeps the same value in every frame, so
 *   frame-to-frame changes of the normalised TSD are changes of the content only: this is what keeps a sequence
 *   temporally consistent. Values beyond ±scale are clipped.
 * - `'minmax'`: per image (each `[H, W, P]` of a batch separately), `(x − min)/(max − min)`. This is what the
 *   released script does, but one bright pixel rescales the whole frame, so brightness flickers from frame to
 *   frame: use it for single images only.
 *
 * Signed TSD (`output: 'real'`, zero-mean) maps its symmetric range `[−scale, scale]` onto the target range (so 0
 * → 0 in [−1, 1], 0.5 in [0, 1]); unsigned TSD (`abs`, release uint8) maps `[0, scale]`.
 *
 * @packageDocumentation
 */
import ndarray from 'ndarray';
import { checkFinite, ValidationError } from '@consistent-avatar/core';

/**
 * Target range.
 *
 * @example
 * ```ts
 * import type { TsdRange } from '@consistent-avatar/tsd';
 * const forControlNet: TsdRange = '[0,1]';
 * const forVae: TsdRange = '[-1,1]';
 * ```
 */
export type TsdRange = '[-1,1]' | '[0,1]';

/**
 * Options of {@link normalizeTsd}.
 *
 * @example
 * ```ts
 * import type { NormalizeTsdOptions } from '@consistent-avatar/tsd';
 * const forSequences: NormalizeTsdOptions = { mode: 'fixed', scale: 0.5, signed: true };
 * ```
 */
export interface NormalizeTsdOptions {
  /** `'fixed'` (default; temporally consistent) or `'minmax'` (per image). */
  mode?: 'fixed' | 'minmax';
  /**
   * Fixed mode: the TSD value mapped to the top of the range (and −scale to the bottom for signed TSD).
   * Default 1 for float TSD, 255 for uint8 TSD.
   */
  scale?: number;
  /**
   * Whether the TSD is signed (`output: 'real'`). Default: true if any value is negative. Pass it explicitly for
   * streams so every frame is mapped the same way.
   */
  signed?: boolean;
}

const FN = 'normalizeTsd';

/**
 * Map a TSD (`[H, W, P]` or `[B, H, W, P]`, float32 from {@link extractTsd} or the uint8 release image) to
 * `[-1, 1]` or `[0, 1]`. Returns a new float32 ndarray of the same shape.
 *
 * @param tsd - the TSD (`{ data, shape }`, row-major contiguous).
 * @param range - `'[-1,1]'` (VAE, UNet, TSD encoder) or `'[0,1]'` (ControlNet conditioning).
 * @param options - see {@link NormalizeTsdOptions}.
 * @throws ValidationError for a bad rank, empty or non-finite data, an unknown range/mode or a scale ≤ 0.
 *
 * @example
 * ```ts
 * import ndarray from 'ndarray';
 * import { normalizeTsd } from '@consistent-avatar/tsd';
 * const tsd = ndarray(new Float32Array([-0.5, 0, 0.25, 1.5]), [2, 2, 1]);
 * console.log(Array.from(normalizeTsd(tsd, '[-1,1]').data)); // [ -0.5, 0, 0.25, 1 ]  (fixed scale 1, clipped)
 * console.log(Array.from(normalizeTsd(tsd, '[0,1]', { mode: 'minmax' }).data)); // [ 0, 0.25, 0.375, 1 ]
 * ```
 */
export function normalizeTsd(
  tsd: { readonly data: Float32Array | Float64Array | Uint8Array | Uint8ClampedArray; readonly shape: readonly number[] },
  range: TsdRange,
  options: NormalizeTsdOptions = {},
): ndarray.NdArray<Float32Array> {
  // 1. Validate.
  if (tsd === null || typeof tsd !== 'object' || !('data' in tsd) || !('shape' in tsd)) {
    throw new ValidationError(FN, 'tsd', 'an ndarray-like { data, shape } of rank 3 [H, W, P] or 4 [B, H, W, P]', tsd);
  }
  const { data, shape } = tsd;
  const bytes = data instanceof Uint8Array || data instanceof Uint8ClampedArray;
  if (!(bytes || data instanceof Float32Array || data instanceof Float64Array)) {
    throw new ValidationError(FN, 'tsd.data', 'a Float32Array, Float64Array or Uint8Array', data);
  }
  if (!Array.isArray(shape) || (shape.length !== 3 && shape.length !== 4) || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ValidationError(FN, 'tsd.shape', 'rank 3 [H, W, P] or rank 4 [B, H, W, P] with every dimension ≥ 1', shape);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new ValidationError(FN, 'tsd.data', `${size} values for shape [${shape.join(', ')}] (contiguous)`, data);
  }
  if (range !== '[-1,1]' && range !== '[0,1]') throw new ValidationError(FN, 'range', "'[-1,1]' or '[0,1]'", range);
  if (options === null || typeof options !== 'object') throw new ValidationError(FN, 'options', 'an options object', options);
  for (const key of Object.keys(options)) {
    if (!['mode', 'scale', 'signed'].includes(key)) {
      throw new ValidationError(FN, `options.${key}`, 'no such option (known: mode, scale, signed)', key);
    }
  }
  const mode = options.mode ?? 'fixed';
  if (mode !== 'fixed' && mode !== 'minmax') throw new ValidationError(FN, 'options.mode', "'fixed' or 'minmax'", mode);
  const scale = options.scale ?? (bytes ? 255 : 1);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new ValidationError(FN, 'options.scale', 'a finite number > 0', scale);
  }
  if (options.signed !== undefined && typeof options.signed !== 'boolean') {
    throw new ValidationError(FN, 'options.signed', 'a boolean', options.signed);
  }
  checkFinite(FN, 'tsd.data', data); // the non-finite policy: names the first bad index
  let anyNegative = false;
  for (let t = 0; t < size; t++) if (data[t]! < 0) anyNegative = true;
  const signed = options.signed ?? anyNegative;

  // 2. Map to [0, 1] (u), then to the requested range.
  const out = new Float32Array(size);
  const toRange = range === '[0,1]' ? (u: number): number => u : (u: number): number => 2 * u - 1;
  if (mode === 'fixed') {
    for (let t = 0; t < size; t++) {
      const x = data[t]! / scale;
      const u = signed ? 0.5 + 0.5 * Math.min(1, Math.max(-1, x)) : Math.min(1, Math.max(0, x));
      out[t] = toRange(u);
    }
  } else {
    const images = shape.length === 4 ? shape[0]! : 1;
    const per = size / images;
    for (let b = 0; b < images; b++) {
      let min = Infinity;
      let max = -Infinity;
      for (let t = b * per; t < (b + 1) * per; t++) {
        if (data[t]! < min) min = data[t]!;
        if (data[t]! > max) max = data[t]!;
      }
      // A constant image has no detail: it maps to the range's zero-detail value (0.5 signed, 0 unsigned).
      const span = max - min;
      for (let t = b * per; t < (b + 1) * per; t++) {
        out[t] = toRange(span > 0 ? (data[t]! - min) / span : signed ? 0.5 : 0);
      }
    }
  }
  return ndarray(out, [...shape]); // same shape as the input
}
