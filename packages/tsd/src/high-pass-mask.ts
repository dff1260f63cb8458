/**
 * The frequency-domain high-pass masks of the TSD filter (ConsistentAvatar §3.2, "Temporally-Sensitive Detail").
 *
 * A mask is defined on the *centred* spectrum `fftshift(fft2(x))` of an `H × W` plane, as a function of the squared
 * distance `d² = (i − ci)² + (j − cj)²` from a centre `(ci, cj)`:
 * - `gaussian`: `M = 1 − exp(−d² / (2ω²))` (the released code's filter; ω = radius),
 * - `circle`: `M = 0` where `d² ≤ ω²`, else 1 (ideal high-pass),
 * - `box`: `M = 0` where `|i − ci| ≤ ω` and `|j − cj| ≤ ω`, else 1.
 *
 * Centres: `'dc'` is `(⌊H/2⌋, ⌊W/2⌋)`, the bin where fftshift puts DC (the fixtures' convention, so M(DC) = 0);
 * `'release'` is `(⌊(H−1)/2⌋, ⌊(W−1)/2⌋)`, the authors' released `TSD.py` (one bin off for even sizes, so about 1 % of
 * DC leaks through with ω = 10).
 *
 * @packageDocumentation
 */

/**
 * The mask shape.
 *
 * @example
 * ```ts
 * import { highPassMask, type TsdMaskKind } from '@consistent-avatar/tsd';
 * const kind: TsdMaskKind = 'box';
 * console.log(highPassMask(16, 16, kind, 2, 'dc').weights[1]); // 0 (inside the box)
 * ```
 */
export type TsdMaskKind = 'gaussian' | 'circle' | 'box';

/**
 * Where the mask is centred in the fftshift-ed spectrum (see the module comment).
 *
 * @example
 * ```ts
 * import { highPassMask, type TsdCentre } from '@consistent-avatar/tsd';
 * const centre: TsdCentre = 'release';
 * console.log(highPassMask(8, 8, 'circle', 1, centre).weights[0]); // 1 (DC is √2 bins from the off-by-one centre)
 * ```
 */
export type TsdCentre = 'dc' | 'release';

/**
 * A mask stored in the *unshifted* layout of `fft2` output, row-major `[H, W]`, index 0 = DC.
 *
 * @example
 * ```ts
 * import { highPassMask } from '@consistent-avatar/tsd';
 * const { weights, hermitian } = highPassMask(6, 9, 'gaussian', 2, 'dc');
 * console.log(weights.length, hermitian); // 54 true
 * ```
 */
export interface HighPassMask {
  /** `[H, W]` row-major weights, `ifftshift` of the centred mask. */
  readonly weights: Float64Array;
  readonly height: number;
  readonly width: number;
  /**
   * True when `M(k, l) = M(−k mod H, −l mod W)` for every bin. Then filtering a real plane gives a real plane, so
   * two real planes can share one complex FFT (`a + i·b`).
   */
  readonly hermitian: boolean;
}

/** Mask value at a signed offset `(di, dj)` from the centre. */
function maskValue(kind: TsdMaskKind, radius: number, di: number, dj: number): number {
  switch (kind) {
    case 'gaussian':
      return 1 - Math.exp(-(di * di + dj * dj) / (2 * radius * radius));
    case 'circle':
      return di * di + dj * dj <= radius * radius ? 0 : 1;
    case 'box':
      return Math.abs(di) <= radius && Math.abs(dj) <= radius ? 0 : 1;
  }
}

/**
 * Build a high-pass mask for an `H × W` spectrum, already moved to the unshifted `fft2` layout, so filtering is
 * `ifft2(fft2(x) · weights)`, which equals `ifft2(ifftshift(fftshift(fft2(x)) · M))`.
 *
 * @param height - H (≥ 1).
 * @param width - W (≥ 1).
 * @param kind - `'gaussian'`, `'circle'` or `'box'`.
 * @param radius - ω > 0, in frequency bins.
 * @param centre - `'dc'` (fixtures) or `'release'` (the authors' off-by-one centre).
 * @returns the mask (`weights` `[H, W]`) and whether it is Hermitian-symmetric.
 *
 * @example
 * ```ts
 * import { highPassMask } from '@consistent-avatar/tsd';
 * const m = highPassMask(8, 8, 'gaussian', 2, 'dc');
 * console.log(m.weights[0], m.hermitian); // 0 true  (DC removed)
 * const r = highPassMask(8, 8, 'gaussian', 2, 'release');
 * console.log(r.weights[0].toFixed(4), r.hermitian); // 0.2212 false
 * ```
 */
export function highPassMask(
  height: number,
  width: number,
  kind: TsdMaskKind,
  radius: number,
  centre: TsdCentre,
): HighPassMask {
  const weights = new Float64Array(height * width);
  // 1. Centre in the shifted spectrum.
  const ci = centre === 'dc' ? Math.floor(height / 2) : Math.floor((height - 1) / 2);
  const cj = centre === 'dc' ? Math.floor(width / 2) : Math.floor((width - 1) / 2);
  // 2. Unshifted bin k sits at shifted index (k + ⌊H/2⌋) mod H (ifftshift = roll by −⌊H/2⌋).
  const shiftI = Math.floor(height / 2);
  const shiftJ = Math.floor(width / 2);
  const rowValues = new Float64Array(width);
  for (let k = 0; k < height; k++) {
    const di = ((k + shiftI) % height) - ci;
    for (let l = 0; l < width; l++) rowValues[l] = maskValue(kind, radius, di, ((l + shiftJ) % width) - cj);
    weights.set(rowValues, k * width);
  }
  // 3. Hermitian symmetry check (exact: it holds by construction for the 'dc' centre and odd sizes).
  let hermitian = true;
  for (let k = 0; k < height && hermitian; k++) {
    const kMirror = (height - k) % height;
    for (let l = 0; l < width; l++) {
      if (weights[k * width + l] !== weights[kMirror * width + ((width - l) % width)]) {
        hermitian = false;
        break;
      }
    }
  }
  return { weights, height, width, hermitian };
}
