/**
 * Typed-array helpers shared by the binary readers (safetensors, npy): half-precision decoding, byte swapping, and
 * conversion of the typed arrays they return to the two dtypes tfjs computes in (`float32`, `int32`).
 *
 * @example
 * ```ts
 * import { float16ToFloat32 } from '@consistent-avatar/core';
 * float16ToFloat32(new Uint16Array([0x3c00, 0xc000])); // Float32Array [1, -2]
 * ```
 */
import { ValidationError } from '../errors.js';

/** Every typed array the readers return. 64-bit integers come back as BigInt arrays (no silent precision loss). */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Constructors of the typed arrays in {@link NumericArray}, by name. */
export const TYPED_ARRAY_CONSTRUCTORS = {
  Float32Array,
  Float64Array,
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
} as const;

/** Name of a typed array type in {@link NumericArray}. */
export type NumericArrayName = keyof typeof TYPED_ARRAY_CONSTRUCTORS;

/** View a whole ArrayBuffer (native byte order) as the named typed array. */
export function viewAs(name: NumericArrayName, buffer: ArrayBuffer): NumericArray {
  return new TYPED_ARRAY_CONSTRUCTORS[name](buffer);
}

/** True on little-endian hosts (every platform Node ships for except s390x). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse the byte order of every `itemSize`-byte element of `bytes` in place (itemSize 1 is a no-op). */
export function byteSwapInPlace(bytes: Uint8Array, itemSize: number): void {
  if (itemSize <= 1) return;
  const half = itemSize >> 1;
  for (let base = 0; base + itemSize <= bytes.length; base += itemSize) {
    for (let k = 0; k < half; k++) {
      const a = base + k;
      const b = base + itemSize - 1 - k;
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Decode IEEE 754 binary16 values (as raw bits) to float32, including subnormals, ±Inf and NaN. */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) {
      // zero or subnormal: mantissa · 2^-24, exactly representable in float32
      out[i] = mantissa * 5.960464477539063e-8;
      if (sign) out[i] = -out[i]!;
      if (mantissa === 0) outBits[i] = sign; // keep -0
    } else if (exponent === 0x1f) {
      outBits[i] = sign | 0x7f800000 | (mantissa << 13); // Inf / NaN (payload kept)
    } else {
      outBits[i] = sign | ((exponent + 112) << 23) | (mantissa << 13); // rebias 15 → 127
    }
  }
  return out;
}

/** Decode bfloat16 values (the upper 16 bits of a float32) to float32. Exact. */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/**
 * Convert any numeric typed array to a fresh Float32Array (float64 and 64-bit integers are rounded to the nearest
 * float32; the input is not modified).
 */
export function toFloat32Array(data: NumericArray): Float32Array {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]!);
    return out;
  }
  return Float32Array.from(data as ArrayLike<number>);
}

/**
 * Convert an integer typed array to a fresh Int32Array, refusing values outside [-2^31, 2^31) instead of wrapping
 * them. `what` names the data in the error (`'kintree_table'`).
 */
export function toInt32Array(data: NumericArray, what = 'data'): Int32Array {
  if (data instanceof Float32Array || data instanceof Float64Array) {
    throw new ValidationError('toInt32Array', what, 'an integer typed array', data);
  }
  if (data instanceof Int32Array) return data.slice();
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]!);
    if (v < -2147483648 || v > 2147483647) {
      throw new ValidationError('toInt32Array', `${what}[${i}]`, 'a value in the int32 range', data[i]);
    }
    out[i] = v;
  }
  return out;
}

/** Product of a shape's dimensions (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
