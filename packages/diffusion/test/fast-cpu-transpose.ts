/**
 * Test-only helper: tfjs-cpu 4.22's Transpose kernel costs ~400 ns per element (a generic index loop with array
 * allocations), which makes building an SD-1.5-sized UNet on the cpu backend take minutes (every Conv2d transposes its
 * OIHW init to HWIO). `withFastCpuTranspose` swaps in a stride-based transpose (same results, ~100× faster) for the
 * duration of `fn` and restores tfjs's kernel afterwards. It does not change any number.
 * (A candidate for core's kernel set; kept here because core is not this package's to edit.)
 */
import { tf } from '@consistent-avatar/core';

type CpuBackend = { data: { get(id: object): { values: ArrayLike<number> } }; write(values: unknown, shape: number[], dtype: string): object };

function fastTranspose(args: { inputs: { x: tf.TensorInfo }; attrs: { perm: number[] }; backend: CpuBackend }) {
  const { x } = args.inputs;
  const { perm } = args.attrs;
  const shape = x.shape;
  const rank = shape.length;
  const src = args.backend.data.get(x.dataId).values as Float32Array | Int32Array;
  const outShape = perm.map((p) => shape[p]!);
  const out = new (src.constructor as { new (n: number): Float32Array | Int32Array })(src.length);
  // Transposing all zeros (zero-init weights) gives all zeros: a sequential scan is far cheaper than the gather.
  let allZero = true;
  for (let i = 0; i < src.length; i++) {
    if (src[i] !== 0) {
      allZero = false;
      break;
    }
  }
  if (allZero) return { dataId: args.backend.write(out, outShape, x.dtype), shape: outShape, dtype: x.dtype };
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
  const stride = perm.map((p) => inStrides[p]!); // input stride of each output axis
  // Iterate output in C order with an odometer; the innermost axis runs as a tight loop.
  const idx = new Array<number>(rank).fill(0);
  const inner = outShape[rank - 1] ?? 1;
  const innerStride = stride[rank - 1] ?? 1;
  let o = 0;
  const total = src.length;
  while (o < total) {
    let base = 0;
    for (let d = 0; d < rank - 1; d++) base += idx[d]! * stride[d]!;
    for (let j = 0; j < inner; j++) out[o++] = src[base + j * innerStride]!;
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return { dataId: args.backend.write(out, outShape, x.dtype), shape: outShape, dtype: x.dtype };
}

/** Run `fn` with the fast cpu Transpose kernel registered. */
export function withFastCpuTranspose<T>(fn: () => T): T {
  const original = tf.getKernel('Transpose', 'cpu');
  tf.registerKernel({ kernelName: 'Transpose', backendName: 'cpu', kernelFunc: fastTranspose as unknown as tf.KernelFunc });
  try {
    return fn();
  } finally {
    if (original) tf.registerKernel(original);
  }
}
