/**
 * Microbenchmark behind the attention / linear layout choices in src/models (see BENCHMARKS.md, diffusion):
 * tfjs-wasm BatchMatMul with `transposeB` vs the same product with B pre-transposed, the attention score and value
 * products at 32×32 tokens with head size 8, and tf.split vs tf.slice on the last axis.
 *
 * Run: `node --conditions=source --import tsx packages/diffusion/bench/matmul-layouts.ts`
 */
import { tf, useBackend } from '@consistent-avatar/core';

await useBackend('wasm');
const time = (label: string, fn: () => tf.Tensor) => {
  fn().dispose();
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) {
    const y = fn();
    y.dataSync();
    y.dispose();
  }
  console.log(`${label}: ${((performance.now() - t0) / 5).toFixed(1)} ms`);
};
const x = tf.randomNormal([1024, 256]) as tf.Tensor2D;
const w = tf.randomNormal([1024, 256]) as tf.Tensor2D; // Linear weight [out, in]
const wt = tf.transpose(w) as tf.Tensor2D; // [in, out]
time('x·Wᵀ with transposeB ([1024,256]·[1024,256]ᵀ)', () => tf.matMul(x, w, false, true));
time('x·W with W pre-transposed', () => tf.matMul(x, wt));
const q = tf.randomNormal([8, 1024, 8]) as tf.Tensor3D;
const k = tf.randomNormal([8, 1024, 8]) as tf.Tensor3D;
const kt = tf.transpose(k, [0, 2, 1]) as tf.Tensor3D;
time('q·kᵀ with transposeB ([8,1024,8])', () => tf.matMul(q, k, false, true));
time('q·kᵀ with k pre-transposed', () => tf.matMul(q, kt));
const p = tf.softmax(tf.matMul(q, kt)) as tf.Tensor3D;
time('p·v ([8,1024,1024]·[8,1024,8])', () => tf.matMul(p, k));
const h = tf.randomNormal([2048, 512]);
time('tf.split(h, 2, -1) first half', () => {
  const [a, b] = tf.split(h, 2, -1);
  b!.dispose();
  return a!;
});
time('tf.slice(h) first half', () => tf.slice(h, [0, 0], [2048, 256]));
