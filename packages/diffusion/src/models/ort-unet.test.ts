/**
 * The exported UNet graph run by ONNX Runtime against the tfjs forward and against diffusers' own outputs (the
 * model fixtures of models.parity.test.ts, made by diffusers 0.40): plain, with ControlNet residuals, with IP-Adapter
 * tokens (and a per-call scale), at another batch / latent size through the same session, and a DDIM loop through
 * the sampler; the VAE decoder likewise (diffusers decode, tfjs decode at another size). Tolerance: max |ort − ref| ≤ 1e-4 · max |ref| (the issue's bound).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, loadOrtBinding, Rng, simulateOrtAbsent, tf, useBackend } from '@consistent-avatar/core';
import { attachIPAdapter, AutoencoderKL, DDIMScheduler, exportUNetOnnx, exportVaeDecoderOnnx, exportVaeEncoderOnnx, loadWeightsFile, OrtUNet, OrtVaeDecoder, OrtVaeEncoder, readModelConfig, sample, UNet2DConditionModel, unetDenoiser } from '../index.js';
import { expectRelClose, modelFixture, npyNhwc, npyTensor } from '../../test/models-fixtures.js';

const ortAvailable = loadOrtBinding().available;
const expectClose = (actual: tf.Tensor, reference: tf.Tensor, label: string) => expectRelClose(expect, actual, reference, label);

describe('OrtUNet without onnxruntime-node', () => {
  it('throws BackendUnavailableError saying why', () => {
    const unet = new UNet2DConditionModel(readModelConfig(modelFixture('unet')), { init: 'zeros' });
    const before = simulateOrtAbsent('simulated absence');
    try {
      expect(() => new OrtUNet(unet)).toThrow(BackendUnavailableError);
      expect(() => new OrtUNet(unet)).toThrow(/simulated absence/);
    } finally {
      simulateOrtAbsent(before);
      unet.dispose();
    }
  });
});

describe.skipIf(!ortAvailable)('OrtUNet: the exported UNet in ONNX Runtime', () => {
  let unet: UNet2DConditionModel;
  beforeAll(async () => {
    await useBackend('wasm');
    unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
  });
  afterAll(async () => {
    unet.dispose();
    await useBackend('cpu');
  });

  it('names every initializer as the diffusers state dict does, with its PyTorch shape', () => {
    const spec = exportUNetOnnx(unet).graph.spec();
    const torch = unet.stateDict({ layout: 'torch' });
    const named = new Map(spec.initializers!.filter((t) => !t.name.startsWith('const_')).map((t) => [t.name, t.dims]));
    expect([...named.keys()].sort()).toEqual(Object.keys(torch).sort());
    for (const [key, t] of Object.entries(torch)) expect(named.get(key), key).toEqual(t.shape);
    tf.dispose(Object.values(torch));
  });

  it('matches diffusers and the tfjs forward on the unet fixture; the same session serves another batch and size', () => {
    const native = new OrtUNet(unet);
    const x = npyNhwc('unet/in_sample.npy');
    const t = npyTensor('unet/in_timestep.npy');
    const text = npyTensor('unet/in_encoder_hidden_states.npy');
    const ref = npyNhwc('unet/out_sample.npy');
    const before = tf.memory().numTensors;
    const out = native.forward(x, t, text);
    expect(tf.memory().numTensors).toBe(before + 1); // only the output
    tf.tidy(() => {
      expectClose(out, ref, 'ort vs diffusers');
      expectClose(out, unet.forward(x, t, text), 'ort vs tfjs');
      // Batch 1, a 12×10 latent (not divisible by 2: the upsampler resizes to the skip's size), a shorter text.
      const x2 = tf.randomNormal([1, 12, 10, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
      const text2 = tf.randomNormal([1, 3, 32], 0, 1, 'float32', 4);
      expectClose(native.forward(x2, 321, text2), unet.forward(x2, 321, text2), 'ort vs tfjs, [1, 12, 10] latent');
    });
    native.dispose();
    expect(() => native.forward(x, t, text)).toThrow(/disposed/);
    tf.dispose([out, x, t, text, ref]);
  });

  it('adds ControlNet residuals as the tfjs UNet does (controlnet fixture, diffusers reference); none = zeros', () => {
    const native = new OrtUNet(unet, { controlnet: true });
    const x = npyNhwc('controlnet/in_sample.npy');
    const t = npyTensor('controlnet/in_timestep.npy');
    const text = npyTensor('controlnet/in_encoder_hidden_states.npy');
    const down = [0, 1, 2, 3].map((i) => npyNhwc(`controlnet/out_s100_down_${i}.npy`));
    const mid = npyNhwc('controlnet/out_s100_mid.npy');
    const ref = npyNhwc('controlnet/out_s100_unet_sample.npy');
    tf.tidy(() => {
      const residuals = { downBlockAdditionalResiduals: down, midBlockAdditionalResidual: mid };
      expectClose(native.forward(x, t, text, residuals), ref, 'ort vs diffusers');
      expectClose(native.forward(x, t, text, residuals), unet.forward(x, t, text, residuals), 'ort vs tfjs');
      expectClose(native.forward(x, t, text), unet.forward(x, t, text), 'no residuals');
    });
    expect(() => new OrtUNet(unet).forward(x, t, text, { downBlockAdditionalResiduals: down, midBlockAdditionalResidual: mid })).toThrow(/controlnet: true/);
    native.dispose();
    tf.dispose([x, t, text, ...down, mid, ref]);
  });

  it('runs IP-Adapter processors on image-token inputs, with the per-call scale (unet_ip_adapter fixture)', () => {
    const dir = 'unet_ip_adapter';
    const ipUnet = new UNet2DConditionModel(readModelConfig(modelFixture(dir)), { init: 'zeros' });
    attachIPAdapter(ipUnet, { numTokens: 4, scale: 0.7, imageEmbedDim: 24, init: 'zeros' });
    loadWeightsFile(ipUnet, modelFixture(`${dir}/model.safetensors`));
    const native = new OrtUNet(ipUnet);
    expect(native.numIpAdapters).toBe(1);
    const x = npyNhwc(`${dir}/in_sample.npy`);
    const t = npyTensor(`${dir}/in_timestep.npy`);
    const text = npyTensor(`${dir}/in_text_embeds.npy`);
    const tokens = npyTensor(`${dir}/in_ip_tokens.npy`);
    const ref = npyNhwc(`${dir}/out_sample.npy`);
    const plainRef = npyNhwc('unet/out_sample.npy');
    tf.tidy(() => {
      const states = { text, ipTokens: [tokens] };
      expectClose(native.forward(x, t, states), ref, 'ort vs diffusers');
      expectClose(native.forward(x, t, states), ipUnet.forward(x, t, states), 'ort vs tfjs');
      const half = { crossAttentionKwargs: { scale: 0.35 } };
      expectClose(native.forward(x, t, states, half), ipUnet.forward(x, t, states, half), 'scale 0.35');
      // Scale 0: the IP branches vanish and the plain UNet's diffusers output comes back.
      expectClose(native.forward(x, t, states, { crossAttentionKwargs: { scale: 0 } }), plainRef, 'scale 0 vs plain diffusers');
    });
    expect(() => native.forward(x, t, text)).toThrow(/ipTokens/);
    native.dispose();
    ipUnet.dispose();
    tf.dispose([x, t, text, tokens, ref, plainRef]);
  });

  it('exports the other config paths: linear projections, 2 transformer layers, LCM timestep_cond, centred input', () => {
    const config = {
      block_out_channels: [16, 24], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 12, attention_head_dim: 4,
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      use_linear_projection: true, transformer_layers_per_block: 2, time_cond_proj_dim: 8, center_input_sample: true,
    } as const;
    const lcm = new UNet2DConditionModel(config as unknown as Partial<UNet2DConditionModel['config']>, { seed: 21 });
    const native = new OrtUNet(lcm);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      const text = tf.randomNormal([2, 5, 12], 0, 1, 'float32', 2);
      const w = tf.randomNormal([2, 8], 0, 1, 'float32', 3);
      expectClose(native.forward(x, [10, 700], text, { timestepCond: w }), lcm.forward(x, [10, 700], text, { timestepCond: w }), 'LCM / linear projection UNet');
      expect(() => native.forward(x, 10, text)).toThrow(/timestepCond/);
    });
    native.dispose();
    lcm.dispose();
  });

  it('drives the sampler: a 4-step DDIM loop through the session matches the loop through tfjs', () => {
    const native = new OrtUNet(unet, { intraOpThreads: 2 });
    const text = tf.randomNormal([2, 5, 32], 0, 1, 'float32', 7);
    const run = (model: UNet2DConditionModel | OrtUNet) =>
      sample({ denoiser: unetDenoiser(model), conditions: { text }, scheduler: new DDIMScheduler(), numInferenceSteps: 4, shape: [2, 16, 16, 4], rng: new Rng(11) });
    const viaOrt = run(native);
    const viaTfjs = run(unet);
    expectClose(viaOrt, viaTfjs, 'DDIM latents');
    native.dispose();
    tf.dispose([text, viaOrt, viaTfjs]);
  });
});

describe.skipIf(!ortAvailable)('OrtVaeDecoder: the exported VAE decoder in ONNX Runtime', () => {
  it('matches diffusers decode (vae fixture) and the tfjs decoder at another batch / size; names as diffusers', async () => {
    await useBackend('wasm');
    const vae = AutoencoderKL.fromPretrained(modelFixture('vae'));
    const decoderKeys = Object.keys(vae.stateDict()).filter((k) => k.startsWith('decoder.') || k.startsWith('post_quant_conv.'));
    const names = exportVaeDecoderOnnx(vae).spec().initializers!.filter((t) => !t.name.startsWith('const_')).map((t) => t.name);
    expect(names.sort()).toEqual(decoderKeys.sort());
    const native = new OrtVaeDecoder(vae);
    const post = vae.encode(npyNhwc('vae/in_image.npy'));
    const ref = npyNhwc('vae/out_decoded.npy');
    tf.tidy(() => {
      expectClose(native.decode(post.mean), ref, 'ort vs diffusers');
      const z = tf.randomNormal([1, 3, 5, vae.latentChannels], 0, 1, 'float32', 9) as tf.Tensor4D;
      expectClose(native.decode(z), vae.decode(z), 'ort vs tfjs, [1, 3, 5] latent');
    });
    // Bad input: the latent channel count, the options, use after dispose.
    const wrong = tf.zeros([1, 3, 5, vae.latentChannels + 1]) as tf.Tensor4D;
    expect(() => native.decode(wrong)).toThrow(new RegExp(`OrtVaeDecoder\\.decode: argument 'latents' expected \\[B, h, w, ${vae.latentChannels}\\]`));
    expect(() => new OrtVaeDecoder(vae, 'file.onnx' as never)).toThrow(/OrtVaeDecoder: argument 'options' expected an options object/);
    native.dispose();
    expect(() => native.decode(post.mean)).toThrow(/not disposed/);
    wrong.dispose();
    post.dispose();
    vae.dispose();
    ref.dispose();
    await useBackend('cpu');
  });
});

describe.skipIf(!ortAvailable)('OrtVaeEncoder: the exported VAE encoder in ONNX Runtime', () => {
  it('matches diffusers encode (vae fixture: posterior mean and logvar) and the tfjs encoder at another batch / size; names as diffusers', async () => {
    await useBackend('wasm');
    const vae = AutoencoderKL.fromPretrained(modelFixture('vae'));
    const encoderKeys = Object.keys(vae.stateDict()).filter((k) => k.startsWith('encoder.') || k.startsWith('quant_conv.'));
    const names = exportVaeEncoderOnnx(vae).spec().initializers!.filter((t) => !t.name.startsWith('const_')).map((t) => t.name);
    expect(names.sort()).toEqual(encoderKeys.sort());
    const native = new OrtVaeEncoder(vae);
    const image = npyNhwc('vae/in_image.npy');
    const [refMean, refLogvar] = [npyNhwc('vae/out_latent_mean.npy'), npyNhwc('vae/out_latent_logvar.npy')];
    const post = native.encode(image);
    expectClose(post.mean, refMean, 'ort mean vs diffusers');
    expectClose(post.logvar, refLogvar, 'ort logvar vs diffusers');
    const f = vae.downsampleFactor;
    const other = tf.randomNormal([2, 3 * f, 5 * f, vae.config.in_channels], 0, 0.5, 'float32', 11) as tf.Tensor4D;
    const [a, b] = [native.encode(other), vae.encode(other)];
    expectClose(a.mean, b.mean, 'ort vs tfjs mean, [2, 3f, 5f]');
    expectClose(a.logvar, b.logvar, 'ort vs tfjs logvar, [2, 3f, 5f]');
    // Bad input: the channel count, a size the encoder cannot halve, the options, use after dispose.
    const wrong = tf.zeros([1, f, f, vae.config.in_channels + 1]) as tf.Tensor4D;
    expect(() => native.encode(wrong)).toThrow(new RegExp(`OrtVaeEncoder\\.encode: argument 'images' expected \\[B, H, W, ${vae.config.in_channels}\\]`));
    const odd = tf.zeros([1, f + 1, f, vae.config.in_channels]) as tf.Tensor4D;
    expect(() => native.encode(odd)).toThrow(/divisible by/);
    expect(() => new OrtVaeEncoder(vae, 'file.onnx' as never)).toThrow(/OrtVaeEncoder: argument 'options' expected an options object/);
    expect(() => exportVaeEncoderOnnx({} as never)).toThrow(/exportVaeEncoderOnnx: argument 'vae' expected an AutoencoderKL/);
    native.dispose();
    expect(() => native.encode(image)).toThrow(/not disposed/);
    for (const p of [post, a, b]) p.dispose();
    tf.dispose([wrong, odd, other, image, refMean, refLogvar]);
    vae.dispose();
    await useBackend('cpu');
  });
});
