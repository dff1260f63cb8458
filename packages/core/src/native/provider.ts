/**
 * The native kernel provider: runs tfjs's heavy products — `Conv2D`, `Conv2DBackpropInput`, `Conv2DBackpropFilter`
 * and `BatchMatMul` — through ONNX Runtime (MLAS, threaded) from inside the tfjs wasm backend, so autodiff, the
 * optimisers and every model stay as they are and only those kernels go native.
 *
 * How: each kernel is re-registered on the `wasm` backend as a wrapper. A call builds (once per op signature: the
 * kernel, its input shapes and attributes) a small ONNX graph whose weights are graph inputs, loads it into a cached
 * session, allocates the output on the wasm heap and runs the session synchronously on views of the heap — the
 * inputs are read and the output written in place, no copy in JavaScript (layout changes NHWC ↔ NCHW happen inside
 * the graph). Anything it does not take — ONNX Runtime absent, the provider off, non-float32 data, an empty
 * tensor, a product under {@link NativeKernelOptions.minFlops} or with fewer than 16 multiply-adds per output element
 * (attention scores with a small head size), a signature the graphs do not express or that ONNX Runtime refuses — runs
 * the wasm kernel it wraps, unchanged.
 *
 * Opt-in: {@link enableNativeKernels}, or `CA_NATIVE=1` with `initBackend` (`CA_NATIVE=0` keeps it off even when
 * enabled in code). `backendReport()` says which kernels run where.
 *
 * @example
 * ```ts
 * import { initBackend, enableNativeKernels, nativeKernelStatus } from '@consistent-avatar/core';
 * await initBackend('wasm');
 * const status = enableNativeKernels({ threads: 2 });
 * console.log(status.active ? `native: ${status.kernels.join(', ')}` : `wasm only: ${status.reason}`);
 * ```
 *
 * @packageDocumentation
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import { preferConv2DBackpropInputKernel, registerWasmTrainingKernels } from '../kernels/register.js';
import { wasmHeapView, type WasmBackendInternals } from '../kernels/wasm-internals.js';
import { encodeOnnxModel } from './onnx-proto.js';
import { loadOrtBinding, type OrtSyncSession } from './ort-binding.js';
import { conv2dBackpropFilterGraph, conv2dBackpropInputGraph, conv2dGraph, type ConvAttrs, type KernelGraph } from './conv-graphs.js';
import { batchMatMulGraph } from './matmul-graph.js';

/**
 * The tfjs kernels the provider can run natively.
 * @example
 * ```ts
 * for (const kernel of NATIVE_KERNELS) console.log(kernel, nativeKernelStatus().counters[kernel].native);
 * ```
 */
export const NATIVE_KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul'] as const;
/** One of {@link NATIVE_KERNELS}. */
export type NativeKernelName = (typeof NATIVE_KERNELS)[number];

/** Options of {@link enableNativeKernels}. */
export interface NativeKernelOptions {
  /** ONNX Runtime intra-op threads per session (default 2: both cores of this project's machine). */
  threads?: number;
  /**
   * Products with fewer floating-point operations stay on wasm, where a call costs less than a session run
   * (default 2e5: ~20 µs of work at native speed, the run's own overhead).
   */
  minFlops?: number;
  /** Most sessions kept (least recently used ones are disposed beyond it; default 128). Each holds its own thread pool. */
  maxSessions?: number;
}

/** Per-kernel counters since the provider was enabled (or {@link resetNativeKernelStats}). */
export interface NativeKernelCounters {
  /** Calls run by ONNX Runtime. */
  native: number;
  /** Calls passed to the wasm kernel (too small, unsupported, or refused by ONNX Runtime). */
  fallback: number;
  /** Wall milliseconds inside ONNX Runtime's run for the native calls. */
  nativeMs: number;
}

/** What {@link nativeKernelStatus} reports. */
export interface NativeKernelStatus {
  /** True when the wrappers are installed, the provider is enabled and ONNX Runtime loaded. */
  active: boolean;
  /** Why it is inactive (empty when active). */
  reason: string;
  /** onnxruntime-node version when loaded. */
  ortVersion?: string;
  threads: number;
  minFlops: number;
  /** Kernels that run natively when active. */
  kernels: NativeKernelName[];
  /** Open sessions (one per op signature seen). */
  sessions: number;
  counters: Record<NativeKernelName, NativeKernelCounters>;
}

