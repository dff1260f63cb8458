/**
 * The exported TSD encoder in ONNX Runtime against the PyTorch reference (test/fixtures/encoder/make_fixture.py:
 * width 8, out 16, torchvision names) and against the tfjs forward at another batch / size through the same session.
 */
import { describe, expect, it } from 'vitest';
import { loadOrtBinding, readNpz, tf, useBackend } from '@consistent-avatar/core';
import { exportTsdEncoderOnnx, OrtTsdEncoder, TsdEncoder } from './index.js';
import { fixture, maxErrors } from '../test/fixture-io.js';

describe.skipIf(!loadOrtBinding().available)('OrtTsdEncoder: the exported TSD encoder in ONNX Runtime', () => {
  it('matches the PyTorch reference and the tfjs forward; initializers carry the torchvision names', async () => {
    await useBackend('wasm');
    const arrays = readNpz(fixture('encoder/encoder_w8.npz'));
    const dict: Record<string, tf.Tensor> = {};
    for (const [name, a] of Object.entries(arrays)) if (name.startsWith('param/')) dict[name.slice('param/'.length)] = tf.tensor(a.data as Float32Array, a.shape);
    const encoder = new TsdEncoder({ width: 8, outDim: 16 });
    encoder.loadStateDict(dict, { layout: 'torch' });
    const names = exportTsdEncoderOnnx(encoder).spec().initializers!.filter((t) => !t.name.startsWith('const_')).map((t) => t.name);
    expect(names.sort()).toEqual(Object.keys(dict).sort());
    const native = new OrtTsdEncoder(encoder);
    const x = arrays['input_nchw']!;
    const input = tf.tidy(() => tf.transpose(tf.tensor4d(x.data as Float32Array, x.shape as [number, number, number, number]), [0, 2, 3, 1])); // [B, H, W, C]
    const code = native.forward(input);
    expect(code.shape).toEqual([2, 16]);
    const torch = maxErrors(code.dataSync(), arrays['output']!.data as Float32Array);
    expect(torch.err, `vs PyTorch: ${torch.err}`).toBeLessThanOrEqual(1e-5 * torch.ref);
    // Batch 3 at 40×56 through the same session vs the tfjs forward.
    const other = tf.randomUniform([3, 40, 56, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const [ours, ref] = [native.forward(other), encoder.forward(other)];
    const tfjs = maxErrors(ours.dataSync(), ref.dataSync());
    expect(tfjs.err, `vs tfjs: ${tfjs.err}`).toBeLessThanOrEqual(1e-4 * tfjs.ref);
    native.dispose();
    encoder.dispose();
    tf.dispose([input, code, other, ours, ref, ...Object.values(dict)]);
    await useBackend('cpu');
  });

  it('refuses bad options, a tensor of the wrong layout and use after dispose, naming the argument', () => {
    const encoder = new TsdEncoder({ width: 8, outDim: 16 });
    expect(() => new OrtTsdEncoder(encoder, null as never)).toThrow(/OrtTsdEncoder: argument 'options' expected an options object/);
    const native = new OrtTsdEncoder(encoder);
    const nchw = tf.zeros([1, 3, 16, 16]) as tf.Tensor4D; // channels first: 16 channels last
    expect(() => native.forward(nchw)).toThrow(/OrtTsdEncoder\.forward: argument 'tsd' expected a tensor \[B, H, W, 3\]/);
    expect(() => native.forward([1, 2, 3] as never)).toThrow(/argument 'tsd'/);
    native.dispose();
    native.dispose(); // idempotent
    expect(() => native.forward(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D)).toThrow(/not disposed/);
    tf.dispose(nchw);
    encoder.dispose();
  });
});
