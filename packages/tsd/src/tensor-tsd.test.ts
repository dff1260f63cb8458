import { describe, expect, it } from 'vitest';
import { tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { extractTsd } from './extract-tsd.js';
import { extractTsdTensor } from './tensor-tsd.js';

describe('extractTsdTensor', () => {
  it('matches extractTsd on the same data, keeps the shape, and leaks no tensors', async () => {
    await useBackend('cpu');
    const frames = tf.randomUniform([2, 12, 10, 3], 0, 1, 'float32', 7) as tf.Tensor4D; // [B, H, W, C]
    const values = frames.dataSync() as Float32Array;
    const images = [0, 1].map((b) => ({ data: values.subarray(b * 360, (b + 1) * 360), height: 12, width: 10, channels: 3 }));
    const expected = extractTsd(images, { preset: 'paper' }).flatMap((tsd) => Array.from(tsd.data));
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) {
      const tsd = extractTsdTensor(frames, { preset: 'paper' });
      expect(tsd.shape).toEqual([2, 12, 10, 3]);
      expect(tsd.dtype).toBe('float32');
      expect(Array.from(tsd.dataSync())).toEqual(expected);
      tsd.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const first = frames.slice([0, 0, 0, 0], [1, 12, 10, 3]).squeeze([0]) as tf.Tensor3D; // [H, W, C]
    const single = extractTsdTensor(first, { channels: 'luma' });
    expect(single.shape).toEqual([12, 10, 1]);
    expect(Array.from(single.dataSync())).toEqual(Array.from(extractTsd(images[0]!, { channels: 'luma' }).data));
    tf.dispose([frames, first, single]);
  });

  it('rejects non-tensors and wrong ranks', () => {
    expect(() => extractTsdTensor({ shape: [2, 2, 3] } as unknown as tf.Tensor3D)).toThrow(ValidationError);
    const flat = tf.zeros([4, 4]);
    expect(() => extractTsdTensor(flat as unknown as tf.Tensor3D)).toThrow(/extractTsdTensor: argument 'image'/);
    flat.dispose();
    expect(() => extractTsdTensor(flat as unknown as tf.Tensor3D)).toThrow(/not disposed/);
  });
});
