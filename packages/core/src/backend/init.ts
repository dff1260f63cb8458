/**
 * Backend selection: `@tensorflow/tfjs-node-gpu` (CUDA) → `@tensorflow/tfjs-node` → `@tensorflow/tfjs-backend-wasm`
 * (SIMD) → the pure-JS cpu backend. Neither native package is a dependency: they are detected at run time.
 *
 * @example
 * ```ts
 * import { initBackend, backendReport } from '@consistent-avatar/core';
 * await initBackend();            // or initBackend('cpu'); CA_BACKEND=wasm forces a choice
 * console.log(backendReport());
 * // backend: wasm (tfjs 4.22.0) — chosen automatically: tfjs-node-gpu not installed; tfjs-node not installed
 * // wasm: SIMD on, threads off (1 thread) — training kernels registered: Conv2DBackpropFilter, …
 * // native kernels: off — not enabled (enableNativeKernels() or CA_NATIVE=1)
 * ```
 */
import { createRequire } from 'node:module';
import { tf } from './tf.js';
import { guardCrashHandlers } from './crash-handlers.js';
import { BackendUnavailableError, ValidationError } from '../errors.js';
import { registerWasmTrainingKernels, registeredWasmKernels } from '../kernels/register.js';
import { enableNativeKernels, nativeKernelReport } from '../native/provider.js';

/** Library-level backend names. `gpu` and `node` are tfjs's `tensorflow` backend from the native packages. */
export type BackendName = 'gpu' | 'node' | 'wasm' | 'cpu';

/** One backend that was tried, in order. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was not used (not installed, failed to load, not requested). */
  detail: string;
}

/** What {@link initBackend} chose and why. */
export interface BackendInfo {
  /** Library name of the active backend. */
  name: BackendName;
  /** tfjs backend name (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** How it was chosen (`automatic`, `argument`, `CA_BACKEND`). */
  chosenBy: 'automatic' | 'argument' | 'CA_BACKEND';
  attempts: BackendAttempt[];
  /** wasm only: SIMD and multithreading support as tfjs reports it. */
  simd?: boolean;
  threads?: boolean;
  /** tfjs-core version. */
  tfjsVersion: string;
  /** Kernels this library registered on the active backend (wasm training kernels). */
  registeredKernels: string[];
}

const ORDER: BackendName[] = ['gpu', 'node', 'wasm', 'cpu'];
const NATIVE_PACKAGES: Record<'gpu' | 'node', string> = {
  gpu: '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

let current: BackendInfo | null = null;

function isBackendName(value: unknown): value is BackendName {
  return typeof value === 'string' && (ORDER as string[]).includes(value);
}

async function tryNative(name: 'gpu' | 'node'): Promise<string | null> {
  const spec = NATIVE_PACKAGES[name];
  try {
    createRequire(import.meta.url).resolve(spec);
  } catch {
    return `${spec} not installed`;
  }
  try {
    // A variable specifier keeps bundlers and TypeScript from resolving an optional package at build time.
    await import(/* @vite-ignore */ spec);
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    return /Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(message)
      ? `${spec} not installed`
      : `${spec} failed to load: ${message.split('\n')[0]}`;
  }
  if (tf.findBackend('tensorflow') == null) return `${spec} loaded but registered no 'tensorflow' backend (tfjs version mismatch?)`;
  const ok = await tf.setBackend('tensorflow');
  return ok ? null : `${spec}: setBackend('tensorflow') failed`;
}

async function tryWasm(): Promise<string | null> {
  // The emscripten module installs crash handlers that bury every uncaught error under its source: replace them.
  const done = guardCrashHandlers();
  try {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
    } catch (error) {
      return `@tensorflow/tfjs-backend-wasm failed to load: ${(error as Error).message}`;
    }
    registerWasmTrainingKernels();
    try {
      const ok = await tf.setBackend('wasm');
      // CA_NATIVE=1: the heavy products run in ONNX Runtime where it is installed (native/provider.ts), with
      // CA_NATIVE_THREADS intra-op threads when set (checked by initBackend before anything loads).
      if (ok && process.env.CA_NATIVE === '1') enableNativeKernels(nativeOptionsFromEnv());
      return ok ? null : 'wasm backend failed to initialise';
    } catch (error) {
      return `wasm backend failed to initialise: ${(error as Error).message}`;
    }
  } finally {
    done();
  }
}

/** `{ threads }` from `CA_NATIVE_THREADS` (an integer in [1, 256]), or `{}` when unset; throws for anything else. */
function nativeOptionsFromEnv(): { threads?: number } {
  const raw = typeof process !== 'undefined' ? process.env.CA_NATIVE_THREADS : undefined;
  if (raw === undefined || raw === '') return {};
  const threads = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new ValidationError('initBackend', 'CA_NATIVE_THREADS (environment)', 'an integer in [1, 256]', raw);
  }
  return { threads };
}

async function tryCpu(): Promise<string | null> {
  registerWasmTrainingKernels();
  // The cpu backend is registered by @tensorflow/tfjs itself.
  const ok = await tf.setBackend('cpu');
  return ok ? null : 'cpu backend failed to initialise';
}

