/**
 * `preset: 'release'`: the TSD PNG exactly as the authors' released `TSD.py` (njust-yang/ConsistentAvatar) writes
 * it (docs/sources.md §consistentavatar-release), following the fixture definition (`test/fixtures/cases.json`):
 *
 * 1. 8-bit luma `round(255·(0.299R + 0.587G + 0.114B))` in 0..255 (R, G, B in [0, 1]; numpy rounding, half to
 *    even). Where the exact luma is a half-integer (about 7 pixels in 262 144 on the 512² fixture) the float64
 *    evaluation order decides the rounding: the fixture computed `x @ [0.299, 0.587, 0.114]`, which numpy's BLAS
 *    evaluates as `fma(B, 0.114, fma(R, 0.299, G·0.587))`; we reproduce exactly that (see {@link fmaExact}).
 *    Note: `cv2.imread(…, IMREAD_GRAYSCALE)` (OpenCV 4.6, libpng's fixed-point conversion) differs from this by
 *    ±1 on ~44 % of pixels; the fixture's definition, not OpenCV's reader, is what is reproduced here.
 * 2. Gaussian high-pass, ω = 10, centred at `(⌊(H−1)/2⌋, ⌊(W−1)/2⌋)` (one bin off DC for even sizes).
 * 3. `m = |ifft2(…)|`, cast to uint8 by truncation; like numpy's cast on x86, values ≥ 256 wrap modulo 256
 *    (the released code does not clamp).
 * 4. `a` = `[H, W, 3]` uint8 with R = G = m, B = 0.
 * 5. `(a − min + 1e-5) / (max − min + 1e-5) · 255` over all channels, truncated to uint8.
 *
 * @packageDocumentation
 */
import ndarray from 'ndarray';
import { ValidationError } from '@consistent-avatar/core';
import { fmaExact } from './fma.js';
import type { ImageView } from './image-input.js';
import { getTsdFilter } from './tsd-filter.js';
import { TSD_RELEASE_FILTER } from './tsd-options.js';

/** Round half to even, as numpy's `np.round`. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `round(255 · (R·0.299 + G·0.587 + B·0.114))` as the fixture's numpy matmul computes it (R, G, B in [0, 1]):
 * plain float64 arithmetic is within a few ulps of it, so the exact FMA evaluation is only needed near a tie.
 */
function lumaByte(r: number, g: number, b: number): number {
  const approx = 255 * (r * 0.299 + g * 0.587 + b * 0.114);
  if (Math.abs(approx - Math.floor(approx) - 0.5) > 1e-9) return Math.round(approx);
  return roundHalfEven(255 * fmaExact(b, 0.114, fmaExact(r, 0.299, g * 0.587)));
}

/**
 * Step 1: the 8-bit luma plane `[H, W]` (values 0..255 as float64). Float input is first quantised to bytes
 * (`round(255·v)`, as writing and re-reading an 8-bit PNG would); values outside [0, 1] are rejected.
 */
function releaseLuma(fn: string, argument: string, view: ImageView, target: Float64Array): void {
  const { height, width, channels, data, offset, bytes } = view;
  const [sh, sw, sc] = view.strides;
  const toByte = (v: number, i: number, j: number): number => {
    if (bytes) return v;
    if (!(v >= 0 && v <= 1)) {
      throw new ValidationError(fn, argument, `pixel values in [0, 1] for preset 'release' (pixel [${i}, ${j}])`, v);
    }
    return Math.round(v * 255);
  };
  let t = 0;
  for (let i = 0; i < height; i++) {
    let p = offset + i * sh;
    for (let j = 0; j < width; j++, p += sw, t++) {
      if (channels < 3) {
        target[t] = toByte(data[p]!, i, j);
        continue;
      }
      const r = toByte(data[p]!, i, j) / 255;
      const g = toByte(data[p + sc]!, i, j) / 255;
      const b = toByte(data[p + 2 * sc]!, i, j) / 255;
      target[t] = lumaByte(r, g, b);
    }
  }
}

/**
 * Steps 1–3 before the uint8 cast: the float64 magnitude `|z|` `[H, W]` (0..255 units) of the release filter.
 * (Internal; the public entry point is `releaseTsdMagnitude`.)
 */
export function releaseTsdMagnitudeOfView(fn: string, argument: string, view: ImageView): Float64Array {
  const { height, width } = view;
  const filter = getTsdFilter(height, width, TSD_RELEASE_FILTER);
  const magnitude = new Float64Array(height * width);
  filter.filterPlanes([
    {
      fill: (target) => releaseLuma(fn, argument, view, target),
      emit: (re, im) => {
        for (let t = 0; t < magnitude.length; t++) {
          magnitude[t] = im ? Math.sqrt(re[t]! * re[t]! + im[t]! * im[t]!) : Math.abs(re[t]!);
        }
      },
    },
  ]);
  return magnitude;
}

/** Steps 3–5: from the float64 magnitude to the released uint8 `[H, W, 3]` image. */
export function releaseTsdFromMagnitude(magnitude: Float64Array, height: number, width: number): ndarray.NdArray<Uint8Array> {
  const n = height * width;
  // 3. uint8 truncation (wrapping modulo 256 above 255, as numpy's astype on x86).
  const truncated = new Uint8Array(n);
  let max = 0;
  for (let t = 0; t < n; t++) {
    const v = Math.trunc(magnitude[t]!) & 255;
    truncated[t] = v;
    if (v > max) max = v;
  }
  // 4.–5. R = G = m, B = 0; min over all channels is 0 (the B channel).
  const min = 0;
  const scale = (v: number): number => Math.trunc(((v - min + 1e-5) / (max - min + 1e-5)) * 255) & 255;
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = scale(v);
  const out = new Uint8Array(n * 3);
  for (let t = 0; t < n; t++) {
    out[3 * t] = lut[truncated[t]!]!;
    out[3 * t + 1] = lut[truncated[t]!]!;
    out[3 * t + 2] = lut[0]!;
  }
  return ndarray(out, [height, width, 3]); // [H, W, 3]
}
