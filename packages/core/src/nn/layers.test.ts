import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, nn, Rng, ValidationError } from '../index.js';
import { maxRelError } from '../../test/helpers.js';

/** float64 references written from the PyTorch definitions. */
function groupNormRef(x: Float32Array, [B, P, C]: [number, number, number], G: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  const cg = C / G;
  for (let b = 0; b < B; b++)
    for (let g = 0; g < G; g++) {
      let s = 0;
      let s2 = 0;
      const n = P * cg;
      for (let p = 0; p < P; p++) for (let c = 0; c < cg; c++) s += x[(b * P + p) * C + g * cg + c]!;
      const mean = s / n;
      for (let p = 0; p < P; p++) for (let c = 0; c < cg; c++) s2 += (x[(b * P + p) * C + g * cg + c]! - mean) ** 2;
      const inv = 1 / Math.sqrt(s2 / n + eps);
      for (let p = 0; p < P; p++) for (let c = 0; c < cg; c++) {
        const i = (b * P + p) * C + g * cg + c;
        out[i] = (x[i]! - mean) * inv;
      }
    }
  return out;
}

describe.each(['wasm', 'cpu'] as const)('nn layers on %s', (backend) => {
  beforeAll(async () => {
    await initBackend('wasm');
    await useBackend(backend);
  });

  it('Linear computes x·Wᵀ + b with PyTorch [out, in] weights', () => {
    const lin = new nn.Linear(3, 2, { rng: new Rng(1) });
    const W = lin.weight.arraySync() as number[][];
    const b = lin.bias!.arraySync() as number[];
    const x = [[1, 2, 3], [-1, 0.5, 2]];
    const y = lin.forward(tf.tensor2d(x)).arraySync() as number[][];
    for (let i = 0; i < 2; i++)
      for (let o = 0; o < 2; o++) {
        const ref = x[i]!.reduce((s, v, k) => s + v * W[o]![k]!, b[o]!);
        expect(y[i]![o]).toBeCloseTo(ref, 5);
      }
    // rank-3 input keeps the leading shape
    expect(lin.forward(tf.zeros([2, 5, 3])).shape).toEqual([2, 5, 2]);
    expect(() => lin.forward(tf.zeros([2, 4]))).toThrow(ValidationError);
    lin.dispose();
  });

  it('GroupNorm matches a float64 reference (NHWC and sequences)', () => {
    const gn = new nn.GroupNorm(4, 8, 1e-6);
    const x = new Rng(3).normal(2 * 5 * 8, 1, 3);
    const y = gn.forward(tf.tensor4d(x, [2, 1, 5, 8])).dataSync();
    expect(maxRelError(y, groupNormRef(x, [2, 5, 8], 4, 1e-6))).toBeLessThan(1e-4);
    const ySeq = gn.forward(tf.tensor3d(x, [2, 5, 8])).dataSync();
    expect(maxRelError(ySeq, groupNormRef(x, [2, 5, 8], 4, 1e-6))).toBeLessThan(1e-4);
    expect(() => new nn.GroupNorm(3, 8)).toThrow(/divisor/);
    gn.dispose();
  });

  it('LayerNorm normalises the last dimension', () => {
    const ln = new nn.LayerNorm(6);
    const x = new Rng(4).normal(4 * 6, 2, 5);
    const y = ln.forward(tf.tensor2d(x, [4, 6])).dataSync();
    expect(maxRelError(y, groupNormRef(x, [4, 1, 6], 1, 1e-5))).toBeLessThan(1e-4);
    ln.dispose();
  });

  it('Conv2d loads PyTorch OIHW weights through the torch layout and round-trips them', () => {
    const conv = new nn.Conv2d(2, 3, [3, 2], { padding: 1, rng: new Rng(5) });
    const torchW = conv.stateDict({ layout: 'torch' })['weight']!;
    expect(torchW.shape).toEqual([3, 2, 3, 2]); // [out, in, kh, kw]
    // a torch-layout tensor with a known entry lands at the transposed position
    const w = tf.buffer([3, 2, 3, 2]);
    w.set(7, 2, 1, 0, 1); // out 2, in 1, kh 0, kw 1
    conv.loadStateDict({ weight: w.toTensor(), bias: tf.zeros([3]) }, { layout: 'torch' });
    expect(conv.weight.bufferSync().get(0, 1, 1, 2)).toBe(7); // [kh, kw, in, out]
    const back = conv.stateDict({ layout: 'torch' })['weight']!;
    expect(back.bufferSync().get(2, 1, 0, 1)).toBe(7);
    conv.dispose();
  });

  it('FrozenBatchNorm2d is eval-mode BatchNorm2d with PyTorch state-dict keys', () => {
    const bn = new nn.FrozenBatchNorm2d(3, 1e-3);
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(bn.parameterCount()).toBe(0); // all buffers: nothing is trained
    const [gamma, beta, mean, variance] = [[2, -1, 0.5], [0.1, 0, -3], [1, -2, 0.25], [4, 0.5, 9]];
    bn.loadStateDict({
      weight: tf.tensor1d(gamma), bias: tf.tensor1d(beta), running_mean: tf.tensor1d(mean), running_var: tf.tensor1d(variance),
      num_batches_tracked: tf.scalar(7, 'int32'),
    }, { layout: 'torch' });
    const x = new Rng(9).normal(2 * 2 * 2 * 3, 0, 3);
    const y = bn.forward(tf.tensor4d(x, [2, 2, 2, 3])).dataSync();
    // PyTorch's eval formula, written out in float64.
    const ref = Float64Array.from(x, (v, i) => ((v - mean[i % 3]!) / Math.sqrt(variance[i % 3]! + 1e-3)) * gamma[i % 3]! + beta[i % 3]!);
    expect(maxRelError(y, ref)).toBeLessThan(1e-5);
    expect(bn.stateDict()['num_batches_tracked']!.dataSync()[0]).toBe(7);
    expect(() => bn.forward(tf.zeros([1, 2, 2, 4]) as tf.Tensor4D)).toThrow(/FrozenBatchNorm2d.forward: argument 'x'/);
    expect(() => new nn.FrozenBatchNorm2d(0)).toThrow(/FrozenBatchNorm2d: argument 'numFeatures' expected a positive integer/);
    bn.dispose();
  });

  it('Conv2d with groups (split and depthwise) equals per-group convolutions', () => {
    const rng = new Rng(6);
    const x = tf.tensor4d(rng.normal(1 * 5 * 5 * 4), [1, 5, 5, 4]);
    for (const groups of [2, 4]) {
      const conv = new nn.Conv2d(4, 8, 3, { padding: 1, groups, bias: false, rng: new Rng(groups) });
      const y = conv.forward(x);
      const torchW = conv.stateDict({ layout: 'torch' })['weight']!; // [8, 4/groups, 3, 3]
      const perGroupOut = 8 / groups;
      const perGroupIn = 4 / groups;
      const parts: tf.Tensor4D[] = [];
      for (let g = 0; g < groups; g++) {
        const wg = torchW.slice([g * perGroupOut, 0, 0, 0], [perGroupOut, perGroupIn, 3, 3]).transpose([2, 3, 1, 0]) as tf.Tensor4D;
        const xg = x.slice([0, 0, 0, g * perGroupIn], [1, 5, 5, perGroupIn]);
        parts.push(tf.conv2d(xg, wg, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]));
      }
      expect(maxRelError(y.dataSync(), tf.concat(parts, 3).dataSync())).toBeLessThan(1e-5);
      conv.dispose();
    }
  });

  it('ConvTranspose2d follows PyTorch output size and equals the scatter definition', () => {
    const ct = new nn.ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1, outputPadding: 1, rng: new Rng(9) });
    const xs = new Rng(10).normal(1 * 3 * 3 * 2);
    const y = ct.forward(tf.tensor4d(xs, [1, 3, 3, 2]));
    expect(y.shape).toEqual([1, 6, 6, 3]); // (3−1)·2 − 2 + 3 + 1
    const tw = ct.stateDict({ layout: 'torch' })['weight']!.arraySync() as number[][][][]; // [in, out, kh, kw]
    const b = ct.bias!.arraySync() as number[];
    const ref = new Float64Array(6 * 6 * 3);
    for (let o = 0; o < 36 * 3; o++) ref[o] = b[o % 3]!;
    for (let iy = 0; iy < 3; iy++) for (let ix = 0; ix < 3; ix++) for (let ci = 0; ci < 2; ci++)
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        const oy = iy * 2 - 1 + ky;
        const ox = ix * 2 - 1 + kx;
        if (oy < 0 || ox < 0 || oy >= 6 || ox >= 6) continue;
        for (let co = 0; co < 3; co++) ref[(oy * 6 + ox) * 3 + co]! += xs[(iy * 3 + ix) * 2 + ci]! * tw[ci]![co]![ky]![kx]!;
      }
    expect(maxRelError(y.dataSync(), ref)).toBeLessThan(1e-5);
    ct.dispose();
  });

  it('Embedding gathers rows and rejects float ids', () => {
    const emb = new nn.Embedding(5, 3, { rng: new Rng(11) });
    const rows = emb.forward(tf.tensor1d([4, 0], 'int32')).arraySync() as number[][];
    const table = emb.weight.arraySync() as number[][];
    expect(rows).toEqual([table[4], table[0]]);
    expect(() => emb.forward(tf.tensor1d([1]))).toThrow(/int32/);
    emb.dispose();
  });

  it('Dropout is seeded, scales by 1/(1−p), and is the identity in eval mode', () => {
    const d = new nn.Dropout(0.5);
    const x = tf.ones([1000]);
    const a = d.forward(x, new Rng(1)).dataSync();
    const b = d.forward(x, new Rng(1)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(new Set(Array.from(a))).toEqual(new Set([0, 2]));
    expect(() => d.forward(x)).toThrow(/Rng/);
    d.eval();
    expect(d.forward(x)).toBe(x);
  });

  it('activations: gelu (erf and tanh), silu, quickGelu', () => {
    const x = tf.tensor1d([-2, -0.5, 0, 0.5, 2]);
    const erf = (v: number) => {
      // Abramowitz–Stegun 7.1.26 is too coarse; integrate instead (Simpson, 2000 intervals).
      const n = 2000;
      let s = 0;
      for (let i = 0; i <= n; i++) {
        const t = (v * i) / n;
        s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-t * t);
      }
      return ((2 / Math.sqrt(Math.PI)) * s * v) / (3 * n);
    };
    const xs = [-2, -0.5, 0, 0.5, 2];
    expect(maxRelError(nn.gelu(x).dataSync(), xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))))).toBeLessThan(1e-5);
    expect(maxRelError(nn.gelu(x, 'tanh').dataSync(), xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))))).toBeLessThan(1e-5);
    expect(maxRelError(nn.silu(x).dataSync(), xs.map((v) => v / (1 + Math.exp(-v))))).toBeLessThan(1e-6);
    expect(maxRelError(nn.quickGelu(x).dataSync(), xs.map((v) => v / (1 + Math.exp(-1.702 * v))))).toBeLessThan(1e-6);
  });
});

