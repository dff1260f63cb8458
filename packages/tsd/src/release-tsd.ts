/**
 * `releaseTsd`: a bit-exact reproduction of the TSD PNG that the authors' released script `TSD.py`
 * (njust-yang/ConsistentAvatar) writes. Opt in: this is not the paper's filter (that is `extractTsd`), but
 * what the released code computes, for comparing with files produced by it (docs/sources.md
 * §consistentavatar-release). Following the fixture definition (`test/fixtures/cases.json`):
 *
 * 1. 8-bit luma `round(255·(0.299R + 0.587G + 0.114B))` in 0..255 (R, G, B the 8-bit samples / 255; numpy rounding,
 *    half to even). Where the exact luma is a half-integer (about 7 pixels in 262 144 on the 512² fixture) the
 *    float64 evaluation order decides the rounding: the fixture computed `x @ [0.299, 0.587, 0.114]`, which numpy's
 *    BLAS evaluates as `fma(B, 0.114, fma(R, 0.299, G·0.587))`; we reproduce exactly that (see {@link fmaExact}).
 *    Note: `cv2.imread(…, IMREAD_GRAYSCALE)` (OpenCV 4.6, libpng's fixed-point conversion) differs from this by ±1
 *    on ~44 % of pixels; the fixture's definition, not OpenCV's reader, is what is reproduced here.
 * 2. Gaussian high-pass, ω = 10, centred at `(⌊(H−1)/2⌋, ⌊(W−1)/2⌋)` of the fftshift-ed spectrum (one bin off DC
 *    for even sizes, so about 1 % of DC leaks through).
 * 3. `m = |ifft2(…)|`, cast to uint8 by truncation; like numpy's cast on x86, values ≥ 256 wrap modulo 256 (the
 *    released code does not clamp).
 * 4. `a` = `[H, W, 3]` uint8 with R = G = m, B = 0.
 * 5. `(a − min + 1e-5) / (max − min + 1e-5) · 255` over all channels, truncated to uint8.
 *
 * @packageDocumentation
 */
import { checkImage, isByteImage, toByteImage, ValidationError, type ByteImage, type Image } from '@consistent-avatar/core';
import { filterPlanes, highPassMask } from './extract-tsd.js';

/** ω of the released script. */
const RELEASE_RADIUS = 10;

const bits = new DataView(new ArrayBuffer(8));

/** `x = mantissa · 2^exponent` exactly (finite x). */
function dyadic(x: number): { mantissa: bigint; exponent: number } {
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const sign = hi >>> 31 ? -1n : 1n;
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mantissa: sign * fraction, exponent: -1074 }; // zero / subnormal
  return { mantissa: sign * ((1n << 52n) | fraction), exponent: biased - 1075 };
}

/**
 * Correctly rounded fused multiply-add `round(a·b + c)` (one rounding, to nearest, ties to even) for finite
 * normal-range inputs and results, computed exactly with BigInt: JavaScript has no `Math.fma`. Slow; used only
 * near rounding ties in step 1. Not part of the package index.
 *
 * @example
 * ```ts
 * import { fmaExact } from './release-tsd.js';
 * console.log(fmaExact(0.1, 10, -1)); // 5.551115123125783e-17  (the product's rounding error, not 0)
 * ```
 */
export function fmaExact(a: number, b: number, c: number): number {
  const x = dyadic(a);
  const y = dyadic(b);
  const z = dyadic(c);
  const productExponent = x.exponent + y.exponent;
  const exponent = Math.min(productExponent, z.exponent);
  // Exact sum on the common exponent.
  const sum = ((x.mantissa * y.mantissa) << BigInt(productExponent - exponent)) + (z.mantissa << BigInt(z.exponent - exponent));
  // Number(BigInt) rounds to nearest, ties to even; scaling by powers of two is then exact (normal range).
  let result = Number(sum);
  let e = exponent;
  while (e < -1000) {
    result *= 2 ** -1000;
    e += 1000;
  }
  return result * 2 ** e;
}

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
 * Step 1: the 8-bit luma plane `[H, W]` (0..255 as float64). A float image is first quantised to bytes with
 * `toByteImage` (as writing and re-reading an 8-bit PNG would); samples outside [0, 1] are rejected.
 */
