import { describe, expect, it } from 'vitest';
import { readNpz, tf, useBackend, initBackend } from '@consistent-avatar/core';
import { TsdEncoder, TSD_ENCODER_DEFAULTS } from './encoder.js';
import { fixture } from '../test/fixture-io.js';
import { expectValidationError } from '../test/expect-validation.js';

/** Torch reference (test/fixtures/encoder/make_fixture.py): width 8, out 16, GroupNorm, random weights. */
function loadReference(): { dict: Record<string, tf.Tensor>; input: tf.Tensor4D; output: Float32Array } {
  const arrays = readNpz(fixture('encoder/encoder_w8.npz'));
  const dict: Record<string, tf.Tensor> = {};
  for (const [name, a] of Object.entries(arrays)) {
    if (name.startsWith('param/')) dict[name.slice('param/'.length)] = tf.tensor(a.data as Float32Array, a.shape);
  }
  const x = arrays['input_nchw']!;
  const nchw = tf.tensor4d(x.data as Float32Array, x.shape as [number, number, number, number]); // [B, C, H, W]
  const input = tf.transpose(nchw, [0, 2, 3, 1]); // [B, H, W, C]
  nchw.dispose();
  return { dict, input, output: arrays['output']!.data as Float32Array };
}

describe('TsdEncoder', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`matches the PyTorch reference (torch-layout weights by torchvision names) on ${backend}`, async () => {
      await useBackend(backend);
      const { dict, input, output } = loadReference();
      const encoder = new TsdEncoder({ width: 8, outDim: 16 });
      const report = encoder.loadStateDict(dict, { layout: 'torch' });
      expect(report.loaded).toBe(Object.keys(dict).length);
      const ours = encoder.forward(input);
      expect(ours.shape).toEqual([2, 16]);
      const values = ours.dataSync();
      let err = 0;
      let ref = 0;
      for (let i = 0; i < output.length; i++) {
        err = Math.max(err, Math.abs(values[i]! - output[i]!));
        ref = Math.max(ref, Math.abs(output[i]!));
      }
      // float32 on both sides (measured ~4e-7 of the range on this fixture).
      expect(err).toBeLessThanOrEqual(1e-5 * ref);
      tf.dispose([ours, input, ...Object.values(dict)]);
      encoder.dispose();
    });
  }

  it('default config is ResNet-18 with a 256-d code: torchvision parameter count with fc 512 → 256', async () => {
    await initBackend();
    const encoder = new TsdEncoder();
    // torchvision resnet18: 11,689,512 parameters with fc 512 → 1000 (513,000); fc 512 → 256 has 131,328.
    expect(encoder.parameterCount()).toBe(11_689_512 - 513_000 + 131_328);
    expect(encoder.config).toEqual(TSD_ENCODER_DEFAULTS);
    const keys = Object.keys(encoder.stateDict());
    expect(keys).toContain('layer2.0.downsample.0.weight');
    expect(keys).toContain('layer4.1.bn2.bias');
    expect(keys).toContain('fc.weight');
    encoder.dispose();
  });

  it('any input size and channel count; seeded; JSON round trip; no tensor leaks', async () => {
    await initBackend();
    const encoder = new TsdEncoder({ width: 8, inChannels: 1, seed: 4 });
    const again = new TsdEncoder(JSON.parse(JSON.stringify(encoder.toJSON())));
    const x = tf.randomUniform([3, 37, 50, 1], -1, 1, 'float32', 9) as tf.Tensor4D;
    const warm = encoder.forward(x);
    warm.dispose();
    const before = tf.memory().numTensors;
    const a = encoder.forward(x);
    const b = again.forward(x);
    expect(a.shape).toEqual([3, 256]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    const other = new TsdEncoder({ width: 8, inChannels: 1, seed: 5 });
    const c = other.forward(x);
    const d = encoder.forward(x);
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(d.dataSync()));
    tf.dispose([x, c, d]);
    [encoder, again, other].forEach((m) => m.dispose());
  });

  it('trains: every parameter gets a finite gradient (wasm)', async () => {
    await initBackend();
    const encoder = new TsdEncoder({ width: 8, outDim: 4, seed: 2 });
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(encoder.forward(x))) as tf.Scalar, encoder.trainableVariables());
    const names = encoder.namedParameters();
    expect(Object.keys(grads)).toHaveLength(names.length);
    for (const [, v] of names) {
      const g = grads[v.name]!;
      expect(g.shape).toEqual(v.shape);
      expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    }
    expect(Math.abs(grads[encoder.conv1.weight.name]!.sum().dataSync()[0]!)).toBeGreaterThan(0);
    tf.dispose([x, value, ...Object.values(grads)]);
    encoder.dispose();
  });

  it('rejects bad configs and inputs', () => {
    expectValidationError(() => new TsdEncoder({ width: 0 }), 'TsdEncoder', 'config.width');
    expectValidationError(() => new TsdEncoder({ width: 12 }), 'TsdEncoder', 'config.normGroups');
    expectValidationError(() => new TsdEncoder({ blocks: [2, 2, 2] as unknown as [number, number, number, number] }), 'TsdEncoder', 'config.blocks');
    expectValidationError(() => new TsdEncoder({ depth: 18 } as object), 'TsdEncoder', 'config.depth');
    const encoder = new TsdEncoder({ width: 8 });
    const wrong = tf.zeros([1, 16, 16, 1]) as tf.Tensor4D;
    expectValidationError(() => encoder.forward(wrong), 'TsdEncoder.forward', 'tsd');
    wrong.dispose();
    encoder.dispose();
  });
});
