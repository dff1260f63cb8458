/**
 * The stage-2 training pairs: for every frame of a dataset, the ground-truth TSD (of the real frame), the proxy's
 * TSD (of the stage-1 proxy render for the same tracked expression and pose), and the tracked P and E — the inputs
 * of f_c = [E(TSD_proxy), Linear(P), Linear(E)] (Eq. 4) and the target x_0 of the diffusion (Eq. 5–6).
 *
 * Each image is area-averaged to the model's `size` (the dataset side must be a multiple of it), filtered with the
 * `'paper'` preset (gaussian high-pass, rgb, signed real part, DC removed exactly) at radius `tsdRadius`, and
 * normalised to [−1, 1] with the fixed scale `tsdScale` (the same scale for every frame, so a detail keeps its
 * value along a sequence).
 *
 * @packageDocumentation
 */
import { checkFinite, readPng, ValidationError } from '@consistent-avatar/core';
import { renderProxy, frameParams, ProxyAvatar, type AvatarDataset } from '@consistent-avatar/proxy';
import { extractTsd } from '../extract-tsd.js';
import { normalizeTsd } from '../normalize-tsd.js';
import type { TsdmConfig } from './config.js';

/**
 * One frame's stage-2 inputs. Maps are `[size, size, 3]` row-major, normalised to [−1, 1].
 * @example
 * ```ts
 * const frame: TsdmFrame = { id: '00000', proxy: new Float32Array(32 * 32 * 3), pose: new Float32Array(6), expression: new Float32Array(100) };
 * ```
 */
export interface TsdmFrame {
  id: string;
  /** TSD of the real frame (the target; absent for frames to be generated only). */
  gt?: Float32Array;
  /** TSD of the proxy render. */
  proxy: Float32Array;
  /** Paper pose P `[poseDim]`. */
  pose: Float32Array;
  /** Expression E `[expressionDim]`. */
  expression: Float32Array;
}

/**
 * A prepared stage-2 dataset: frames in sequence order and the split (indices into `frames`).
 * @example
 * ```ts
 * const data: TsdmData = prepareTsdmData(ds, proxy, config);
 * const held = data.split.test.map((i) => data.frames[i]);
 * ```
 */
export interface TsdmData {
  size: number;
  frames: TsdmFrame[];
  split: { train: number[]; test: number[] };
}

/**
 * Area-average an `[H, W, C]` image by an integer factor to `[size, size, C]`.
 * @example
 * ```ts
 * import { downsampleImage } from '@consistent-avatar/tsd';
 * const small = downsampleImage(new Float32Array(64 * 64 * 3), 64, 64, 3, 32); // Float32Array(32·32·3)
 * ```
 */
export function downsampleImage(data: ArrayLike<number>, height: number, width: number, channels: number, size: number): Float32Array {
  const FN = 'downsampleImage';
  if (height !== width || height % size !== 0) throw new ValidationError(FN, 'size', `a divisor of the square image side ${height}×${width}`, size);
  if (data.length !== height * width * channels) throw new ValidationError(FN, 'data', `${height}·${width}·${channels} values`, data.length);
  checkFinite(FN, 'data', data); // the non-finite policy: a NaN sample made its whole output pixel NaN
  const f = height / size;
  if (f === 1) return Float32Array.from(data);
  const out = new Float32Array(size * size * channels);
  const inv = 1 / (f * f);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += data[((y * f + dy) * width + (x * f + dx)) * channels + c]!;
        out[(y * size + x) * channels + c] = s * inv;
      }
    }
  }
  return out;
}

/**
 * The normalised TSD of one RGB image `[size·k, size·k, 3]` in [0, 1]: area-average to `size`, `'paper'` filter at
 * `tsdRadius`, fixed scale `tsdScale` to [−1, 1].
 *
 * @returns `[size, size, 3]` row-major in [−1, 1].
 * @example
 * ```ts
 * import { readPng } from '@consistent-avatar/core';
 * import { tsdmTsd, TSDM_DEFAULTS } from '@consistent-avatar/tsd';
 * const img = readPng('frame.png', { channels: 3 });
 * const tsd = tsdmTsd(img.data, img.height, img.width, TSDM_DEFAULTS); // Float32Array(32·32·3)
 * ```
 */
