/**
 * Refactor invariance: the tiny fixed-seed stage-1 → stage-2 run gives exactly the numbers it gave before the
 * architecture refactor (fixture pinned at commit db4e77f by scripts/regression/refactor-fingerprint.ts). This is a
 * regression pin, not a correctness check: the TSDM's quality is evaluated elsewhere.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { disableNativeKernels, enableNativeKernels, nativeKernelStatus, useBackend } from '@consistent-avatar/core';
import { FINGERPRINT_TINY, runFingerprint, type FingerprintResult } from './fingerprint.js';

const pinned = JSON.parse(readFileSync(new URL('./fixtures/refactor-fingerprint-tiny.json', import.meta.url), 'utf8')) as { commit: string; results: FingerprintResult[] };

describe('refactor fingerprint (wasm)', () => {
  it('proxy TSD, 30 TSDM losses and the aligned TSD are bit-identical to the pre-refactor run', async () => {
    await useBackend('wasm');
    // The pin is the wasm kernels' float rounding: ONNX Runtime's products round differently, so with the native
    // kernel provider on (CA_NATIVE=1, pnpm test's first pass) the run is pinned with it off, then it is restored.
    const nativeWasOn = nativeKernelStatus().active;
    disableNativeKernels();
    try {
      const want = pinned.results[0]!;
      expect(want.config).toEqual(FINGERPRINT_TINY);
      const got = await runFingerprint('tiny', FINGERPRINT_TINY, { frames: 8, size: 16, test: 2 }, 5);
      expect(got.proxyTsdFirst).toEqual(want.proxyTsdFirst);
      expect(got.stepLosses).toEqual(want.stepLosses);
      expect(got.aligned).toEqual(want.aligned);
    } finally {
      if (nativeWasOn) enableNativeKernels();
    }
  });
});