async function attempt(name: BackendName): Promise<string | null> {
  switch (name) {
    case 'gpu':
    case 'node':
      return tryNative(name);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

/**
 * Select and initialise the tensor backend.
 *
 * Order without a preference: gpu → node → wasm → cpu. `preference` (or the `CA_BACKEND` environment variable, which
 * wins over the argument) forces one backend and throws {@link BackendUnavailableError} if it cannot be used. The
 * cpu backend is always registered too (tests compare against it). Calling again with the same choice is cheap.
 *
 * @param preference - `'gpu' | 'node' | 'wasm' | 'cpu'`, or undefined / `'auto'` for automatic selection.
 * @returns what was chosen and why.
 */
export async function initBackend(preference?: BackendName | 'auto'): Promise<BackendInfo> {
  if (preference !== undefined && preference !== 'auto' && !isBackendName(preference)) {
    throw new ValidationError('initBackend', 'preference', "one of 'gpu', 'node', 'wasm', 'cpu', 'auto'", preference);
  }
  nativeOptionsFromEnv(); // a bad CA_NATIVE_THREADS throws here, not as a backend failure
  const fromEnv = typeof process !== 'undefined' ? process.env.CA_BACKEND : undefined;
  if (fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'auto' && !isBackendName(fromEnv)) {
    throw new BackendUnavailableError(`CA_BACKEND=${fromEnv} is not a backend; use gpu, node, wasm or cpu`);
  }
  const forced: BackendName | undefined =
    fromEnv && fromEnv !== 'auto' ? (fromEnv as BackendName) : preference && preference !== 'auto' ? preference : undefined;
  const chosenBy: BackendInfo['chosenBy'] = fromEnv && fromEnv !== 'auto' ? 'CA_BACKEND' : forced ? 'argument' : 'automatic';

  if (current && forced === current.name) return current;
  if (current && !forced && current.chosenBy === 'automatic') return current;

  // The cpu backend is always available as a reference for parity tests.

  const candidates = forced ? [forced] : ORDER;
  const attempts: BackendAttempt[] = [];
  for (const name of candidates) {
    const failure = await attempt(name);
    attempts.push({ name, ok: failure === null, detail: failure ?? 'active' });
    if (failure === null) {
      await tf.ready();
      const info: BackendInfo = {
        name,
        tfBackend: tf.getBackend(),
        chosenBy,
        attempts,
        tfjsVersion: tf.version_core,
        registeredKernels: name === 'wasm' ? registeredWasmKernels() : [],
      };
      if (name === 'wasm') {
        info.simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
        info.threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
      }
      current = info;
      return info;
    }
  }
  const tried = attempts.map((a) => `${a.name}: ${a.detail}`).join('; ');
  throw new BackendUnavailableError(
    forced
      ? `initBackend: backend '${forced}' (forced by ${chosenBy === 'CA_BACKEND' ? 'CA_BACKEND' : 'argument'}) is not available — ${tried}`
      : `initBackend: no backend could be initialised — ${tried}`,
  );
}

/**
 * The active backend as chosen by {@link initBackend}, or null before it ran.
 *
 * @example
 * ```ts
 * await initBackend(); currentBackend()?.name; // 'wasm' on a machine without tfjs-node
 * ```
 */
export function currentBackend(): BackendInfo | null {
  return current;
}

/**
 * A human-readable report of the active backend: which one, why, and the thread / SIMD status.
 * Call {@link initBackend} first.
 *
 * @example
 * ```ts
 * await initBackend(); console.log(backendReport());
 * ```
 */
export function backendReport(info: BackendInfo | null = current): string {
  if (!info) return 'backend: not initialised (call initBackend())';
  const why =
    info.chosenBy === 'automatic'
      ? `chosen automatically${info.attempts.filter((a) => !a.ok).length ? ': ' + info.attempts.filter((a) => !a.ok).map((a) => a.detail).join('; ') : ''}`
      : `forced by ${info.chosenBy}`;
  const lines = [`backend: ${info.name} (tfjs-core ${info.tfjsVersion}, tfjs backend '${info.tfBackend}') — ${why}`];
  if (info.name === 'wasm') {
    lines.push(
      `wasm: SIMD ${info.simd ? 'on' : 'off'}, threads ${info.threads ? 'on' : 'off (1 thread)'}; training kernels registered by this library: ${info.registeredKernels.join(', ')}`,
      nativeKernelReport(),
    );
  } else if (info.name === 'cpu') {
    lines.push('cpu: pure JavaScript, single thread (~1 GFLOP/s); install nothing else needed, but wasm is ~20× faster');
  } else {
    lines.push(`${info.name}: native libtensorflow through ${NATIVE_PACKAGES[info.name]}`);
  }
  return lines.join('\n');
}

/**
 * Switch to a backend without the selection logic (used by tests that compare backends).
 *
 * @example
 * ```ts
 * await initBackend(); await useBackend('cpu'); // compare against the reference backend
 * ```
 */
export async function useBackend(name: BackendName): Promise<void> {
  if (!isBackendName(name)) throw new ValidationError('useBackend', 'name', "one of 'gpu', 'node', 'wasm', 'cpu'", name);
  const failure = await attempt(name);
  if (failure) throw new BackendUnavailableError(`useBackend: ${failure}`);
  await tf.ready();
  current = {
    name,
    tfBackend: tf.getBackend(),
    chosenBy: 'argument',
    attempts: [{ name, ok: true, detail: 'active (useBackend)' }],
    tfjsVersion: tf.version_core,
    registeredKernels: name === 'wasm' ? registeredWasmKernels() : [],
    ...(name === 'wasm'
      ? { simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')), threads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) }
      : {}),
  };
}

/**
 * Backends usable on this machine (tries each; leaves the previously active backend selected).
 *
 * @example
 * ```ts
 * await availableBackends(); // ['wasm', 'cpu'] here
 * ```
 */
export async function availableBackends(): Promise<BackendName[]> {
  const previous = tf.getBackend();
  const ok: BackendName[] = [];
  for (const name of ORDER) if ((await attempt(name)) === null) ok.push(name);
  if (previous) await tf.setBackend(previous);
  return ok;
}
