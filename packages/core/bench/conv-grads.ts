/**
 * Conv2D gradients on wasm: the registered kernels against the paths they replaced, measured in the same run.
 * - filter gradient: one conv2d of the transposed input with dy as the filter (ours) vs im2col (kh·kw strided slices,
 *   concat, one matMul — the previous kernel, rebuilt here as the reference);
 * - input gradient (stride 1): the stride-1 correlation with the flipped filter (ours) vs tfjs-wasm's native
 *   Conv2DBackpropInput.
 *
 *   node --conditions=source --import tsx packages/core/bench/conv-grads.ts
 */
import { conv2dFilterGrad, conv2dInputGrad, initBackend, tf } from '@consistent-avatar/core';

await initBackend('wasm');

function im2colFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, , , cin] = x.shape;
    const [, oh, ow, cout] = dy.shape;
    const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const taps: tf.Tensor4D[] = [];
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        taps.push(tf.stridedSlice(xp, [0, i, j, 0], [B, i + (oh - 1) * stride + 1, j + (ow - 1) * stride + 1, cin], [1, stride, stride, 1]) as tf.Tensor4D);
      }
    }
    const cols = tf.concat(taps, 3).reshape([B * oh * ow, k * k * cin]) as tf.Tensor2D; // [B·oh·ow, k·k·Cin]
    return tf.matMul(cols, dy.reshape([B * oh * ow, cout]) as tf.Tensor2D, true, false).reshape([k, k, cin, cout]) as tf.Tensor4D;
  });
}

const time = (f: () => tf.Tensor, reps = 5) => {
  f().dispose();
  const t = performance.now();
  for (let r = 0; r < reps; r++) f().dispose();
  return (performance.now() - t) / reps;
};
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / tf.max(tf.abs(b)).dataSync()[0]!);

const PAD: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
console.log('| x [B, H, W, Cin] → Cout, 3×3, stride | filter grad: ours / im2col ms | ratio | input grad: ours / native ms | ratio | max rel. diff |');
console.log('|---|---|---|---|---|---|');
for (const [B, H, cin, cout, s] of [[32, 64, 3, 16, 2], [32, 32, 16, 16, 1], [32, 16, 32, 32, 1], [32, 8, 64, 64, 1], [4, 64, 32, 32, 1], [4, 32, 64, 64, 2], [1, 64, 32, 32, 1]] as const) {
  const x = tf.randomNormal([B, H, H, cin]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, cin, cout]) as tf.Tensor4D;
  const dy = tf.randomNormal([B, H / s, H / s, cout]) as tf.Tensor4D;
  const ours = () => conv2dFilterGrad(x, dy, [3, 3, cin, cout], s, PAD);
  const ref = () => im2colFilterGrad(x, dy, 3, s);
  const [a, b] = [ours(), ref()];
  const diff = maxDiff(a, b);
  tf.dispose([a, b]);
  const [tf1, tf2] = [time(ours), time(ref)];
  let input = '— (strided: native kernel kept) | —';
  if (s === 1) {
    const oursIn = () => conv2dInputGrad([B, H, H, cin], dy, w, 1, PAD);
    const native = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: [1, 1], pad: PAD, dataFormat: 'NHWC', inputShape: [B, H, H, cin] } as never) as tf.Tensor;
    const [ti1, ti2] = [time(oursIn), time(native)];
    input = `${ti1.toFixed(1)} / ${ti2.toFixed(1)} | ${(ti1 / ti2).toFixed(2)}`;
  }
  console.log(`| [${B}, ${H}, ${H}, ${cin}] → ${cout}, s${s} | ${tf1.toFixed(1)} / ${tf2.toFixed(1)} | ${(tf1 / tf2).toFixed(2)} | ${input} | ${diff.toExponential(1)} |`);
  tf.dispose([x, w, dy]);
}
