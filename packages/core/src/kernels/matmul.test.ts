import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, Rng } from '../index.js';
import { maxRelError } from '../../test/helpers.js';

/**
 * The wasm BatchMatMul / _FusedMatMul wrappers (explicit transposes instead of tfjs-wasm's slow transpose flags)
 * must give the cpu backend's results for every flag combination, batch broadcasting, fused bias/activation, and
 * inside gradients, without leaking backend buffers.
 */
function run(backend: 'wasm' | 'cpu', f: () => tf.Tensor | tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const out = f();
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync().slice() as Float32Array);
  });
}

describe('wasm matMul kernels', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    await useBackend('cpu');
    await useBackend('wasm');
  });

  const rng = new Rng(21);
  const A = rng.normal(3 * 5 * 4);
  const B = rng.normal(3 * 4 * 6);
  const B1 = rng.normal(4 * 6);
  const G = rng.normal(3 * 5 * 6);

  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`batched matMul transposeA=${ta} transposeB=${tb} (with batch broadcasting) equals cpu`, () => {
      const f = () => {
        const a = ta ? tf.tensor3d(A, [3, 5, 4]).transpose([0, 2, 1]).clone() : tf.tensor3d(A, [3, 5, 4]);
        const b = tb ? tf.tensor3d(B, [3, 4, 6]).transpose([0, 2, 1]).clone() : tf.tensor3d(B, [3, 4, 6]);
        const b2 = tb ? tf.tensor2d(B1, [4, 6]).transpose().clone() : tf.tensor2d(B1, [4, 6]);
        return [tf.matMul(a, b, ta, tb), tf.matMul(a, b2 as tf.Tensor2D, ta, tb)];
      };
      const wasm = run('wasm', f);
      const cpu = run('cpu', f);
      wasm.forEach((w, i) => expect(maxRelError(w, cpu[i]!)).toBeLessThan(1e-5));
    });
  }

  it('fused matMul with transposeB, bias and relu equals the unfused computation', () => {
    const f = () => {
      const a = tf.tensor2d(A.subarray(0, 20), [5, 4]);
      const w = tf.tensor2d(B1.subarray(0, 12), [3, 4]); // [out, in]
      const bias = tf.tensor1d([0.1, -0.2, 0.3]);
      return [tf.fused.matMul({ a, b: w, transposeB: true, bias, activation: 'relu' }), tf.relu(tf.add(tf.matMul(a, w.transpose()), bias))];
    };
    const [fused, plain] = run('wasm', f);
    expect(maxRelError(fused!, plain!)).toBeLessThan(1e-6);
  });

  it('matMul gradients (which use the transpose flags) equal cpu', () => {
    const f = () => {
      const a = tf.tensor3d(A, [3, 5, 4]);
      const b = tf.tensor3d(B, [3, 4, 6]);
      const g = tf.tensor3d(G, [3, 5, 6]);
      return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D), g)))([a, b]);
    };
    const wasm = run('wasm', f);
    const cpu = run('cpu', f);
    wasm.forEach((w, i) => expect(maxRelError(w, cpu[i]!)).toBeLessThan(1e-5));
  });

  it('frees its temporary transposes', () => {
    tf.setBackend('wasm');
    const a = tf.tensor3d(A, [3, 4, 5]);
    const b = tf.tensor3d(B, [3, 6, 4]);
    tf.tidy(() => tf.matMul(a, b, true, true)).dispose();
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const buffers = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.matMul(a, b, true, true)).dispose();
    expect(backend.numDataIds()).toBe(buffers);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([a, b]);
  });
});
