import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, Rng, registeredWasmKernels } from '../index.js';
import { maxRelError } from '../../test/helpers.js';

/**
 * Gradient checks of the kernels registered for wasm against (a) float64 brute-force loops written here from the
 * definition of convolution and (b) the cpu backend's own kernels where tfjs has them.
 */

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  stride: number;
  dilation: number;
  pad: Pad;
}

function geometry(c: Case, depthwise: boolean, m = 1) {
  const filter: [number, number, number, number] = depthwise ? [c.k[0], c.k[1], c.x[3], m] : [c.k[0], c.k[1], c.x[3], c.cout];
  const info = tf.backend_util.computeConv2DInfo(c.x, filter, c.stride, c.dilation, c.pad, undefined, depthwise, 'channelsLast');
  return { filter, oh: info.outHeight, ow: info.outWidth, top: info.padInfo.top, left: info.padInfo.left };
}

/** float64 reference: dW and dX of sum(conv(x, W) · G). */
function bruteForce(
  x: Float32Array, w: Float32Array, g: Float32Array, c: Case, depthwise: boolean, m: number,
): { dW: Float64Array; dX: Float64Array; y: Float64Array } {
  const [B, H, W, C] = c.x;
  const geo = geometry(c, depthwise, m);
  const [kh, kw, , last] = geo.filter;
  const co = depthwise ? C * m : c.cout;
  const dW = new Float64Array(kh * kw * C * last);
  const dX = new Float64Array(B * H * W * C);
  const y = new Float64Array(B * geo.oh * geo.ow * co);
  for (let b = 0; b < B; b++)
    for (let oy = 0; oy < geo.oh; oy++)
      for (let ox = 0; ox < geo.ow; ox++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const iy = oy * c.stride + i * c.dilation - geo.top;
            const ix = ox * c.stride + j * c.dilation - geo.left;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < C; ci++) {
              const xv = x[((b * H + iy) * W + ix) * C + ci]!;
              const outs = depthwise ? Array.from({ length: m }, (_, q) => [ci * m + q, q] as const) : Array.from({ length: co }, (_, q) => [q, q] as const);
              for (const [o, q] of outs) {
                const wi = ((i * kw + j) * C + ci) * last + q;
                const gi = ((b * geo.oh + oy) * geo.ow + ox) * co + o;
                y[gi]! += xv * w[wi]!;
                dW[wi]! += xv * g[gi]!;
                dX[((b * H + iy) * W + ix) * C + ci]! += w[wi]! * g[gi]!;
              }
            }
          }
  return { dW, dX, y };
}

