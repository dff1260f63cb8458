/**
 * ONNX emitters for core's `nn` layers: each writes the layer's nodes into an {@link OnnxGraph} and its weights under
 * `<name>.weight` / `<name>.bias` in PyTorch layouts (Linear `[out, in]`, Conv `[out, in/groups, kh, kw]`, norms
 * `[C]`), so an exported graph's initializers match a diffusers / PyTorch state dict by name and shape. Layout
 * changes of weights (`Transpose` of a Linear weight, `Reshape` of a norm's `[C]` to `[C, 1, 1]`) are nodes over
 * initializers, which ONNX Runtime folds once at load.
 *
 * Feature maps are **NCHW** in exported graphs (ONNX's `Conv` layout); token sequences `[B, L, C]`.
 *
 * Group norm is `Reshape [B, G, −1]` → `InstanceNormalization` (unit scale) → `Reshape` back → per-channel affine:
 * opset 17 has no `GroupNormalization` (opset 18 added one whose scale is per group, changed to per channel in 21),
 * and the decomposition is exact and runs on every ONNX Runtime.
 *
 * @example
 * ```ts
 * const g = new OnnxGraph();
 * const x = g.input('x', ['batch', 3, 'height', 'width']);
 * const y = emitConv2d(g, 'conv_in', new nn.Conv2d(3, 8, 3, { padding: 1 }), x); // [batch, 8, height, width]
 * g.output(emitSilu(g, y), 'y', ['batch', 8, 'height', 'width']);
 * ```
 *
 * @packageDocumentation
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import type { Conv2d, GroupNorm, LayerNorm, Linear } from '../nn/layers.js';
import type { OnnxGraph } from './onnx-graph.js';
import type { OnnxAttribute } from './onnx-proto.js';

/** A tensor's values as a fresh Float32Array (read once at export). */
function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

function checkGraph(fn: string, g: OnnxGraph, name: string, x: string): void {
  if (typeof g?.op !== 'function') throw new ValidationError(fn, 'g', 'an OnnxGraph', g);
  if (typeof name !== 'string' || name === '') throw new ValidationError(fn, 'name', 'the module path (non-empty string)', name);
  if (typeof x !== 'string' || x === '') throw new ValidationError(fn, 'x', 'a value name of the graph', x);
}

/**
 * `nn.Linear`: `y = x·Wᵀ + b` over the last axis.
 * @param name - the layer's parameter path (`to_q`, `time_embedding.linear_1`).
 * @param x - value `[..., in]`.
 * @returns value `[..., out]`.
 * @example
 * ```ts
 * const y = emitLinear(g, 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', layer, tokens); // [B, L, inner]
 * ```
 */
export function emitLinear(g: OnnxGraph, name: string, layer: Linear, x: string): string {
  checkGraph('emitLinear', g, name, x);
  const w = g.weight(`${name}.weight`, [layer.outFeatures, layer.inFeatures], values(layer.weight)); // [out, in]
  const wT = g.op('Transpose', [w], [{ name: 'perm', ints: [1, 0] }], `${name}.weight_t`); // [in, out]
  const y = g.op('MatMul', [x, wT], [], name); // [..., out]
  return layer.bias ? g.op('Add', [y, g.weight(`${name}.bias`, [layer.outFeatures], values(layer.bias))], [], name) : y;
}

/**
 * `nn.Conv2d` on NCHW maps, with the layer's stride, padding (`'same'` = `SAME_UPPER`, as tfjs pads), dilation and
 * groups.
 * @param x - value `[B, in, H, W]`.
 * @returns value `[B, out, H', W']`.
 * @example
 * ```ts
 * const h = emitConv2d(g, 'conv_in', unet.conv_in, sample); // [B, 320, H, W]
 * ```
 */
export function emitConv2d(g: OnnxGraph, name: string, layer: Conv2d, x: string): string {
  checkGraph('emitConv2d', g, name, x);
  const [kh, kw] = layer.kernelSize;
  const oihw = tf.tidy(() => values(tf.transpose(layer.weight, [3, 2, 0, 1]))); // HWIO → [out, in/groups, kh, kw]
  const w = g.weight(`${name}.weight`, [layer.outChannels, layer.inChannels / layer.groups, kh, kw], oihw);
  const inputs = [x, w];
  if (layer.bias) inputs.push(g.weight(`${name}.bias`, [layer.outChannels], values(layer.bias)));
  const pad = layer.padding;
  const attributes: OnnxAttribute[] = [
    { name: 'kernel_shape', ints: [kh, kw] },
    { name: 'strides', ints: [...layer.stride] },
    { name: 'dilations', ints: [...layer.dilation] },
    { name: 'group', int: layer.groups },
    pad === 'same' ? { name: 'auto_pad', string: 'SAME_UPPER' } : { name: 'pads', ints: pad === 'valid' ? [0, 0, 0, 0] : [pad[0], pad[1], pad[0], pad[1]] },
  ];
  return g.op('Conv', inputs, attributes, name); // [B, out, H', W']
}