export function tsdmTsd(rgb: ArrayLike<number>, height: number, width: number, config: Pick<TsdmConfig, 'size' | 'tsdRadius' | 'tsdScale'>): Float32Array {
  checkFinite('tsdmTsd', 'rgb', rgb); // named here rather than by downsampleImage
  const small = downsampleImage(rgb, height, width, 3, config.size);
  const tsd = extractTsd({ data: small, height: config.size, width: config.size, channels: 3 }, { preset: 'paper', radius: config.tsdRadius });
  const norm = normalizeTsd(tsd, '[-1,1]', { mode: 'fixed', scale: config.tsdScale, signed: true });
  const out = new Float32Array(config.size * config.size * 3);
  for (let y = 0, k = 0; y < config.size; y++) for (let x = 0; x < config.size; x++) for (let c = 0; c < 3; c++) out[k++] = norm.get(y, x, c);
  return out;
}

function fitDim(name: string, v: Float32Array | undefined, dim: number, id: string): Float32Array {
  if (!v) throw new ValidationError('prepareTsdmData', `dataset.frames[${id}].${name}`, `tracked ${name} (${dim} values)`, v);
  if (v.length === dim) return v;
  if (v.length > dim) return v.slice(0, dim); // e.g. 100 expressions with a smaller expressionDim
  throw new ValidationError('prepareTsdmData', `dataset.frames[${id}].${name}`, `at least ${dim} values (config.${name === 'pose' ? 'poseDim' : 'expressionDim'})`, v.length);
}

/**
 * Build the stage-2 pairs of a dataset (synthetic or any INSTA-layout one) with its fitted proxy.
 *
 * @param dataset - from `readInstaDataset` (frames with tracked `expression` and 6-value paper `pose`).
 * @param proxy - from `fitProxyAvatar(dataset)`.
 * @param config - `size`, `tsdRadius`, `tsdScale`, `poseDim`, `expressionDim` are used.
 * @param options.frames - frame indices to prepare (default all); `split` is the dataset's, restricted to them.
 * @example
 * ```ts
 * import { readInstaDataset, fitProxyAvatar } from '@consistent-avatar/proxy';
 * import { prepareTsdmData, resolveTsdmConfig } from '@consistent-avatar/tsd';
 * const ds = readInstaDataset('data/synth');
 * const proxy = await fitProxyAvatar(ds, { steps: 200 });
 * const data = prepareTsdmData(ds, proxy, resolveTsdmConfig());
 * ```
 */
export function prepareTsdmData(
  dataset: AvatarDataset,
  proxy: ProxyAvatar,
  config: Pick<TsdmConfig, 'size' | 'tsdRadius' | 'tsdScale' | 'poseDim' | 'expressionDim'>,
  options: { frames?: number[] } = {},
): TsdmData {
  const FN = 'prepareTsdmData';
  if (!dataset || !Array.isArray(dataset.frames) || !dataset.split) throw new ValidationError(FN, 'dataset', 'an AvatarDataset (from readInstaDataset)', dataset);
  if (!(proxy instanceof ProxyAvatar)) throw new ValidationError(FN, 'proxy', 'a ProxyAvatar from fitProxyAvatar', proxy);
  if (dataset.width !== dataset.height || dataset.width % config.size !== 0) {
    throw new ValidationError(FN, 'config.size', `a divisor of the square dataset side (${dataset.width}×${dataset.height})`, config.size);
  }
  const indices = options.frames ?? dataset.frames.map((_, i) => i);
  const pos = new Map(indices.map((f, k) => [f, k]));
  const frames = indices.map((i) => {
    const f = dataset.frames[i];
    if (!f) throw new ValidationError(FN, 'options.frames', `indices < ${dataset.frames.length}`, i);
    const img = readPng(f.imagePath, { channels: 3 });
    const render = renderProxy(proxy, frameParams(f), { supersample: 2 });
    return {
      id: f.id,
      gt: tsdmTsd(img.data, img.height, img.width, config),
      proxy: tsdmTsd(render.rgb, dataset.height, dataset.width, config),
      pose: Float32Array.from(fitDim('pose', f.pose, config.poseDim, f.id)),
      expression: Float32Array.from(fitDim('expression', f.expression, config.expressionDim, f.id)),
    };
  });
  const pick = (list: number[]) => list.filter((i) => pos.has(i)).map((i) => pos.get(i)!);
  return { size: config.size, frames, split: { train: pick(dataset.split.train), test: pick(dataset.split.test) } };
}
