import { describe, expect, it } from 'vitest';
import { checkImage, imageFromTensor, imageToTensor, toByteImage, toFloatImage, type ByteImage, type FloatImage } from './image.js';
import { ValidationError } from './errors.js';
import { tf } from './backend/tf.js';

describe('core image type', () => {
  const bytes: ByteImage = { data: new Uint8Array([0, 1, 128, 254, 255, 7]), height: 1, width: 2, channels: 3 };
  it('converts bytes to [0, 1] floats (÷255) and back by clamp·255 rounding', () => {
    const f = toFloatImage(bytes);
    expect(Array.from(f.data)).toEqual([0, 1, 128, 254, 255, 7].map((v) => Math.fround(v / 255)));
    expect(Array.from(toByteImage(f).data)).toEqual([0, 1, 128, 254, 255, 7]);
    const outOfRange: FloatImage = { data: new Float32Array([-0.5, 0.5, 1.5]), height: 1, width: 1, channels: 3 };
    expect(Array.from(toByteImage(outOfRange).data)).toEqual([0, 128, 255]);
    expect(toFloatImage(f)).toBe(f); // already float: no copy
  });
  it('rejects other storages, bad sizes and channels with the function and argument named', () => {
    expect(() => checkImage('fn', 'img', { data: new Float64Array(3), height: 1, width: 1, channels: 3 })).toThrow(/fn: argument 'img.data' expected Float32Array/);
    expect(() => checkImage('fn', 'img', { data: new Float32Array(5), height: 1, width: 2, channels: 3 })).toThrow(/'img.data' expected H·W·C/);
    expect(() => checkImage('fn', 'img', { data: new Float32Array(6), height: 1, width: 1, channels: 6 })).toThrow(ValidationError);
    expect(() => checkImage('fn', 'img', bytes, { storage: 'float' })).toThrow(/Float32Array samples in \[0, 1\]/);
    expect(() => checkImage('fn', 'img', null)).toThrow(ValidationError);
  });
  it('round-trips through a tensor', () => {
    const t = imageToTensor(bytes);
    expect(t.shape).toEqual([1, 2, 3]);
    const back = imageFromTensor(t);
    t.dispose();
    expect(Array.from(back.data)).toEqual(Array.from(toFloatImage(bytes).data));
    expect(() => imageFromTensor(tf.zeros([1, 1, 1, 1]))).toThrow(ValidationError);
  });
});
