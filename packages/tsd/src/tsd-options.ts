/**
 * Options of the TSD filter: their defaults, the two presets, and validation at the public boundary.
 *
 * The option names and values are exactly those of the reference fixtures (`test/fixtures/cases.json`):
 * `mask`, `radius`, `channels`, `output`, `preset`; plus `centre` for the mask centre convention.
 *
 * @packageDocumentation
 */
import { ValidationError } from '@consistent-avatar/core';
import type { TsdCentre, TsdMaskKind } from './high-pass-mask.js';

/**
 * Which planes are filtered: one luma plane `0.299R + 0.587G + 0.114B`, or every channel on its own.
 *
 * @example
 * ```ts
 * import { extractTsd, type TsdChannels } from '@consistent-avatar/tsd';
 * const channels: TsdChannels = 'rgb';
 * console.log(extractTsd({ data: new Float32Array(48), shape: [4, 4, 3] }, { channels }).shape); // [ 4, 4, 3 ]
 * ```
 */
export type TsdChannels = 'luma' | 'rgb';

/**
 * What is kept of the complex inverse transform `z`: the magnitude `|z|` or the real part `Re z`.
 *
 * @example
 * ```ts
 * import type { TsdOutput } from '@consistent-avatar/tsd';
 * const output: TsdOutput = 'real'; // signed, zero-mean TSD
 * ```
 */
export type TsdOutput = 'abs' | 'real';

/**
 * A named set of options.
 * - `'release'`: the TSD PNG exactly as the authors' released `TSD.py` writes it (8-bit luma, gaussian ω = 10 at
 *   the off-by-one centre, `|z|` truncated to uint8 into R and G with B = 0, then min–max scaled to uint8). The
 *   output is `Uint8Array` `[H, W, 3]`. No other option may be combined with it.
 * - `'paper'`: our recommended settings for conditioning networks: `{ mask: 'gaussian', radius: 10,
 *   channels: 'rgb', output: 'real', centre: 'dc' }`. Explicit options override it. Why:
 *   gaussian ω = 10 is the paper's filter (a smooth mask has no ringing, unlike `circle`/`box`); `'dc'` removes DC
 *   exactly, so a global brightness change (flicker) does not leak into the TSD; `'real'` keeps the sign of each
 *   detail, so the TSD is a *linear* function of the frame (small frame changes give proportionally small TSD
 *   changes, and it is zero-mean), whereas `abs` rectifies edges into double ridges; `'rgb'` fills the three input
 *   channels that the VAE / ControlNet / encoder expect with real colour detail instead of R = G, B = 0.
 *
 * @example
 * ```ts
 * import { extractTsd, type TsdPreset } from '@consistent-avatar/tsd';
 * const preset: TsdPreset = 'paper';
 * const tsd = extractTsd({ data: new Float32Array(48).fill(0.5), shape: [4, 4, 3] }, { preset });
 * ```
 */
export type TsdPreset = 'release' | 'paper';

/**
 * Options of {@link extractTsd}. Every field is optional; see {@link TSD_DEFAULTS}.
 *
 * @example
 * ```ts
 * import type { TsdOptions } from '@consistent-avatar/tsd';
 * const options: TsdOptions = { mask: 'circle', radius: 4, channels: 'rgb', output: 'abs' }; // as in cases.json
 * ```
 */
export interface TsdOptions {
  /** Mask shape: `'gaussian'` (default, `1 − exp(−d²/2ω²)`), `'circle'` or `'box'`. */
  mask?: TsdMaskKind;
  /** ω, the cut-off radius in frequency bins; > 0. Default 10 (the paper's). */
  radius?: number;
  /** `'luma'` (default, as the released code) or `'rgb'`. */
  channels?: TsdChannels;
  /** `'abs'` (default, as the released code) or `'real'`. */
  output?: TsdOutput;
  /** Mask centre: `'dc'` (default, `(⌊H/2⌋, ⌊W/2⌋)`) or `'release'` (`(⌊(H−1)/2⌋, ⌊(W−1)/2⌋)`). */
  centre?: TsdCentre;
  /** A preset; see {@link TsdPreset}. */
  preset?: TsdPreset;
}

/**
 * Fully resolved filter options (no preset).
 *
 * @example
 * ```ts
 * import { resolveTsdOptions } from '@consistent-avatar/tsd';
 * const request = resolveTsdOptions('myFunction', { radius: 4 });
 * if (request.kind === 'filter') console.log(request.options.radius); // 4
 * ```
 */
export interface ResolvedTsdOptions {
  readonly mask: TsdMaskKind;
  readonly radius: number;
  readonly channels: TsdChannels;
  readonly output: TsdOutput;
  readonly centre: TsdCentre;
}

/**
 * Defaults: the released code's filter (gaussian ω = 10, luma, magnitude) with the fixtures' centre.
 *
 * @example
 * ```ts
 * import { TSD_DEFAULTS } from '@consistent-avatar/tsd';
 * console.log(TSD_DEFAULTS); // { mask: 'gaussian', radius: 10, channels: 'luma', output: 'abs', centre: 'dc' }
 * ```
 */
