/**
 * CA_NATIVE_THREADS: initBackend enables the native provider (CA_NATIVE=1) with that many ONNX Runtime intra-op
 * threads, and refuses a value that is not an integer in [1, 256] before anything loads. Runs in its own process
 * (vitest forks per file), so the first initBackend here is the one that reads the environment.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, loadOrtBinding, nativeKernelStatus, disableNativeKernels, ValidationError } from '../index.js';

const saved = { native: process.env.CA_NATIVE, threads: process.env.CA_NATIVE_THREADS };
afterAll(() => {
  disableNativeKernels();
  for (const [key, value] of [['CA_NATIVE', saved.native], ['CA_NATIVE_THREADS', saved.threads]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('CA_NATIVE_THREADS', () => {
  it('rejects a value that is not an integer in [1, 256], naming the variable', async () => {
    for (const bad of ['two', '0', '1.5', '257', '-1']) {
      process.env.CA_NATIVE_THREADS = bad;
      await expect(initBackend('wasm')).rejects.toThrow(ValidationError);
      await expect(initBackend('wasm')).rejects.toThrow(/initBackend: argument 'CA_NATIVE_THREADS \(environment\)' expected an integer in \[1, 256\]/);
    }
  });

  it.skipIf(!loadOrtBinding().available)('sets the provider’s thread count with CA_NATIVE=1', async () => {
    process.env.CA_NATIVE = '1';
    process.env.CA_NATIVE_THREADS = '1';
    await initBackend('wasm');
    const status = nativeKernelStatus();
    expect(status.active).toBe(true);
    expect(status.threads).toBe(1);
  });
});