/**
 * `nn.GroupNorm` on channel-first input `[B, C, ...]` (statistics over each group's channels and every position).
 * @param x - value `[B, C, ...spatial]` of rank `rank`.
 * @param rank - rank of `x` (4 for NCHW maps, 3 for `[B, C, L]`).
 * @returns value shaped like `x`.
 * @example
 * ```ts
 * const h = emitGroupNorm(g, 'conv_norm_out', unet.conv_norm_out, x, 4); // [B, C, H, W]
 * ```
 */
export function emitGroupNorm(g: OnnxGraph, name: string, layer: GroupNorm, x: string, rank = 4): string {
  checkGraph('emitGroupNorm', g, name, x);
  if (!Number.isInteger(rank) || rank < 3) throw new ValidationError('emitGroupNorm', 'rank', 'an integer ≥ 3 (channel-first [B, C, ...])', rank);
  const G = layer.numGroups;
  const grouped = g.op('Reshape', [x, g.int64([0, G, -1])], [], name); // [B, G, C/G·spatial]
  const ones = g.float(new Float32Array(G).fill(1), [G]);
  const zeros = g.float(new Float32Array(G), [G]);
  const normed = g.op('InstanceNormalization', [grouped, ones, zeros], [{ name: 'epsilon', float: layer.eps }], name); // [B, G, C/G·spatial]
  let y = g.op('Reshape', [normed, g.op('Shape', [x], [], name)], [], name); // [B, C, ...spatial]
  if (!layer.weight) return y;
  const C = layer.numChannels;
  const perChannel = [C, ...new Array<number>(rank - 2).fill(1)]; // broadcast over the spatial axes
  const scale = g.op('Reshape', [g.weight(`${name}.weight`, [C], values(layer.weight)), g.int64(perChannel)], [], `${name}.weight_c`);
  const shift = g.op('Reshape', [g.weight(`${name}.bias`, [C], values(layer.bias!)), g.int64(perChannel)], [], `${name}.bias_c`);
  y = g.op('Mul', [y, scale], [], name);
  return g.op('Add', [y, shift], [], name);
}

/**
 * `nn.LayerNorm` over the last axis (`LayerNormalization`, opset 17).
 * @param x - value `[..., dim]`.
 * @returns value shaped like `x`.
 * @example
 * ```ts
 * const h = emitLayerNorm(g, 'transformer_blocks.0.norm1', block.norm1, tokens); // [B, L, dim]
 * ```
 */
export function emitLayerNorm(g: OnnxGraph, name: string, layer: LayerNorm, x: string): string {
  checkGraph('emitLayerNorm', g, name, x);
  const scale = layer.weight ? g.weight(`${name}.weight`, [layer.dim], values(layer.weight)) : g.float(new Float32Array(layer.dim).fill(1), [layer.dim]);
  const bias = layer.bias ? g.weight(`${name}.bias`, [layer.dim], values(layer.bias)) : g.float(new Float32Array(layer.dim), [layer.dim]);
  return g.op('LayerNormalization', [x, scale, bias], [{ name: 'axis', int: -1 }, { name: 'epsilon', float: layer.eps }], name);
}

/**
 * SiLU `x·σ(x)`.
 * @example
 * ```ts
 * const h = emitSilu(g, x); // shaped like x
 * ```
 */
export function emitSilu(g: OnnxGraph, x: string): string {
  checkGraph('emitSilu', g, 'silu', x);
  return g.op('Mul', [x, g.op('Sigmoid', [x])], [], 'silu');
}

/**
 * Exact GELU `0.5·x·(1 + erf(x/√2))` (PyTorch's default; opset 17 has no `Gelu`).
 * @example
 * ```ts
 * const h = emitGelu(g, gate); // shaped like gate
 * ```
 */
export function emitGelu(g: OnnxGraph, x: string): string {
  checkGraph('emitGelu', g, 'gelu', x);
  const erf = g.op('Erf', [g.op('Mul', [x, g.float([Math.SQRT1_2])], [], 'gelu')], [], 'gelu');
  const onePlus = g.op('Add', [erf, g.float([1])], [], 'gelu');
  return g.op('Mul', [g.op('Mul', [x, g.float([0.5])], [], 'gelu'), onePlus], [], 'gelu');
}
