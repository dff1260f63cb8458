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

/** One attribute of a node: an int, a list of ints, a float, or a string (`auto_pad`, `mode`, …). */
export type OnnxAttribute = { name: string; int: number } | { name: string; ints: number[] } | { name: string; float: number } | { name: string; string: string };

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

/**
 * A float32 initializer (a weight): its values inline (`raw_data`), or — with `external` — a reference to
 * `length` bytes at `offset` of the side file `location` (ONNX's external data, resolved relative to the model
 * file; see {@link writeOnnxModel}). `data` is still required for the inline form only.
 */
export interface OnnxFloatInitializer {
  name: string;
  dims: number[];
  /** Row-major values (`product(dims)` of them). Unused when `external` is set. */
  data?: Float32Array;
  external?: { location: string; offset: number; length: number };
}

/** A whole single-graph model. */
export interface OnnxModelSpec {
  /** Default-domain opset version (ONNX Runtime 1.30 supports up to 23). */
  opset: number;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  nodes: OnnxNode[];
  constants?: OnnxInt64Constant[];
  /** float32 initializers (weights, float constants). */
  initializers?: OnnxFloatInitializer[];
  /** Graph name (default `'graph'`). */
  name?: string;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const INT64 = 7; // TensorProto.DataType.INT64
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_INTS = 7; // AttributeProto.AttributeType

/**
 * Append-only protobuf encoder. Bytes accumulate as a list of chunks (a tensor's raw data is one chunk, not copied);
 * a nested message is encoded into its own writer and spliced in by reference, so a model is copied once, in
 * {@link ProtoWriter.finish}.
 */
class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private pending: number[] = [];
  length = 0;

  private flush(): void {
    if (this.pending.length) {
      this.chunks.push(Uint8Array.from(this.pending));
      this.pending = [];
    }
  }
  private byte(b: number): void {
    this.pending.push(b);
    this.length++;
  }
  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value)); // negative int64 → two's complement, 10 bytes
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
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
    for (const x of b) this.byte(x);
    return this;
  }
  raw(field: number, content: Uint8Array): this {
    this.key(field, 2).varint(content.length);
    this.flush();
    this.chunks.push(content);
    this.length += content.length;
    return this;
  }
  string(field: number, value: string): this {
    return this.raw(field, new TextEncoder().encode(value));
  }
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    inner.flush();
    this.key(field, 2).varint(inner.length);
    this.flush();
    this.chunks.push(...inner.chunks);
    this.length += inner.length;
    return this;
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

function attribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.string(1, a.name); // AttributeProto.name
  if ('int' in a) w.int(3, a.int).int(20, ATTR_INT); // i, type
  else if ('ints' in a) {
    for (const v of a.ints) w.int(8, v); // ints (unpacked)
    w.int(20, ATTR_INTS);
  } else if ('string' in a) w.string(4, a.string).int(20, ATTR_STRING); // s, type
  else w.float(2, a.float).int(20, ATTR_FLOAT); // f, type
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
 * Serialise a single-graph ONNX model (IR version 8) to protobuf bytes. A protobuf message cannot exceed 2 GiB: models
 * with more weight than that keep their initializers in a side file (`external`, written by {@link writeOnnxModel}).
 *
 * @param spec - opset, float32 inputs / outputs, nodes, int64 constants, float32 initializers.
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
  for (const t of spec.initializers ?? []) {
    checkName('initializers[].name', t.name);
    if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ValidationError('encodeOnnxModel', `initializers.${t.name}.dims`, 'integers ≥ 0', t.dims);
    }
    const count = t.dims.reduce((p, q) => p * q, 1);
    if (t.external) {
      const { location, offset, length } = t.external;
      if (typeof location !== 'string' || location === '' || !Number.isSafeInteger(offset) || offset < 0 || length !== 4 * count) {
        throw new ValidationError('encodeOnnxModel', `initializers.${t.name}.external`, `{ location, offset ≥ 0, length: ${4 * count} }`, t.external);
      }
    } else if (!(t.data instanceof Float32Array) || t.data.length !== count) {
      throw new ValidationError('encodeOnnxModel', `initializers.${t.name}.data`, `a Float32Array of ${count} values (dims ${JSON.stringify(t.dims)})`, t.data);
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
    for (const c of spec.initializers ?? []) {
      graph.message(5, (t) => { // GraphProto.initializer: TensorProto
        for (const d of c.dims) t.int(1, d); // dims
        t.int(2, FLOAT); // data_type
        t.string(8, c.name); // name
        if (c.external) {
          const entry = (key: string, value: string) => t.message(13, (e) => e.string(1, key).string(2, value)); // external_data: StringStringEntryProto
          entry('location', c.external.location);
          entry('offset', String(c.external.offset));
          entry('length', String(c.external.length));
          t.int(14, 1); // data_location = EXTERNAL
        } else {
          const data = c.data!;
          t.raw(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // raw_data, little-endian float32
        }
      });
    }
    for (const v of spec.inputs) graph.message(11, (w) => valueInfo(w, v));
    for (const v of spec.outputs) graph.message(12, (w) => valueInfo(w, v));
  });
  model.message(8, (opset) => opset.string(1, '').int(2, spec.opset)); // opset_import
  if (spec.nodes.some((n) => n.domain === 'com.microsoft')) model.message(8, (opset) => opset.string(1, 'com.microsoft').int(2, 1));
  return model.finish();
}