const CASES: Case[] = [
  { name: 'stride 1, same', x: [2, 7, 6, 3], k: [3, 3], cout: 4, stride: 1, dilation: 1, pad: 'same' },
  { name: 'stride 2, same (asymmetric pad)', x: [2, 8, 9, 3], k: [3, 3], cout: 5, stride: 2, dilation: 1, pad: 'same' },
  { name: 'stride 2, valid', x: [1, 9, 9, 2], k: [3, 2], cout: 3, stride: 2, dilation: 1, pad: 'valid' },
  { name: 'stride 3, numeric pad 1', x: [2, 10, 8, 3], k: [4, 4], cout: 2, stride: 3, dilation: 1, pad: 1 },
  { name: 'dilation 2, same', x: [2, 9, 8, 3], k: [3, 3], cout: 4, stride: 1, dilation: 2, pad: 'same' },
  { name: 'dilation 3, valid', x: [1, 12, 11, 2], k: [3, 2], cout: 3, stride: 1, dilation: 3, pad: 'valid' },
  { name: 'explicit asymmetric pad', x: [2, 6, 7, 3], k: [3, 3], cout: 4, stride: 2, dilation: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { name: '1×1 pointwise', x: [3, 5, 5, 4], k: [1, 1], cout: 6, stride: 1, dilation: 1, pad: 'valid' },
];

const TOL = 1e-3;

function tensors(c: Case, depthwise: boolean, m: number, seed: number) {
  const rng = new Rng(seed);
  const geo = geometry(c, depthwise, m);
  const co = depthwise ? c.x[3] * m : c.cout;
  const xs = rng.normal(c.x.reduce((a, b) => a * b));
  const ws = rng.normal(geo.filter.reduce((a, b) => a * b));
  const gs = rng.normal(c.x[0] * geo.oh * geo.ow * co);
  return { xs, ws, gs, geo, co };
}

function runGrads(c: Case, depthwise: boolean, m: number, seed: number) {
  const { xs, ws, gs, geo, co } = tensors(c, depthwise, m, seed);
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, c.x);
    const w = tf.tensor4d(ws, geo.filter);
    const g = tf.tensor4d(gs, [c.x[0], geo.oh, geo.ow, co]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(depthwise
        ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad as never, 'NHWC', c.dilation)
        : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad as never, 'NHWC', c.dilation), g));
    const [dx, dw] = tf.grads(f)([x, w]);
    return { dx: dx!.dataSync().slice(), dw: dw!.dataSync().slice() };
  });
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(async () => {
    await useBackend('wasm');
  });

  it('registers the kernels the wasm backend lacks', () => {
    expect(registeredWasmKernels()).toEqual(
      expect.arrayContaining(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']),
    );
    for (const k of registeredWasmKernels()) expect(tf.getKernel(k, 'wasm')).toBeDefined();
  });

  for (const [ci, c] of CASES.entries()) {
    it(`conv2d gradients match float64 brute force and cpu: ${c.name}`, async () => {
      await useBackend('wasm');
      const wasm = runGrads(c, false, 1, 100 + ci);
      const { xs, ws, gs } = tensors(c, false, 1, 100 + ci);
      const ref = bruteForce(xs, ws, gs, c, false, 1);
      expect(maxRelError(wasm.dw, ref.dW)).toBeLessThan(TOL);
      expect(maxRelError(wasm.dx, ref.dX)).toBeLessThan(TOL);
      if (c.dilation === 1) {
        await useBackend('cpu');
        const cpu = runGrads(c, false, 1, 100 + ci);
        expect(maxRelError(wasm.dw, cpu.dw)).toBeLessThan(TOL);
        expect(maxRelError(wasm.dx, cpu.dx)).toBeLessThan(TOL);
      }
    });
  }

  const DEPTHWISE: Array<[Case, number]> = [
    [{ name: 'depthwise ×1, stride 1, same', x: [2, 7, 7, 4], k: [3, 3], cout: 4, stride: 1, dilation: 1, pad: 'same' }, 1],
    [{ name: 'depthwise ×2 (grouped), stride 2, same', x: [2, 8, 7, 3], k: [3, 3], cout: 6, stride: 2, dilation: 1, pad: 'same' }, 2],
    [{ name: 'depthwise ×3, stride 2, valid', x: [1, 9, 9, 2], k: [2, 3], cout: 6, stride: 2, dilation: 1, pad: 'valid' }, 3],
    [{ name: 'depthwise ×1, dilation 2, same', x: [2, 9, 9, 3], k: [3, 3], cout: 3, stride: 1, dilation: 2, pad: 'same' }, 1],
    [{ name: 'depthwise ×2, numeric pad 2', x: [1, 6, 6, 2], k: [3, 3], cout: 4, stride: 1, dilation: 1, pad: 2 }, 2],
  ];
  for (const [di, [c, m]] of DEPTHWISE.entries()) {
    it(`depthwise gradients match float64 brute force and cpu: ${c.name}`, async () => {
      await useBackend('wasm');
      const wasm = runGrads(c, true, m, 200 + di);
      const { xs, ws, gs } = tensors(c, true, m, 200 + di);
      const ref = bruteForce(xs, ws, gs, c, true, m);
      expect(maxRelError(wasm.dw, ref.dW)).toBeLessThan(TOL);
      expect(maxRelError(wasm.dx, ref.dX)).toBeLessThan(TOL);
      if (c.dilation === 1) {
        await useBackend('cpu');
        const cpu = runGrads(c, true, m, 200 + di);
        expect(maxRelError(wasm.dw, cpu.dw)).toBeLessThan(TOL);
        expect(maxRelError(wasm.dx, cpu.dx)).toBeLessThan(TOL);
      }
    });
  }

  it('UnsortedSegmentSum equals the cpu kernel (duplicates summed, out-of-range ids dropped)', async () => {
    const rng = new Rng(7);
    const xs = rng.normal(6 * 4);
    const ids = [2, 0, 2, -1, 5, 1];
    const run = () =>
      tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d(xs, [6, 4]), tf.tensor1d(ids, 'int32'), 4).dataSync().slice());
    await useBackend('wasm');
    const wasm = run();
    await useBackend('cpu');
    const cpu = run();
    expect(maxRelError(wasm, cpu)).toBeLessThan(1e-6);
    // row 3 of the output has no contributions; id 5 is out of range and dropped
    expect(Array.from(wasm.slice(12, 16))).toEqual([0, 0, 0, 0]);
  });

  it('gather gradient (embedding backward) matches cpu on wasm', async () => {
    const rng = new Rng(8);
    const table = rng.normal(10 * 3);
    const up = rng.normal(5 * 3);
    const run = () =>
      tf.tidy(() => {
        const w = tf.tensor2d(table, [10, 3]);
        const ids = tf.tensor1d([1, 4, 4, 9, 1], 'int32');
        const g = tf.tensor2d(up, [5, 3]);
        return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), g)))(w).dataSync().slice();
      });
    await useBackend('wasm');
    const wasm = run();
    await useBackend('cpu');
    const cpu = run();
    expect(maxRelError(wasm, cpu)).toBeLessThan(1e-6);
  });

  it('does not leak tensors across repeated gradient calls', async () => {
    await useBackend('wasm');
    const c = CASES[1]!;
    runGrads(c, false, 1, 1);
    runGrads(c, true, 2, 1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      runGrads(c, false, 1, 1);
      runGrads(c, true, 2, 1);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
