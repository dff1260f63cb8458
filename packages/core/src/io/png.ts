/**
 * PNG read/write as float images in [0, 1] (HWC, row-major), through `pngjs`.
 *
 * Reading keeps the file's precision: 16-bit samples are divided by 65535 (pngjs's `skipRescale` keeps them
 * 16-bit), 1/2/4/8-bit samples by 2^depth − 1, palette entries by 255. Every PNG colour type is read: gray,
 * gray + alpha, RGB, RGBA, palette (expanded to RGB, or RGBA when it has a tRNS chunk); a tRNS colour key on a
 * gray/RGB image becomes an alpha channel. By default the image keeps the file's own channel count; pass
 * `{channels}` to convert (gray → RGB replicates; RGB → gray is ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B, as
 * Pillow's `convert('L')`; dropping alpha discards it without compositing; adding alpha sets it to 1).
 *
 * Writing clamps to [0, 1], scales to 255 or 65535 and rounds half up; writes are atomic.
 *
 * @example
 * ```ts
 * import { readPng, readPngTensor, writePng, tf } from '@consistent-avatar/core';
 * writePng('/tmp/ramp.png', tf.linspace(0, 1, 12).reshape([2, 2, 3]), { bitDepth: 16 });
 * const img = readPng('/tmp/ramp.png');       // { width: 2, height: 2, channels: 3, bitDepth: 16, data: Float32Array(12) }
 * const t = readPngTensor('/tmp/ramp.png', { channels: 1 }); // tf.Tensor3D [2, 2, 1] float32 in [0, 1]
 * ```
 */
import { inflateSync } from 'node:zlib';
import { PNG, type PNGWithMetadata } from 'pngjs';
import { tf } from '../backend/tf.js';
import { FormatError, ValidationError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { crc32 } from './crc32.js';
import { readFileBounded, readLimits } from './limits.js';

/** A decoded image: `data` is [height, width, channels] row-major float32 in [0, 1]. */
export interface PngImage {
  width: number;
  height: number;
  /** 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** The file's sample bit depth (1, 2, 4, 8, 16; for palette images the index depth — colours are 8-bit). */
  bitDepth: number;
  data: Float32Array;
}

/** Options for {@link readPng}. */
export interface ReadPngOptions {
  /** Convert to this many channels (1 gray, 3 RGB, 4 RGBA). Default: the file's own channel count. */
  channels?: 1 | 3 | 4;
}

/** Options for {@link writePng} / {@link encodePng}. */
export interface WritePngOptions {
  /** Sample depth of the file. Default 8. */
  bitDepth?: 8 | 16;
}

/** Image input for the writers: a tensor [H, W, C] or [H, W] with values in [0, 1], or a {@link PngImage}-like. */
export type PngInput =
  | tf.Tensor
  | { width: number; height: number; channels: number; data: Float32Array | Float64Array | number[] };

function sourceBytes(source: string | Uint8Array, fn: string): { bytes: Uint8Array; label: string } {
  if (typeof source === 'string') {
    return { bytes: readFileBounded(source, 'png'), label: source };
  }
  if (source instanceof Uint8Array) return { bytes: source, label: '<buffer>' };
  throw new ValidationError(fn, 'source', 'a file path or a Uint8Array of PNG bytes', source);
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples per pixel of each PNG colour type. */
const SAMPLES_PER_PIXEL: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes of filtered scanlines (one filter byte per row) a width × height image needs, Adam7 passes included. */
function filteredSize(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  // Adam7: [x0, y0, dx, dy] of the 7 passes
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) total += rows(Math.ceil((width - x0!) / dx!), Math.ceil((height - y0!) / dy!));
  return total;
}

/**
 * Check the file before decoding, so damage gets a precise message (pngjs's synchronous reader reports most damage
 * only as "unrecognised content at end of stream", and its synchronous inflate can return garbage instead of
 * failing on a corrupt stream): signature, chunk lengths, CRCs, IHDR first, IEND present, and the concatenated
 * IDAT data must inflate (Node's zlib) to at least the size the header implies.
 */
function checkPng(bytes: Uint8Array, label: string): void {
  const fail = (problem: string): never => {
    throw new FormatError('png', label, problem);
  };
  if (bytes.length < 8 || !SIGNATURE.every((b, i) => bytes[i] === b)) fail('not a PNG (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let first = true;
  const idat: Uint8Array[] = [];
  let expected = 0;
  for (;;) {
    if (pos + 12 > bytes.length) fail(`truncated: no complete chunk at byte ${pos} (IEND missing)`);
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8)).replace(/[^A-Za-z]/g, '?');
    if (pos + 12 + length > bytes.length) fail(`truncated inside chunk '${type}' at byte ${pos}`);
    if (first && type !== 'IHDR') fail(`first chunk is '${type}', not IHDR`);
    const stored = view.getUint32(pos + 8 + length);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + length)) !== stored) fail(`CRC mismatch in chunk '${type}' at byte ${pos}`);
    if (first) {
      if (length !== 13) fail(`IHDR has ${length} bytes, not 13`);
      const width = view.getUint32(pos + 8);
      const height = view.getUint32(pos + 12);
      const depth = bytes[pos + 16]!;
      const samples = SAMPLES_PER_PIXEL[bytes[pos + 17]!];
      if (width === 0 || height === 0) fail(`image size ${width}x${height} is empty`);
      const maxPixels = readLimits().maxImagePixels;
      if (width * height > maxPixels) fail(`image size ${width}x${height} is above the maxImagePixels read limit of ${maxPixels} (setReadLimits)`);
      if (width > 0x7fffffff || height > 0x7fffffff) fail(`image size ${width}x${height} exceeds the PNG maximum of 2^31 - 1`);
      if (samples === undefined) fail(`unknown colour type ${bytes[pos + 17]}`);
      expected = filteredSize(width, height, samples! * depth, bytes[pos + 20] === 1);
    }
    if (type === 'IDAT') idat.push(bytes.subarray(pos + 8, pos + 8 + length));
    first = false;
    pos += 12 + length;
    if (type === 'IEND') break;
  }
  if (idat.length === 0) fail('no IDAT chunk (no image data)');
  let inflated: Buffer;
  try {
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: expected });
  } catch (error) {
    // More data than the header implies is tolerated (pngjs ignores it); anything else is a broken stream.
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return;
    return fail(`image data is not a valid zlib stream (${(error as Error).message})`);
  }
  if (inflated.length < expected) fail(`image data truncated: ${inflated.length} of ${expected} bytes after inflating`);
}

