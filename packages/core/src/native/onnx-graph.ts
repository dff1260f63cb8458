/**
 * A small ONNX graph builder for whole-model export: modules write their nodes into it one by one (per-module
 * emitters, see `onnx-nn.ts` here and the model emitters next to each model in `@consistent-avatar/diffusion`), weights
 * go in under the module's own parameter names (`down_blocks.0.resnets.0.conv1.weight`, PyTorch layouts), and
 * {@link OnnxGraph.spec} hands the result to {@link encodeOnnxModel} / {@link writeOnnxModel}.
 *
 * Why emitters and not a tracer over tfjs kernels: a trace records one call, so every shape would be frozen (batch,
 * latent size, text length) and every value computed from a number rather than a tensor would be folded in as a
 * constant — the UNet's timestep embedding among them. Emitters write shape-generic nodes (`Reshape` with 0 / −1,
 * `Shape` for sizes that depend on inputs), keep the timestep a graph input, and name initializers as diffusers does,
 * so the graph can be checked against a diffusers state dict key by key.
 *
 * The builder is a class because it accumulates state that is then serialised (the nodes, the weights, the names
 * already used).
 *
 * @example
 * ```ts
 * const g = new OnnxGraph();
 * const x = g.input('x', ['batch', 4]);
 * const w = g.weight('fc.weight', [3, 4], new Float32Array(12).fill(0.5)); // PyTorch Linear [out, in]
 * const y = g.op('MatMul', [x, g.op('Transpose', [w], [{ name: 'perm', ints: [1, 0] }])]); // [batch, 3]
 * g.output(y, 'y', ['batch', 3]);
 * const bytes = encodeOnnxModel(g.spec()); // a model ONNX Runtime loads
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from '../errors.js';
import type { OnnxAttribute, OnnxFloatInitializer, OnnxInt64Constant, OnnxModelSpec, OnnxNode, OnnxValue } from './onnx-proto.js';

/**
 * The default-domain opset the emitters target: 17 (ONNX Runtime 1.30 implements it fully; `LayerNormalization` is in it).
 * @example
 * ```ts
 * const graph = new OnnxGraph(); // its models declare opset ONNX_EXPORT_OPSET
 * ```
 */
export const ONNX_EXPORT_OPSET = 17;

/**
 * Accumulates one ONNX graph: inputs, outputs, nodes, float32 weights and int64 / float constants.
 * @example
 * ```ts
 * const g = new OnnxGraph();
 * g.output(g.op('Relu', [g.input('x', ['n'])]), 'y', ['n']);
 * g.spec().nodes.length; // 2 (Relu, then Identity to the output name)
 * ```
 */
export class OnnxGraph {
  private readonly nodes: OnnxNode[] = [];
  private readonly inputs: OnnxValue[] = [];
  private readonly outputs: OnnxValue[] = [];
  private readonly weights: OnnxFloatInitializer[] = [];
  private readonly ints: OnnxInt64Constant[] = [];
  private readonly names = new Set<string>();
  private readonly constantCache = new Map<string, string>();
  private counter = 0;

  /** @param opset - default-domain opset (default {@link ONNX_EXPORT_OPSET}). */
  constructor(readonly opset = ONNX_EXPORT_OPSET) {
    if (!Number.isInteger(opset) || opset < 13) throw new ValidationError('OnnxGraph', 'opset', 'an integer ≥ 13', opset);
  }

  private claim(fn: string, name: string): string {
    if (typeof name !== 'string' || name === '') throw new ValidationError(fn, 'name', 'a non-empty string', name);
    if (this.names.has(name)) throw new ValidationError(fn, 'name', 'a name not used yet in this graph', name);
    this.names.add(name);
    return name;
  }

  /** A fresh value name `<hint>_<n>`. */
  private fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  /**
   * Declare a float32 graph input.
   * @param dims - fixed sizes (numbers) or symbolic ones (strings, e.g. `'batch'`).
   * @returns the value name (= `name`).
   */
  input(name: string, dims: Array<number | string>): string {
    this.inputs.push({ name: this.claim('OnnxGraph.input', name), dims: [...dims] });
    return name;
  }

