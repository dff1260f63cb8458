/**
 * The graph builder, the nn emitters and the model file writer, checked by running the graphs in ONNX Runtime
 * against core's tfjs layers (the emitters' reference), inline and with external data, at two input sizes through one
 * session (symbolic dims). Tolerance 1e-5 · max |ref| (float32, summation order only).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitConv2d, emitGelu, emitGroupNorm, emitLayerNorm, emitLinear, emitSilu, encodeOnnxModel, loadOrtBinding, nn, OnnxGraph, Rng, tf, ValidationError, writeOnnxModel, type OrtSyncSession } from '../index.js';

const ort = loadOrtBinding();
const dir = mkdtempSync(join(tmpdir(), 'onnx-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** conv (stride 2, padding 1) → group norm → SiLU → 1×1 conv ('same') → tokens → layer norm → linear → GELU. */
function buildNet() {
  const rng = new Rng(5);
  const conv = new nn.Conv2d(3, 8, 3, { stride: 2, padding: 1, rng });
  const norm = new nn.GroupNorm(4, 8, 1e-6);
  const pointwise = new nn.Conv2d(8, 6, 1, { padding: 'same', rng });
  const layerNorm = new nn.LayerNorm(6, 1e-5);
  const linear = new nn.Linear(6, 5, { rng });
  // Non-trivial affine parameters (the defaults are ones / zeros).
  norm.weight!.assign(tf.linspace(0.5, 1.5, 8));
  norm.bias!.assign(tf.linspace(-0.2, 0.3, 8));
  layerNorm.weight!.assign(tf.linspace(1.2, 0.7, 6));
  layerNorm.bias!.assign(tf.linspace(0.1, -0.1, 6));
  const tfjs = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const h = pointwise.forward(nn.silu(norm.forward(conv.forward(x)))); // [B, H', W', 6]
      const [B, H, W] = h.shape;
      return nn.gelu(linear.forward(layerNorm.forward(h.reshape([B, H * W, 6])))); // [B, H'·W', 5]
    });
  const g = new OnnxGraph();
  const x = g.input('x', ['batch', 3, 'height', 'width']);
  let h = emitConv2d(g, 'conv', conv, x);
  h = emitConv2d(g, 'pointwise', pointwise, emitSilu(g, emitGroupNorm(g, 'norm', norm, h))); // [B, 6, H', W']
  const tokens = g.op('Transpose', [g.op('Reshape', [h, g.int64([0, 6, -1])])], [{ name: 'perm', ints: [0, 2, 1] }]); // [B, H'·W', 6]
  g.output(emitGelu(g, emitLinear(g, 'linear', linear, emitLayerNorm(g, 'layer_norm', layerNorm, tokens))), 'y', ['batch', 'tokens', 5]);
  const dispose = () => [conv, norm, pointwise, layerNorm, linear].forEach((m) => m.dispose());
  return { g, tfjs, dispose };
}

/** Max |session − tfjs| and the bound 1e-5 · max |tfjs| on a seeded input of `shape` (NHWC). */
function runError(session: OrtSyncSession, tfjs: (x: tf.Tensor4D) => tf.Tensor, shape: [number, number, number, number], seed: number): { err: number; bound: number } {
  const x = tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D; // NHWC
  const ref = tfjs(x);
  const nchw = tf.transpose(x, [0, 3, 1, 2]);
  const y = new Float32Array(ref.size);
  session.run({ x: { dims: nchw.shape, data: nchw.dataSync() as Float32Array } }, { y: { dims: ref.shape, data: y } });
  const expected = ref.dataSync();
  const scale = Math.max(...Array.from(expected, Math.abs));
  const err = Math.max(...Array.from(y, (v, i) => Math.abs(v - expected[i]!)));
  tf.dispose([x, ref, nchw]);
  return { err, bound: 1e-5 * scale };
}

function expectRun(session: OrtSyncSession, tfjs: (x: tf.Tensor4D) => tf.Tensor, shape: [number, number, number, number], seed: number): void {
  const { err, bound } = runError(session, tfjs, shape, seed);
  expect(err, `max abs error ${err} vs ${bound}`).toBeLessThanOrEqual(bound);
}

describe.skipIf(!ort.available)('OnnxGraph + nn emitters in ONNX Runtime', () => {
  it('match the tfjs layers at two sizes through one session (weights inline)', () => {
    if (!ort.available) return;
    const { g, tfjs, dispose } = buildNet();
    const session = ort.createSession(encodeOnnxModel(g.spec()), { intraOpThreads: 1 });
    expectRun(session, tfjs, [2, 9, 7, 3], 1);
    expectRun(session, tfjs, [1, 4, 6, 3], 2);
    session.dispose();
    dispose();
  });

  it('load from a file with external data (weights in <file>.data, referenced by offset)', () => {
    if (!ort.available) return;
    const { g, tfjs, dispose } = buildNet();
    const file = join(dir, 'net.onnx');
    const written = writeOnnxModel(file, g.spec(), { externalData: true, sizeThreshold: 0 });
    expect(written.dataPath).toBe(`${file}.data`);
    expect(statSync(written.dataPath!).size).toBe(written.dataBytes);
    expect(written.dataBytes).toBeGreaterThanOrEqual(g.weightBytes()); // every weight left the protobuf
    const session = ort.createSessionFromFile(file, { intraOpThreads: 1 });
    expectRun(session, tfjs, [2, 8, 8, 3], 3);
    session.dispose();
    // The weights really come from the side file: zero it and the outputs change.
    writeFileSync(written.dataPath!, new Uint8Array(written.dataBytes));
    const zeroed = ort.createSessionFromFile(file, { intraOpThreads: 1 });
    const { err, bound } = runError(zeroed, tfjs, [2, 8, 8, 3], 3);
    expect(err).toBeGreaterThan(1000 * bound);
    zeroed.dispose();
    dispose();
  });
});

describe('OnnxGraph validation', () => {
  it('refuses duplicate names, unknown inputs, mis-sized weights and a graph without outputs', () => {
    const g = new OnnxGraph();
    const x = g.input('x', [1]);
    expect(() => g.input('x', [1])).toThrow(ValidationError);
    expect(() => g.op('Relu', ['nope'])).toThrow(/inputs\[0\]/);
    expect(() => g.weight('w', [2, 2], new Float32Array(3))).toThrow(/4 values/);
    expect(() => g.spec()).toThrow(/output/);
    g.output(g.op('Relu', [x]), 'y', [1]);
    expect(g.spec().nodes.map((n) => n.op)).toEqual(['Relu', 'Identity']);
    expect(g.float([1, 2], [2])).toBe(g.float([1, 2], [2])); // constants are shared
  });

  it('encodeOnnxModel refuses an initializer whose data or external length does not match its dims', () => {
    const base = { opset: 17, inputs: [{ name: 'x', dims: [1] }], outputs: [{ name: 'y', dims: [1] }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] };
    expect(() => encodeOnnxModel({ ...base, initializers: [{ name: 'w', dims: [3], data: new Float32Array(2) }] })).toThrow(/initializers\.w\.data/);
    expect(() => encodeOnnxModel({ ...base, initializers: [{ name: 'w', dims: [3], external: { location: 'w.bin', offset: 0, length: 8 } }] })).toThrow(/initializers\.w\.external/);
  });
});
