/** Child process of determinism.test.ts: 30 seeded AdamW steps of a tiny UNet on wasm; prints every loss as float32 hex and a weight checksum. */
import { initBackend, Adam, Rng, tf } from '@consistent-avatar/core';
import { UNet2DConditionModel } from '../src/index.js';
await initBackend('wasm');
const unet = new UNet2DConditionModel({ sample_size: 16, in_channels: 3, out_channels: 3, block_out_channels: [16, 32], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 16, attention_head_dim: 4, down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'] }, { seed: 1 });
const opt = new Adam(unet, { lr: 1e-3 });
const rng = new Rng(5);
const out: string[] = [];
for (let s = 0; s < 30; s++) {
  const x = tf.tensor4d(Float32Array.from(rng.normal(4 * 16 * 16 * 3)), [4, 16, 16, 3]);
  const txt = tf.tensor3d(Float32Array.from(rng.normal(4 * 2 * 16)), [4, 2, 16]);
  const { loss } = opt.step(() => tf.tidy(() => tf.mean(tf.square(tf.sub(unet.forward(x, 10 * s, txt), x))) as tf.Scalar));
  tf.dispose([x, txt]);
  out.push(Buffer.from(new Float32Array([loss]).buffer).toString('hex'));
}
const sum = tf.tidy(() => tf.addN(Object.values(unet.stateDict()).map((t) => tf.sum(tf.abs(t)))).dataSync()[0]);
console.log(JSON.stringify({ losses: out, checksum: sum, backend: tf.getBackend() }));
