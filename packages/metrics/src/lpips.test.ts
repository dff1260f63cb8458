import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, readSafetensors, tf, useBackend, ValidationError, FormatError } from '@consistent-avatar/core';
import { Lpips, lpipsFrames, type LpipsNet } from './lpips.js';
import { fixture } from '../test/png.js';

/** NCHW float32 fixture → NHWC tensor (the first `pairs` images). */
function loadBatch(name: string, pairs = 2): tf.Tensor4D {
  const a = readNpy(fixture(`lpips/${name}`));
  const [, c, h, w] = a.shape as [number, number, number, number];
  const nchw = tf.tensor4d((a.data as Float32Array).subarray(0, pairs * c * h * w), [pairs, c, h, w]);
  const nhwc = tf.transpose(nchw, [0, 2, 3, 1]) as tf.Tensor4D; // [N, H, W, C]
  nchw.dispose();
  return nhwc;
}
const npy = (rel: string) => readNpy(fixture(`lpips/${rel}`)).data as Float32Array;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// float32 end to end on both sides (the reference is float32 PyTorch); LPIPS values are ~1e-2, the issue asks for
// 1e-5 absolute. Observed differences are ~1e-8.
const TOL = 1e-5;

afterAll(async () => {
  await useBackend('wasm');
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`LPIPS parity with PerceptualSimilarity (${backend})`, () => {
    for (const net of ['alex', 'vgg'] as LpipsNet[]) {
      it(`${net}: distances, per-layer terms, spatial maps and layer maps`, { timeout: 180_000 }, async () => {
        await useBackend(backend);
        const lpips = Lpips.fromSafetensors(fixture(`lpips/${net}/model.safetensors.gz`));
        expect(lpips.net).toBe(net);
        // VGG16 on the pure-JS cpu backend costs ~1.2 GMAC per 64² image (~20 s here): on cpu it checks batch 0
        // pair 0 only (distance, per-layer, spatial and layer maps); wasm checks every pair of both batches.
        const cpuVgg = backend === 'cpu' && net === 'vgg';
        for (const batch of cpuVgg ? [0] : [0, 1]) {
          const pairs = cpuVgg ? 1 : 2;
          const in0 = loadBatch(`batch${batch}_in0.npy`, pairs);
          const in1 = loadBatch(`batch${batch}_in1.npy`, pairs);
          const first = <T extends ArrayLike<number>>(a: T, perPair: number) => Array.from(a).slice(0, pairs * perPair);
          const r = lpips.compute(in0, in1, { spatial: true, layerMaps: batch === 0 });
          expect(maxAbsDiff(r.distance, first(npy(`${net}/batch${batch}_lpips.npy`), 1))).toBeLessThan(TOL);
          expect(maxAbsDiff(r.perLayer, first(npy(`${net}/batch${batch}_lpips_per_layer.npy`), 5))).toBeLessThan(TOL);
          expect(r.spatial!.shape).toEqual([pairs, 64, 64]);
          const spatialRef = first(npy(`${net}/batch${batch}_lpips_spatial.npy`), 64 * 64);
          expect(maxAbsDiff(r.spatial!.data, spatialRef)).toBeLessThan(TOL);
          if (batch === 1) expect(r.distance[0]).toBe(0); // identical pair: exactly 0
          if (batch === 0) {
            for (let k = 1; k <= 5; k++) {
              const ref = readNpy(fixture(`lpips/${net}/debug_pair0_layer${k}_linmap.npy`));
              const map = r.layerMaps![k - 1]!;
              expect(map.shape.slice(1)).toEqual(ref.shape);
              const pair0 = map.data.subarray(0, map.shape[1] * map.shape[2]);
              expect(maxAbsDiff(pair0, ref.data as Float32Array)).toBeLessThan(TOL);
            }
          }
          const d = lpips.forward(in0, in1);
          expect(maxAbsDiff(d.dataSync(), r.distance)).toBeLessThan(1e-7);
          d.dispose();
          in0.dispose();
          in1.dispose();
        }
        lpips.dispose();
      });
    }
  });
}

