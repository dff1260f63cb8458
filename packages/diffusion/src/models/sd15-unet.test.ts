/**
 * The Stable Diffusion 1.5 UNet config builds with diffusers' parameter count (859,520,964) and key names.
 * - default: build on cpu with zero init (no random draws), check count, key count, sample names / PyTorch shapes,
 *   and that every key follows the naming scheme of the diffusers fixture UNet.
 * - CA_HEAVY=1: also build with random weights and run one forward pass at an 8×8 latent on the cpu backend
 *   (≈3.4 GB of float32 weights do not fit the 4 GiB wasm heap: building there aborts with "memory access out of
 *   bounds"; the cpu backend has no cap). Takes minutes on this machine.
 */
import { describe, expect, it } from 'vitest';
import { loadSafetensorsAsTensors, tf, useBackend } from '@consistent-avatar/core';
import { SD15_UNET_CONFIG, UNet2DConditionModel } from '../index.js';
import { modelFixture } from '../../test/models-fixtures.js';
import { withFastCpuTranspose } from '../../test/fast-cpu-transpose.js';

/** Key with every index replaced by `#` (the naming scheme, independent of sizes). */
const scheme = (k: string) => k.replace(/\.\d+\./g, '.#.');

// diffusers' SD 1.5 UNet (runwayml/stable-diffusion-v1-5 unet/diffusion_pytorch_model.safetensors): 686 tensors,
// 859,520,964 parameters. Sample names with their PyTorch shapes.
const SD15_SAMPLE: Record<string, number[]> = {
  'conv_in.weight': [320, 4, 3, 3],
  'time_embedding.linear_1.weight': [1280, 320],
  'time_embedding.linear_2.weight': [1280, 1280],
  'down_blocks.0.attentions.0.proj_in.weight': [320, 320, 1, 1],
  'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight': [320, 320],
  'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight': [320, 768],
  'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.weight': [320, 320],
  'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight': [2560, 320],
  'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight': [320, 1280],
  'down_blocks.1.resnets.0.conv_shortcut.weight': [640, 320, 1, 1],
  'down_blocks.2.downsamplers.0.conv.weight': [1280, 1280, 3, 3],
  'down_blocks.3.resnets.1.time_emb_proj.weight': [1280, 1280],
  'mid_block.attentions.0.transformer_blocks.0.attn2.to_v.weight': [1280, 768],
  'mid_block.resnets.1.conv2.weight': [1280, 1280, 3, 3],
  'up_blocks.0.resnets.2.conv1.weight': [1280, 2560, 3, 3],
  'up_blocks.0.upsamplers.0.conv.weight': [1280, 1280, 3, 3],
  'up_blocks.1.attentions.2.transformer_blocks.0.norm3.weight': [1280],
  'up_blocks.3.resnets.0.conv1.weight': [320, 960, 3, 3],
  'up_blocks.3.resnets.2.conv_shortcut.weight': [320, 640, 1, 1],
  'conv_norm_out.weight': [320],
  'conv_out.weight': [4, 320, 3, 3],
};

function fixtureScheme(): Set<string> {
  const tensors = loadSafetensorsAsTensors(modelFixture('unet/model.safetensors'));
  const names = Object.keys(tensors);
  tf.dispose(Object.values(tensors));
  return new Set(names.map(scheme));
}

function torchShape(v: tf.Tensor): number[] {
  return v.rank === 4 ? [v.shape[3]!, v.shape[2]!, v.shape[0]!, v.shape[1]!] : v.shape; // HWIO → OIHW
}

describe('SD 1.5 UNet config', () => {
  it('builds with 859,520,964 parameters and diffusers key names (zero init, cpu)', async () => {
    await useBackend('cpu');
    const unet = withFastCpuTranspose(() => new UNet2DConditionModel(SD15_UNET_CONFIG, { init: 'zeros' }));
    try {
      expect(unet.parameterCount()).toBe(859_520_964);
      const dict = unet.stateDict();
      const keys = Object.keys(dict);
      expect(keys.length).toBe(686);
      for (const [k, shape] of Object.entries(SD15_SAMPLE)) {
        expect(dict[k], k).toBeDefined();
        expect(torchShape(dict[k]!), k).toEqual(shape);
      }
      // Every SD 1.5 key follows the fixture UNet's naming scheme (same block types, more layers).
      const known = fixtureScheme();
      expect(keys.map(scheme).filter((k) => !known.has(k))).toEqual([]);
      // 16 transformer blocks × (attn1, attn2) processors, in diffusers' order (down, up, mid).
      const procs = Object.keys(unet.attentionProcessors());
      expect(procs.length).toBe(32);
      expect(procs[0]).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor');
      expect(procs[6 * 2]).toBe('up_blocks.1.attentions.0.transformer_blocks.0.attn1.processor');
      expect(procs[31]).toBe('mid_block.attentions.0.transformer_blocks.0.attn2.processor');
    } finally {
      unet.dispose();
    }
  });

  it.runIf(process.env.CA_HEAVY === '1')('runs one forward pass at an 8×8 latent with random weights (cpu backend)', async () => {
    await useBackend('cpu');
    const unet = withFastCpuTranspose(() => new UNet2DConditionModel(SD15_UNET_CONFIG, { seed: 0 }));
    try {
      const sample = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      const text = tf.randomNormal([1, 77, 768], 0, 1, 'float32', 2);
      const out = unet.forward(sample, 500, text);
      expect(out.shape).toEqual([1, 8, 8, 4]);
      const values = out.dataSync();
      expect(values.every(Number.isFinite)).toBe(true);
      expect(Math.max(...Array.from(values, Math.abs))).toBeGreaterThan(0);
      tf.dispose([sample, text, out]);
    } finally {
      unet.dispose();
    }
  }, 1_800_000);
});
