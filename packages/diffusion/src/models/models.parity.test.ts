/**
 * Parity with diffusers 0.40.0.dev0 (float32, CPU) on the tiny random-weight fixtures in
 * test/fixtures/models (copied from the project's shared fixture set; cases.json describes each case).
 * Tolerance: max |ours − ref| ≤ 1e-4 · max |ref| on every backend (the bound; both sides compute in float32,
 * so differences come from summation order in convs / matMuls and are observed around 1e-6 relative).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend, type BackendName } from '@consistent-avatar/core';
import {
  Attention,
  AttnProcessor,
  AutoencoderKL,
  IPAdapterAttnProcessor,
  UNet2DConditionModel,
  attachIPAdapter,
  loadIPAdapter,
  loadWeightsFile,
  readModelConfig,
} from '../index.js';
import { maxAbsError, modelFixture, npyNhwc, npyTensor } from '../../test/models-fixtures.js';

const REL_TOL = 1e-4;

function expectClose(actual: tf.Tensor, reference: tf.Tensor, label: string): void {
  expect(actual.shape).toEqual(reference.shape);
  const { err, ref } = maxAbsError(actual, reference);
  expect(err, `${label}: max abs error ${err} vs bound ${REL_TOL * ref}`).toBeLessThanOrEqual(REL_TOL * ref);
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  // The cpu backend runs ~20× slower: every fixture case runs on it, the extra input variants only on wasm.
  const full = backend !== 'cpu';
  describe(`models vs diffusers fixtures (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    afterAll(async () => {
      await useBackend('cpu');
    });

    it('Attention: AttnProcessor and IPAdapterAttnProcessor (legacy concatenated and tuple forms)', () => {
      const cfg = readModelConfig(modelFixture('attention')) as { query_dim: number; cross_attention_dim: number; heads: number; dim_head: number; ip_adapter: { num_tokens: number[]; scale: number[] } };
      const attn = new Attention({ queryDim: cfg.query_dim, crossAttentionDim: cfg.cross_attention_dim, heads: cfg.heads, dimHead: cfg.dim_head, init: 'zeros' });
      const ip = new IPAdapterAttnProcessor({ hiddenSize: cfg.heads * cfg.dim_head, crossAttentionDim: cfg.cross_attention_dim, numTokens: cfg.ip_adapter.num_tokens, scale: cfg.ip_adapter.scale, init: 'zeros' });
      attn.setProcessor(ip);
      loadWeightsFile(attn, modelFixture('attention/model.safetensors'));
      const hidden = npyTensor('attention/in_hidden_states.npy');
      const enc = npyTensor('attention/in_encoder_hidden_states.npy');
      const refIp = npyTensor('attention/out_ip_adapter_attn_processor.npy');
      const refPlain = npyTensor('attention/out_attn_processor.npy');
      tf.tidy(() => {
        expectClose(attn.forward(hidden, enc), refIp, 'ip (concatenated)');
        const text = enc.slice([0, 0, 0], [2, 5, cfg.cross_attention_dim]);
        const image = enc.slice([0, 5, 0], [2, 4, cfg.cross_attention_dim]);
        expectClose(attn.forward(hidden, { text, ipTokens: [image] }), refIp, 'ip (tuple)');
        // Scale 0 at call time = text-only attention, which differs from the reference.
        const { err } = maxAbsError(attn.forward(hidden, { text, ipTokens: [image] }, { ipAdapterScale: 0 }), refIp);
        expect(err).toBeGreaterThan(1e-3);
      });
      attn.setProcessor(new AttnProcessor(), false);
      tf.tidy(() => expectClose(attn.forward(hidden, enc), refPlain, 'plain'));
      attn.dispose();
      ip.dispose();
      tf.dispose([hidden, enc, refIp, refPlain]);
    });

    it('UNet2DConditionModel (fromPretrained)', () => {
      const unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
      expect(unet.parameterCount()).toBe(546724);
      expect(Object.keys(unet.stateDict()).length).toBe(208);
      const sample = npyNhwc('unet/in_sample.npy');
      const t = npyTensor('unet/in_timestep.npy');
      const text = npyTensor('unet/in_encoder_hidden_states.npy');
      const ref = npyNhwc('unet/out_sample.npy');
      tf.tidy(() => expectClose(unet.forward(sample, t, text), ref, 'unet'));
      unet.dispose();
      tf.dispose([sample, t, text, ref]);
    });

    it('UNet with ControlNet residuals (controlnet fixture, scales 1.0 and 0.5)', () => {
      const unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
      const sample = npyNhwc('controlnet/in_sample.npy');
      const t = npyTensor('controlnet/in_timestep.npy');
      const text = npyTensor('controlnet/in_encoder_hidden_states.npy');
      for (const s of full ? ['s100', 's050'] : ['s100']) {
        // diffusers returns one residual per skip; the fixture stores down_0..3 and mid.
        const down = [0, 1, 2, 3].map((i) => npyNhwc(`controlnet/out_${s}_down_${i}.npy`));
        const mid = npyNhwc(`controlnet/out_${s}_mid.npy`);
        const ref = npyNhwc(`controlnet/out_${s}_unet_sample.npy`);
        tf.tidy(() => expectClose(unet.forward(sample, t, text, { downBlockAdditionalResiduals: down, midBlockAdditionalResidual: mid }), ref, `controlnet ${s}`));
        tf.dispose([...down, mid, ref]);
      }
      unet.dispose();
      tf.dispose([sample, t, text]);
    });

    it('UNet with IP-Adapter processors: diffusers keys, original checkpoint, concatenated / tuple / image_embeds inputs', () => {
      const dir = 'unet_ip_adapter';
      const unet = new UNet2DConditionModel(readModelConfig(modelFixture(dir)), { init: 'zeros' });
      attachIPAdapter(unet, { numTokens: 4, scale: 0.7, imageEmbedDim: 24, init: 'zeros' });
      loadWeightsFile(unet, modelFixture(`${dir}/model.safetensors`));
      expect(unet.parameterCount()).toBe(559204);
      const names = Object.keys(unet.attentionProcessors());
      expect(names.filter((n) => unet.attentionProcessors()[n] instanceof IPAdapterAttnProcessor)).toEqual(names.filter((n) => n.endsWith('attn2.processor')));
      const sample = npyNhwc(`${dir}/in_sample.npy`);
      const t = npyTensor(`${dir}/in_timestep.npy`);
      const concat = npyTensor(`${dir}/in_encoder_hidden_states.npy`);
      const text = npyTensor(`${dir}/in_text_embeds.npy`);
      const tokens = npyTensor(`${dir}/in_ip_tokens.npy`);
      const imageEmbeds = npyTensor(`${dir}/in_image_embeds.npy`);
      const ref = npyNhwc(`${dir}/out_sample.npy`);
      tf.tidy(() => {
        expectClose(unet.forward(sample, t, concat), ref, 'ip concatenated');
        if (full) {
          expectClose(unet.forward(sample, t, { text, ipTokens: [tokens] }), ref, 'ip tuple');
          expectClose(unet.forward(sample, t, text, { imageEmbeds: [imageEmbeds] }), ref, 'ip image_embeds');
        }
        expectClose(unet.encoderHidProj!.forward([imageEmbeds])[0]!, tokens, 'image projection');
      });
      unet.dispose();
      // The same adapter from the original IP-Adapter key layout, attached to the plain UNet.
      const plain = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
      loadIPAdapter(plain, modelFixture(`${dir}/ip_adapter.safetensors`), { scale: 0.7 });
      tf.tidy(() => expectClose(plain.forward(sample, t, text, { imageEmbeds: [imageEmbeds] }), ref, 'ip original checkpoint'));
      // Per-call scale 0 reproduces the plain UNet output.
      const plainRef = npyNhwc('unet/out_sample.npy');
      if (full) tf.tidy(() => expectClose(plain.forward(sample, t, text, { imageEmbeds: [imageEmbeds], crossAttentionKwargs: { scale: 0 } }), plainRef, 'ip scale 0'));
      plain.dispose();
      tf.dispose([sample, t, concat, text, tokens, imageEmbeds, ref, plainRef]);
    });

    it('AutoencoderKL: encode (mean, logvar, sample) and decode', () => {
      const vae = AutoencoderKL.fromPretrained(modelFixture('vae'));
      expect(vae.parameterCount()).toBe(658375);
      const image = npyNhwc('vae/in_image.npy');
      const noise = npyNhwc('vae/in_posterior_noise.npy');
      const post = vae.encode(image);
      const refs = ['mean', 'logvar', 'sample'].map((k) => npyNhwc(`vae/out_latent_${k}.npy`));
      const decodedRef = npyNhwc('vae/out_decoded.npy');
      tf.tidy(() => {
        expectClose(post.mean, refs[0]!, 'latent mean');
        expectClose(post.logvar, refs[1]!, 'latent logvar');
        expectClose(post.sample(noise), refs[2]!, 'latent sample');
        expectClose(vae.decode(post.mean), decodedRef, 'decoded');
      });
      post.dispose();
      vae.dispose();
      tf.dispose([image, noise, ...refs, decodedRef]);
    });
  });
}
