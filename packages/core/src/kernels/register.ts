/**
 * Training kernels the wasm backend lacks, registered from fast wasm ops (matMul, conv2d, depthwiseConv2d,
 * scatterND), plus gradients for dilated convolutions that tfjs refuses on every backend.
 *
 * Kernels built from tf ops run inside the engine's kernel scope, where the tape is off (engine.isTapeOn requires
 * kernelDepth 0), so their inner ops never appear in gradient tapes.
 */
import { tf } from '../backend/tf.js';
import {
  conv2dFilterGrad,
  conv2dInputGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  type Pad,
} from './conv-grads.js';
import { maxPoolGrad, resizeNearestGrad } from './pool-resize-grads.js';
import { GROUP_NORM_GRADIENT, GROUP_NORM_KERNELS } from './group-norm.js';
import { instantiateBatchMatMul, type BatchMatMulKernel } from './wasm-batch-matmul.js';
import type { WasmBackendInternals } from './wasm-internals.js';

type Attrs = Record<string, unknown>;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/**
 * Kernel inputs arrive as the Tensors the op passed to runKernel; a bare TensorInfo (a backend calling a kernel
 * directly) is wrapped in a Tensor that holds its own reference to the data.
 */
function asTensor(info: tf.TensorInfo): { tensor: tf.Tensor; owned: boolean } {
  if ((info as tf.Tensor).rank != null) return { tensor: info as tf.Tensor, owned: false };
  const engine = tf.engine();
  engine.backend.incRef(info.dataId);
  return { tensor: engine.makeTensorFromTensorInfo(info), owned: true };
}

function kernelFromOps(
  kernelName: string,
  compute: (inputs: Record<string, tf.Tensor>, attrs: Attrs) => tf.Tensor,
  backendName = 'wasm',
): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const wrapped: Record<string, tf.Tensor> = {};
      const owned: tf.Tensor[] = [];
      for (const [key, info] of Object.entries(inputs)) {
        if (!info) continue;
        const { tensor, owned: isOwned } = asTensor(info as tf.TensorInfo);
        wrapped[key] = tensor;
        if (isOwned) owned.push(tensor);
      }
      const out = tf.tidy(() => compute(wrapped, attrs as Attrs));
      for (const t of owned) t.dispose();
      return out;
    },
  };
}

