/**
 * Refactor invariance: the tiny fixed-seed stage-1 → stage-2 run gives exactly the numbers it gave before the
 * architecture refactor (fixture pinned at commit db4e77f by scripts/regression/refactor-fingerprint.ts). This is a
 * regression pin, not a correctness check: the TSDM's quality is evaluated elsewhere.
 *
 * The pin was made with group norm composed from tf ops; core's fused group-norm kernels (on by default since
 * issue 18, `kernels/group-norm.ts`) sum in float64 and so round differently. The bit-identical check therefore runs
 * with them off (everything else must still be unchanged to the bit), and a second run with them on must stay
 * within float32 rounding of the pin.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { setFusedGroupNorm, useBackend } from '@consistent-avatar/core';
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

describe('refactor fingerprint (wasm)', () => {
  it('with the composed group norm, proxy TSD, 30 TSDM losses and the aligned TSD are bit-identical to the pre-refactor run', async () => {
    await useBackend('wasm');
    const want = pinned.results[0]!;
    expect(want.config).toEqual(FINGERPRINT_TINY);
    const before = setFusedGroupNorm(false);
    try {
      const got = await runFingerprint('tiny', FINGERPRINT_TINY, { frames: 8, size: 16, test: 2 }, 5);
      expect(got.proxyTsdFirst).toEqual(want.proxyTsdFirst);
      expect(got.stepLosses).toEqual(want.stepLosses);
      expect(got.aligned).toEqual(want.aligned);
    } finally {
      setFusedGroupNorm(before);
    }
  });

  it('with the fused group-norm kernels (the default), the same run stays within float32 rounding of the pin', async () => {
    await useBackend('wasm');
    const want = pinned.results[0]!;
    const got = await runFingerprint('tiny', FINGERPRINT_TINY, { frames: 8, size: 16, test: 2 }, 5);
    expect(got.proxyTsdFirst).toEqual(want.proxyTsdFirst); // stage 1 has no group norm
    expect(relDiff(got.stepLosses, want.stepLosses)).toBeLessThan(1e-5);
    expect(relDiff(got.aligned, want.aligned)).toBeLessThan(1e-4);
  });
});
