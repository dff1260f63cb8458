/**
 * The internal onnxruntime-node entry point the native provider relies on. These tests fail loudly when an upgrade
 * changes it: the module path, the native `InferenceSession` methods, a synchronous `run`, preallocated outputs
 * written in place (zero copy), and the public wrapper that shows the native call is synchronous.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, loadOrtBinding, simulateOrtAbsent, ORT_PINNED_VERSION, ValidationError } from '../index.js';

const require = createRequire(import.meta.url);
let installed = true;
try {
  require.resolve('onnxruntime-node/package.json');
} catch {
  installed = false;
}

const matmulModel = () =>
  encodeOnnxModel({
    opset: 17,
    inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [3, 2] }],
    outputs: [{ name: 'c', dims: [2, 2] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
  });

describe.skipIf(!installed)('onnxruntime-node internal binding (pinned version)', () => {
  it('is the pinned version and loads', () => {
    expect((require('onnxruntime-node/package.json') as { version: string }).version).toBe(ORT_PINNED_VERSION);
    const ort = loadOrtBinding();
    expect(ort.available ? ort.version : ort.reason).toBe(ORT_PINNED_VERSION);
  });

  it('the public run only wraps the native run in setImmediate (so the native call is synchronous)', () => {
    const backend = readFileSync(join(dirname(require.resolve('onnxruntime-node/package.json')), 'dist', 'backend.js'), 'utf8');
    // The body of OnnxruntimeSessionHandler.run: setImmediate(() => { … resolve(<native session>.run(feeds, fetches, options)) … })
    expect(backend).toMatch(/async run\(feeds, fetches, options\) \{\s*return new Promise\(\(resolve, reject\) => \{\s*setImmediate\(\(\) => \{\s*try \{\s*resolve\([^;]*\.run\(feeds, fetches, options\)\);/);
  });

  it('the raw native session runs synchronously and writes a preallocated output in place', () => {
    const { binding, initOrt } = require('onnxruntime-node/dist/binding.js') as {
      binding: { InferenceSession: new () => { loadModel(...args: unknown[]): void; run(f: object, o: object): unknown; dispose(): void } };
      initOrt(): void;
    };
    initOrt();
    const session = new binding.InferenceSession();
    const model = matmulModel();
    session.loadModel(model.buffer, model.byteOffset, model.byteLength, { intraOpNumThreads: 1 });
    // One buffer holds a, b and c (as the wasm heap does): c is written in place, its neighbours untouched.
    const heap = new Float32Array(32).fill(-7);
    heap.set([1, 2, 3, 4, 5, 6], 0); // a = [[1, 2, 3], [4, 5, 6]]
    heap.set([1, 0, 0, 1, 1, 1], 8); // b = [[1, 0], [0, 1], [1, 1]]
    const t = (dims: number[], data: Float32Array) => ({ dims, type: 'float32', location: 'cpu', data });
    const result = session.run({ a: t([2, 3], heap.subarray(0, 6)), b: t([3, 2], heap.subarray(8, 14)) }, { c: t([2, 2], heap.subarray(16, 20)) });
    expect(result).not.toBeInstanceOf(Promise);
    expect(typeof result).toBe('object');
    expect(Array.from(heap.subarray(16, 20))).toEqual([4, 5, 10, 11]); // a·b by hand
    expect(heap[15]).toBe(-7);
    expect(heap[20]).toBe(-7);
    session.dispose();
  });

  it('the adapter runs a session synchronously on views and validates its arguments', () => {
    const ort = loadOrtBinding();
    if (!ort.available) throw new Error(ort.reason);
    const session = ort.createSession(matmulModel(), { intraOpThreads: 2 });
    expect(session.inputNames).toEqual(['a', 'b']);
    expect(session.outputNames).toEqual(['c']);
    const c = new Float32Array(4);
    session.run({ a: { dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, b: { dims: [3, 2], data: Float32Array.from([1, 0, 0, 1, 1, 1]) } }, { c: { dims: [2, 2], data: c } });
    expect(Array.from(c)).toEqual([4, 5, 10, 11]);
    // A shape mismatch is ONNX Runtime's error, thrown synchronously.
    expect(() => session.run({ a: { dims: [3, 2], data: new Float32Array(6) }, b: { dims: [3, 2], data: new Float32Array(6) } }, { c: { dims: [2, 2], data: c } })).toThrow();
    session.dispose();
    expect(() => session.run({}, {})).toThrow(/disposed/);
    expect(() => ort.createSession(new Uint8Array(0), { intraOpThreads: 1 })).toThrow(ValidationError);
    expect(() => ort.createSession(matmulModel(), { intraOpThreads: 0 })).toThrow(ValidationError);
  });
});

describe('onnxruntime-node absent', () => {
  it('loadOrtBinding says why, and detection comes back', () => {
    simulateOrtAbsent('onnxruntime-node is not installed (simulated)');
    try {
      const ort = loadOrtBinding();
      expect(ort.available).toBe(false);
      expect(ort.available ? '' : ort.reason).toMatch(/simulated/);
    } finally {
      simulateOrtAbsent(null);
    }
    expect(loadOrtBinding().available).toBe(installed);
    expect(() => simulateOrtAbsent('' as string)).toThrow(ValidationError);
  });
});
