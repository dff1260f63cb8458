import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, Rng } from '../index.js';
import { nearestSourceIndex } from './pool-resize-grads.js';
import { maxRelError } from '../../test/helpers.js';

/**
 * tfjs 4.22 computes wrong gradients for max pooling on wasm and for nearest-neighbour upsampling on cpu (batch or
 * channels > 1). Our replacement kernels are checked here against float64 references written from the definitions.
 */
function maxPoolGradRef(x: Float32Array, g: Float32Array, [B, H, W, C]: number[], k: number, s: number, pad: 'same' | 'valid') {
  const info = tf.backend_util.computePool2DInfo([B, H, W, C] as [number, number, number, number], k, s, 1, pad);
  const dx = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let oy = 0; oy < info.outHeight; oy++)
      for (let ox = 0; ox < info.outWidth; ox++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let at = -1;
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const y = oy * s + i - info.padInfo.top;
              const xx = ox * s + j - info.padInfo.left;
              if (y < 0 || xx < 0 || y >= H || xx >= W) continue;
              const idx = ((b * H + y) * W + xx) * C + c;
              if (x[idx]! > best) {
                best = x[idx]!;
                at = idx;
              }
            }
          dx[at]! += g[((b * info.outHeight + oy) * info.outWidth + ox) * C + c]!;
        }
  return { dx, oh: info.outHeight, ow: info.outWidth };
}

describe.each(['wasm', 'cpu'] as const)('pooling and resize gradients on %s', (backend) => {
  beforeAll(async () => {
    await initBackend('wasm');
    await useBackend(backend);
  });

  for (const [k, s, pad, shape] of [
    [2, 2, 'valid', [2, 8, 8, 3]],
    [3, 2, 'same', [2, 9, 7, 2]],
    [3, 1, 'same', [1, 5, 6, 4]],
  ] as const) {
    it(`maxPool ${k}×${k}/${s} ${pad} matches the first-argmax reference`, () => {
      const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const x = new Rng(k * 10 + s).normal(n);
      const probe = maxPoolGradRef(x, new Float32Array(n), [...shape], k, s, pad);
      const g = new Rng(5).normal(shape[0] * probe.oh * probe.ow * shape[3]);
      const ref = maxPoolGradRef(x, g, [...shape], k, s, pad);
      const ours = tf.tidy(() =>
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, k, s, pad), tf.tensor4d(g, [shape[0], ref.oh, ref.ow, shape[3]]))))(
          tf.tensor4d(x, [...shape]),
        ).dataSync(),
      );
      expect(maxRelError(ours, ref.dx)).toBeLessThan(1e-6);
    });
  }

  for (const [inHW, outHW, alignCorners, halfPixel] of [
    [[6, 5], [12, 11], false, false],
    [[4, 4], [8, 8], false, true],
    [[5, 7], [11, 9], true, false],
    [[8, 8], [3, 5], false, false],
  ] as const) {
    it(`resizeNearestNeighbor ${inHW.join('×')}→${outHW.join('×')} (alignCorners ${alignCorners}, halfPixel ${halfPixel}) gradient equals the scatter reference`, () => {
      const [B, C] = [2, 3];
      const [H, W] = inHW;
      const [oh, ow] = outHW;
      const rows = nearestSourceIndex(H, oh, alignCorners, halfPixel);
      const cols = nearestSourceIndex(W, ow, alignCorners, halfPixel);
      const g = new Rng(H * 100 + oh).normal(B * oh * ow * C);
      const ref = new Float64Array(B * H * W * C);
      for (let b = 0; b < B; b++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++)
            for (let c = 0; c < C; c++) ref[((b * H + rows[y]!) * W + cols[x]!) * C + c]! += g[((b * oh + y) * ow + x) * C + c]!;
      const ours = tf.tidy(() =>
        tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [oh, ow], alignCorners, halfPixel), tf.tensor4d(g, [B, oh, ow, C]))),
        )(tf.zeros([B, H, W, C])).dataSync(),
      );
      expect(maxRelError(ours, ref)).toBeLessThan(1e-6);
      // the forward mapping is the one the reference assumes
      const xin = new Rng(3).normal(B * H * W * C);
      const fwd = tf.tidy(() => tf.image.resizeNearestNeighbor(tf.tensor4d(xin, [B, H, W, C]), [oh, ow], alignCorners, halfPixel).dataSync());
      expect(fwd[((1 * oh + oh - 1) * ow + 0) * C + 2]).toBe(xin[((1 * H + rows[oh - 1]!) * W + cols[0]!) * C + 2]);
    });
  }
});
