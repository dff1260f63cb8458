/**
 * Test helpers for the model parity tests: fixture paths inside this package and `.npy` → tf tensors
 * (NCHW fixtures converted to NHWC at this boundary).
 */
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { readNpy, tf } from '@consistent-avatar/core';

/** Absolute path of `test/fixtures/models/<rel>`. */
export function modelFixture(rel: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'models', rel);
}

/** Read a float32 fixture as a tensor in its stored layout. */
export function npyTensor(rel: string): tf.Tensor {
  const a = readNpy(modelFixture(rel));
  return tf.tensor(a.data as Float32Array, a.shape, 'float32');
}

/** Read an NCHW fixture as an NHWC tensor. */
export function npyNhwc(rel: string): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(npyTensor(rel) as tf.Tensor4D, [0, 2, 3, 1]));
}

/** max |a − b| and max |b| (reference). */
export function maxAbsError(actual: tf.Tensor, reference: tf.Tensor): { err: number; ref: number } {
  return tf.tidy(() => ({
    err: tf.max(tf.abs(tf.sub(actual, reference))).dataSync()[0]!,
    ref: tf.max(tf.abs(reference)).dataSync()[0]!,
  }));
}

/** Assert max |actual − reference| ≤ `tolerance` · max |reference| (the relative bound, 1e-4 by default). */
export function expectRelClose(expect: (v: unknown, message?: string) => { toEqual(x: unknown): void; toBeLessThanOrEqual(x: number): void }, actual: tf.Tensor, reference: tf.Tensor, label: string, tolerance = 1e-4): void {
  expect(actual.shape, label).toEqual(reference.shape);
  const { err, ref } = maxAbsError(actual, reference);
  expect(err, `${label}: max abs error ${err} vs bound ${tolerance * ref}`).toBeLessThanOrEqual(tolerance * ref);
}
