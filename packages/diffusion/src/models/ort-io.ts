/**
 * What the ONNX Runtime model runners ({@link OrtUNet}, `OrtControlNet`) share: NHWC tfjs tensors to the NCHW values
 * an exported graph takes and back, timesteps as `[B]` floats, and opening the session (in memory, or from a file
 * with external data).
 *
 * @example
 * ```ts
 * const x = nhwcToOrt(latents);               // { dims: [B, C, H, W], data }
 * const y = ortToNhwc(values, [B, C, H, W]);  // tf.Tensor4D [B, H, W, C]
 * ```
 */
import { BackendUnavailableError, checkFinite, encodeOnnxModel, loadOrtBinding, tf, ValidationError, writeOnnxModel, type OnnxModelSpec, type OrtFloatTensor, type OrtSyncSession } from '@consistent-avatar/core';

/**
 * NHWC tensor → NCHW float32 values for a session (int32 tensors are converted). The values are read outside any
 * `tf.tidy`: a tidy that returns a typed array walks it element by element looking for tensors, a large share of the
 * ControlNet + UNet step in ONNX Runtime at the FCSD's sizes (`layoutConversionMs` in
 * packages/avatar/bench/results/native-controlnet-sampling.json).
 * @example
 * ```ts
 * nhwcToOrt(tf.zeros([1, 8, 8, 4]) as tf.Tensor4D).dims; // [1, 4, 8, 8]
 * ```
 */
export function nhwcToOrt(x: tf.Tensor4D): OrtFloatTensor {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new ValidationError('nhwcToOrt', 'x', 'an NHWC tensor [B, H, W, C]', x);
  const [B, H, W, C] = x.shape;
  const nchw = tf.transpose(x, [0, 3, 1, 2]); // [B, C, H, W]
  try {
    const values = nchw.dataSync();
    return { dims: [B, C, H, W], data: values instanceof Float32Array ? values : Float32Array.from(values) };
  } finally {
    nchw.dispose();
  }
}

/**
 * NCHW values from a session → an NHWC tensor (owned by the caller).
 * @example
 * ```ts
 * ortToNhwc(new Float32Array(256), [1, 4, 8, 8]).shape; // [1, 8, 8, 4]
 * ```
 */
export function ortToNhwc(data: Float32Array, dims: number[]): tf.Tensor4D {
  if (!Array.isArray(dims) || dims.length !== 4 || !dims.every((d) => Number.isInteger(d) && d >= 0)) throw new ValidationError('ortToNhwc', 'dims', 'four non-negative integers [B, C, H, W]', dims);
  if (!(data instanceof Float32Array) || data.length !== dims.reduce((p, q) => p * q, 1)) {
    throw new ValidationError('ortToNhwc', 'data', `a Float32Array of ${dims.join('·')} values`, data);
  }
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, dims as [number, number, number, number]), [0, 2, 3, 1])); // [B, H, W, C]
}

/**
 * Timesteps as `[B]` float32 values: a number or a single value broadcasts.
 * @example
 * ```ts
 * ortTimesteps('OrtUNet.forward', 500, 2); // Float32Array [500, 500]
 * ```
 */
export function ortTimesteps(fn: string, timestep: number | number[] | tf.Tensor, batch: number): Float32Array {
  checkFinite(fn, 'timestep', timestep);
  const values = typeof timestep === 'number' ? [timestep] : Array.isArray(timestep) ? timestep : Array.from(timestep.dataSync());
  if (values.length === 1) return new Float32Array(batch).fill(values[0]!);
  if (values.length !== batch) throw new ValidationError(fn, 'timestep', `a number, or ${batch} timesteps (one per batch item)`, timestep);
  return Float32Array.from(values);
}

/** How {@link openOrtSession} loads a graph. */
export interface OrtSessionPlacement {
  /** ONNX Runtime intra-op threads (default 1). */
  intraOpThreads?: number;
  /** Write the model to this `.onnx` path with external data (`<file>.data`) and load it from there. */
  file?: string;
}

/**
 * Open a session on `spec`, or throw `BackendUnavailableError` saying why ONNX Runtime cannot load.
 * @example
 * ```ts
 * const session = openOrtSession('OrtUNet', graph.spec('unet'), { intraOpThreads: 2 });
 * ```
 */
export function openOrtSession(fn: string, spec: OnnxModelSpec, placement: OrtSessionPlacement): OrtSyncSession {
  const threads = placement.intraOpThreads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new ValidationError(fn, 'options.intraOpThreads', 'an integer ≥ 1', placement.intraOpThreads);
  if (placement.file !== undefined && (typeof placement.file !== 'string' || placement.file === '')) throw new ValidationError(fn, 'options.file', 'a .onnx path', placement.file);
  const ort = loadOrtBinding();
  if (!ort.available) throw new BackendUnavailableError(`${fn}: ONNX Runtime is not available (${ort.reason})`);
  if (placement.file) {
    writeOnnxModel(placement.file, spec, { externalData: true });
    return ort.createSessionFromFile(placement.file, { intraOpThreads: threads });
  }
  return ort.createSession(encodeOnnxModel(spec), { intraOpThreads: threads });
}

/**
 * Throw `BackendUnavailableError` unless ONNX Runtime loads (checked before an export, which copies every weight).
 * @example
 * ```ts
 * requireOrt('OrtUNet');
 * ```
 */
export function requireOrt(fn: string): void {
  const ort = loadOrtBinding();
  if (!ort.available) throw new BackendUnavailableError(`${fn}: ONNX Runtime is not available (${ort.reason})`);
}
