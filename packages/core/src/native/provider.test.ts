/**
 * The native kernel provider against the wasm kernels it wraps: forward and gradients of every native kernel on the
 * shapes, strides, paddings, dilations and groups the models use; counters that prove the native path ran; the
 * fallback when ONNX Runtime is absent or a call is not taken; no tensor or native-memory growth over 1000 calls.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  tf,
  initBackend,
  backendReport,
  enableNativeKernels,
  disableNativeKernels,
  nativeKernelStatus,
  resetNativeKernelStats,
  simulateOrtAbsent,
  nn,
  Rng,
  ValidationError,
} from '../index.js';
import { maxRelError } from '../../test/helpers.js';

let installed = true;
try {
  createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
} catch {
  installed = false;
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  name: string;
  x: [number, number, number, number];
  k: number;
  cout: number;
  stride: number;
  dilation: number;
  pad: Pad;
}

// The TinyUNet / diffusion UNet convolutions (3×3 same, stride-2 down, 1×1 skips), odd sizes, explicit and
// numeric padding, dilation.
const CONV_CASES: ConvCase[] = [
  { name: '3×3 same s1', x: [2, 16, 16, 8], k: 3, cout: 12, stride: 1, dilation: 1, pad: 'same' },
  { name: '3×3 same s2 (down)', x: [2, 16, 16, 8], k: 3, cout: 16, stride: 2, dilation: 1, pad: 'same' },
  { name: '3×3 pad 1 s2 odd size', x: [1, 15, 13, 6], k: 3, cout: 5, stride: 2, dilation: 1, pad: 1 },
  { name: '1×1 skip', x: [2, 8, 8, 16], k: 1, cout: 24, stride: 1, dilation: 1, pad: 'valid' },
  { name: '3×3 valid', x: [2, 12, 10, 4], k: 3, cout: 6, stride: 1, dilation: 1, pad: 'valid' },
  { name: '4×4 explicit asymmetric s2', x: [1, 14, 14, 3], k: 4, cout: 8, stride: 2, dilation: 1, pad: [[0, 0], [1, 2], [2, 1], [0, 0]] },
  { name: '3×3 dilation 2 same', x: [1, 16, 16, 6], k: 3, cout: 6, stride: 1, dilation: 2, pad: 'same' },
  // stride 1 with padding beyond k − 1: dx takes the ConvTranspose graph instead of the flipped-filter Conv
  { name: '3×3 pad 3 s1', x: [1, 6, 7, 4], k: 3, cout: 5, stride: 1, dilation: 1, pad: 3 },
];

function values(n: number, seed: number): Float32Array {
  return Float32Array.from(new Rng(seed).normal(n));
}

/** y, dL/dx and dL/dW of L = Σ conv(x, W) · G on the current kernels. */
function convAndGrads(c: ConvCase): Float32Array[] {
  return tf.tidy(() => {
    const [B, H, W, C] = c.x;
    const x = tf.tensor4d(values(B * H * W * C, 1), c.x);
    const w = tf.tensor4d(values(c.k * c.k * C * c.cout, 2), [c.k, c.k, C, c.cout]);
    const y = tf.conv2d(x, w, c.stride, c.pad, 'NHWC', c.dilation);
    const g = tf.tensor(values(y.size, 3), y.shape);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation), g)))([x, w]);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe.skipIf(!installed)('native kernel provider (ONNX Runtime) against the wasm kernels', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(() => {
    disableNativeKernels();
  });

  it.each(CONV_CASES)('conv2d forward and gradients: $name', (c) => {
    disableNativeKernels();
    const reference = convAndGrads(c);
    expect(enableNativeKernels({ minFlops: 0 }).active).toBe(true);
    resetNativeKernelStats();
    const native = convAndGrads(c);
    const counters = nativeKernelStatus().counters;
    // The forward conv always runs natively; undilated gradients use the two backprop kernels, dilated ones are
    // composed of native forward convs (conv-grads.ts).
    expect(counters.Conv2D.native).toBeGreaterThanOrEqual(c.dilation === 1 ? 2 : 3);
    if (c.dilation === 1) {
      expect(counters.Conv2DBackpropInput.native).toBe(1);
      expect(counters.Conv2DBackpropFilter.native).toBe(1);
    }
    ['y', 'dx', 'dW'].forEach((name, i) => expect(maxRelError(native[i]!, reference[i]!), name).toBeLessThan(2e-5));
  });

  it('grouped convolutions (nn.Conv2d, groups 2) and conv2dTranspose match', () => {
    const run = () =>
      tf.tidy(() => {
        const conv = new nn.Conv2d(8, 8, 3, { padding: 1, groups: 2, rng: new Rng(4) });
        const x = tf.tensor4d(values(2 * 8 * 8 * 8, 5), [2, 8, 8, 8]);
        const t = tf.tensor4d(values(2 * 4 * 4 * 6, 6), [2, 4, 4, 6]);
        const wT = tf.tensor4d(values(3 * 3 * 5 * 6, 7), [3, 3, 5, 6]);
        const out = [conv.forward(x), tf.conv2dTranspose(t, wT, [2, 8, 8, 5], 2, 'same'), ...tf.grads((a: tf.Tensor) => tf.sum(tf.square(conv.forward(a as tf.Tensor4D))))([x])];
        const data = out.map((o) => o.dataSync() as Float32Array);
        conv.dispose();
        return data;
      });
    disableNativeKernels();
    const reference = run();
    enableNativeKernels({ minFlops: 0 });
    resetNativeKernelStats();
    const native = run();
    expect(nativeKernelStatus().counters.Conv2DBackpropInput.native).toBeGreaterThanOrEqual(3); // transpose fwd + 2 groups' dx
    reference.forEach((r, i) => expect(maxRelError(native[i]!, r)).toBeLessThan(2e-5));
  });

  it.each([
    { name: '2-D', a: [33, 20], b: [20, 17], tA: false, tB: false },
    { name: '2-D both transposed', a: [20, 33], b: [17, 20], tA: true, tB: true },
    { name: 'batched attention scores q·kᵀ', a: [2, 4, 64, 16], b: [2, 4, 64, 16], tA: false, tB: true },
    { name: 'batched, A transposed', a: [6, 20, 31], b: [6, 20, 17], tA: true, tB: false },
    // tfjs 4.22's BatchMatMul gradient does not reduce a broadcast batch (on every backend): forward only.
    { name: 'broadcast B over the batch (forward)', a: [3, 40, 16], b: [1, 16, 12], tA: false, tB: false, forwardOnly: true },
  ])('matMul forward and gradients: $name', ({ a, b, tA, tB, forwardOnly }) => {
    const run = () =>
      tf.tidy(() => {
        const A = tf.tensor(values(a.reduce((p, q) => p * q, 1), 8), a);
        const Bt = tf.tensor(values(b.reduce((p, q) => p * q, 1), 9), b);
        const y = tf.matMul(A, Bt, tA, tB);
        const g = tf.tensor(values(y.size, 10), y.shape);
        const grads = forwardOnly ? [] : tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, tA, tB), g)))([A, Bt]);
        return [y, ...grads].map((t) => t.dataSync() as Float32Array);
      });
    disableNativeKernels();
    const reference = run();
    enableNativeKernels({ minFlops: 0 });
    resetNativeKernelStats();
    const native = run();
    expect(nativeKernelStatus().counters.BatchMatMul.native).toBe(forwardOnly ? 1 : 4); // grads runs the forward again
    expect(native.length).toBe(forwardOnly ? 1 : 3);
    ['y', 'dA', 'dB'].slice(0, native.length).forEach((name, i) => expect(maxRelError(native[i]!, reference[i]!), name).toBeLessThan(2e-5));
  });

  it('small products, small inner sizes and signatures ONNX cannot express stay on wasm', () => {
    enableNativeKernels({ minFlops: 1e6 });
    resetNativeKernelStats();
    tf.tidy(() => tf.matMul(tf.ones([4, 4]), tf.ones([4, 4])).dataSync());
    expect(nativeKernelStatus().counters.BatchMatMul).toMatchObject({ native: 0, fallback: 1 });
    enableNativeKernels({ minFlops: 0 });
    // Attention scores with head size 8: fewer than 16 multiply-adds per output element.
    resetNativeKernelStats();
    tf.tidy(() => tf.matMul(tf.ones([4, 64, 8]), tf.ones([4, 64, 8]), false, true).dataSync());
    expect(nativeKernelStatus().counters.BatchMatMul).toMatchObject({ native: 0, fallback: 1 });
    // Numeric padding with dimRoundingMode 'ceil': tfjs's output is 4×4 where ONNX's Conv would give 3×3.
    const ceil = () =>
      tf.tidy(() => tf.conv2d(tf.tensor4d(values(128, 14), [1, 8, 8, 2]), tf.tensor4d(values(36, 15), [3, 3, 2, 2]), 2, 0, 'NHWC', 1, 'ceil').dataSync() as Float32Array);
    resetNativeKernelStats();
    const viaProvider = ceil();
    expect(nativeKernelStatus().counters.Conv2D).toMatchObject({ native: 0, fallback: 1 });
    disableNativeKernels();
    expect(Array.from(viaProvider)).toEqual(Array.from(ceil()));
    enableNativeKernels({ minFlops: 0 });
  });

  it('no tensor or native-memory growth over 1000 calls of each kernel', () => {
    enableNativeKernels({ minFlops: 0 });
    const x = tf.tensor4d(values(2 * 16 * 16 * 16, 11), [2, 16, 16, 16]);
    const w = tf.tensor4d(values(3 * 3 * 16 * 16, 12), [3, 3, 16, 16]);
    const a = tf.tensor3d(values(4 * 64 * 16, 13), [4, 64, 16]); // a·aᵀ: inner size 16, taken natively
    const step = () => {
      const y = tf.conv2d(x, w, 1, 'same');
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: y, filter: w }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } as never) as tf.Tensor;
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: y }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape } as never) as tf.Tensor;
      const s = tf.matMul(a, a, false, true);
      tf.dispose([y, dx, dw, s]);
    };
    // A real collection between the phases: the binding hands back a copy of each output (dropped at once), which
    // would otherwise sit in the heap until V8 collects it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 1000; i++) step(); // warm-up: sessions, arenas, the wasm heap and malloc at their high-water marks
    gc();
    const tensors = tf.memory().numTensors;
    const rss = process.memoryUsage().rss;
    resetNativeKernelStats();
    for (let i = 0; i < 1000; i++) step();
    gc();
    const grownMiB = (process.memoryUsage().rss - rss) / 2 ** 20;
    expect(tf.memory().numTensors).toBe(tensors);
    const c = nativeKernelStatus().counters;
    expect([c.Conv2D.native, c.Conv2DBackpropInput.native, c.Conv2DBackpropFilter.native, c.BatchMatMul.native]).toEqual([1000, 1000, 1000, 1000]);
    // 4000 runs; leaking the outputs (137 KiB a step) would add 134 MiB, one input copy of each 8–64 KiB.
    expect(grownMiB).toBeLessThan(24);
    tf.dispose([x, w, a]);
  });

  it('backendReport says which kernels run where; options are validated', () => {
    enableNativeKernels({ threads: 2 });
    expect(backendReport()).toMatch(/native kernels: Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter, BatchMatMul run in ONNX Runtime 1\.30\.0 \(2 intra-op threads/);
    disableNativeKernels();
    expect(backendReport()).toMatch(/native kernels: off/);
    expect(() => enableNativeKernels({ threads: 0 })).toThrow(ValidationError);
    expect(() => enableNativeKernels({ minFlops: -1 })).toThrow(ValidationError);
  });
});