  /**
   * Make `value` a graph output called `name` (through an `Identity` node, so any value can be an output).
   * @param dims - fixed or symbolic sizes, as for inputs.
   */
  output(value: string, name: string, dims: Array<number | string>): void {
    this.nodes.push({ op: 'Identity', inputs: [value], outputs: [this.claim('OnnxGraph.output', name)] });
    this.outputs.push({ name, dims: [...dims] });
  }

  /**
   * A float32 weight under its parameter name (PyTorch layout: Linear `[out, in]`, Conv `[out, in, kh, kw]`).
   * @param data - `product(dims)` values, row-major; kept by reference until the model is written.
   * @returns the value name (= `name`).
   */
  weight(name: string, dims: number[], data: Float32Array): string {
    const count = dims.reduce((p, q) => p * q, 1);
    if (!(data instanceof Float32Array) || data.length !== count) {
      throw new ValidationError('OnnxGraph.weight', 'data', `a Float32Array of ${count} values (dims ${JSON.stringify(dims)})`, data);
    }
    this.weights.push({ name: this.claim('OnnxGraph.weight', name), dims: [...dims], data });
    return name;
  }

  /** An int64 constant (shapes, axes, slice bounds), shared by every use of the same values. */
  int64(values: number[], dims: number[] = [values.length]): string {
    const key = `i:${dims.join(',')}:${values.join(',')}`;
    const hit = this.constantCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const_i64');
    this.ints.push({ name, dims: [...dims], values: [...values] });
    this.constantCache.set(key, name);
    return name;
  }

  /** A float32 constant (a scalar with `dims` `[]`, or a small table), shared by every use of the same values. */
  float(values: number[] | Float32Array, dims: number[] = []): string {
    const data = Float32Array.from(values);
    const key = `f:${dims.join(',')}:${Array.from(data).join(',')}`;
    const hit = this.constantCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const_f32');
    this.weights.push({ name, dims: [...dims], data });
    this.constantCache.set(key, name);
    return name;
  }

  /**
   * Append a node with one output.
   * @param op - operator type (`'Conv'`, `'MatMul'`, …), default domain.
   * @param inputs - value names (`''` for an omitted optional input).
   * @param hint - prefix of the output's generated name (default the op).
   * @returns the output value name.
   */
  op(op: string, inputs: string[], attributes: OnnxAttribute[] = [], hint: string = op): string {
    return this.opMulti(op, inputs, 1, attributes, hint)[0]!;
  }

  /** Append a node with `outputs` outputs (`Split`, …); returns their names. */
  opMulti(op: string, inputs: string[], outputs: number, attributes: OnnxAttribute[] = [], hint: string = op): string[] {
    if (typeof op !== 'string' || op === '') throw new ValidationError('OnnxGraph.op', 'op', 'an operator type', op);
    for (const [i, x] of inputs.entries()) {
      if (x !== '' && !this.names.has(x)) throw new ValidationError('OnnxGraph.op', `inputs[${i}]`, `a value of this graph (${op})`, x);
    }
    const names = Array.from({ length: outputs }, () => this.fresh(hint));
    this.nodes.push({ op, inputs: [...inputs], outputs: names, ...(attributes.length ? { attributes } : {}) });
    return names;
  }

  /** Total size in bytes of the float32 weights and constants added so far (decides inline vs external data). */
  weightBytes(): number {
    return this.weights.reduce((s, w) => s + 4 * w.data!.length, 0);
  }

  /** The model spec ({@link encodeOnnxModel} / {@link writeOnnxModel} input). */
  spec(name = 'graph'): OnnxModelSpec {
    if (this.outputs.length === 0) throw new ValidationError('OnnxGraph.spec', 'outputs', 'at least one graph output (call output())', this.outputs);
    return { opset: this.opset, name, inputs: [...this.inputs], outputs: [...this.outputs], nodes: [...this.nodes], constants: [...this.ints], initializers: [...this.weights] };
  }
}