describe('LPIPS weights through nn.Module.loadStateDict', () => {
  it("the module's keys are lpips.LPIPS's; torchvision / lins aliases and missing scaling buffers load the same net", async () => {
    await useBackend('wasm');
    const path = fixture('lpips/alex/model.safetensors.gz');
    const { tensors } = readSafetensors(path);
    const lpips = Lpips.fromSafetensors(path);
    // Same keys as the PyTorch state dict (less the lins.K duplicates of linK), and the same tensors back in torch layout.
    const keys = Object.keys(tensors).filter((k) => !k.startsWith('lins.')).sort();
    expect(Object.keys(lpips.stateDict()).sort()).toEqual(keys);
    const back = lpips.stateDict({ layout: 'torch' });
    for (const k of ['net.slice2.3.weight', 'lin4.model.1.weight', 'scaling_layer.shift']) {
      expect(back[k]!.shape).toEqual(tensors[k]!.shape);
      expect(Array.from(back[k]!.dataSync())).toEqual(Array.from(tensors[k]!.data as Float32Array));
    }
    tf.dispose(Object.values(back));
    // The files users convert: torchvision's features.I.* trunk + lpips' lin weights (lins.K.* here), no scaling buffers.
    const renamed: typeof tensors = {};
    for (const [k, v] of Object.entries(tensors)) {
      const m = /^net\.slice\d\.(\d+)\.(weight|bias)$/.exec(k);
      if (m) renamed[`features.${m[1]}.${m[2]}`] = v;
      else if (k.startsWith('lins.')) renamed[k] = v;
    }
    const fromAliases = Lpips.fromTensors(renamed);
    expect(fromAliases.net).toBe('alex');
    const in0 = loadBatch('batch0_in0.npy');
    const in1 = loadBatch('batch0_in1.npy');
    expect(Array.from(fromAliases.compute(in0, in1).distance)).toEqual(Array.from(lpips.compute(in0, in1).distance));
    // A missing weight names the file and the key; a wrong shape too.
    const { ['lin3.model.1.weight']: _lin3, ['lins.3.model.1.weight']: _lins3, ...noLin3 } = tensors;
    expect(() => Lpips.fromTensors(noLin3, 'alex', 'x.safetensors')).toThrow(/safetensors file x.safetensors: missing LPIPS weights: lin3.model.1.weight/);
    const wrong = { ...tensors, 'net.slice1.0.bias': { dtype: 'F32' as const, shape: [3], data: new Float32Array(3) } };
    expect(() => Lpips.fromTensors(wrong, 'alex')).toThrow(/shape mismatches: net.slice1.0.bias: expected \[64\] got \[3\]/);
    const before = tf.memory().numTensors;
    expect(() => Lpips.fromTensors(noLin3, 'alex')).toThrow(FormatError);
    expect(tf.memory().numTensors).toBe(before); // a failed load frees what it built
    tf.dispose([in0, in1]);
    fromAliases.dispose();
    lpips.dispose();
  });
});

describe('LPIPS API', () => {
  it('frames in [0, 1] equal compute with normalize; no tensor leaks; validation', async () => {
    await useBackend('wasm');
    const lpips = Lpips.fromSafetensors(fixture('lpips/alex/model.safetensors.gz'));
    const in0 = loadBatch('batch0_in0.npy');
    const in1 = loadBatch('batch0_in1.npy');
    const expected = lpips.compute(in0, in1).distance;
    const frames = (t: tf.Tensor4D) =>
      [0, 1].map((i) => {
        const img = tf.tidy(() => tf.div(tf.add(t.slice([i, 0, 0, 0], [1, 64, 64, 3]).squeeze([0]), 1), 2));
        const data = img.dataSync() as Float32Array;
        img.dispose();
        return { data, height: 64, width: 64, channels: 3 };
      });
    const before = tf.memory().numTensors;
    for (let rep = 0; rep < 3; rep++) {
      const s = lpipsFrames(lpips, frames(in0), frames(in1), { batchSize: 1 });
      expect(maxAbsDiff(s.perFrame, expected)).toBeLessThan(1e-6);
      lpips.compute(in0, in1, { spatial: true, layerMaps: true });
      lpips.forward(in0, in1).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => lpips.compute(in0, in1.slice([0, 0, 0, 0], [1, 64, 64, 3]))).toThrow(/Lpips.compute: argument 'in1'/);
    expect(() => lpipsFrames(lpips, [], [])).toThrow(ValidationError);
    expect(() => Lpips.fromTensors({})).toThrow(FormatError);
    in0.dispose();
    in1.dispose();
    lpips.dispose();
    expect(() => lpips.forward(in0, in1)).toThrow(/undisposed/);
  });
});

describe('issue 19 item 3: LPIPS below its minimum size', () => {
  it('16² gives a typed error (it aborted the wasm module before) and LPIPS works afterwards in the same process', async () => {
    await useBackend('wasm');
    const lpips = Lpips.fromSafetensors(fixture('lpips/alex/model.safetensors.gz'));
    const small = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    expect(() => lpips.compute(small, small)).toThrow(/images of at least 31×31 pixels/);
    expect(() => lpips.forward(small, small)).toThrow(ValidationError);
    const a = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const b = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const d = lpips.compute(a, b).distance[0]!;
    expect(d).toBeGreaterThan(0);
    expect(lpips.compute(a, a).distance[0]).toBeCloseTo(0, 6);
    const nan = tf.fill([1, 32, 32, 3], Number.NaN) as tf.Tensor4D;
    expect(() => lpips.compute(a, nan)).toThrow(/argument 'in1' expected finite numbers/);
    tf.dispose([small, a, b, nan]);
    lpips.dispose();
  });
});