/** Decode a PNG (path or bytes) to a float image. Corrupt or truncated files raise {@link FormatError}. */
export function readPng(source: string | Uint8Array, options: ReadPngOptions = {}): PngImage {
  const fn = 'readPng';
  if (options.channels !== undefined && ![1, 3, 4].includes(options.channels)) {
    throw new ValidationError(fn, 'options.channels', '1, 3 or 4', options.channels);
  }
  const { bytes, label } = sourceBytes(source, fn);
  checkPng(bytes, label);
  let png: PNGWithMetadata;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  } catch (error) {
    throw new FormatError('png', label, `corrupt or truncated PNG (${(error as Error).message})`);
  }
  const { width, height, colorType, depth } = png;
  // pngjs always returns RGBA samples: Uint16Array for 16-bit files, bytes otherwise (palette already expanded).
  const rgba = png.data as unknown as ArrayLike<number>;
  const code = colorType as number; // 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA
  const maxValue = code === 3 ? 255 : 2 ** depth - 1;
  const isColor = code === 2 || code === 3 || code === 6;
  const hasAlpha = code === 4 || code === 6 || png.alpha === true; // tRNS adds alpha to 0 / 2 / 3
  const native = ((isColor ? 3 : 1) + (hasAlpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  const channels = options.channels ?? native;
  const pixels = width * height;
  const out = new Float32Array(pixels * channels);
  const scale = 1 / maxValue;
  for (let p = 0; p < pixels; p++) {
    const r = rgba[4 * p]! * scale;
    const g = rgba[4 * p + 1]! * scale;
    const b = rgba[4 * p + 2]! * scale;
    const a = hasAlpha ? rgba[4 * p + 3]! * scale : 1;
    const o = p * channels;
    if (channels === 1) {
      out[o] = isColor ? 0.299 * r + 0.587 * g + 0.114 * b : r; // BT.601 luma for colour sources
    } else if (channels === 2) {
      out[o] = r; // only reached for a gray + alpha file read at its native count
      out[o + 1] = a;
    } else {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      if (channels === 4) out[o + 3] = a;
    }
  }
  return { width, height, channels, bitDepth: depth, data: out };
}

/** Decode a PNG to a float32 tensor [H, W, C] in [0, 1] (see {@link readPng}). The caller disposes it. */
export function readPngTensor(source: string | Uint8Array, options: ReadPngOptions = {}): tf.Tensor3D {
  const image = readPng(source, options);
  return tf.tensor3d(image.data, [image.height, image.width, image.channels], 'float32');
}

/**
 * Normalise writer input (tensor [H, W] / [H, W, C] or {width, height, channels, data}) to
 * {width, height, channels, data}, validating it; `fn` names the caller in errors. Shared with the video writers.
 */
export function imageFromInput(fn: string, image: PngInput): { width: number; height: number; channels: number; data: ArrayLike<number> } {
  if (image instanceof tf.Tensor) {
    if (image.isDisposed) throw new ValidationError(fn, 'image', 'a tensor that is not disposed', image);
    const rank2 = image.rank === 2;
    if (!(rank2 || (image.rank === 3 && image.shape[2]! >= 1 && image.shape[2]! <= 4))) {
      throw new ValidationError(fn, 'image', 'a tensor [H, W] or [H, W, C] with C in 1..4', image);
    }
    return {
      height: image.shape[0]!,
      width: image.shape[1]!,
      channels: rank2 ? 1 : image.shape[2]!,
      data: image.dataSync() as Float32Array,
    };
  }
  if (image === null || typeof image !== 'object') {
    throw new ValidationError(fn, 'image', 'a tensor or {width, height, channels, data}', image);
  }
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new ValidationError(fn, 'image.width/height', 'positive integers', `${width}x${height}`);
  }
  if (![1, 2, 3, 4].includes(channels)) throw new ValidationError(fn, 'image.channels', '1, 2, 3 or 4', channels);
  if (!data || data.length !== width * height * channels) {
    throw new ValidationError(fn, 'image.data', `${width * height * channels} values (H·W·C)`, data);
  }
  return { width, height, channels, data };
}

