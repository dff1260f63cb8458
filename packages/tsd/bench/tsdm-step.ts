/**
 * TSDM cost per training step and per sampling batch with the default config (32² maps, UNet [16, 32], temporal
 * window 1, batch 4) on wasm, with core's SIMD batched-matmul kernel on and off (`setWasmBatchMatMulKernel`) in the
 * same run, plus the kernel-time share of BatchMatMul from `tf.profile` (kernel on).
 *
 *   node --conditions=source --import tsx packages/tsd/bench/tsdm-step.ts [--repeats 5]
 */
import * as os from 'node:os';
import { AdamW, initBackend, setWasmBatchMatMulKernel, tf } from '@consistent-avatar/core';
import { resolveTsdmConfig, TsdmModel } from '../src/index.js';
import { medianMs } from '../../../scripts/bench/timing.js';

const repeatsArg = process.argv.indexOf('--repeats');
const repeats = repeatsArg > 0 ? Number(process.argv[repeatsArg + 1]) : 5;
await initBackend('wasm');
const c = resolveTsdmConfig();
const model = new TsdmModel(c);
const optimizer = new AdamW(model, { lr: 1e-5 });
const B = c.batchSize, S = c.size, W = 2 * c.temporalWindow + 1;
const xt = tf.randomNormal([B, S, S, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const proxy = tf.randomNormal([B, S, S, 3], 0, 0.3, 'float32', 2) as tf.Tensor4D;
const window = tf.randomNormal([B, S, S, 3 * W], 0, 0.3, 'float32', 3) as tf.Tensor4D;
const pose = tf.zeros([B, W * c.poseDim]), expression = tf.zeros([B, W * c.expressionDim]);
const step = () => optimizer.step(() => tf.tidy(() => tf.mean(tf.square(model.predictNoise(xt, [1, 200, 500, 900], model.condition(proxy, pose, expression), window))) as tf.Scalar));
// Sampling: one UNet evaluation of a batch of 8 frames (alignTsd's default batch), as in each DDIM step.
const xt8 = tf.concat([xt, xt]) as tf.Tensor4D, proxy8 = tf.concat([proxy, proxy]) as tf.Tensor4D, window8 = tf.concat([window, window]) as tf.Tensor4D;
const pose8 = tf.concat([pose, pose]), expression8 = tf.concat([expression, expression]);
const forward = () => tf.tidy(() => { model.predictNoise(xt8, 500, model.condition(proxy8, pose8, expression8), window8).dataSync(); });

const rows: [string, number, number][] = [];
for (const [name, f] of [['training step (batch 4, fwd + bwd + AdamW)', step], ['UNet evaluation for sampling (batch 8)', forward]] as const) {
  const on = medianMs(f, repeats);
  setWasmBatchMatMulKernel(false);
  const off = medianMs(f, repeats);
  setWasmBatchMatMulKernel(true);
  rows.push([name, on, off]);
}
const profile = await tf.profile(() => { step(); });
let matmul = 0, total = 0;
for (const k of profile.kernels) {
  total += k.kernelTimeMs as number;
  if (k.name === 'BatchMatMul') matmul += k.kernelTimeMs as number;
}
console.log(`${os.cpus().length} cores, load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}, median of ${repeats}; ${model.parameterCount().toLocaleString('en')} parameters`);
console.log('| TSDM (default config) | SIMD matmul kernel on (ms) | off: tfjs-wasm BatchMatMul (ms) | on ÷ off |');
console.log('|---|---|---|---|');
for (const [name, on, off] of rows) console.log(`| ${name} | ${on.toFixed(0)} | ${off.toFixed(0)} | ${(on / off).toFixed(2)} |`);
console.log(`BatchMatMul share of a training step's kernel time (kernel on): ${((100 * matmul) / total).toFixed(0)} % (${matmul.toFixed(0)} of ${total.toFixed(0)} ms, ${profile.kernels.length} kernels)`);
tf.dispose([xt, proxy, window, pose, expression, xt8, proxy8, window8, pose8, expression8]);
optimizer.dispose();
model.dispose();