export const TSD_DEFAULTS: ResolvedTsdOptions = Object.freeze({
  mask: 'gaussian',
  radius: 10,
  channels: 'luma',
  output: 'abs',
  centre: 'dc',
});

/**
 * The options behind `preset: 'paper'` (see {@link TsdPreset} for the reasons).
 *
 * @example
 * ```ts
 * import { TSD_PAPER_PRESET } from '@consistent-avatar/tsd';
 * console.log(TSD_PAPER_PRESET.channels, TSD_PAPER_PRESET.output); // rgb real
 * ```
 */
export const TSD_PAPER_PRESET: ResolvedTsdOptions = Object.freeze({
  mask: 'gaussian',
  radius: 10,
  channels: 'rgb',
  output: 'real',
  centre: 'dc',
});

/**
 * The filter inside `preset: 'release'` (applied to the 8-bit luma plane, in 0..255 units).
 *
 * @example
 * ```ts
 * import { TSD_RELEASE_FILTER, highPassMask } from '@consistent-avatar/tsd';
 * const { mask, radius, centre } = TSD_RELEASE_FILTER;
 * console.log(highPassMask(512, 512, mask, radius, centre).weights[0].toFixed(5)); // 0.00995 (DC leak)
 * ```
 */
export const TSD_RELEASE_FILTER: ResolvedTsdOptions = Object.freeze({
  mask: 'gaussian',
  radius: 10,
  channels: 'luma',
  output: 'abs',
  centre: 'release',
});

const ALLOWED: Record<Exclude<keyof TsdOptions, 'radius'>, readonly string[]> = {
  mask: ['gaussian', 'circle', 'box'],
  channels: ['luma', 'rgb'],
  output: ['abs', 'real'],
  centre: ['dc', 'release'],
  preset: ['release', 'paper'],
};
const KNOWN_KEYS = ['mask', 'radius', 'channels', 'output', 'centre', 'preset'];

/**
 * Resolved options: either the release preset or a plain filter.
 *
 * @example
 * ```ts
 * import { resolveTsdOptions } from '@consistent-avatar/tsd';
 * console.log(resolveTsdOptions('myFunction', { preset: 'release' })); // { kind: 'release' }
 * ```
 */
export type TsdRequest = { readonly kind: 'release' } | { readonly kind: 'filter'; readonly options: ResolvedTsdOptions };

/**
 * Validate user options and resolve defaults and presets.
 *
 * @param fn - the public function name used in errors (`'extractTsd'`).
 * @param options - the user's options (`undefined` means all defaults).
 * @returns `{ kind: 'release' }` or `{ kind: 'filter', options }`.
 * @throws ValidationError on an unknown key, an unknown value, or a radius that is not a finite number > 0.
 *
 * @example
 * ```ts
 * import { resolveTsdOptions } from '@consistent-avatar/tsd';
 * console.log(resolveTsdOptions('extractTsd', { preset: 'paper', radius: 4 }));
 * // { kind: 'filter', options: { mask: 'gaussian', radius: 4, channels: 'rgb', output: 'real', centre: 'dc' } }
 * ```
 */
export function resolveTsdOptions(fn: string, options: TsdOptions | undefined): TsdRequest {
  if (options === undefined) return { kind: 'filter', options: TSD_DEFAULTS };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValidationError(fn, 'options', 'an options object (or undefined)', options);
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KNOWN_KEYS.includes(key)) {
      throw new ValidationError(fn, `options.${key}`, `no such option (known: ${KNOWN_KEYS.join(', ')})`, key);
    }
    const value = record[key];
    if (value === undefined) continue;
    if (key === 'radius') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new ValidationError(fn, 'options.radius', 'a finite number > 0', value);
      }
    } else {
      const allowed = ALLOWED[key as keyof typeof ALLOWED];
      if (typeof value !== 'string' || !allowed.includes(value)) {
        throw new ValidationError(fn, `options.${key}`, `one of ${allowed.map((v) => `'${v}'`).join(', ')}`, value);
      }
    }
  }
  if (options.preset === 'release') {
    const extra = Object.keys(record).filter((k) => k !== 'preset' && record[k] !== undefined);
    if (extra.length > 0) {
      throw new ValidationError(
        fn,
        `options.${extra[0]}`,
        "no other option with preset 'release' (it fixes every setting)",
        record[extra[0]!],
      );
    }
    return { kind: 'release' };
  }
  const base = options.preset === 'paper' ? TSD_PAPER_PRESET : TSD_DEFAULTS;
  return {
    kind: 'filter',
    options: {
      mask: options.mask ?? base.mask,
      radius: options.radius ?? base.radius,
      channels: options.channels ?? base.channels,
      output: options.output ?? base.output,
      centre: options.centre ?? base.centre,
    },
  };
}
