/**
 * Refactor invariance: the tiny fixed-seed stage-1 → stage-2 run gives exactly the numbers it gave before the
 * architecture refactor (fixture pinned at commit db4e77f by scripts/regression/refactor-fingerprint.ts). This is a
 * regression pin, not a correctness check: the TSDM's quality is evaluated elsewhere.
 *
 * The pin is the wasm kernels' float rounding, made with group norm composed from tf ops. Two things round
 * differently and are switched off around the runs (then restored): the native kernel provider (CA_NATIVE=1, pnpm
 * test's first pass: ONNX Runtime's products), and — for the bit-identical check only — core's fused group-norm
 * kernels (on by default since issue 18, `kernels/group-norm.ts`: float64 sums). With the fused kernels on, the same
 * run must stay within float32 rounding of the pin.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { disableNativeKernels, enableNativeKernels, nativeKernelStatus, setFusedGroupNorm, useBackend } from '@consistent-avatar/core';
import { FINGERPRINT_TINY, runFingerprint, type FingerprintResult } from './fingerprint.js';

const pinned = JSON.parse(readFileSync(new URL('./fixtures/refactor-fingerprint-tiny.json', import.meta.url), 'utf8')) as { commit: string; results: FingerprintResult[] };

/** max |a − b| / max |b| over nested arrays. */
function relDiff(a: number[] | number[][], b: number[] | number[][]): number {
  const [x, y] = [a.flat(), b.flat()];
  expect(x.length).toBe(y.length);
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) {
    num = Math.max(num, Math.abs(x[i]! - y[i]!));
    den = Math.max(den, Math.abs(y[i]!));
  }
  return num / den;
}

/** The fingerprint run on wasm with the native provider off (restored after) and the fused group norm as given. */
async function fingerprint(fusedGroupNorm: boolean): Promise<FingerprintResult> {
  await useBackend('wasm');
  const nativeWasOn = nativeKernelStatus().active;
  disableNativeKernels();
  const fusedBefore = setFusedGroupNorm(fusedGroupNorm);
  try {
    return await runFingerprint('tiny', FINGERPRINT_TINY, { frames: 8, size: 16, test: 2 }, 5);
  } finally {
    setFusedGroupNorm(fusedBefore);
    if (nativeWasOn) enableNativeKernels();
  }
}

describe('refactor fingerprint (wasm)', () => {
  it('with the composed group norm, proxy TSD, 30 TSDM losses and the aligned TSD are bit-identical to the pre-refactor run', async () => {
    const want = pinned.results[0]!;
    expect(want.config).toEqual(FINGERPRINT_TINY);
    const got = await fingerprint(false);
    expect(got.proxyTsdFirst).toEqual(want.proxyTsdFirst);
    expect(got.stepLosses).toEqual(want.stepLosses);
    expect(got.aligned).toEqual(want.aligned);
  });

  it('with the fused group-norm kernels (the default), the same run stays within float32 rounding of the pin', async () => {
    const want = pinned.results[0]!;
    const got = await fingerprint(true);
    expect(got.proxyTsdFirst).toEqual(want.proxyTsdFirst); // stage 1 has no group norm
    expect(relDiff(got.stepLosses, want.stepLosses)).toBeLessThan(1e-5);
    expect(relDiff(got.aligned, want.aligned)).toBeLessThan(1e-4);
  });
});
