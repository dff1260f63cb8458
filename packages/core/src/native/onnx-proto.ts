/**
 * A minimal ONNX `ModelProto` writer: just the protobuf fields the native kernel graphs need (nodes with int / ints /
 * float attributes, typed graph inputs and outputs with static or symbolic dimensions, int64 initialisers). Field
 * numbers follow `onnx/onnx.proto3` (ONNX IR version 8); the bytes are standard protobuf (varints, length-delimited
 * sub-messages, packed repeated int64 written unpacked as onnx's own serialiser accepts both).
 *
 * The graphs are built at run time from each kernel's shapes and attributes, so nothing is downloaded and no
 * `.onnx` file is shipped.
 *
 * @example
 * ```ts
 * const bytes = encodeOnnxModel({
 *   opset: 17,
 *   inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [3, 4] }],
 *   outputs: [{ name: 'c', dims: [2, 4] }],
 *   nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
 * }); // Uint8Array, an ONNX model ONNX Runtime loads
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from '../errors.js';

/** One attribute of a node: an int, a list of ints, or a float. */
export type OnnxAttribute = { name: string; int: number } | { name: string; ints: number[] } | { name: string; float: number };

/** One node: `op` (`'Conv'`, `'MatMul'`, …) from `inputs` to `outputs`. `''` is an omitted optional input. */
export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: OnnxAttribute[];
  /** Operator domain; `''` (default) is the standard `ai.onnx` domain. */
  domain?: string;
}

/** A float32 graph input or output: fixed dims (numbers) or symbolic ones (strings). */
export interface OnnxValue {
  name: string;
  dims: Array<number | string>;
}

/** A constant int64 tensor (shapes for `Reshape`, `Slice` bounds …). */
export interface OnnxInt64Constant {
  name: string;
  dims: number[];
  values: number[];
}

/** A whole single-graph model. */
export interface OnnxModelSpec {
  /** Default-domain opset version (ONNX Runtime 1.30 supports up to 23). */
  opset: number;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  nodes: OnnxNode[];
  constants?: OnnxInt64Constant[];
  /** Graph name (default `'graph'`). */
  name?: string;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const INT64 = 7; // TensorProto.DataType.INT64
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7; // AttributeProto.AttributeType

/** Append-only protobuf encoder. */
class ProtoWriter {
  private readonly bytes: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value)); // negative int64 → two's complement, 10 bytes
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
    return this;
  }
  private key(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }
  int(field: number, value: number): this {
    return this.key(field, 0).varint(value);
  }
  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.bytes.push(...b);
    return this;
  }
  raw(field: number, content: Uint8Array | number[]): this {
    this.key(field, 2).varint(content.length);
    for (const b of content) this.bytes.push(b);
    return this;
  }
  string(field: number, value: string): this {
    return this.raw(field, new TextEncoder().encode(value));
  }
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.raw(field, inner.bytes);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function attribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.string(1, a.name); // AttributeProto.name
  if ('int' in a) w.int(3, a.int).int(20, ATTR_INT); // i, type
  else if ('ints' in a) {
    for (const v of a.ints) w.int(8, v); // ints (unpacked)
    w.int(20, ATTR_INTS);
  } else w.float(2, a.float).int(20, ATTR_FLOAT); // f, type
}

function valueInfo(w: ProtoWriter, v: OnnxValue): void {
  w.string(1, v.name); // ValueInfoProto.name
  w.message(2, (type) => // TypeProto
    type.message(1, (tensor) => { // TypeProto.tensor_type
      tensor.int(1, FLOAT); // elem_type
      tensor.message(2, (shape) => { // shape
        for (const d of v.dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function checkName(argument: string, name: unknown): void {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError('encodeOnnxModel', argument, 'a non-empty string', name);
}

/**
 * Serialise a single-graph ONNX model (IR version 8) to protobuf bytes.
 *
 * @param spec - opset, float32 inputs / outputs, nodes, int64 constants.
 * @returns the `ModelProto` bytes, ready for `InferenceSession.loadModel`.
 * @throws {@link ValidationError} for an empty name, a node without op / outputs, a non-integer dim or constant, or
 *   a constant whose value count does not match its dims.
 * @example
 * ```ts
 * encodeOnnxModel({ opset: 17, inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y', dims: ['n', 4] }],
 *   nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] }).length; // ≈ 80 bytes
 * ```
 */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  if (!Number.isInteger(spec?.opset) || spec.opset < 1) throw new ValidationError('encodeOnnxModel', 'spec.opset', 'an integer ≥ 1', spec?.opset);
  for (const [i, v] of [...spec.inputs, ...spec.outputs].entries()) {
    checkName(`value[${i}].name`, v.name);
    for (const d of v.dims) {
      if (typeof d !== 'string' && (!Number.isInteger(d) || d < 0)) throw new ValidationError('encodeOnnxModel', `${v.name}.dims`, 'integers ≥ 0 or symbolic names', v.dims);
    }
  }
  for (const [i, n] of spec.nodes.entries()) {
    checkName(`nodes[${i}].op`, n.op);
    if (n.outputs.length === 0) throw new ValidationError('encodeOnnxModel', `nodes[${i}].outputs`, 'at least one output', n.outputs);
  }
  for (const c of spec.constants ?? []) {
    checkName('constants[].name', c.name);
    const count = c.dims.reduce((p, q) => p * q, 1);
    if (c.values.length !== count || !c.values.every(Number.isInteger)) {
      throw new ValidationError('encodeOnnxModel', `constants.${c.name}.values`, `${count} integers (dims ${JSON.stringify(c.dims)})`, c.values);
    }
  }
  const model = new ProtoWriter();
  model.int(1, 8); // ModelProto.ir_version
  model.string(2, '@consistent-avatar/core'); // producer_name
  model.message(7, (graph) => { // ModelProto.graph
    spec.nodes.forEach((n, i) =>
      graph.message(1, (node) => { // GraphProto.node
        for (const x of n.inputs) node.string(1, x);
        for (const y of n.outputs) node.string(2, y);
        node.string(3, `${n.op}_${i}`); // name
        node.string(4, n.op); // op_type
        for (const a of n.attributes ?? []) node.message(5, (w) => attribute(w, a));
        if (n.domain) node.string(7, n.domain);
      }),
    );
    graph.string(2, spec.name ?? 'graph');
    for (const c of spec.constants ?? []) {
      graph.message(5, (t) => { // GraphProto.initializer: TensorProto
        for (const d of c.dims) t.int(1, d); // dims
        t.int(2, INT64); // data_type
        for (const v of c.values) t.int(7, v); // int64_data
        t.string(8, c.name); // name
      });
    }
    for (const v of spec.inputs) graph.message(11, (w) => valueInfo(w, v));
    for (const v of spec.outputs) graph.message(12, (w) => valueInfo(w, v));
  });
  model.message(8, (opset) => opset.string(1, '').int(2, spec.opset)); // opset_import
  if (spec.nodes.some((n) => n.domain === 'com.microsoft')) model.message(8, (opset) => opset.string(1, 'com.microsoft').int(2, 1));
  return model.finish();
}
