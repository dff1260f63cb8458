/**
 * The stage-3 inputs of every frame: the real frame (the target), the stage-1 proxy's RGB and normal map (Eq. 1),
 * the face mask, the TSD maps of stage 2 (ground truth for training, the proxy's for the "w/o stage 2" baseline,
 * the TSDM's aligned TSD′ for generation — attached later with {@link withAlignedTsd}), the tracked P and E, and the
 * frame's emotion label (Eq. 7). Images are area-averaged to the model's `size`; RGB and normals are in [0, 1], TSD
 * maps are the TSDM's normalised maps in [−1, 1] (resized to `size` when the TSDM ran at another size).
 *
 * @example
 * ```ts
 * import { prepareFcsdData, resolveFcsdConfig } from '@consistent-avatar/avatar';
 * const data = prepareFcsdData(dataset, proxy, tsdmData, resolveFcsdConfig(), { emotions: labels });
 * data.frames[0].proxyRgb; // Float32Array(32·32·3)
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, readPng, ValidationError } from '@consistent-avatar/core';
import { frameParams, ProxyAvatar, readFrameMask, renderProxy, type AvatarDataset } from '@consistent-avatar/proxy';
import { downsampleImage, type TsdmData } from '@consistent-avatar/tsd';
import type { FcsdConfig } from './config.js';

/** One frame's stage-3 inputs (`[size, size, C]` row-major maps). */
export interface FcsdFrame {
  /** Frame id of the dataset. */
  id: string;
  /** Index of the frame in the dataset. */
  index: number;
  /** The real frame, RGB in [0, 1] (the target). */
  gt: Float32Array;
  /** The proxy render, RGB in [0, 1]. */
  proxyRgb: Float32Array;
  /** The proxy's camera-space normal map encoded to [0, 1] (facing the camera = (0.5, 0.5, 1)). */
  normal: Float32Array;
  /** Face / foreground mask `[size, size]` in [0, 1]: the dataset's mask when it has one, else the proxy's coverage. */
  mask: Float32Array;
  /** TSD of the real frame in [−1, 1] (what the TSDM learns to produce). */
  gtTsd: Float32Array;
  /** TSD of the proxy render in [−1, 1] (stage 2's input; the "w/o stage 2" condition). */
  proxyTsd: Float32Array;
  /** The TSDM's aligned TSD′ in [−1, 1], for frames that were aligned. */
  alignedTsd?: Float32Array;
  /** Tracked paper pose P `[poseDim]`. */
  pose: Float32Array;
  /** Tracked expression E `[expressionDim]`. */
  expression: Float32Array;
  /** Emotion label of the frame (Eq. 7), one of the label set. */
  emotion: string;
}

/** Prepared stage-3 data: frames in sequence order. */
export interface FcsdData {
  size: number;
  frames: FcsdFrame[];
  /** The label set of the emotions, in a fixed order (the rows of the text-embedding table). */
  labels: string[];
}

/** Options of {@link prepareFcsdData}. */
export interface PrepareFcsdOptions {
  /** The emotion label of every dataset frame (from `EmotionRetriever.retrieve` on the tracked expressions). */
  emotions: string[];
  /** The label set (default: the sorted distinct labels of `emotions`). */
  labels?: string[];
}

/**
 * Bilinear resize (align-corners false, half-pixel centres) of an `[h, w, C]` map to `[size, size, C]`.
 * @example
 * ```ts
 * const small = resizeMap(new Float32Array(32 * 32 * 3), 32, 3, 16); // Float32Array(16·16·3)
 * ```
 */
