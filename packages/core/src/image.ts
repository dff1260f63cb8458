/**
 * The one image type of the library: interleaved `[H, W, C]` samples whose storage says their range —
 * `Float32Array` samples in [0, 1] ({@link FloatImage}) or `Uint8Array` samples in [0, 255] ({@link ByteImage}).
 * Every package (proxy renders, TSD, metrics, the examples) takes and returns this type, converting once at the
 * boundary with {@link toFloatImage} / {@link toByteImage}; nothing guesses a range from values.
 *
 * @example
 * ```ts
 * import { checkImage, toFloatImage, type ByteImage } from '@consistent-avatar/core';
 * const bytes: ByteImage = { data: new Uint8Array([0, 128, 255]), height: 1, width: 1, channels: 3 };
 * checkImage('myFunction', 'image', bytes);
 * console.log(toFloatImage(bytes).data); // Float32Array [0, 0.50196…, 1]
 * ```
 *
 * @packageDocumentation
 */
import { tf } from './backend/tf.js';
import { ValidationError } from './errors.js';
import { firstNonFinite } from './finite.js';

/** Sample storage of an {@link Image}: float32 in [0, 1] or uint8 in [0, 255]. */
export type ImageStorage = Float32Array | Uint8Array;

/**
 * An interleaved image: `data[(y * width + x) * channels + c]`. The storage carries the range: `Float32Array`
 * samples are in [0, 1], `Uint8Array` samples in [0, 255].
 *
 * @example
 * ```ts
 * const rgb: Image = { data: new Float32Array(64 * 64 * 3), height: 64, width: 64, channels: 3 };
 * ```
 */
export interface Image<S extends ImageStorage = ImageStorage> {
  /** `[H, W, C]` interleaved samples. */
  readonly data: S;
  readonly height: number;
  readonly width: number;
  /** 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. */
  readonly channels: number;
}

/**
 * An {@link Image} of float32 samples in [0, 1] (what `readPng` and the renderers return).
 * @example
 * ```ts
 * const gray: FloatImage = { data: new Float32Array(4), height: 2, width: 2, channels: 1 };
 * ```
 */
export type FloatImage = Image<Float32Array>;

/**
 * An {@link Image} of uint8 samples in [0, 255] (decoded video frames, canvas data).
 * @example
 * ```ts
 * const rgb: ByteImage = { data: new Uint8Array(12), height: 2, width: 2, channels: 3 };
 * ```
 */
export type ByteImage = Image<Uint8Array>;

/** Options of {@link checkImage}. */
export interface CheckImageOptions {
  /** Accepted channel counts (default 1–4). */
  channels?: readonly number[];
  /** Accepted storage: `'float'` (Float32Array only), `'byte'` (Uint8Array only) or `'any'` (default). */
  storage?: 'float' | 'byte' | 'any';
  /** Accept NaN / ±Infinity float samples (the library's non-finite policy rejects them by default). */
  allowNonFinite?: boolean;
}

/**
 * True when `data` is the storage of a byte image (`Uint8Array`, `Uint8ClampedArray` included).
 * @example
 * ```ts
 * isByteImage({ data: new Uint8Array(3), height: 1, width: 1, channels: 3 }); // true
 * ```
 */
export function isByteImage(image: Image): image is ByteImage {
  return image.data instanceof Uint8Array;
}

/**
 * Validate an {@link Image}; throws a {@link ValidationError} naming `fn` and `arg` with what was expected. Float
 * samples must be finite unless `options.allowNonFinite` (the library's non-finite policy, see `checkFinite`).
 *
 * @param fn - the public function (for the message).
 * @param arg - the argument name (for the message).
 * @param image - the value to check.
 * @example
 * ```ts
 * checkImage('ssim', 'a', { data: new Float32Array(12), height: 2, width: 2, channels: 3 }, { channels: [1, 3] });
 * ```
 */
