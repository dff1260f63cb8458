/** Test helpers shared by core's tests. */
import { tf, initBackend, useBackend, type BackendName } from '../src/index.js';

/** Backends every test runs on here (wasm and the cpu reference). */
export const TEST_BACKENDS: BackendName[] = ['wasm', 'cpu'];

export async function setBackend(name: BackendName): Promise<void> {
  await initBackend(name === 'cpu' ? 'cpu' : 'wasm');
  await useBackend(name);
}

/** max |a − b| / max |b| (relative to the reference's range). */
export function maxRelError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < reference.length; i++) {
    num = Math.max(num, Math.abs(actual[i]! - reference[i]!));
    den = Math.max(den, Math.abs(reference[i]!));
  }
  return den === 0 ? num : num / den;
}

export function data(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}
