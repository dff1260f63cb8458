/**
 * The one place that touches ONNX Runtime's internal Node binding (`onnxruntime-node`, an optional dependency pinned
 * to 1.30.0). Everything else in the native provider goes through {@link loadOrtBinding}.
 *
 * Why the internal binding: the public `InferenceSession.run` returns a Promise, but a tfjs kernel must return its
 * output synchronously. In onnxruntime-node 1.30.0 the Promise is only a wrapper — `dist/backend.js`
 * (`js/node/lib/backend.ts` in microsoft/onnxruntime) calls the native `InferenceSession.run(feeds, fetches,
 * options)` of `bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node` inside `setImmediate`, and that native
 * method runs the session to completion and returns the outputs (`js/node/src/inference_session_wrap.cc`). This
 * module calls it directly. `ort-binding.test.ts` fails loudly if an upgrade changes any of it (module
 * path, method names, synchronous result, zero-copy preallocated outputs).
 *
 * Tensors cross as plain `{ dims, type: 'float32', location: 'cpu', data: Float32Array }` objects: the binding wraps
 * a typed array's memory in an `OrtValue` without copying (`Ort::Value::CreateTensor` over the array's buffer), for
 * inputs and for preallocated outputs alike — so views of the tfjs-wasm heap go in and come out without a copy.
 *
 * @example
 * ```ts
 * const ort = loadOrtBinding();
 * if (ort.available) {
 *   const session = ort.createSession(modelBytes, { intraOpThreads: 2 });
 *   session.run({ a: { dims: [2, 3], data: aValues } }, { c: { dims: [2, 2], data: cValues } }); // fills cValues
 *   session.dispose();
 * } else console.log(ort.reason); // 'onnxruntime-node is not installed'
 * ```
 *
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { ValidationError } from '../errors.js';

/**
 * The pinned onnxruntime-node version this adapter was checked against.
 * @example
 * ```ts
 * if (nativeKernelStatus().ortVersion !== ORT_PINNED_VERSION) console.warn('onnxruntime-node differs from the pinned version');
 * ```
 */
export const ORT_PINNED_VERSION = '1.30.0';

/** A float32 tensor as the binding takes it: a typed array (possibly a view of another heap) and its dims. */
export interface OrtFloatTensor {
  dims: number[];
  data: Float32Array;
}

/** Session options the provider uses. */
export interface OrtSessionOptions {
  /** Intra-op threads (MLAS's thread pool); 1 keeps the work on the calling thread. */
  intraOpThreads: number;
  /** ONNX Runtime's graph optimisation level (default `'all'`: layout transforms such as NCHWc). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Keep ONNX Runtime's per-session CPU memory arena (default true). The arena holds each session's peak
   * intermediate memory for good; with many small sessions, off bounds the process's memory.
   */
  memoryArena?: boolean;
}

/** A loaded session; `run` is synchronous. */
export interface OrtSyncSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Run the graph. Every output must be preallocated in `outputs` (its data is written in place); returns nothing.
   * Throws ONNX Runtime's error (shape mismatch, …) as a JavaScript `Error`.
   */
  run(inputs: Record<string, OrtFloatTensor>, outputs: Record<string, OrtFloatTensor>): void;
  /** Release the native session (its graph and buffers); the session cannot run afterwards. */
  dispose(): void;
}

/** The result of {@link loadOrtBinding}. */
export type OrtBinding =
  | {
      available: true;
      version: string;
      /** Load ONNX model bytes into a synchronous native session with the given intra-op threads. */
      createSession(model: Uint8Array, options: OrtSessionOptions): OrtSyncSession;
      /**
       * Load an `.onnx` file (needed for models with external data: ONNX Runtime resolves the side file relative to
       * the model's folder).
       */
      createSessionFromFile(file: string, options: OrtSessionOptions): OrtSyncSession;
    }
  | { available: false; reason: string };

