/**
 * UNet API behaviour not pinned by the diffusers fixtures: LCM's guidance input (time_cond_proj_dim), odd latent
 * sizes (explicit upsample sizes), the processor registry, config JSON round trip, and input validation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { AttnProcessor, IPAdapterAttnProcessor, UNet2DConditionModel, attachIPAdapter, resolveAutoencoderKLConfig, resolveUNetConfig } from '../index.js';
import { TINY_UNET } from '../../test/toy-tasks.js';

const TINY = TINY_UNET;

beforeAll(async () => {
  await useBackend('wasm');
});

describe('UNet2DConditionModel API', () => {
  it('time_cond_proj_dim adds TimestepEmbedding.cond_proj (no bias) and timestepCond changes the output', () => {
    const unet = new UNet2DConditionModel({ ...TINY, time_cond_proj_dim: 12 }, { seed: 1 });
    const dict = unet.stateDict();
    expect(dict['time_embedding.cond_proj.weight']!.shape).toEqual([16, 12]);
    expect(dict['time_embedding.cond_proj.bias']).toBeUndefined();
    const x = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const text = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 2);
    tf.tidy(() => {
      const a = unet.forward(x, 500, text, { timestepCond: tf.zeros([1, 12]) });
      const b = unet.forward(x, 500, text, { timestepCond: tf.ones([1, 12]) });
      const c = unet.forward(x, 500, text); // no guidance input: cond_proj skipped, as diffusers with timestep_cond=None
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeGreaterThan(1e-4);
      expect(tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]).toBe(0); // cond_proj(0) = 0
    });
    const plain = new UNet2DConditionModel(TINY, { seed: 1 });
    expect(() => plain.forward(x, 500, text, { timestepCond: tf.zeros([1, 12]) })).toThrow(/time_cond_proj_dim/);
    tf.dispose([x, text]);
    unet.dispose();
    plain.dispose();
  });

  it('IP-Adapter image tokens may have their own size (to_k_ip: tokenDim → hidden), text keeps the UNet size', () => {
    const unet = new UNet2DConditionModel(TINY, { seed: 3 });
    const plain = new UNet2DConditionModel(TINY, { seed: 3 });
    attachIPAdapter(unet, { numTokens: 2, crossAttentionDim: 24, seed: 4 }); // text 16-d, image tokens 24-d
    expect(unet.stateDict()['down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_ip.0.weight']!.shape).toEqual([16, 24]);
    const x = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const text = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 2);
    const ip = tf.randomNormal([1, 2, 24], 0, 1, 'float32', 3);
    tf.tidy(() => {
      const a = unet.forward(x, 500, { text, ipTokens: [ip] });
      const b = unet.forward(x, 500, { text, ipTokens: [tf.zerosLike(ip)] });
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeGreaterThan(1e-4); // the image tokens act
      const off = unet.forward(x, 500, { text, ipTokens: [ip] }, { crossAttentionKwargs: { scale: 0 } });
      const ref = plain.forward(x, 500, text);
      expect(tf.max(tf.abs(tf.sub(off, ref))).dataSync()[0]).toBeLessThan(1e-5); // scale 0 = the plain UNet
    });
    expect(() => unet.forward(x, 500, { text, ipTokens: [tf.zeros([1, 2, 16])] })).toThrow(/ipTokens\[0\]/);
    expect(() => unet.forward(x, 500, tf.zeros([1, 5, 16]))).toThrow(/\{ text, ipTokens \}/); // the concatenated form needs equal sizes
    tf.dispose([x, text, ip]);
    unet.dispose();
    plain.dispose();
  });

  it('odd latent sizes upsample to the skip size (9×9 in, 9×9 out)', () => {
    const unet = new UNet2DConditionModel(TINY, { seed: 2 });
    tf.tidy(() => {
      expect(unet.forward(tf.zeros([1, 9, 9, 4]) as tf.Tensor4D, [10], tf.zeros([1, 3, 16])).shape).toEqual([1, 9, 9, 4]);
    });
    unet.dispose();
  });

  it('processor registry: names, partial replacement, factories, errors', () => {
    const unet = new UNet2DConditionModel(TINY, { seed: 3 });
    const names = Object.keys(unet.attentionProcessors());
    expect(names).toEqual([
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor',
      'down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor',
      'up_blocks.1.attentions.0.transformer_blocks.0.attn1.processor',
      'up_blocks.1.attentions.0.transformer_blocks.0.attn2.processor',
      'up_blocks.1.attentions.1.transformer_blocks.0.attn1.processor',
      'up_blocks.1.attentions.1.transformer_blocks.0.attn2.processor',
      'mid_block.attentions.0.transformer_blocks.0.attn1.processor',
      'mid_block.attentions.0.transformer_blocks.0.attn2.processor',
    ]);
    const ip = new IPAdapterAttnProcessor({ hiddenSize: 32, crossAttentionDim: 16, numTokens: [2], seed: 4 });
    unet.setAttentionProcessors({ [names[7]!]: ip });
    expect(unet.attentionProcessors()[names[7]!]).toBe(ip);
    expect(Object.keys(unet.stateDict()).filter((k) => k.includes('to_k_ip'))).toEqual(['mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_ip.0.weight']);
    expect(() => unet.setAttentionProcessors({ 'down_blocks.9.attn2.processor': new AttnProcessor() })).toThrow(ValidationError);
    expect(() => unet.setAttentionProcessor(ip)).toThrow(/weight-free processor or a factory/);
    unet.setAttentionProcessor(() => new AttnProcessor());
    expect(Object.values(unet.attentionProcessors()).every((p) => p.kind === 'AttnProcessor')).toBe(true);
    expect(ip.isDisposed).toBe(true); // replaced processors free their weights
    unet.dispose();
  });

  it('config round-trips through JSON; bad inputs and configs raise ValidationError naming the argument', () => {
    const unet = new UNet2DConditionModel(TINY, { init: 'zeros' });
    const again = new UNet2DConditionModel(JSON.parse(JSON.stringify(unet.config)), { init: 'zeros' });
    expect(again.config).toEqual(unet.config);
    expect(again.parameterCount()).toBe(unet.parameterCount());
    const text = tf.zeros([1, 3, 16]);
    expect(() => unet.forward(tf.zeros([1, 4, 8, 8]) as tf.Tensor4D, 1, text)).toThrow(/'sample'.*NHWC/);
    expect(() => unet.forward(tf.zeros([1, 8, 8, 4]) as tf.Tensor4D, 1, tf.zeros([1, 3, 8]))).toThrow(/encoderHiddenStates/);
    expect(() => unet.forward(tf.zeros([2, 8, 8, 4]) as tf.Tensor4D, [1, 2, 3], tf.zeros([2, 3, 16]))).toThrow(/timestep/);
    expect(() => unet.forward(tf.zeros([1, 8, 8, 4]) as tf.Tensor4D, 1, text, { downBlockAdditionalResiduals: [tf.zeros([1, 8, 8, 16])] })).toThrow(/4 NHWC tensors/);
    expect(() => new UNet2DConditionModel({ ...TINY, down_block_types: ['CrossAttnDownBlock2D'] })).toThrow(/down_block_types/);
    expect(() => new UNet2DConditionModel({ ...TINY, class_embed_type: 'timestep' })).toThrow(/class_embed_type/);
    expect(() => new UNet2DConditionModel({ ...TINY, attention_head_dim: 5 })).toThrow(/attention_head_dim/);
    text.dispose();
    unet.dispose();
    again.dispose();
  });

  it('resolveUNetConfig: diffusers fields checked by core\'s validator, unknown fields rejected, inert fields kept', () => {
    const fail = (partial: Record<string, unknown>) => () => resolveUNetConfig({ ...TINY, ...partial });
    expect(fail({ layers_per_block: [1, 0] })).toThrow("UNet2DConditionModel: argument 'config.layers_per_block[1]' expected an integer in [1, 16], got 0");
    expect(fail({ layers_per_block: [1, 1, 1] })).toThrow(/'config.layers_per_block' expected one value or 2 values/);
    expect(fail({ norm_eps: 0 })).toThrow("argument 'config.norm_eps' expected a finite number > 0, got 0");
    expect(fail({ conv_in_kernel: 4 })).toThrow("argument 'config.conv_in_kernel' expected an odd positive integer, got 4");
    expect(fail({ time_embedding_type: 'fourier' })).toThrow(/'config.time_embedding_type' expected "positional"/);
    expect(fail({ encoder_hid_dim_type: 'text_proj' })).toThrow(/'config.encoder_hid_dim_type' expected null or one of 'ip_image_proj', got "text_proj"/);
    expect(fail({ reverse_transformer_layers_per_block: [1] })).toThrow(/'config.reverse_transformer_layers_per_block' expected null or 2 values/);
    // SDXL's added time / text embeddings are not implemented (README, "SDXL: what is supported"): its configs are refused.
    expect(fail({ addition_embed_type: 'text_time', addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816 })).toThrow(/'config.addition_embed_type' expected null/);
    expect(fail({ cross_attention_dims: 16 })).toThrow(/UNet2DConditionModel: argument 'config.cross_attention_dims' expected a known field \(sample_size, in_channels, /);
    // Inert diffusers fields are accepted with their inert value and kept for the JSON round trip.
    const withInert = resolveUNetConfig({ ...TINY, addition_time_embed_dim: null, attention_type: 'default', addition_embed_type_num_heads: 64 });
    expect(withInert.attention_type).toBe('default');
    expect(resolveUNetConfig(JSON.parse(JSON.stringify(withInert)))).toEqual(withInert);
    expect('attention_type' in resolveUNetConfig(TINY)).toBe(false);
  });

  it('resolveAutoencoderKLConfig: same validator, unknown fields rejected, JSON round trip', () => {
    const c = resolveAutoencoderKLConfig({
      block_out_channels: [8, 16], norm_num_groups: 4, shift_factor: 0.1,
      down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
    });
    expect(resolveAutoencoderKLConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    expect(() => resolveAutoencoderKLConfig({ block_out_channels: [64, 6] as number[], down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] })).toThrow("AutoencoderKL: argument 'config.block_out_channels[1]' expected a multiple of norm_num_groups (32), got 6");
    expect(() => resolveAutoencoderKLConfig({ scaling_factor: -1 })).toThrow("AutoencoderKL: argument 'config.scaling_factor' expected a finite number > 0, got -1");
    expect(() => resolveAutoencoderKLConfig({ latents_mean: [0, Number.NaN] })).toThrow("argument 'config.latents_mean[1]' expected a finite number, got NaN");
    expect(() => resolveAutoencoderKLConfig({ scaling: 0.2 } as never)).toThrow(/AutoencoderKL: argument 'config.scaling' expected a known field/);
  });
});
