/**
 * ControlNet vs diffusers 0.40.0.dev0 (the `controlnet` model fixture: `ControlNetModel.from_unet(unet)` with
 * re-randomised weights, conditioning embedding (16, 24, 32)). Tolerance as the models parity tests: max |ours − ref|
 * ≤ 1e-4 · max |ref| (float32 on both sides; summation-order differences are ~1e-6 relative).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectSafetensors, tf, useBackend, ValidationError, type BackendName } from '@consistent-avatar/core';
import { ControlNetModel, MultiControlNet, UNet2DConditionModel, guessModeScales, resolveControlNetConfig } from '../index.js';
import { maxAbsError, modelFixture, npyNhwc, npyTensor } from '../../test/models-fixtures.js';

const REL_TOL = 1e-4;

function expectClose(actual: tf.Tensor, reference: tf.Tensor, label: string): void {
  expect(actual.shape, label).toEqual(reference.shape);
  const { err, ref } = maxAbsError(actual, reference);
  expect(err, `${label}: max abs error ${err} vs bound ${REL_TOL * ref}`).toBeLessThanOrEqual(REL_TOL * ref);
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`ControlNetModel vs diffusers fixture (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    afterAll(async () => {
      await useBackend('cpu');
    });

    it('every residual at conditioning scales 1.0 and 0.5, and the UNet output with our residuals injected', () => {
      const controlnet = ControlNetModel.fromPretrained(modelFixture('controlnet'));
      expect(controlnet.parameterCount()).toBe(301296);
      expect(Object.keys(controlnet.stateDict()).length).toBe(124);
      const unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
      const sample = npyNhwc('controlnet/in_sample.npy');
      const t = npyTensor('controlnet/in_timestep.npy');
      const text = npyTensor('controlnet/in_encoder_hidden_states.npy');
      const cond = npyNhwc('controlnet/in_controlnet_cond.npy');
      for (const [s, scale] of [['s100', 1], ['s050', 0.5]] as const) {
        tf.tidy(() => {
          const out = controlnet.forward(sample, t, text, cond, { conditioningScale: scale });
          expect(out.downBlockResSamples.length).toBe(4);
          out.downBlockResSamples.forEach((r, i) => expectClose(r, npyNhwc(`controlnet/out_${s}_down_${i}.npy`), `${s} down ${i}`));
          expectClose(out.midBlockResSample, npyNhwc(`controlnet/out_${s}_mid.npy`), `${s} mid`);
          const eps = unet.forward(sample, t, text, { downBlockAdditionalResiduals: out.downBlockResSamples, midBlockAdditionalResidual: out.midBlockResSample });
          expectClose(eps, npyNhwc(`controlnet/out_${s}_unet_sample.npy`), `${s} unet`);
        });
      }
      controlnet.dispose();
      unet.dispose();
      tf.dispose([sample, t, text, cond]);
    });
  });
}

describe('ControlNetModel behaviour (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('fromUnet copies exactly conv_in, time_embedding, down_blocks, mid_block; the rest is the fresh / zero init', () => {
    const unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
    const controlnet = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [16, 24, 32], seed: 3 });
    // Key set = diffusers' own ControlNetModel.from_unet(unet) key set (the fixture's safetensors header).
    const diffusersKeys = Object.keys(inspectSafetensors(modelFixture('controlnet/model.safetensors')).entries).sort();
    const ours = controlnet.stateDict();
    expect(Object.keys(ours).sort()).toEqual(diffusersKeys);
    // Keys shared with the UNet = exactly the copied prefixes, and every copied tensor is equal.
    const unetDict = unet.stateDict();
    const shared = Object.keys(ours).filter((k) => k in unetDict);
    const copiedPrefix = /^(conv_in|time_embedding|down_blocks|mid_block)\./;
    expect(shared.sort()).toEqual(Object.keys(ours).filter((k) => copiedPrefix.test(k)).sort());
    expect(shared.length).toBe(Object.keys(unetDict).filter((k) => copiedPrefix.test(k)).length);
    for (const k of shared) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ours[k]!, unetDict[k]!))).dataSync()[0]!);
      expect(d, k).toBe(0);
    }
    // Zero convs and the embedding's conv_out are zero; the rest of the embedding is not.
    const abs = (k: string) => tf.tidy(() => tf.max(tf.abs(ours[k]!)).dataSync()[0]!);
    for (const k of Object.keys(ours).filter((k) => /^(controlnet_down_blocks|controlnet_mid_block|controlnet_cond_embedding\.conv_out)\./.test(k))) expect(abs(k), k).toBe(0);
    expect(abs('controlnet_cond_embedding.conv_in.weight')).toBeGreaterThan(0);
    // A zero-initialised ControlNet leaves the UNet unchanged.
    tf.tidy(() => {
      const x = npyNhwc('controlnet/in_sample.npy');
      const text = npyTensor('controlnet/in_encoder_hidden_states.npy');
      const out = controlnet.forward(x, [10, 900], text, tf.ones([2, 64, 64, 3]) as tf.Tensor4D);
      const { err } = maxAbsError(unet.forward(x, [10, 900], text, { downBlockAdditionalResiduals: out.downBlockResSamples, midBlockAdditionalResidual: out.midBlockResSample }), unet.forward(x, [10, 900], text));
      expect(err).toBe(0);
    });
    // No weight copy: conv_in differs from the UNet's.
    const fresh = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [16, 24, 32], loadWeightsFromUnet: false, conditioningChannels: 6 });
    expect(fresh.config.conditioning_channels).toBe(6);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(fresh.conv_in.weight, unet.conv_in.weight))).dataSync()[0]!)).toBeGreaterThan(0);
    fresh.dispose();
    controlnet.dispose();
    unet.dispose();
  });

  it('guess mode scales, MultiControlNet sum, 6 conditioning channels, save / load round trip, no leaks', () => {
    const controlnet = ControlNetModel.fromPretrained(modelFixture('controlnet'));
    const sample = npyNhwc('controlnet/in_sample.npy');
    const t = npyTensor('controlnet/in_timestep.npy');
    const text = npyTensor('controlnet/in_encoder_hidden_states.npy');
    const cond = npyNhwc('controlnet/in_controlnet_cond.npy');
    const scales = guessModeScales(5, 0.8);
    expect(scales[0]).toBeCloseTo(0.08, 6);
    expect(scales[4]).toBeCloseTo(0.8, 6);
    tf.tidy(() => {
      const plain = controlnet.forward(sample, t, text, cond);
      const guess = controlnet.forward(sample, t, text, cond, { guessMode: true, conditioningScale: 0.8 });
      plain.downBlockResSamples.forEach((r, k) => expectClose(guess.downBlockResSamples[k]!, tf.mul(r, scales[k]!), `guess ${k}`));
      expectClose(guess.midBlockResSample, tf.mul(plain.midBlockResSample, 0.8), 'guess mid');
      const multi = new MultiControlNet([controlnet, controlnet]).forward(sample, t, text, [cond, cond], { conditioningScale: [1, 0.5] });
      plain.downBlockResSamples.forEach((r, k) => expectClose(multi.downBlockResSamples[k]!, tf.mul(r, 1.5), `multi ${k}`));
    });
    // Save / load with diffusers names.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'controlnet-'));
    controlnet.savePretrained(dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config._class_name).toBe('ControlNetModel');
    const reloaded = ControlNetModel.fromPretrained(dir);
    tf.tidy(() => expectClose(reloaded.forward(sample, t, text, cond).midBlockResSample, controlnet.forward(sample, t, text, cond).midBlockResSample, 'reloaded'));
    reloaded.dispose();
    fs.rmSync(dir, { recursive: true });
    // Six-channel conditioning (stage 3: normal ⊕ TSD) and input validation.
    const six = new ControlNetModel({ ...controlnet.config, conditioning_channels: 6 }, { seed: 1 });
    expect(() => six.forward(sample, t, text, cond)).toThrow(ValidationError);
    expect(() => six.forward(sample, t, text, tf.zeros([2, 32, 32, 6]) as tf.Tensor4D)).toThrow(/\[2, 64, 64, 6\]/);
    const cond6 = tf.concat([cond, cond], 3) as tf.Tensor4D;
    const run = () => {
      const o = six.forward(sample, t, text, cond6, { conditioningScale: 0.7 });
      tf.dispose([...o.downBlockResSamples, o.midBlockResSample]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new ControlNetModel({ class_embed_type: 'timestep' as never })).toThrow(/class_embed_type/);
    six.dispose();
    controlnet.dispose();
    tf.dispose([sample, t, text, cond, cond6]);
  });

  it('resolveControlNetConfig: core\'s validator names the field; unknown fields rejected; JSON round trip', () => {
    const config = JSON.parse(fs.readFileSync(path.join(modelFixture('controlnet'), 'config.json'), 'utf8')) as Record<string, unknown>;
    const { _class_name: _c, _diffusers_version: _v, ...fields } = config;
    const c = resolveControlNetConfig(fields);
    expect(c.conditioning_embedding_out_channels).toEqual([16, 24, 32]);
    expect(resolveControlNetConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    expect(() => resolveControlNetConfig({ ...fields, conditioning_embedding_out_channels: [16, 0] })).toThrow("ControlNetModel: argument 'config.conditioning_embedding_out_channels[1]' expected an integer in [1, 8192], got 0");
    expect(() => resolveControlNetConfig({ controlnet_conditioning_channel_order: 'gbr' as never })).toThrow(/'config.controlnet_conditioning_channel_order' expected one of 'rgb', 'bgr', got "gbr"/);
    expect(() => resolveControlNetConfig({ upcast_attention: true as never })).toThrow(/'config.upcast_attention' expected false \(upcast_attention is not implemented/);
    expect(() => resolveControlNetConfig({ ...fields, block_out_channels: [32, 44] })).toThrow(/'config.block_out_channels\[1\]' expected a multiple of norm_num_groups \(8\)/);
    expect(() => resolveControlNetConfig({ sample_size: 32 } as never)).toThrow(/ControlNetModel: argument 'config.sample_size' expected a known field/);
  });
});
