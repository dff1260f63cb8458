/**
 * The ONNX graph for tfjs's `BatchMatMul` kernel: C = op(A)·op(B) with numpy batch broadcasting (ONNX `MatMul`
 * broadcasts the same way). Rank-2 products are one `Gemm` with `transA` / `transB` (MLAS reads the transposed
 * operand in place); batched products with a transposed operand get a `Transpose` of the last two axes first.
 *
 * @example
 * ```ts
 * batchMatMulGraph([8, 64, 16], [8, 16, 64], false, false)?.outShape; // [8, 64, 64]
 * ```
 *
 * @packageDocumentation
 */
import { tf } from '../backend/tf.js';
import type { OnnxNode } from './onnx-proto.js';
import type { KernelGraph } from './conv-graphs.js';

/**
 * @param aShape - `[...batchA, M, K]` (`[..., K, M]` with `transposeA`).
 * @param bShape - `[...batchB, K, N]` (`[..., N, K]` with `transposeB`).
 * @returns the graph (`a`, `b` → `c` `[...broadcast(batchA, batchB), M, N]`), or null for ranks below 2, mismatched
 *   inner sizes or batch shapes that do not broadcast.
 * @example
 * ```ts
 * batchMatMulGraph([32, 64], [48, 64], false, true)?.outShape; // [32, 48]
 * ```
 */
export function batchMatMulGraph(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): KernelGraph | null {
  const ra = aShape.length, rb = bShape.length;
  if (ra < 2 || rb < 2) return null;
  const M = transposeA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const K = transposeA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const kb = transposeB ? bShape[rb - 1]! : bShape[rb - 2]!;
  const N = transposeB ? bShape[rb - 2]! : bShape[rb - 1]!;
  if (K !== kb) return null;
  let batch: number[];
  try {
    batch = tf.backend_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    return null;
  }
  const outShape = [...batch, M, N];
  const nodes: OnnxNode[] = [];
  if (ra === 2 && rb === 2) {
    nodes.push({ op: 'Gemm', inputs: ['a', 'b'], outputs: ['c'], attributes: [{ name: 'transA', int: transposeA ? 1 : 0 }, { name: 'transB', int: transposeB ? 1 : 0 }] });
  } else {
    const swapLast = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
    let a = 'a', b = 'b';
    if (transposeA) nodes.push({ op: 'Transpose', inputs: ['a'], outputs: (a = 'a_t', [a]), attributes: [{ name: 'perm', ints: swapLast(ra) }] }); // [..., M, K]
    if (transposeB) nodes.push({ op: 'Transpose', inputs: ['b'], outputs: (b = 'b_t', [b]), attributes: [{ name: 'perm', ints: swapLast(rb) }] }); // [..., K, N]
    nodes.push({ op: 'MatMul', inputs: [a, b], outputs: ['c'] }); // [...batch, M, N]
  }
  return {
    outShape,
    spec: { opset: 17, inputs: [{ name: 'a', dims: aShape }, { name: 'b', dims: bShape }], outputs: [{ name: 'c', dims: outShape }], nodes },
  };
}
