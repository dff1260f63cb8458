import { describe, expect, it } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';
import { splitLastFrames, type AvatarDataset } from './common.js';
import { protocolSplit } from './protocol-split.js';

const dataset = (n: number, test: number): AvatarDataset =>
  ({ format: 'insta', root: '/x', width: 8, height: 8, frames: Array.from({ length: n }, (_, i) => ({ id: String(i) })), split: splitLastFrames(n, test, 5) }) as unknown as AvatarDataset;

describe('protocolSplit', () => {
  it('keeps the test frames and carves validation from the end of the training frames, never from test', () => {
    const s = protocolSplit(dataset(20, 6), { validationFrames: 4 });
    expect(s.test).toEqual([14, 15, 16, 17, 18, 19]);
    expect(s.validation).toEqual([10, 11, 12, 13]);
    expect(s.train).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // INSTA's own val (last 5 of test) is not used.
    expect(s.validation.some((i) => s.test.includes(i))).toBe(false);
  });
  it('defaults to 10 % of the training frames', () => {
    expect(protocolSplit(dataset(106, 6)).validation).toHaveLength(10);
    expect(protocolSplit(dataset(8, 6)).validation).toEqual([1]);
  });
  it('rejects sizes that leave no training frame, and non-datasets', () => {
    expect(() => protocolSplit(dataset(20, 6), { validationFrames: 14 })).toThrow(/options.validationFrames' expected an integer in \[1, 13\]/);
    expect(() => protocolSplit(dataset(20, 6), { validationFrames: 0 })).toThrow(ValidationError);
    expect(() => protocolSplit({} as AvatarDataset)).toThrow(/protocolSplit: argument 'dataset'/);
  });
});
