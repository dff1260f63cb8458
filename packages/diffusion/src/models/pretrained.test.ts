/**
 * diffusers folder I/O: save → load round trip, strict / non-strict key checking, bf16 upcast, and clear errors
 * (naming the key and the file) for a missing tensor, a wrong shape, a corrupt file and a missing folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FormatError, readSafetensors, tf, useBackend, ValidationError, writeSafetensors, type SafetensorsTensor } from '@consistent-avatar/core';
import { AutoencoderKL, convertDeprecatedAttentionKeys, fromPretrained, IdentityAutoencoder, UNet2DConditionModel } from '../index.js';
import { maxAbsError, modelFixture, npyNhwc, npyTensor } from '../../test/models-fixtures.js';

let tmp: string;
beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-pretrained-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Copy the fixture UNet folder with its tensors edited by `edit`. */
function editedUnetFolder(name: string, edit: (t: Record<string, SafetensorsTensor>) => void): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(modelFixture('unet/config.json'), path.join(dir, 'config.json'));
  const { tensors } = readSafetensors(modelFixture('unet/model.safetensors'));
  edit(tensors);
  writeSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
  return dir;
}

describe('fromPretrained / savePretrained', () => {
  it('round-trips a UNet through savePretrained (same outputs, same config)', () => {
    const unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
    const dir = path.join(tmp, 'roundtrip');
    unet.savePretrained(dir);
    const again = UNet2DConditionModel.fromPretrained(dir);
    expect(again.config).toEqual(unet.config);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(saved._class_name).toBe('UNet2DConditionModel');
    const sample = npyNhwc('unet/in_sample.npy');
    const t = npyTensor('unet/in_timestep.npy');
    const text = npyTensor('unet/in_encoder_hidden_states.npy');
    tf.tidy(() => {
      expect(maxAbsError(again.forward(sample, t, text), unet.forward(sample, t, text)).err).toBe(0);
    });
    // The saved file is in PyTorch layout: conv weights OIHW, as diffusers writes them.
    const header = readSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), { names: ['conv_in.weight'] });
    expect(header.tensors['conv_in.weight']!.shape).toEqual([32, 4, 3, 3]);
    tf.dispose([sample, t, text]);
    unet.dispose();
    again.dispose();
  });

  it('names the missing key and the file; strict: false reports it instead', () => {
    const dir = editedUnetFolder('missing', (t) => delete t['mid_block.resnets.1.conv2.weight']);
    const file = path.join(dir, 'diffusion_pytorch_model.safetensors');
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(/missing keys: mid_block\.resnets\.1\.conv2\.weight/);
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(file);
    let reported: string[] = [];
    const unet = UNet2DConditionModel.fromPretrained(dir, { strict: false, onReport: (r) => (reported = r.missing) });
    expect(reported).toEqual(['mid_block.resnets.1.conv2.weight']);
    unet.dispose();
  });

  it('names an unexpected key and a wrong shape with the file', () => {
    const extra = editedUnetFolder('extra', (t) => {
      t['encoder_hid_proj.weight'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
    });
    expect(() => UNet2DConditionModel.fromPretrained(extra)).toThrow(/unexpected keys: encoder_hid_proj\.weight/);
    const wrong = editedUnetFolder('wrong-shape', (t) => {
      t['conv_out.bias'] = { dtype: 'F32', shape: [5], data: new Float32Array(5) };
    });
    let error: unknown;
    try {
      UNet2DConditionModel.fromPretrained(wrong);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(String(error)).toMatch(/conv_out\.bias: expected \[4\] got \[5\]/);
    expect(String(error)).toContain(path.join(wrong, 'diffusion_pytorch_model.safetensors'));
  });

  it('rejects a corrupt (truncated) weight file and a missing folder with FormatError naming the file', () => {
    const dir = path.join(tmp, 'corrupt');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(modelFixture('unet/config.json'), path.join(dir, 'config.json'));
    const bytes = fs.readFileSync(modelFixture('unet/model.safetensors'));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 1000));
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(FormatError);
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(path.join(dir, 'model.safetensors'));
    expect(() => UNet2DConditionModel.fromPretrained(path.join(tmp, 'nope'))).toThrow(FormatError);
    expect(() => fromPretrained(AutoencoderKL, modelFixture('unet'))).toThrow(/AutoencoderKL folder/);
    expect(() => UNet2DConditionModel.fromPretrained(modelFixture('unet'), { dtype: 'float16' as 'float32' })).toThrow(ValidationError);
  });

  it('upcasts a bf16 checkpoint to float32 (values = the bf16 numbers)', () => {
    const dir = path.join(tmp, 'bf16');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(modelFixture('vae/config.json'), path.join(dir, 'config.json'));
    const { tensors } = readSafetensors(modelFixture('vae/model.safetensors'));
    const halved: Record<string, SafetensorsTensor> = {};
    const expected: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(tensors)) {
      const f32 = t.data as Float32Array;
      const bits = new Uint16Array(new Uint32Array(f32.buffer.slice(f32.byteOffset, f32.byteOffset + f32.byteLength)).map((u) => u >>> 16)); // truncate to bf16
      halved[k] = { dtype: 'BF16', shape: t.shape, data: bits };
      expected[k] = new Float32Array(new Uint32Array(Array.from(bits, (b) => b << 16)).buffer);
    }
    writeSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), halved);
    const vae = AutoencoderKL.fromPretrained(dir);
    const dict = vae.stateDict({ layout: 'torch' });
    for (const k of ['encoder.conv_in.weight', 'decoder.mid_block.attentions.0.to_q.bias']) {
      expect(Array.from(dict[k]!.dataSync())).toEqual(Array.from(expected[k]!));
    }
    tf.dispose(Object.values(dict));
    vae.dispose();
  });

  it('loads a VAE whose attention uses the deprecated names query / key / value / proj_attn, renamed as diffusers does', () => {
    // attention_legacy.safetensors: the fixture VAE's mid-block attention under the old names, written by
    // test/fixtures/models/vae_legacy/make_vae_legacy.py; the rest of the VAE is the fixture's own file.
    const legacy = readSafetensors(modelFixture('vae_legacy/attention_legacy.safetensors')).tensors;
    expect(Object.keys(legacy).sort().slice(0, 4)).toEqual(['decoder.mid_block.attentions.0.key.bias', 'decoder.mid_block.attentions.0.key.weight', 'decoder.mid_block.attentions.0.proj_attn.bias', 'decoder.mid_block.attentions.0.proj_attn.weight']);
    const { tensors } = readSafetensors(modelFixture('vae/model.safetensors'));
    const rest = Object.fromEntries(Object.entries(tensors).filter(([k]) => !/\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\./.test(k)));
    expect(Object.keys(tensors).length - Object.keys(rest).length).toBe(16);
    const dir = path.join(tmp, 'vae-legacy');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(modelFixture('vae/config.json'), path.join(dir, 'config.json'));
    writeSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), { ...rest, ...legacy });
    let report: { missing: string[]; unexpected: string[] } | undefined;
    const vae = fromPretrained(AutoencoderKL, dir, { onReport: (r) => { report = r; } });
    const ref = AutoencoderKL.fromPretrained(modelFixture('vae'));
    expect([report!.missing, report!.unexpected]).toEqual([[], []]);
    const [a, b] = [vae.stateDict({ layout: 'torch' }), ref.stateDict({ layout: 'torch' })];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(b)) expect(Array.from(a[k]!.dataSync()), k).toEqual(Array.from(b[k]!.dataSync()));
    tf.dispose([...Object.values(a), ...Object.values(b)]);
    vae.dispose();
    ref.dispose();
    // Only attention paths of the model are renamed; a dict already converted passes through.
    const keys = ['mid.attentions.0.to_q.weight', 'mid.attentions.0.to_out.0.bias', 'mid.key.weight'];
    expect(convertDeprecatedAttentionKeys({ 'mid.attentions.0.query.weight': 1, 'mid.attentions.0.proj_attn.bias': 2, 'mid.key.weight': 3, 'other.value.bias': 4 }, keys))
      .toEqual({ dict: { 'mid.attentions.0.to_q.weight': 1, 'mid.attentions.0.to_out.0.bias': 2, 'mid.key.weight': 3, 'other.value.bias': 4 }, renamed: [['mid.attentions.0.query.weight', 'mid.attentions.0.to_q.weight'], ['mid.attentions.0.proj_attn.bias', 'mid.attentions.0.to_out.0.bias']] });
    expect(convertDeprecatedAttentionKeys({ 'a.to_q.weight': 1, 'a.query.weight': 2 }, ['a.to_q.weight']).renamed).toEqual([]);
    expect(() => convertDeprecatedAttentionKeys(null as never, [])).toThrow(ValidationError);
  });

  it('IdentityAutoencoder: encode/decode are the identity with a zero-variance posterior', () => {
    const ae = new IdentityAutoencoder(3);
    const x = tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const post = ae.encode(x);
    tf.tidy(() => {
      expect(maxAbsError(ae.decode(post.sample(tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 4))), x).err).toBe(0);
      expect(maxAbsError(post.std, tf.zeros([1, 4, 4, 3])).err).toBe(0);
    });
    expect(() => ae.encode(tf.zeros([1, 4, 4, 4]) as tf.Tensor4D)).toThrow(ValidationError);
    post.dispose();
    x.dispose();
  });
});