describe('Module', () => {
  class Block extends nn.Module {
    norm = this.registerModule('norm', new nn.GroupNorm(2, 4));
    layers = this.registerModule('layers', new nn.ModuleList([new nn.Linear(4, 4, { rng: new Rng(1) }), new nn.Linear(4, 2, { rng: new Rng(2) })]));
    scale = this.registerBuffer('scale', tf.scalar(2));
  }

  it('names parameters with dotted paths, counts them, and excludes buffers from training', () => {
    const m = new Block();
    expect(Object.keys(m.stateDict())).toEqual(['scale', 'norm.weight', 'norm.bias', 'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']);
    expect(m.parameterCount()).toBe(8 + 20 + 10);
    expect(m.namedParameters().map(([n]) => n)).not.toContain('scale');
    m.freeze();
    expect(m.trainableVariables()).toHaveLength(0);
    m.unfreeze();
    expect(m.trainableVariables()).toHaveLength(6);
    m.eval();
    expect(m.layers.at(1).training).toBe(false);
    m.dispose();
    expect(m.isDisposed).toBe(true);
  });

  it('loadStateDict lists missing, unexpected and mismatched keys; non-strict loads the rest', () => {
    const m = new Block();
    const dict: Record<string, tf.Tensor> = {
      'norm.weight': tf.fill([4], 3),
      'norm.bias': tf.zeros([4]),
      'layers.0.weight': tf.zeros([4, 3]),
      'extra.weight': tf.zeros([1]),
    };
    expect(() => m.loadStateDict(dict, { source: 'ckpt.safetensors' })).toThrow(
      /from ckpt\.safetensors.*missing keys: scale, layers\.0\.bias.*unexpected keys: extra\.weight.*layers\.0\.weight: expected \[4, 4\] got \[4, 3\]/,
    );
    const report = m.loadStateDict(dict, { strict: false });
    expect(report.loaded).toBe(2);
    expect(report.unexpected).toEqual(['extra.weight']);
    expect(Array.from(m.norm.weight!.dataSync())).toEqual([3, 3, 3, 3]);
    m.dispose();
  });

  it("the 'nchw' torch layout maps a PyTorch [1, C, 1, 1] buffer to NHWC [1, 1, 1, C] and back", () => {
    class Scale extends nn.Module {
      shift = this.registerBuffer('shift', tf.zeros([1, 1, 1, 3]), 'nchw');
    }
    const m = new Scale();
    m.loadStateDict({ shift: tf.tensor4d([1, 2, 3], [1, 3, 1, 1]) }, { layout: 'torch' });
    expect(m.shift.shape).toEqual([1, 1, 1, 3]);
    expect(Array.from(m.shift.dataSync())).toEqual([1, 2, 3]);
    const back = m.stateDict({ layout: 'torch' })['shift']!;
    expect(back.shape).toEqual([1, 3, 1, 1]);
    back.dispose();
    expect(() => m.loadStateDict({ shift: tf.zeros([1, 1, 1, 3]) }, { layout: 'torch' })).toThrow(/shift: expected \[1, 1, 1, 3\] got \[1, 1, 1, 3\] \(torch layout\)/);
    expect(() => m.loadStateDict({ shift: tf.zeros([3]) }, { layout: 'torch' })).toThrow(/shape mismatches: shift/);
    m.dispose();
  });

  it('the same seed builds bit-identical modules', () => {
    const a = new nn.Conv2d(3, 4, 3, { rng: new Rng(42) });
    const b = new nn.Conv2d(3, 4, 3, { rng: new Rng(42) });
    expect(Array.from(a.weight.dataSync())).toEqual(Array.from(b.weight.dataSync()));
    a.dispose();
    b.dispose();
  });
});