export function checkImage(fn: string, arg: string, image: unknown, options: CheckImageOptions = {}): asserts image is Image {
  const storage = options.storage ?? 'any';
  const expected = storage === 'float' ? 'Float32Array samples in [0, 1]' : storage === 'byte' ? 'Uint8Array samples in [0, 255]' : 'Float32Array samples in [0, 1] or Uint8Array samples in [0, 255]';
  if (image === null || typeof image !== 'object') throw new ValidationError(fn, arg, `an image { data, height, width, channels } with ${expected}`, image);
  const { data, height, width, channels } = image as Image;
  const okStorage = (storage !== 'byte' && data instanceof Float32Array) || (storage !== 'float' && data instanceof Uint8Array);
  if (!okStorage) throw new ValidationError(fn, `${arg}.data`, expected, data);
  for (const [name, v] of [['height', height], ['width', width], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ValidationError(fn, `${arg}.${name}`, 'a positive integer', v);
  }
  const allowed = options.channels ?? [1, 2, 3, 4];
  if (!allowed.includes(channels)) throw new ValidationError(fn, `${arg}.channels`, `one of ${allowed.join(', ')}`, channels);
  if (data.length !== height * width * channels) {
    throw new ValidationError(fn, `${arg}.data`, `H·W·C = ${height}·${width}·${channels} = ${height * width * channels} samples`, data);
  }
  if (data instanceof Float32Array && options.allowNonFinite !== true) {
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const pixel = Math.floor(bad / channels);
      const where = `pixel [${pixel % width}, ${Math.floor(pixel / width)}] (x, y) channel ${bad % channels}, sample ${bad}`;
      throw new ValidationError(fn, `${arg}.data`, 'finite samples (no NaN or ±Infinity)', `${data[bad]} at ${where}`);
    }
  }
}

/**
 * The image as float32 samples in [0, 1]: a {@link FloatImage} is returned as it is, a {@link ByteImage} is divided
 * by 255 into a new array.
 * @example
 * ```ts
 * toFloatImage({ data: new Uint8Array([255]), height: 1, width: 1, channels: 1 }).data; // Float32Array [1]
 * ```
 */
export function toFloatImage(image: Image, fn = 'toFloatImage', arg = 'image'): FloatImage {
  checkImage(fn, arg, image);
  if (!isByteImage(image)) return image as FloatImage;
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = image.data[i]! / 255;
  return { data, height: image.height, width: image.width, channels: image.channels };
}

/**
 * The image as uint8 samples in [0, 255]: a {@link ByteImage} is returned as it is, a {@link FloatImage} is clamped
 * to [0, 1], scaled by 255 and rounded (as `encodePng` writes 8-bit files).
 * @example
 * ```ts
 * toByteImage({ data: new Float32Array([0.5]), height: 1, width: 1, channels: 1 }).data; // Uint8Array [128]
 * ```
 */
export function toByteImage(image: Image, fn = 'toByteImage', arg = 'image'): ByteImage {
  checkImage(fn, arg, image);
  if (isByteImage(image)) return image;
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(Math.min(1, Math.max(0, image.data[i]!)) * 255);
  return { data, height: image.height, width: image.width, channels: image.channels };
}

/**
 * A float `[H, W, C]` tensor in [0, 1] from an image (byte images are divided by 255).
 * @example
 * ```ts
 * const t = imageToTensor({ data: new Float32Array(12), height: 2, width: 2, channels: 3 }); // [2, 2, 3]
 * t.dispose();
 * ```
 */
export function imageToTensor(image: Image): tf.Tensor3D {
  const f = toFloatImage(image, 'imageToTensor');
  return tf.tensor3d(f.data, [f.height, f.width, f.channels], 'float32');
}

/**
 * A {@link FloatImage} from a `[H, W, C]` (or `[H, W]`) float tensor with values in [0, 1] (read synchronously;
 * NaN / ±Infinity are rejected naming the sample).
 * @example
 * ```ts
 * const img = imageFromTensor(tf.zeros([2, 2, 3])); // { data: Float32Array(12), height: 2, width: 2, channels: 3 }
 * ```
 */
export function imageFromTensor(tensor: tf.Tensor): FloatImage {
  if (!(tensor instanceof tf.Tensor) || tensor.isDisposed || (tensor.rank !== 2 && tensor.rank !== 3) || tensor.dtype !== 'float32') {
    throw new ValidationError('imageFromTensor', 'tensor', 'a float32 tensor [H, W] or [H, W, C] (not disposed)', tensor);
  }
  const [height, width] = tensor.shape as [number, number];
  const channels = tensor.rank === 2 ? 1 : tensor.shape[2]!;
  const image: FloatImage = { data: tensor.dataSync() as Float32Array, height, width, channels };
  checkImage('imageFromTensor', 'tensor', image, { channels: [channels] }); // the non-finite policy, on the values it reads anyway
  return image;
}