function checkChannelsLast(kernel: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} (wasm, @consistent-avatar/core): only NHWC is supported, got dataFormat ${String(dataFormat)}`);
  }
}

/**
 * UnsortedSegmentSum as a scatterND with accumulation (duplicates summed). Out-of-range ids are dropped, as
 * TensorFlow does.
 *
 * @example
 * ```ts
 * unsortedSegmentSumFromScatter(tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 0, 5], 'int32'), 2).print(); // [3, 0]
 * ```
 */
export function unsortedSegmentSumFromScatter(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const idsRank = segmentIds.rank;
    const rest = x.shape.slice(idsRank);
    const n = segmentIds.size;
    const flatIds = segmentIds.reshape([n]).toInt(); // [N]
    const flatX = x.reshape([n, ...rest]); // [N, ...rest]
    const outShape = [numSegments, ...rest];
    const valid = tf.logicalAnd(tf.greaterEqual(flatIds, 0), tf.less(flatIds, numSegments));
    const ids = tf.where(valid, flatIds, tf.zerosLike(flatIds)); // dropped rows point at 0 with zero updates
    const mask = valid.cast(x.dtype).reshape([n, ...rest.map(() => 1)]);
    const updates = tf.mul(flatX, mask);
    return tf.scatterND(ids.reshape([n, 1]), updates, outShape);
  });
}

const WASM_KERNELS: tf.KernelConfig[] = [
  kernelFromOps('Conv2DBackpropFilter', ({ x, dy }, attrs) => {
    checkChannelsLast('Conv2DBackpropFilter', attrs.dataFormat);
    return conv2dFilterGrad(
      x as tf.Tensor4D,
      dy as tf.Tensor4D,
      attrs.filterShape as [number, number, number, number],
      attrs.strides as number[],
      attrs.pad as Pad,
      (attrs.dilations as number[] | undefined) ?? 1,
      attrs.dimRoundingMode as Rounding,
    );
  }),
  kernelFromOps('DepthwiseConv2dNativeBackpropFilter', ({ x, dy }, attrs) =>
    depthwiseFilterGrad(
      x as tf.Tensor4D,
      dy as tf.Tensor4D,
      attrs.filterShape as [number, number, number, number],
      attrs.strides as number[],
      attrs.pad as Pad,
      attrs.dilations as number[] | undefined,
      attrs.dimRoundingMode as Rounding,
    ),
  ),
  kernelFromOps('DepthwiseConv2dNativeBackpropInput', ({ dy, filter }, attrs) =>
    depthwiseInputGrad(
      attrs.inputShape as [number, number, number, number],
      dy as tf.Tensor4D,
      filter as tf.Tensor4D,
      attrs.strides as number[],
      attrs.pad as Pad,
      attrs.dilations as number[] | undefined,
      attrs.dimRoundingMode as Rounding,
    ),
  ),
  kernelFromOps('MaxPoolGrad', ({ dy, input, output }, attrs) =>
    maxPoolGrad(
      dy as tf.Tensor4D,
      input as tf.Tensor4D,
      output as tf.Tensor4D,
      attrs.filterSize as [number, number],
      attrs.strides as [number, number],
      attrs.pad as Pad,
      attrs.dimRoundingMode as Rounding,
    ),
  ),
  kernelFromOps('ResizeNearestNeighborGrad', ({ images, dy }, attrs) =>
    resizeNearestGrad(dy as tf.Tensor4D, images!.shape, Boolean(attrs.alignCorners), Boolean(attrs.halfPixelCenters)),
  ),
  kernelFromOps('UnsortedSegmentSum', ({ x, segmentIds }, attrs) =>
    unsortedSegmentSumFromScatter(x!, segmentIds!, attrs.numSegments as number),
  ),
];

function dilated(d: unknown): boolean {
  if (d == null) return false;
  if (typeof d === 'number') return d !== 1;
  return (d as number[]).some((v) => v !== 1);
}

/**
 * Conv2D and DepthwiseConv2dNative gradients that also handle dilation > 1 (tfjs asserts dilation 1). For
 * dilation 1 they call the same backprop kernels tfjs's own gradients call.
 */
const GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { dilations, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
        dilations: number | [number, number];
        strides: number | [number, number];
        pad: Pad;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
      };
      const g = dy as tf.Tensor4D;
      if (!dilated(dilations)) {
        const run = (name: string, inputs: tf.NamedTensorMap, a: object) =>
          tf.engine().runKernel(name, inputs, a as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        // tfjs-wasm's own Conv2DBackpropInput is 5–13× slower than the equivalent stride-1 correlation on XNNPACK's
        // conv for stride-1 3×3 filters (batch 4–32, 16–64 channels); with a stride the upsampled correlation is not
        // always faster, so strided convs keep the native kernel.
        const stride1 = typeof strides === 'number' ? strides === 1 : strides.every((v) => v === 1);
        if (stride1 && tf.getBackend() === 'wasm' && dataFormat !== 'NCHW' && !backpropInputKernelPreferred) {
          return {
            x: () => conv2dInputGrad(x.shape, g, filter, strides, pad, dilations, dimRoundingMode),
            filter: () => run('Conv2DBackpropFilter', { x, dy: g }, { strides, pad, dataFormat, dimRoundingMode, filterShape: filter.shape }),
          };
        }
        return {
          x: () => run('Conv2DBackpropInput', { dy: g, filter }, { strides, pad, dataFormat, dimRoundingMode, inputShape: x.shape }),
          filter: () => run('Conv2DBackpropFilter', { x, dy: g }, { strides, pad, dataFormat, dimRoundingMode, filterShape: filter.shape }),
        };
      }
      checkChannelsLast('Conv2D gradient', dataFormat);
      return {
        x: () => conv2dInputGrad(x.shape, g, filter, strides, pad, dilations, dimRoundingMode),
        filter: () => conv2dFilterGrad(x, g, filter.shape, strides, pad, dilations, dimRoundingMode),
      };
    },
  },
  {
    kernelName: 'DepthwiseConv2dNative',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { dilations, strides, pad, dimRoundingMode } = attrs as unknown as {
        dilations: number | [number, number];
        strides: number | [number, number];
        pad: Pad;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
      };
      const g = dy as tf.Tensor4D;
      if (!dilated(dilations)) {
        const run = (name: string, inputs: tf.NamedTensorMap, a: object) =>
          tf.engine().runKernel(name, inputs, a as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        const d: [number, number] = [1, 1];
        return {
          x: () => run('DepthwiseConv2dNativeBackpropInput', { dy: g, filter }, { strides, pad, dilations: d, dimRoundingMode, inputShape: x.shape }),
          filter: () => run('DepthwiseConv2dNativeBackpropFilter', { x, dy: g }, { strides, pad, dilations: d, dimRoundingMode, filterShape: filter.shape }),
        };
      }
      return {
        x: () => depthwiseInputGrad(x.shape, g, filter, strides, pad, dilations, dimRoundingMode),
        filter: () => depthwiseFilterGrad(x, g, filter.shape, strides, pad, dilations, dimRoundingMode),
      };
    },
  },
];

let backpropInputKernelPreferred = false;

/**
 * Route the stride-1 Conv2D input gradient on wasm through the `Conv2DBackpropInput` kernel (true: the native
 * provider runs that kernel in ONNX Runtime) instead of the composed forward-conv form (false, the default: faster
 * than tfjs-wasm's own kernel). Called by the native provider; returns the previous setting.
 * @example
 * ```ts
 * preferConv2DBackpropInputKernel(true); // dx of a stride-1 conv now calls the Conv2DBackpropInput kernel
 * ```
 */
export function preferConv2DBackpropInputKernel(prefer: boolean): boolean {
  const before = backpropInputKernelPreferred;
  backpropInputKernelPreferred = prefer;
  return before;
}

let simdKernel: BatchMatMulKernel | null | undefined; // undefined: not tried yet
let simdEnabled = true;

/**
 * Turn the SIMD batched-matmul kernel on or off (on by default; off gives tfjs-wasm's own BatchMatMul, e.g. to
 * compare speed or to rule the kernel out when debugging). Returns the previous setting.
 * @example
 * ```ts
 * import { setWasmBatchMatMulKernel } from '@consistent-avatar/core';
 * const before = setWasmBatchMatMulKernel(false); // … measure tfjs-wasm's own … ; setWasmBatchMatMulKernel(before);
 * ```
 */
export function setWasmBatchMatMulKernel(enabled: boolean): boolean {
  const before = simdEnabled;
  simdEnabled = enabled;
  return before;
}

/**
 * How many products the SIMD batched-matmul kernel has computed in this process (0 when it is off, not
 * instantiable here, or only tfjs-wasm's routes were taken) — for tests and diagnostics.
 * @example
 * ```ts
 * import { wasmBatchMatMulKernelCalls } from '@consistent-avatar/core';
 * console.log(wasmBatchMatMulKernelCalls()); // e.g. 1234 after a training step on wasm
 * ```
 */
export function wasmBatchMatMulKernelCalls(): number {
  return simdCalls;
}
let simdCalls = 0;

/**
 * C = A·B with our SIMD kernel (`wasm-batch-matmul.ts`) in place on the wasm heap for float32 products: every
 * batched one (tfjs-wasm's generic batched loop runs at 0.3–2 GFLOP/s, ours at 20–45) and 2-D ones whose B fits in
 * 1 MiB (ours is 1.2–1.3× faster there; larger B is XNNPACK's, whose packed, cache-blocked GEMM wins — see
 * BENCHMARKS.md § core, batched matmul). `null` when the kernel does not apply (other dtypes, batch dims that need
 * general broadcasting, K = 0, no kernel) — the caller then runs tfjs-wasm's own kernel.
 */
function simdBatchMatMul(a: tf.TensorInfo, b: tf.TensorInfo, backend: unknown): tf.TensorInfo | null {
  if (!simdEnabled || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const be = backend as WasmBackendInternals;
  if (simdKernel === undefined) simdKernel = be.wasm?.asm?.memory ? instantiateBatchMatMul(be.wasm.asm.memory) : null;
  if (!simdKernel) return null;
  const ra = a.shape.length, rb = b.shape.length;
  const [M, K, N] = [a.shape[ra - 2]!, a.shape[ra - 1]!, b.shape[rb - 1]!];
  if (K === 0 || K !== b.shape[rb - 2]) return null;
  const aBatchDims = a.shape.slice(0, -2), bBatchDims = b.shape.slice(0, -2);
  const batchA = aBatchDims.reduce((p, q) => p * q, 1), batchB = bBatchDims.reduce((p, q) => p * q, 1);
  const same = aBatchDims.length === bBatchDims.length && aBatchDims.every((d, i) => d === bBatchDims[i]);
  if (!same && batchA !== 1 && batchB !== 1) return null; // general broadcasting: tfjs-wasm's kernel
  const batch = Math.max(batchA, batchB);
  if (batch === 1 && K * N > 262_144) return null; // a 2-D product with B over 1 MiB: XNNPACK's packed, blocked GEMM is faster
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(aBatchDims, bBatchDims);
  const out = be.makeOutput([...outBatch, M, N], 'float32'); // allocate first: it may grow (move) the heap
  const offset = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId)!.memoryOffset;
  simdCalls += 1;
  // The kernel's loops run at least once: never call it for an empty output (batch, M or N = 0).
  if (batch * M * N > 0) simdKernel(offset(a), offset(b), offset(out), batch, M, K, N, batchA === 1 ? 0 : M * K * 4, batchB === 1 ? 0 : K * N * 4);
  return out;
}

/**
 * tfjs-wasm 4.22's BatchMatMul / _FusedMatMul are 9–26× slower with `transposeA` / `transposeB` than without (XNNPACK
 * gets a non-packed path), and every matMul gradient sets those flags. The wrapped kernels transpose the flagged
 * operand with the wasm Transpose kernel and call the original with both flags off (float32 BatchMatMul goes to our
 * SIMD kernel instead where {@link simdBatchMatMul} takes it). This also avoids _FusedMatMul
 * applying its bias along the wrong axis when `transposeB` is set.
 */
function wrapMatMulKernel(kernelName: 'BatchMatMul' | '_FusedMatMul'): void {
  const original = tf.getKernel(kernelName, 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!original || !transpose) return;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
      const temporaries: tf.TensorInfo[] = [];
      const flip = (t: tf.TensorInfo): tf.TensorInfo => {
        const rank = t.shape.length;
        const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2]; // swap the last two axes
        const out = transpose.kernelFunc({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo;
        temporaries.push(out);
        return out;
      };
      const a = transposeA ? flip(inputs.a as tf.TensorInfo) : inputs.a;
      const b = transposeB ? flip(inputs.b as tf.TensorInfo) : inputs.b;
      const ours = kernelName === 'BatchMatMul' ? simdBatchMatMul(a as tf.TensorInfo, b as tf.TensorInfo, backend) : null;
      const out = ours ?? original.kernelFunc({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      for (const t of temporaries) (backend as { disposeData(id: object): void }).disposeData(t.dataId);
      return out;
    },
  });
}

let registered = false;

/** wasm kernels that exist upstream but compute wrong gradients (tfjs-wasm 4.22); ours replace them. */
const REPLACED = new Set(['MaxPoolGrad', 'ResizeNearestNeighborGrad']);

/**
 * tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad is wrong whenever the batch or channel count exceeds 1 (checked
 * against a float64 scatter reference); the same composed kernel replaces it on cpu.
 */
const CPU_REPLACEMENTS: tf.KernelConfig[] = [
  kernelFromOps(
    'ResizeNearestNeighborGrad',
    ({ images, dy }, attrs) =>
      resizeNearestGrad(dy as tf.Tensor4D, images!.shape, Boolean(attrs.alignCorners), Boolean(attrs.halfPixelCenters)),
    'cpu',
  ),
];

/**
 * Register the wasm training kernels and the dilation-aware conv gradients. Idempotent; called by `initBackend`.
 * Missing kernels are added; `MaxPoolGrad` and `ResizeNearestNeighborGrad`, which tfjs-wasm 4.22 gets wrong, are
 * replaced.
 *
 * @example
 * ```ts
 * registerWasmTrainingKernels(); // usually done for you by initBackend()
 * ```
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const kernel of WASM_KERNELS) {
    const existing = tf.getKernel(kernel.kernelName, 'wasm');
    if (existing && REPLACED.has(kernel.kernelName)) tf.unregisterKernel(kernel.kernelName, 'wasm');
    if (existing == null || REPLACED.has(kernel.kernelName)) tf.registerKernel(kernel);
  }
  wrapMatMulKernel('BatchMatMul');
  wrapMatMulKernel('_FusedMatMul');
  for (const kernel of CPU_REPLACEMENTS) {
    if (tf.getKernel(kernel.kernelName, 'cpu')) tf.unregisterKernel(kernel.kernelName, 'cpu');
    tf.registerKernel(kernel);
  }
  // Fused group norm (kernels/group-norm.ts): our own kernel names, on wasm and cpu.
  for (const kernel of GROUP_NORM_KERNELS) if (!tf.getKernel(kernel.kernelName, kernel.backendName)) tf.registerKernel(kernel);
  for (const grad of [...GRADIENTS, GROUP_NORM_GRADIENT]) tf.registerGradient(grad);
  registered = true;
}

/**
 * Names of the wasm kernels this library registered (added or replaced).
 *
 * @example
 * ```ts
 * await initBackend('wasm'); registeredWasmKernels(); // ['Conv2DBackpropFilter', …]
 * ```
 */
export function registeredWasmKernels(): string[] {
  return registered ? [...WASM_KERNELS.map((k) => k.kernelName), GROUP_NORM_KERNELS[0]!.kernelName, GROUP_NORM_KERNELS[1]!.kernelName] : [];
}

/**
 * Names of the cpu kernels this library replaced.
 *
 * @example
 * ```ts
 * replacedCpuKernels(); // ['ResizeNearestNeighborGrad'] once initBackend() has run
 * ```
 */
export function replacedCpuKernels(): string[] {
  return registered ? CPU_REPLACEMENTS.map((k) => k.kernelName) : [];
}
