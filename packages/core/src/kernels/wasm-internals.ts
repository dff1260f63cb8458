/**
 * The tfjs-backend-wasm 4.22 internals our in-place kernels use (the SIMD batched matmul, the fused group norm, the
 * ONNX Runtime provider): the heap, a tensor's offset in it, output allocation. One type and one view helper for all
 * three; an upgrade that renames these breaks here and in their tests.
 */
import type { tf } from '../backend/tf.js';
import type { WasmMemoryLike } from './wasm-batch-matmul.js';

/** The members of tfjs-wasm's backend object that in-place kernels read. */
export interface WasmBackendInternals {
  wasm: { asm?: { memory?: WasmMemoryLike & { buffer: ArrayBuffer } } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  disposeData(id: object): boolean;
}

/**
 * A float32 view of `t`'s data on the heap `heap` (take the heap after every allocation of the call: growing it
 * replaces the buffer).
 */
export function wasmHeapView(be: WasmBackendInternals, heap: ArrayBuffer, t: tf.TensorInfo): Float32Array {
  return new Float32Array(heap, be.dataIdMap.get(t.dataId)!.memoryOffset, t.shape.reduce((p, q) => p * q, 1));
}
