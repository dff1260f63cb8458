/**
 * The layout helpers the ONNX Runtime runners share: NHWC ↔ NCHW against a hand-written example and against the
 * index formula on odd sizes, the round trip, no leaked tensors, int32 input, the timesteps, and bad input. No
 * session needed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { nhwcToOrt, ortTimesteps, ortToNhwc } from './ort-io.js';

describe('ort-io layout helpers', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  it('nhwcToOrt moves channels before the spatial axes (hand-written [1, 2, 2, 2] example)', () => {
    const x = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 2, 2]); // pixel (h, w) holds channels [2(2h+w), 2(2h+w)+1]
    const { dims, data } = nhwcToOrt(x);
    expect(dims).toEqual([1, 2, 2, 2]);
    expect(Array.from(data)).toEqual([0, 2, 4, 6, 1, 3, 5, 7]); // channel 0 plane, then channel 1 plane
    x.dispose();
  });

  it('both directions follow the NCHW index formula on odd sizes, round-trip exactly and leak no tensors', () => {
    const [B, H, W, C] = [3, 5, 7, 4];
    const x = tf.randomNormal([B, H, W, C], 0, 1, 'float32', 3) as tf.Tensor4D;
    const nested = x.arraySync();
    const reference = new Float32Array(B * C * H * W); // [B, C, H, W]
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) reference[((b * C + c) * H + h) * W + w] = nested[b]![h]![w]![c]!;
    const before = tf.memory().numTensors;
    const ort = nhwcToOrt(x);
    expect(tf.memory().numTensors).toBe(before);
    expect(ort.dims).toEqual([B, C, H, W]);
    expect(Array.from(ort.data)).toEqual(Array.from(reference));
    const back = ortToNhwc(ort.data, ort.dims);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(back.shape).toEqual([3, 5, 7, 4]);
    expect(Array.from(back.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, back]);
  });

  it('converts int32 tensors to float32 values', () => {
    const x = tf.tensor4d([1, -2, 3, 4], [1, 1, 2, 2], 'int32');
    const { data } = nhwcToOrt(x);
    expect(data).toBeInstanceOf(Float32Array);
    expect(Array.from(data)).toEqual([1, 3, -2, 4]);
    x.dispose();
  });

  it('ortTimesteps broadcasts one value and keeps one per batch item', () => {
    expect(Array.from(ortTimesteps('t', 500, 3))).toEqual([500, 500, 500]);
    expect(Array.from(ortTimesteps('t', [1, 2], 2))).toEqual([1, 2]);
    expect(() => ortTimesteps('t', [1, 2, 3], 2)).toThrow(ValidationError);
  });

  it('refuses bad input, naming the function and argument', () => {
    const x3 = tf.zeros([2, 2, 2]);
    expect(() => nhwcToOrt(x3 as unknown as tf.Tensor4D)).toThrow(/nhwcToOrt.*x/);
    expect(() => nhwcToOrt([1, 2] as unknown as tf.Tensor4D)).toThrow(ValidationError);
    expect(() => ortToNhwc(new Float32Array(7), [1, 2, 2, 2])).toThrow(/ortToNhwc.*data/);
    expect(() => ortToNhwc(new Float32Array(8), [1, 2, 4])).toThrow(/ortToNhwc.*dims/);
    expect(() => ortToNhwc(new Float32Array(8), [1, -2, -2, 2])).toThrow(/ortToNhwc.*dims/);
    expect(() => ortToNhwc([1, 2, 3, 4] as unknown as Float32Array, [1, 1, 2, 2])).toThrow(ValidationError);
    x3.dispose();
  });
});