export function resizeMap(data: Float32Array, side: number, channels: number, size: number): Float32Array {
  const FN = 'resizeMap';
  for (const [argument, value] of [['side', side], ['channels', channels], ['size', size]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ValidationError(FN, argument, 'a positive integer', value);
  }
  if (!(data instanceof Float32Array) || data.length !== side * side * channels) {
    throw new ValidationError(FN, 'data', `a Float32Array [${side}, ${side}, ${channels}] (${side * side * channels} values)`, data);
  }
  checkFinite(FN, 'data', data); // the non-finite policy: a NaN value spread to up to four output pixels
  if (side === size) return data;
  if (side > size && side % size === 0) return downsampleImage(data, side, side, channels, size);
  const out = new Float32Array(size * size * channels);
  const scale = side / size;
  for (let y = 0; y < size; y++) {
    const sy = Math.min(side - 1, Math.max(0, (y + 0.5) * scale - 0.5));
    const y0 = Math.floor(sy), y1 = Math.min(side - 1, y0 + 1), fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(side - 1, Math.max(0, (x + 0.5) * scale - 0.5));
      const x0 = Math.floor(sx), x1 = Math.min(side - 1, x0 + 1), fx = sx - x0;
      for (let c = 0; c < channels; c++) {
        const at = (yy: number, xx: number) => data[(yy * side + xx) * channels + c]!;
        out[(y * size + x) * channels + c] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
    }
  }
  return out;
}

function fitDim(name: 'pose' | 'expression', v: Float32Array | undefined, dim: number, id: string): Float32Array {
  if (!v || v.length < dim) throw new ValidationError('prepareFcsdData', `dataset.frames[${id}].${name}`, `tracked ${name} with at least ${dim} values`, v);
  return Float32Array.from(v.subarray(0, dim));
}

/**
 * Build the stage-3 inputs of every frame of a dataset.
 *
 * @param dataset - the dataset (square frames whose side is a multiple of `config.size`).
 * @param proxy - its fitted stage-1 proxy.
 * @param tsdm - the stage-2 data of the same dataset (`prepareTsdmData` over all frames, in dataset order).
 * @param config - `size`, `poseDim`, `expressionDim` are used.
 * @example
 * ```ts
 * const data = prepareFcsdData(ds, proxy, tsdmData, config, { emotions: retrieved.labels });
 * ```
 */
export function prepareFcsdData(dataset: AvatarDataset, proxy: ProxyAvatar, tsdm: TsdmData, config: Pick<FcsdConfig, 'size' | 'poseDim' | 'expressionDim'>, options: PrepareFcsdOptions): FcsdData {
  const FN = 'prepareFcsdData';
  if (!dataset || !Array.isArray(dataset.frames)) throw new ValidationError(FN, 'dataset', 'an AvatarDataset', dataset);
  if (!(proxy instanceof ProxyAvatar)) throw new ValidationError(FN, 'proxy', 'a ProxyAvatar from fitProxyAvatar', proxy);
  if (!tsdm || !Array.isArray(tsdm.frames) || tsdm.frames.length !== dataset.frames.length) {
    throw new ValidationError(FN, 'tsdm', `stage-2 data of all ${dataset.frames.length} frames (prepareTsdmData over the whole dataset)`, tsdm?.frames?.length);
  }
  const S = config.size;
  if (dataset.width !== dataset.height || dataset.width % S !== 0) throw new ValidationError(FN, 'config.size', `a divisor of the square frame side ${dataset.width}×${dataset.height}`, S);
  const emotions = options?.emotions;
  if (!Array.isArray(emotions) || emotions.length !== dataset.frames.length || emotions.some((e) => typeof e !== 'string' || !e)) {
    throw new ValidationError(FN, 'options.emotions', `one label per frame (${dataset.frames.length})`, emotions);
  }
  const labels = options.labels ?? [...new Set(emotions)].sort();
  const missing = emotions.find((e) => !labels.includes(e));
  if (missing) throw new ValidationError(FN, 'options.labels', `a label set containing every frame's label`, missing);
  const side = dataset.width;
  const frames = dataset.frames.map((f, index): FcsdFrame => {
    const t = tsdm.frames[index]!;
    if (t.id !== f.id || !t.gt) throw new ValidationError(FN, `tsdm.frames[${index}]`, `frame ${f.id} with its ground-truth TSD`, t.id);
    const img = readPng(f.imagePath, { channels: 3 });
    const render = renderProxy(proxy, frameParams(f), { supersample: 2 });
    // The dataset's mask (alpha × head classes of a label map, or a grey matte; any non-zero value is foreground),
    // else the proxy's coverage.
    const mask = readFrameMask(f)?.map((v) => (v > 0 ? 1 : 0)) ?? render.mask;
    return {
      id: f.id,
      index,
      gt: downsampleImage(img.data, img.height, img.width, 3, S),
      proxyRgb: downsampleImage(render.rgb, side, side, 3, S),
      normal: downsampleImage(render.normal, side, side, 3, S),
      mask: downsampleImage(mask, side, side, 1, S),
      gtTsd: resizeMap(t.gt, tsdm.size, 3, S),
      proxyTsd: resizeMap(t.proxy, tsdm.size, 3, S),
      pose: fitDim('pose', f.pose, config.poseDim, f.id),
      expression: fitDim('expression', f.expression, config.expressionDim, f.id),
      emotion: emotions[index]!,
    };
  });
  return { size: S, frames, labels };
}

/**
 * Attach the TSDM's aligned TSD′ to the frames it was generated for.
 * @param aligned - one `[tsdmSize, tsdmSize, 3]` map per index (what `alignTsd` returns).
 * @example
 * ```ts
 * withAlignedTsd(data, split.test, alignTsd(model, tsdFrames, { indices: split.test }), tsdmData.size);
 * ```
 */
export function withAlignedTsd(data: FcsdData, indices: number[], aligned: Float32Array[], tsdmSize: number): void {
  const FN = 'withAlignedTsd';
  if (!Array.isArray(indices) || !Array.isArray(aligned) || indices.length !== aligned.length) {
    throw new ValidationError(FN, 'aligned', `one map per index (${indices?.length})`, aligned?.length);
  }
  indices.forEach((i, k) => {
    const frame = data.frames[i];
    if (!frame) throw new ValidationError(FN, `indices[${k}]`, `a frame index < ${data.frames.length}`, i);
    const map = aligned[k]!;
    if (map.length !== tsdmSize * tsdmSize * 3) throw new ValidationError(FN, `aligned[${k}]`, `${tsdmSize}·${tsdmSize}·3 values`, map.length);
    checkFinite(FN, `aligned[${k}]`, map);
    frame.alignedTsd = resizeMap(map, tsdmSize, 3, data.size);
  });
}
