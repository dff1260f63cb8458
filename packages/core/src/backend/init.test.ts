import { afterEach, describe, expect, it } from 'vitest';
import { initBackend, backendReport, useBackend, BackendUnavailableError, ValidationError, tf } from '../index.js';

describe('initBackend', () => {
  afterEach(() => {
    delete process.env.CA_BACKEND;
  });

  it('falls back past the native backends (not installable here) to wasm and says why', async () => {
    const info = await initBackend();
    expect(['gpu', 'node', 'wasm']).toContain(info.name);
    if (info.name === 'wasm') {
      expect(info.attempts.map((a) => a.name)).toEqual(['gpu', 'node', 'wasm']);
      expect(info.attempts[0]!.detail).toMatch(/tfjs-node-gpu/);
      expect(info.simd).toBe(true);
      expect(info.registeredKernels).toContain('Conv2DBackpropFilter');
      const report = backendReport(info);
      expect(report).toMatch(/backend: wasm/);
      expect(report).toMatch(/SIMD on/);
    }
    expect(tf.getBackend()).toBe(info.tfBackend);
  });

  it('honours an explicit preference and CA_BACKEND', async () => {
    expect((await initBackend('cpu')).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    process.env.CA_BACKEND = 'wasm';
    const info = await initBackend('cpu');
    expect(info.name).toBe('wasm');
    expect(info.chosenBy).toBe('CA_BACKEND');
  });

  it('useBackend switches and keeps backendReport in step', async () => {
    await useBackend('cpu');
    expect(backendReport()).toMatch(/backend: cpu/);
    await useBackend('wasm');
    expect(backendReport()).toMatch(/backend: wasm/);
    await expect(useBackend('tpu' as never)).rejects.toThrow(ValidationError);
  });

  it('fails clearly when a forced backend is unavailable or unknown', async () => {
    await expect(initBackend('gpu')).rejects.toThrow(BackendUnavailableError);
    await expect(initBackend('gpu')).rejects.toThrow(/backend 'gpu'.*not installed/);
    await expect(initBackend('tpu' as never)).rejects.toThrow(ValidationError);
    process.env.CA_BACKEND = 'tpu';
    await expect(initBackend()).rejects.toThrow(/CA_BACKEND=tpu/);
  });
});
