/**
 * Issue 19 (reliability), the diffusion package's items: model and scheduler configs within documented limits and
 * files with no recognised field refused (1), and the non-finite policy of the UNet and the schedulers (10).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ValidationError, initBackend, tf } from '@consistent-avatar/core';
import {
  CrossAttnDownBlock2D, CrossAttnUpBlock2D, DDIMScheduler, DDPMScheduler, DownBlock2D, LCMScheduler, UNetMidBlock2DCrossAttn, UpBlock2D, MAX_TRAIN_TIMESTEPS, MODEL_CONFIG_LIMITS, UNet2DConditionModel, readModelConfig,
  readSchedulerConfig, resolveUNetConfig,
} from './index.js';

let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-diff-rel-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TINY = {
  sample_size: 8, in_channels: 4, out_channels: 4, block_out_channels: [32, 32], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  cross_attention_dim: 16, attention_head_dim: 8, norm_num_groups: 8,
};

describe('1. configs within documented limits', () => {
  it('num_train_timesteps above 100000 (2^31 hung before) is refused at once', () => {
    for (const Scheduler of [DDIMScheduler, DDPMScheduler, LCMScheduler]) {
      const t0 = performance.now();
      expect(() => new Scheduler({ num_train_timesteps: 2 ** 31 - 1 })).toThrow(/num_train_timesteps' expected an integer in \[1, 100000\]/);
      expect(performance.now() - t0).toBeLessThan(200);
    }
    expect(new DDIMScheduler({ num_train_timesteps: MAX_TRAIN_TIMESTEPS }).alphasCumprod.length).toBe(MAX_TRAIN_TIMESTEPS);
  });

  it('UNet channel counts, block counts and layers above the limits are refused before anything is built', () => {
    expect(() => resolveUNetConfig({ ...TINY, block_out_channels: [32, 2 ** 20] } as never)).toThrow(/block_out_channels\[1\]' expected an integer in \[1, 8192\]/);
    expect(() => resolveUNetConfig({ ...TINY, layers_per_block: 10_000 } as never)).toThrow(ValidationError);
    expect(() => resolveUNetConfig({ ...TINY, cross_attention_dim: MODEL_CONFIG_LIMITS.maxChannels + 1 } as never)).toThrow(ValidationError);
    expect(() => resolveUNetConfig({ ...TINY, down_block_types: new Array(9).fill('DownBlock2D') } as never)).toThrow(/down_block_types/);
  });

  it('a config.json or scheduler_config.json with no recognised field is refused (it built SD 1.5 before)', () => {
    const dir = path.join(tmp, 'unet');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ _class_name: 'UNet2DConditionModel', _diffusers_version: '0.30.0' }));
    expect(() => readModelConfig(dir)).toThrow(/has no config field/);
    const scheduler = path.join(tmp, 'scheduler_config.json');
    fs.writeFileSync(scheduler, JSON.stringify({ _class_name: 'DDIMScheduler', unrelated: 1 }));
    expect(() => readSchedulerConfig(scheduler)).toThrow(FormatError);
    fs.writeFileSync(scheduler, JSON.stringify({ _class_name: 'DDIMScheduler', num_train_timesteps: 50 }));
    expect(readSchedulerConfig(scheduler).config.num_train_timesteps).toBe(50);
  });
});

describe('5. unet-blocks.ts:60 — layer counts of a block', () => {
  it('numLayers 2^32 or a huge transformerLayersPerBlock is refused at once (it looped / ran out of memory, or threw an untyped RangeError)', () => {
    const base = { inChannels: 32, outChannels: 32, tembChannels: 32, resnetGroups: 8, numAttentionHeads: 4, crossAttentionDim: 16, seed: 0 };
    const builds: [string, () => unknown, RegExp][] = [
      ['DownBlock2D', () => new DownBlock2D({ ...base, numLayers: 2 ** 32 }), /DownBlock2D: argument 'options\.numLayers' expected an integer in \[1, 17\]/],
      ['CrossAttnDownBlock2D', () => new CrossAttnDownBlock2D({ ...base, numLayers: 2 ** 32 }), /CrossAttnDownBlock2D: argument 'options\.numLayers'/],
      ['CrossAttnDownBlock2D', () => new CrossAttnDownBlock2D({ ...base, numLayers: 1, transformerLayersPerBlock: 2 ** 32 }), /'options\.transformerLayersPerBlock' expected an integer in \[1, 32\]/],
      ['CrossAttnDownBlock2D', () => new CrossAttnDownBlock2D({ ...base, numLayers: 2, transformerLayersPerBlock: [1] }), /'options\.transformerLayersPerBlock'/],
      ['UNetMidBlock2DCrossAttn', () => new UNetMidBlock2DCrossAttn({ ...base, numLayers: 1e9 }), /UNetMidBlock2DCrossAttn: argument 'options\.numLayers'/],
      ['UpBlock2D', () => new UpBlock2D({ ...base, prevOutputChannels: 32, numLayers: -1 }), /UpBlock2D: argument 'options\.numLayers'/],
      ['CrossAttnUpBlock2D', () => new CrossAttnUpBlock2D({ ...base, prevOutputChannels: 32, numLayers: 2 ** 40 }), /CrossAttnUpBlock2D: argument 'options\.numLayers'/],
    ];
    const before = tf.memory().numTensors;
    for (const [name, build, message] of builds) {
      expect(build, name).toThrow(ValidationError); // before any layer is built: a hang would time the test out
      expect(build, name).toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before); // nothing allocated before the check
    const block = new DownBlock2D({ ...base, numLayers: MODEL_CONFIG_LIMITS.maxLayersPerBlock + 1, outChannels: 8, inChannels: 8, tembChannels: 8, resnetGroups: 4 });
    expect(block.resnets.length).toBe(17); // an up block's layers_per_block + 1 at the config limit still builds
    block.dispose();
  });
});

describe('10. non-finite inputs', () => {
  it('UNet.forward refuses a NaN timestep; DDIMScheduler.step refuses a NaN sample or model output', () => {
    const unet = new UNet2DConditionModel(TINY as never, { seed: 1 });
    const x = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
    const text = tf.zeros([1, 3, 16]) as tf.Tensor3D;
    expect(() => unet.forward(x, Number.NaN, text)).toThrow(/UNet2DConditionModel\.forward: argument 'timestep' expected finite numbers/);
    expect(() => unet.forward(x, [Number.POSITIVE_INFINITY], text)).toThrow(ValidationError);
    unet.dispose();
    const ddim = new DDIMScheduler({ clip_sample: true });
    ddim.setTimesteps(10);
    const nan = tf.fill([1, 4, 4, 4], Number.NaN);
    const eps = tf.zeros([1, 4, 4, 4]);
    const t = ddim.timesteps[0]!;
    expect(() => ddim.step(eps, t, nan)).toThrow(/DDIMScheduler\.step: argument 'sample' expected finite numbers/);
    expect(() => ddim.step(nan, t, eps)).toThrow(/argument 'modelOutput'/);
    const opted = ddim.step(eps, t, nan, { allowNonFinite: true });
    expect(Number.isNaN(opted.prevSample.dataSync()[0])).toBe(true); // opted out: the NaN is carried, never hidden
    tf.dispose([x, text, nan, eps, opted.prevSample, opted.denoised]);
  });
});
