import { describe, expect, it } from 'vitest';
import { tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { extractTsd } from './extract-tsd.js';
import { extractTsdTensor } from './tensor-tsd.js';

describe('extractTsdTensor', () => {
  it('matches extractTsd on the same data, keeps the shape, and leaks no tensors', async () => {
    await useBackend('cpu');
    const frames = tf.randomUniform([2, 12, 10, 3], 0, 1, 'float32', 7) as tf.Tensor4D; // [B, H, W, C]
    const expected = extractTsd({ data: frames.dataSync() as Float32Array, shape: [2, 12, 10, 3] }, { preset: 'paper' });
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) {
      const tsd = extractTsdTensor(frames, { preset: 'paper' });
      expect(tsd.shape).toEqual([2, 12, 10, 3]);
      expect(tsd.dtype).toBe('float32');
      expect(Array.from(tsd.dataSync())).toEqual(Array.from(expected.data));
      tsd.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const release = extractTsdTensor(frames.slice([0, 0, 0, 0], [1, 12, 10, 3]).squeeze([0]) as tf.Tensor3D, {
      preset: 'release',
    });
    expect(release.dtype).toBe('int32');
    expect(release.shape).toEqual([12, 10, 3]);
    tf.dispose([frames, release]);
  });

  it('rejects non-tensors and wrong ranks', () => {
    expect(() => extractTsdTensor({ shape: [2, 2, 3] } as unknown as tf.Tensor3D)).toThrow(ValidationError);
    const flat = tf.zeros([4, 4]);
    expect(() => extractTsdTensor(flat as unknown as tf.Tensor3D)).toThrow(/extractTsdTensor: argument 'image'/);
    flat.dispose();
  });
});