type Entry = { session: OrtSyncSession; graph: KernelGraph } | { unsupported: string };

const state = {
  enabled: false,
  installed: false,
  reason: 'not enabled (enableNativeKernels() or CA_NATIVE=1)',
  threads: 2,
  minFlops: 2e5,
  maxSessions: 128,
  cache: new Map<string, Entry>(),
  counters: freshCounters(),
};

function freshCounters(): Record<NativeKernelName, NativeKernelCounters> {
  return Object.fromEntries(NATIVE_KERNELS.map((k) => [k, { native: 0, fallback: 0, nativeMs: 0 }])) as Record<NativeKernelName, NativeKernelCounters>;
}

const size = (shape: readonly number[]) => shape.reduce((p, q) => p * q, 1);

/**
 * Products with fewer multiply-adds per output element stay on wasm: they are bound by writing the output, which the
 * native path writes twice (in place, then the binding's copy), and core's SIMD kernel is tuned for them. Attention
 * scores q·kᵀ with head size 4 ([32, 1024, 4]·[32, 4, 1024]) took 112 ms natively against 15 ms on wasm, head size
 * 8 3.0 ms against 1.6; from an inner size of 48 ONNX Runtime was 1.1–2.8× faster (CPU time, 2026-12-03).
 */
const MIN_MACS_PER_OUTPUT = 16;

/** The graph for one call, or the reason it stays on wasm; `flops` decides the size threshold. */
function planFor(kernel: NativeKernelName, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): { key: string; names: string[]; flops: number; macsPerOutput: number; build: () => KernelGraph | null } {
  const shape = (name: string) => (inputs[name] as tf.TensorInfo).shape as [number, number, number, number];
  const a = attrs as unknown as ConvAttrs & { inputShape: number[]; filterShape: number[]; transposeA?: boolean; transposeB?: boolean };
  const convKey = () => JSON.stringify([a.strides, a.pad, a.dilations ?? 1, a.dataFormat ?? 'NHWC', a.dimRoundingMode ?? null]);
  switch (kernel) {
    case 'Conv2D': {
      const [x, f] = [shape('x'), shape('filter')];
      return { key: `${kernel}|${x}|${f}|${convKey()}`, names: ['x', 'filter'], flops: 2 * size(x) * f[0] * f[1] * f[3], macsPerOutput: f[0] * f[1] * f[2], build: () => conv2dGraph(x, f, a) };
    }
    case 'Conv2DBackpropInput': {
      const [dy, f] = [shape('dy'), shape('filter')];
      const inputShape = a.inputShape as [number, number, number, number];
      return { key: `${kernel}|${dy}|${f}|${inputShape}|${convKey()}`, names: ['dy', 'filter'], flops: 2 * size(dy) * f[0] * f[1] * f[2], macsPerOutput: f[0] * f[1] * f[3], build: () => conv2dBackpropInputGraph(dy, f, inputShape, a) };
    }
    case 'Conv2DBackpropFilter': {
      const [x, dy] = [shape('x'), shape('dy')];
      const filterShape = a.filterShape as [number, number, number, number];
      return { key: `${kernel}|${x}|${dy}|${filterShape}|${convKey()}`, names: ['x', 'dy'], flops: 2 * size(dy) * filterShape[0] * filterShape[1] * filterShape[2], macsPerOutput: dy[0] * dy[1] * dy[2], build: () => conv2dBackpropFilterGraph(x, dy, filterShape, a) };
    }
    case 'BatchMatMul': {
      const [ash, bsh] = [shape('a') as number[], shape('b') as number[]];
      const tA = Boolean(a.transposeA), tB = Boolean(a.transposeB);
      const N = tB ? bsh[bsh.length - 2]! : bsh[bsh.length - 1]!;
      const batch = Math.max(size(ash.slice(0, -2)), size(bsh.slice(0, -2)));
      // 2·batch·M·K·N = 2·(batch·M·K)·N when A carries the batch, else 2·M·K·(batch·N)
      const flops = 2 * N * size(ash) * (size(ash.slice(0, -2)) === batch ? 1 : batch);
      const K = tA ? ash[ash.length - 2]! : ash[ash.length - 1]!;
      return { key: `${kernel}|${ash}|${bsh}|${tA}|${tB}`, names: ['a', 'b'], flops, macsPerOutput: K, build: () => batchMatMulGraph(ash, bsh, tA, tB) };
    }
  }
}

