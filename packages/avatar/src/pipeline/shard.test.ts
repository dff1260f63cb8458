/** `parseShard` / `shardRange`: flags, the array-job variables, errors, and a property check of the cut. */
import { describe, expect, it } from 'vitest';
import { parseShard, shardItems, shardRange } from './shard.js';

describe('parseShard', () => {
  it('reads --shard i/n, a count with the index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID, or Slurm alone', () => {
    expect(parseShard('1/3', {})).toEqual({ index: 1, count: 3, source: '--shard' });
    expect(parseShard('4', { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 4, source: 'JOB_COMPLETION_INDEX' });
    expect(parseShard('4', { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5' })).toEqual({ index: 2, count: 4, source: 'SLURM_ARRAY_TASK_ID' });
    expect(parseShard(undefined, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '10' })).toEqual({ index: 3, count: 10, source: 'SLURM_ARRAY_TASK_ID' });
    expect(parseShard(undefined, {})).toBeNull();
    expect(parseShard(undefined, { SLURM_ARRAY_TASK_ID: '3' })).toBeNull();
  });

  it('refuses malformed values, an index out of range and a Kubernetes index without a count, naming them', () => {
    expect(() => parseShard('3/3', {})).toThrow(/parseShard: argument '--shard' expected a shard index in \[0, 2\], got 3/);
    expect(() => parseShard('0/0', {})).toThrow(/a shard count ≥ 1/);
    expect(() => parseShard('a/2', {})).toThrow(/'--shard' expected a non-negative integer, got "a"/);
    expect(() => parseShard('1/2/3', {})).toThrow(/'i\/n'/);
    expect(() => parseShard('2', {})).toThrow(/JOB_COMPLETION_INDEX \/ SLURM_ARRAY_TASK_ID set/);
    expect(() => parseShard('2', { JOB_COMPLETION_INDEX: '5' })).toThrow(/'JOB_COMPLETION_INDEX' expected a shard index in \[0, 1\], got 5/);
    expect(() => parseShard(undefined, { JOB_COMPLETION_INDEX: '0' })).toThrow(/--shard N/);
  });
});

describe('shardRange', () => {
  it('cuts every total into contiguous parts whose sizes differ by at most one and which concatenate to the whole', () => {
    for (let total = 0; total <= 23; total++) {
      for (let count = 1; count <= 7; count++) {
        const items = Array.from({ length: total }, (_, i) => i);
        const parts = Array.from({ length: count }, (_, index) => shardItems(items, { index, count, source: '--shard' }));
        expect(parts.flat()).toEqual(items);
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
    expect(shardRange(10, { index: 2, count: 3, source: '--shard' })).toEqual({ start: 7, end: 10 });
    expect(shardRange(5, null)).toEqual({ start: 0, end: 5 });
    expect(() => shardRange(5, { index: 3, count: 3, source: '--shard' })).toThrow(/shardRange: argument 'shard'/);
  });
});
