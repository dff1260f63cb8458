import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, Rng, setWasmBatchMatMulKernel, wasmBatchMatMulKernelCalls, nativeKernelStatus, disableNativeKernels, enableNativeKernels } from '../index.js';
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

  // The SIMD kernel's code paths: 4-row blocks and the M mod 4 rows, 8- and 4-column tiles and the N mod 4 scalar
  // columns, K = 1, either operand broadcast over the batch, and the 2-D routes (ours for B ≤ 1 MiB, XNNPACK above).
  const shapes: [number[], number[]][] = [
    [[2, 7, 3], [2, 3, 13]], // M mod 4 = 3, N = 8 + 4 + 1
    [[3, 4, 1], [3, 1, 8]], // K = 1
    [[1, 9, 5], [4, 5, 6]], // A broadcast; N = 4 + 2
    [[2, 3, 6], [1, 6, 3]], // B broadcast; N < 4
    [[2, 2, 4, 8], [2, 2, 8, 20]], // rank 4
    [[16, 33, 8], [16, 8, 33]], // attention-score-like
    [[5, 17], [17, 11]], // 2-D, ours
    [[6, 520], [520, 520]], // 2-D with B over 1 MiB: tfjs-wasm / XNNPACK
  ];
  for (const [sa, sb] of shapes) {
    it(`SIMD batched matmul ${JSON.stringify(sa)}·${JSON.stringify(sb)} equals cpu and tfjs-wasm's own kernel`, () => {
      const r = new Rng(sa.length * 100 + sa[sa.length - 2]!);
      const A2 = r.normal(sa.reduce((p, q) => p * q, 1));
      const B2 = r.normal(sb.reduce((p, q) => p * q, 1));
      const f = () => tf.matMul(tf.tensor(A2, sa), tf.tensor(B2, sb));
      // The wasm kernels themselves (the native provider's fallback): with CA_NATIVE=1 it would take these products.
      const native = nativeKernelStatus().active;
      disableNativeKernels();
      const calls = wasmBatchMatMulKernelCalls();
      const ours = run('wasm', f);
      expect(wasmBatchMatMulKernelCalls() - calls).toBe(sb[0] === 520 ? 0 : 1); // the kernel really ran (or XNNPACK did)
      const cpu = run('cpu', f);
      const before = setWasmBatchMatMulKernel(false);
      const theirs = run('wasm', f);
      setWasmBatchMatMulKernel(before);
      if (native) enableNativeKernels();
      expect(ours[0]!.length).toBe(cpu[0]!.length);
      expect(maxRelError(ours[0]!, cpu[0]!)).toBeLessThan(1e-5);
      expect(maxRelError(ours[0]!, theirs[0]!)).toBeLessThan(1e-5);
    });
  }

  it('the SIMD kernel leaks no tensors or heap buffers, and its output shape is the broadcast one', () => {
    tf.setBackend('wasm');
    const a = tf.tensor3d(A, [3, 5, 4]);
    const b1 = tf.tensor3d(B.subarray(0, 24), [1, 4, 6]);
    expect(tf.tidy(() => tf.matMul(a, b1).shape)).toEqual([3, 5, 6]);
    // Empty products (batch, M or N = 0) allocate nothing and write nothing.
    for (const [sa, sb] of [[[0, 5, 4], [0, 4, 6]], [[3, 0, 4], [3, 4, 6]], [[3, 5, 4], [3, 4, 0]]]) {
      expect(tf.tidy(() => Array.from(tf.matMul(tf.zeros(sa!), tf.zeros(sb!)).shape))).toEqual([sa![0], sa![1], sb![2]]);
    }
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const buffers = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.matMul(a, b1)).dispose();
    expect(backend.numDataIds()).toBe(buffers);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([a, b1]);
  });
});