/**
 * The cached session for one op signature (built on first use). Sessions run without ONNX Runtime's memory arena:
 * each arena keeps its session's peak intermediates for good, and a TinyUNet training step opens ~60 sessions —
 * RSS grew by ~400 MiB with arenas and ~60 MiB without, at the same CPU time per step (measured 2026-12-03).
 */
function entryFor(key: string, build: () => KernelGraph | null): Entry {
  const hit = state.cache.get(key);
  if (hit) {
    state.cache.delete(key); // move to the most recently used end
    state.cache.set(key, hit);
    return hit;
  }
  let entry: Entry;
  const ort = loadOrtBinding();
  const graph = build();
  if (!ort.available) entry = { unsupported: ort.reason };
  else if (!graph) entry = { unsupported: 'not expressible as an ONNX graph here' };
  else {
    try {
      entry = { session: ort.createSession(encodeOnnxModel(graph.spec), { intraOpThreads: state.threads, memoryArena: false }), graph };
    } catch (error) {
      entry = { unsupported: `ONNX Runtime refused the graph: ${(error as Error).message}` };
    }
  }
  state.cache.set(key, entry);
  while (state.cache.size > state.maxSessions) {
    const [oldest, old] = state.cache.entries().next().value as [string, Entry];
    if ('session' in old) old.session.dispose();
    state.cache.delete(oldest);
  }
  return entry;
}

/** Run one kernel call natively, or return null for the wasm kernel to take it. */
function runNative(kernel: NativeKernelName, args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo | null {
  const { inputs, backend, attrs = {} } = args;
  const plan = planFor(kernel, inputs, attrs);
  const infos = plan.names.map((n) => inputs[n] as tf.TensorInfo);
  if (infos.some((t) => t.dtype !== 'float32' || size(t.shape) === 0) || !(plan.flops >= state.minFlops) || plan.macsPerOutput < MIN_MACS_PER_OUTPUT) return null;
  const entry = entryFor(plan.key, plan.build);
  if (!('session' in entry)) return null;
  const be = backend as WasmBackendInternals;
  const out = be.makeOutput(entry.graph.outShape, 'float32'); // allocate first: it may grow (move) the heap
  const heap = be.wasm.asm?.memory?.buffer;
  if (!heap) {
    be.disposeData(out.dataId);
    return null;
  }
  const view = (t: tf.TensorInfo) => wasmHeapView(be, heap, t);
  const feeds: Record<string, { dims: number[]; data: Float32Array }> = {};
  plan.names.forEach((n, i) => (feeds[n] = { dims: [...infos[i]!.shape], data: view(infos[i]!) }));
  const outName = entry.session.outputNames[0]!;
  const t0 = performance.now();
  try {
    entry.session.run(feeds, { [outName]: { dims: entry.graph.outShape, data: view(out) } });
  } catch (error) {
    be.disposeData(out.dataId);
    entry.session.dispose();
    state.cache.set(plan.key, { unsupported: `ONNX Runtime failed: ${(error as Error).message}` });
    return null;
  }
  const c = state.counters[kernel];
  c.native += 1;
  c.nativeMs += performance.now() - t0;
  return out;
}

function install(): string | null {
  registerWasmTrainingKernels();
  const originals = NATIVE_KERNELS.map((k) => [k, tf.getKernel(k, 'wasm')] as const);
  const missing = originals.filter(([, config]) => !config).map(([k]) => k);
  if (missing.length) return `the wasm backend is not loaded (no wasm ${missing.join(', ')}); call initBackend('wasm') first`;
  for (const [kernel, original] of originals) {
    tf.unregisterKernel(kernel, 'wasm');
    tf.registerKernel({
      ...original!,
      kernelFunc: (args) => {
        if (state.enabled) {
          const out = runNative(kernel, args as Parameters<typeof runNative>[1]);
          if (out) return out;
          state.counters[kernel].fallback += 1;
        }
        return original!.kernelFunc(args);
      },
    });
  }
  return null;
}

function checkOptions(options: NativeKernelOptions | undefined): void {
  if (options == null) return;
  if (typeof options !== 'object') throw new ValidationError('enableNativeKernels', 'options', 'an object or undefined', options);
  const { threads, minFlops, maxSessions } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) throw new ValidationError('enableNativeKernels', 'options.threads', 'an integer in [1, 256]', threads);
  if (minFlops !== undefined && !(Number.isFinite(minFlops) && minFlops >= 0)) throw new ValidationError('enableNativeKernels', 'options.minFlops', 'a finite number ≥ 0', minFlops);
  if (maxSessions !== undefined && (!Number.isInteger(maxSessions) || maxSessions < 1)) throw new ValidationError('enableNativeKernels', 'options.maxSessions', 'an integer ≥ 1', maxSessions);
}

