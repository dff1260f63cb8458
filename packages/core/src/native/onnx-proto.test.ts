/**
 * The ONNX writer is checked by the reader that matters, ONNX Runtime itself: models using every field the writer
 * emits (int, ints and float attributes; int64 initialisers; symbolic dims) load and compute values worked out by
 * hand here.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, loadOrtBinding, ValidationError } from '../index.js';

let installed = true;
try {
  createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
} catch {
  installed = false;
}

describe('encodeOnnxModel', () => {
  it.skipIf(!installed)('writes a model ONNX Runtime loads and runs: attributes, int64 constants, symbolic dims', () => {
    const ort = loadOrtBinding();
    if (!ort.available) throw new Error(ort.reason);
    const model = encodeOnnxModel({
      opset: 17,
      inputs: [{ name: 'x', dims: ['n', 6] }],
      outputs: [{ name: 'y', dims: [3, 'm'] }],
      nodes: [
        { op: 'LeakyRelu', inputs: ['x'], outputs: ['l'], attributes: [{ name: 'alpha', float: 0.25 }] },
        { op: 'Reshape', inputs: ['l', 'shape'], outputs: ['r'] }, // [n·6] → [-1, 3]… here [4, 3]
        { op: 'Transpose', inputs: ['r'], outputs: ['t'], attributes: [{ name: 'perm', ints: [1, 0] }] }, // [3, 4]
        { op: 'Flatten', inputs: ['t'], outputs: ['y'], attributes: [{ name: 'axis', int: 1 }] },
      ],
      constants: [{ name: 'shape', dims: [2], values: [-1, 3] }], // a negative int64: ten-byte varint
    });
    const session = ort.createSession(model, { intraOpThreads: 1 });
    const x = Float32Array.from([1, -4, 2, -8, 3, 0, -12, 5, 6, 7, -16, 9]);
    const y = new Float32Array(12);
    session.run({ x: { dims: [2, 6], data: x } }, { y: { dims: [3, 4], data: y } });
    // LeakyRelu(0.25): [1, -1, 2, -2, 3, 0, -3, 5, 6, 7, -4, 9] as [4, 3], transposed:
    expect(Array.from(y)).toEqual([1, -2, -3, 7, -1, 3, 5, -4, 2, 0, 6, 9]);
    session.dispose();
  });

  it('refuses malformed specs, naming the argument', () => {
    const base = { opset: 17, inputs: [{ name: 'x', dims: [1] }], outputs: [{ name: 'y', dims: [1] }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] };
    expect(() => encodeOnnxModel({ ...base, opset: 0 })).toThrow(ValidationError);
    expect(() => encodeOnnxModel({ ...base, inputs: [{ name: '', dims: [1] }] })).toThrow(/name/);
    expect(() => encodeOnnxModel({ ...base, inputs: [{ name: 'x', dims: [1.5] }] })).toThrow(/dims/);
    expect(() => encodeOnnxModel({ ...base, nodes: [{ op: 'Relu', inputs: ['x'], outputs: [] }] })).toThrow(/outputs/);
    expect(() => encodeOnnxModel({ ...base, constants: [{ name: 'c', dims: [2], values: [1] }] })).toThrow(/constants\.c\.values/);
  });
});