function releaseLuma(fn: string, image: unknown): { plane: Float64Array; height: number; width: number } {
  checkImage(fn, 'image', image);
  if (!isByteImage(image)) {
    const samples = image.data;
    for (let s = 0; s < samples.length; s++) {
      if (!(samples[s]! >= 0 && samples[s]! <= 1)) {
        const pixel = Math.floor(s / image.channels);
        throw new ValidationError(fn, 'image', `samples in [0, 1] (pixel [${Math.floor(pixel / image.width)}, ${pixel % image.width}] is not)`, samples[s]);
      }
    }
  }
  const { data, height, width, channels } = toByteImage(image, fn);
  const plane = new Float64Array(height * width);
  for (let t = 0, p = 0; t < plane.length; t++, p += channels) {
    plane[t] = channels < 3 ? data[p]! : lumaByte(data[p]! / 255, data[p + 1]! / 255, data[p + 2]! / 255);
  }
  return { plane, height, width };
}

/** Steps 1–3 before the uint8 cast. */
function magnitude(fn: string, image: unknown): { plane: Float64Array; height: number; width: number } {
  const luma = releaseLuma(fn, image);
  const { height, width } = luma;
  // 2.–3. Gaussian ω = 10 at the released script's centre, z = ifft2(fft2(x) · M), |z|.
  const mask = highPassMask(height, width, 'gaussian', RELEASE_RADIUS, [Math.floor((height - 1) / 2), Math.floor((width - 1) / 2)]);
  filterPlanes([luma.plane], mask, 'abs');
  return luma;
}

/**
 * The float64 magnitude `|z|` (0..255 units) of the released script's filter before its uint8 truncation: what
 * {@link releaseTsd} truncates. Useful to see which pixels sit on an integer boundary.
 *
 * @param image - a core `Image` `[H, W, C]` (float32 in [0, 1] or uint8), C = 1–4 (alpha ignored).
 * @returns `Float64Array` of length H·W, row-major `[H, W]`.
 * @throws ValidationError naming `releaseTsdMagnitude` for a malformed image or float samples outside [0, 1].
 *
 * @example
 * ```ts
 * import { releaseTsdMagnitude } from '@consistent-avatar/tsd';
 * const image = { data: Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37) % 256), height: 8, width: 8, channels: 3 };
 * console.log(releaseTsdMagnitude(image).length); // 64
 * ```
 */
export function releaseTsdMagnitude(image: Image): Float64Array {
  return magnitude('releaseTsdMagnitude', image).plane;
}

/**
 * The TSD PNG of the authors' released `TSD.py`, byte for byte (see the module comment for its five steps).
 *
 * @param image - a core `Image` `[H, W, C]` (float32 in [0, 1] or uint8), C = 1–4 (alpha ignored).
 * @returns a `ByteImage` `[H, W, 3]`: R = G = the scaled magnitude, B = the scaled 0.
 * @throws ValidationError naming `releaseTsd` for a malformed image or float samples outside [0, 1].
 *
 * @example
 * ```ts
 * import { toFloatImage, writePng } from '@consistent-avatar/core';
 * import { releaseTsd } from '@consistent-avatar/tsd';
 * const png = releaseTsd({ data: new Uint8Array(4 * 4 * 3), height: 4, width: 4, channels: 3 });
 * console.log(png.data[2]); // 255: an all-black frame has max = min = 0, so everything scales to 255
 * writePng('tsd.png', toFloatImage(png));
 * ```
 */
export function releaseTsd(image: Image): ByteImage {
  const { plane, height, width } = magnitude('releaseTsd', image);
  const n = height * width;
  // 3. uint8 truncation (wrapping modulo 256 above 255, as numpy's astype on x86).
  const truncated = new Uint8Array(n);
  let max = 0;
  for (let t = 0; t < n; t++) {
    truncated[t] = Math.trunc(plane[t]!) & 255;
    if (truncated[t]! > max) max = truncated[t]!;
  }
  // 4.–5. R = G = m, B = 0; the min over all channels is 0 (the B channel).
  const min = 0;
  const scaled = new Uint8Array(256);
  for (let v = 0; v < 256; v++) scaled[v] = Math.trunc(((v - min + 1e-5) / (max - min + 1e-5)) * 255) & 255;
  const data = new Uint8Array(n * 3); // [H, W, 3]
  for (let t = 0; t < n; t++) {
    data[3 * t] = scaled[truncated[t]!]!;
    data[3 * t + 1] = scaled[truncated[t]!]!;
    data[3 * t + 2] = scaled[0]!;
  }
  return { data, height, width, channels: 3 };
}