/** The members of the native `InferenceSession` this adapter relies on (onnxruntime-node 1.30.0). */
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  loadModel(file: string, options: object): void;
  run(feeds: object, fetches: object, options?: object): unknown;
  dispose(): void;
  readonly inputMetadata: Array<{ name: string }>;
  readonly outputMetadata: Array<{ name: string }>;
}
interface NativeModule {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

let cached: OrtBinding | undefined;
let override: string | null = null;

/**
 * Pretend onnxruntime-node is absent (`reason`) or restore detection (`null`) — for tests of the fallback path and
 * for `CA_NATIVE=0`. Returns the previous override.
 * @example
 * ```ts
 * simulateOrtAbsent('simulated'); loadOrtBinding().available; // false
 * simulateOrtAbsent(null);
 * ```
 */
export function simulateOrtAbsent(reason: string | null): string | null {
  if (reason !== null && (typeof reason !== 'string' || reason === '')) throw new ValidationError('simulateOrtAbsent', 'reason', 'a non-empty string or null', reason);
  const before = override;
  override = reason;
  cached = undefined;
  return before;
}

function toNative(t: OrtFloatTensor): object {
  return { dims: t.dims, type: 'float32', location: 'cpu', data: t.data };
}

function load(): OrtBinding {
  if (override !== null) return { available: false, reason: override };
  const require = createRequire(import.meta.url);
  let version: string;
  try {
    version = (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return { available: false, reason: 'onnxruntime-node is not installed' };
  }
  if (version !== ORT_PINNED_VERSION) {
    return { available: false, reason: `onnxruntime-node ${version} is installed but this adapter was checked against ${ORT_PINNED_VERSION} only` };
  }
  let native: NativeModule;
  try {
    native = require('onnxruntime-node/dist/binding.js') as NativeModule;
    native.initOrt();
  } catch (error) {
    return { available: false, reason: `onnxruntime-node failed to load: ${String((error as Error).message ?? error).split('\n')[0]}` };
  }
  const Session = native.binding?.InferenceSession;
  if (typeof Session !== 'function' || typeof Session.prototype.run !== 'function' || typeof Session.prototype.loadModel !== 'function') {
    return { available: false, reason: 'onnxruntime-node: the native InferenceSession lacks loadModel / run (binding changed)' };
  }
  /** Check the options, create a native session, load it with `load`, and wrap it. */
  function open(fn: string, options: OrtSessionOptions, load: (session: NativeSession, loadOptions: object) => void): OrtSyncSession {
    if (!Number.isInteger(options?.intraOpThreads) || options.intraOpThreads < 1) {
      throw new ValidationError(fn, 'options.intraOpThreads', 'an integer ≥ 1', options?.intraOpThreads);
    }
    const session = new Session();
    const loadOptions = {
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.optimization ?? 'all',
      enableCpuMemArena: options.memoryArena ?? true,
      // ORT's thread pool spins between parallel sections by default; the tfjs work between our calls would
      // then compete with spinning threads for the same cores.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    };
    load(session, loadOptions);
    const inputNames = session.inputMetadata.map((m) => m.name);
    const outputNames = session.outputMetadata.map((m) => m.name);
    let disposed = false;
    return {
      inputNames,
      outputNames,
      run(inputs, outputs) {
        if (disposed) throw new Error('OrtSyncSession.run: the session was disposed');
        const feeds: Record<string, object> = {};
        for (const name of inputNames) feeds[name] = toNative(inputs[name]!);
        const fetches: Record<string, object> = {};
        for (const name of outputNames) fetches[name] = toNative(outputs[name]!);
        const result = session.run(feeds, fetches);
        if (result instanceof Promise) throw new Error('onnxruntime-node: the native run returned a Promise (binding changed; see ort-binding.ts)');
      },
      dispose() {
        if (!disposed) session.dispose();
        disposed = true;
      },
    };
  }
  return {
    available: true,
    version,
    createSession(model, options) {
      if (!(model instanceof Uint8Array) || model.length === 0) throw new ValidationError('createSession', 'model', 'ONNX model bytes (Uint8Array)', model);
      return open('createSession', options, (session, o) => session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, o));
    },
    createSessionFromFile(file, options) {
      if (typeof file !== 'string' || file === '') throw new ValidationError('createSessionFromFile', 'file', 'the path of an .onnx file', file);
      return open('createSessionFromFile', options, (session, o) => session.loadModel(file, o));
    },
  };
}

/**
 * Load onnxruntime-node's native binding once (cached), or say why it cannot be used: not installed, another
 * version than {@link ORT_PINNED_VERSION}, failed to load, or its internal API changed.
 * @example
 * ```ts
 * const ort = loadOrtBinding(); console.log(ort.available ? ort.version : ort.reason);
 * ```
 */
export function loadOrtBinding(): OrtBinding {
  cached ??= load();
  return cached;
}