function disposeSessions(): void {
  for (const entry of state.cache.values()) if ('session' in entry) entry.session.dispose();
  state.cache.clear();
}

/**
 * Turn the native provider on for the wasm backend (needs `initBackend('wasm')` first and onnxruntime-node
 * installed). Changing `threads` closes the open sessions. `CA_NATIVE=0` in the environment keeps it off.
 *
 * @param options - threads (default 2), size threshold `minFlops` (default 2e5), `maxSessions` (default 128).
 * @returns the status: `active`, or the `reason` it is not (onnxruntime-node absent, wasm not loaded, CA_NATIVE=0).
 * @throws {@link ValidationError} for invalid options.
 * @example
 * ```ts
 * await initBackend('wasm'); enableNativeKernels({ threads: 1 }).active; // true where onnxruntime-node is installed
 * ```
 */
export function enableNativeKernels(options?: NativeKernelOptions): NativeKernelStatus {
  checkOptions(options);
  if (options?.threads !== undefined && options.threads !== state.threads) disposeSessions();
  state.threads = options?.threads ?? state.threads;
  state.minFlops = options?.minFlops ?? state.minFlops;
  state.maxSessions = options?.maxSessions ?? state.maxSessions;
  state.enabled = false;
  const ort = loadOrtBinding();
  if (process.env.CA_NATIVE === '0') state.reason = 'off: CA_NATIVE=0';
  else if (!ort.available) state.reason = ort.reason;
  else {
    const failure = state.installed ? null : install();
    if (failure) state.reason = failure;
    else {
      state.installed = true;
      state.enabled = true;
      state.reason = '';
    }
  }
  preferConv2DBackpropInputKernel(state.enabled);
  return nativeKernelStatus();
}

/**
 * Turn the native provider off (every kernel runs on wasm again) and close its sessions.
 * @example
 * ```ts
 * disableNativeKernels(); nativeKernelStatus().active; // false
 * ```
 */
export function disableNativeKernels(): void {
  state.enabled = false;
  state.reason = 'off (disableNativeKernels())';
  preferConv2DBackpropInputKernel(false);
  disposeSessions();
}

/**
 * Zero the per-kernel counters (calls and native time).
 * @example
 * ```ts
 * resetNativeKernelStats(); // … run a step …; nativeKernelStatus().counters.Conv2D.native
 * ```
 */
export function resetNativeKernelStats(): void {
  state.counters = freshCounters();
}

/**
 * Where the native provider stands: active or why not, threads, sessions and per-kernel counters.
 * @example
 * ```ts
 * const s = nativeKernelStatus(); console.log(s.active, s.counters.BatchMatMul);
 * ```
 */
export function nativeKernelStatus(): NativeKernelStatus {
  const ort = loadOrtBinding();
  return {
    active: state.enabled,
    reason: state.enabled ? '' : state.reason,
    ...(ort.available ? { ortVersion: ort.version } : {}),
    threads: state.threads,
    minFlops: state.minFlops,
    kernels: [...NATIVE_KERNELS],
    sessions: [...state.cache.values()].filter((e) => 'session' in e).length,
    counters: Object.fromEntries(NATIVE_KERNELS.map((k) => [k, { ...state.counters[k] }])) as NativeKernelStatus['counters'],
  };
}

/**
 * One line for `backendReport()`: which kernels run in ONNX Runtime, or why none do.
 * @example
 * ```ts
 * nativeKernelReport(); // 'native kernels: off — onnxruntime-node is not installed'
 * ```
 */
export function nativeKernelReport(): string {
  const s = nativeKernelStatus();
  if (!s.active) return `native kernels: off — ${s.reason}`;
  return `native kernels: ${s.kernels.join(', ')} run in ONNX Runtime ${s.ortVersion} (${s.threads} intra-op thread${s.threads > 1 ? 's' : ''}; products under ${s.minFlops.toExponential(0)} FLOPs and unsupported signatures stay on wasm); every other kernel runs on wasm`;
}