const COLOR_TYPE_FOR_CHANNELS = [0, 0, 4, 2, 6] as const; // gray, gray + alpha, RGB, RGBA

/** Encode a float image in [0, 1] as PNG bytes (values clamped, scaled to 2^bitDepth − 1, rounded). */
export function encodePng(image: PngInput, options: WritePngOptions = {}): Buffer {
  const fn = 'encodePng';
  const bitDepth = options.bitDepth ?? 8;
  if (bitDepth !== 8 && bitDepth !== 16) throw new ValidationError(fn, 'options.bitDepth', '8 or 16', bitDepth);
  const { width, height, channels, data } = imageFromInput(fn, image);
  const maxValue = bitDepth === 16 ? 65535 : 255;
  const samples = bitDepth === 16 ? new Uint16Array(data.length) : Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // The non-finite policy: NaN has no pixel value, and ±Infinity was clamped to 0 / 1 silently.
    if (v - v !== 0) throw new ValidationError(fn, 'image', 'finite values (no NaN or ±Infinity)', `${v} at sample ${i}`);
    samples[i] = Math.round(Math.min(1, Math.max(0, v)) * maxValue);
  }
  const colorType = COLOR_TYPE_FOR_CHANNELS[channels as 1 | 2 | 3 | 4];
  const png = { width, height, data: samples } as unknown as PNGWithMetadata;
  return PNG.sync.write(png, {
    bitDepth,
    colorType,
    inputColorType: colorType,
    inputHasAlpha: channels === 2 || channels === 4,
  });
}

/**
 * Write a float image in [0, 1] (tensor [H, W, C] / [H, W], or {width, height, channels, data}) as a PNG file,
 * atomically. 1 channel → gray, 2 → gray + alpha, 3 → RGB, 4 → RGBA.
 */
export function writePng(file: string, image: PngInput, options: WritePngOptions = {}): void {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('writePng', 'file', 'a non-empty path', file);
  writeFileAtomic(file, encodePng(image, options));
}
