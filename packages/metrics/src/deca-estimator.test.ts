import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, readSafetensors, tf, toByteImage, toFloatImage, useBackend, FormatError } from '@consistent-avatar/core';
import { DecaEstimator, DECA_CODE_SIZES } from './deca-estimator.js';
import { fixture } from '../test/png.js';

// test/fixtures/deca/make_fixture.py: DECA's ResnetEncoder rebuilt from torch.nn modules at base width 8 (hidden 128),
// random weights and BatchNorm statistics, DECA's key names with the 'E_flame.' prefix, two random 224² images.
const images = readNpy(fixture('deca/images.npy')); // float32 [2, 3, 224, 224]
const codes = readNpy(fixture('deca/codes.npy')).data as Float32Array; // float32 [2, 236]
const nhwc = () =>
  tf.tidy(() => tf.transpose(tf.tensor4d(images.data as Float32Array, [2, 3, 224, 224]), [0, 2, 3, 1]) as tf.Tensor4D);

afterAll(async () => {
  await useBackend('wasm');
});

describe('DecaEstimator (E_flame encoder) vs the PyTorch reference', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`all 236 codes within 1e-5 (${backend})`, async () => {
      await useBackend(backend);
      const deca = DecaEstimator.fromSafetensors(fixture('deca/encoder.safetensors'));
      const x = nhwc();
      const before = tf.memory().numTensors;
      const out = deca.forward(x);
      const ours = out.dataSync();
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
      // float32 on both sides through 53 layers; codes are ~0.2, observed differences ~1e-7.
      let max = 0;
      for (let i = 0; i < codes.length; i++) max = Math.max(max, Math.abs(ours[i]! - codes[i]!));
      expect(max).toBeLessThan(1e-5);
      if (backend === 'wasm') {
        // estimate(): pose = codes[200..205], expression = codes[150..199]; 224² frames are used as is.
        const frame = tf.tidy(() => x.slice([1, 0, 0, 0], [1, 224, 224, 3]).reshape([224, 224, 3]));
        const [c] = await deca.estimate([{ data: frame.dataSync() as Float32Array, height: 224, width: 224, channels: 3 }]);
        frame.dispose();
        expect(c!.pose).toHaveLength(DECA_CODE_SIZES.pose);
        expect(c!.expression).toHaveLength(DECA_CODE_SIZES.exp);
        for (let k = 0; k < 6; k++) expect(Math.abs(c!.pose[k]! - codes[236 + 200 + k]!)).toBeLessThan(1e-5);
        for (let k = 0; k < 50; k++) expect(Math.abs(c!.expression[k]! - codes[236 + 150 + k]!)).toBeLessThan(1e-5);
        expect(() => deca.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D)).toThrow(/DecaEstimator.forward: argument 'images'/);
      }
      x.dispose();
      deca.dispose();
      expect(() => deca.forward(x)).toThrow(/undisposed/);
    });
  }

  it('rejects a file without DECA keys', () => {
    expect(() => DecaEstimator.fromTensors({})).toThrow(FormatError);
  });

  it("loads through nn.Module.loadStateDict under DECA's key names, with or without the E_flame. prefix", async () => {
    await useBackend('wasm');
    const { tensors } = readSafetensors(fixture('deca/encoder.safetensors'));
    const deca = DecaEstimator.fromTensors(tensors);
    const keys = Object.keys(tensors).map((k) => k.slice('E_flame.'.length)).sort();
    expect(Object.keys(deca.stateDict()).sort()).toEqual(keys); // conv / BatchNorm (with num_batches_tracked) / Linear
    const unprefixed = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k.slice('E_flame.'.length), v]));
    const again = DecaEstimator.fromTensors(unprefixed);
    const x = nhwc();
    const [a, b] = [deca.forward(x), again.forward(x)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    // The README's conversion keeps floating-point tensors only: no num_batches_tracked (eval BatchNorm ignores it).
    const floatOnly = DecaEstimator.fromTensors(Object.fromEntries(Object.entries(tensors).filter(([k]) => !k.endsWith('num_batches_tracked'))));
    const c = floatOnly.forward(x);
    expect(Array.from(c.dataSync())).toEqual(Array.from(a.dataSync()));
    c.dispose();
    floatOnly.dispose();
    const { ['E_flame.encoder.layer3.5.bn2.running_var']: _dropped, ...missing } = tensors;
    const before = tf.memory().numTensors;
    expect(() => DecaEstimator.fromTensors(missing, 'deca.safetensors')).toThrow(/deca.safetensors: missing DECA weights: encoder.layer3.5.bn2.running_var/);
    expect(tf.memory().numTensors).toBe(before);
    // Byte frames are read as v / 255.
    const frame = tf.tidy(() => x.slice([0, 0, 0, 0], [1, 224, 224, 3]).reshape([224, 224, 3]).clipByValue(0, 1));
    const bytes = toByteImage({ data: frame.dataSync() as Float32Array, height: 224, width: 224, channels: 3 });
    const [fromBytes] = await deca.estimate([bytes]);
    const [fromFloats] = await deca.estimate([toFloatImage(bytes)]);
    expect(Array.from(fromBytes!.pose)).toEqual(Array.from(fromFloats!.pose));
    expect(Array.from(fromBytes!.expression)).toEqual(Array.from(fromFloats!.expression));
    tf.dispose([x, a, b, frame]);
    deca.dispose();
    again.dispose();
  });
});
