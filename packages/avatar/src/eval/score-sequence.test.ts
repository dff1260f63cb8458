/**
 * Issue 19 (10): `scoreSequence` refuses NaN / ±Infinity in any of its numeric inputs — the generated frames, the real
 * frames and the face masks — naming the argument and the index, before any metric runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { scoreSequence } from './score-sequence.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const S = 8;
const frame = (bad = -1, value = Number.NaN): FloatImage => {
  const data = new Float32Array(S * S * 3).fill(0.5);
  if (bad >= 0) data[bad] = value;
  return { data, height: S, width: S, channels: 3 };
};
const mask = (bad = -1): Float32Array => {
  const m = new Float32Array(S * S).fill(1);
  if (bad >= 0) m[bad] = Number.NaN;
  return m;
};

describe('scoreSequence and non-finite inputs', () => {
  it('names generated[i], reference[i] and masks[i] with the first bad sample', async () => {
    await expect(scoreSequence([frame(), frame(4)], [frame(), frame()], [mask(), mask()])).rejects.toThrow(/scoreSequence: argument 'generated\[1\]\.data' expected finite samples/);
    await expect(scoreSequence([frame(), frame()], [frame(7, Number.POSITIVE_INFINITY), frame()], [mask(), mask()])).rejects.toThrow(/argument 'reference\[0\]\.data'.*Infinity/);
    await expect(scoreSequence([frame(), frame()], [frame(), frame()], [mask(), mask(9)])).rejects.toThrow(/scoreSequence: argument 'masks\[1\]' expected finite numbers .*NaN at index 9/);
    await expect(scoreSequence([frame(), frame()], [frame(), frame()], [mask(), mask(9)])).rejects.toBeInstanceOf(ValidationError);
  });
});