describe('native kernel provider without ONNX Runtime', () => {
  it('stays off, says why, and every kernel runs on wasm with the same results', async () => {
    await initBackend('wasm');
    disableNativeKernels();
    const c = CONV_CASES[1]!;
    const reference = convAndGrads(c);
    simulateOrtAbsent('onnxruntime-node is not installed (simulated)');
    try {
      const status = enableNativeKernels({ minFlops: 0 });
      expect(status.active).toBe(false);
      expect(status.reason).toMatch(/not installed \(simulated\)/);
      expect(backendReport()).toMatch(/native kernels: off — onnxruntime-node is not installed \(simulated\)/);
      resetNativeKernelStats();
      const out = convAndGrads(c);
      expect(nativeKernelStatus().counters.Conv2D.native).toBe(0);
      out.forEach((o, i) => expect(Array.from(o)).toEqual(Array.from(reference[i]!)));
    } finally {
      simulateOrtAbsent(null);
      disableNativeKernels();
    }
  });

  it('CA_NATIVE=0 keeps it off', async () => {
    await initBackend('wasm');
    process.env.CA_NATIVE = '0';
    try {
      expect(enableNativeKernels().reason).toMatch(/CA_NATIVE=0/);
    } finally {
      delete process.env.CA_NATIVE;
      disableNativeKernels();
    }
  });
});
