/**
 * Sharding: one job of `count` runs the `index`-th part of an independent workload (subjects to train, frame ranges
 * to render or score). {@link parseShard} reads the shard from a `--shard i/n` value or from the array-job variables
 * of Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`) and Slurm job arrays (`SLURM_ARRAY_TASK_ID`, minus
 * `SLURM_ARRAY_TASK_MIN` when set); {@link shardRange} and {@link shardItems} cut a workload into contiguous,
 * balanced parts (sizes differ by at most one), so the shards' results concatenated in index order are the
 * unsharded result.
 *
 * @example
 * ```ts
 * import { parseShard, shardItems } from '@consistent-avatar/avatar';
 * const shard = parseShard('1/3');                    // { index: 1, count: 3, source: '--shard' }
 * shardItems(['a', 'b', 'c', 'd', 'e'], shard);         // ['c', 'd']
 * parseShard('3', { JOB_COMPLETION_INDEX: '2' });     // { index: 2, count: 3, source: 'JOB_COMPLETION_INDEX' }
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from '@consistent-avatar/core';

/** One part of a sharded workload: `0 ≤ index < count`. */
export interface Shard {
  /** 0-based shard index. */
  index: number;
  /** Number of shards (≥ 1). */
  count: number;
  /** Where the index came from: `'--shard'`, `'JOB_COMPLETION_INDEX'` or `'SLURM_ARRAY_TASK_ID'`. */
  source: '--shard' | 'JOB_COMPLETION_INDEX' | 'SLURM_ARRAY_TASK_ID';
}

/** The environment variables {@link parseShard} reads (a subset of `process.env`). */
export type ShardEnvironment = Readonly<Record<string, string | undefined>>;

const FN = 'parseShard';

function nonNegativeInt(argument: string, text: string): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw new ValidationError(FN, argument, 'a non-negative integer', text);
  return Number(text.trim());
}

/**
 * Read the shard of this job.
 *
 * 1. `spec` `'i/n'` (both integers, `0 ≤ i < n`): that shard.
 * 2. `spec` `'n'` (a count alone): the index comes from `JOB_COMPLETION_INDEX`, else `SLURM_ARRAY_TASK_ID`
 *    (minus `SLURM_ARRAY_TASK_MIN`, default 0); one of them must be set.
 * 3. no `spec`: `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT` shards when both are set (Slurm); else no
 *    sharding (`null`). A bare `JOB_COMPLETION_INDEX` is an error here, since a Kubernetes Indexed Job does not
 *    publish its completion count: pass `--shard N`.
 *
 * @param spec - the `--shard` value (`'2/8'` or `'8'`), or undefined when the flag is absent.
 * @param env - the environment (default `process.env`).
 * @returns the shard, or `null` for an unsharded run.
 * @throws ValidationError on a malformed value, `i ≥ n`, `n = 0`, or a count without an index in the environment.
 * @example
 * ```ts
 * parseShard('0/2');                                                        // { index: 0, count: 2, source: '--shard' }
 * parseShard(undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '10' }); // { index: 4, count: 10, … }
 * parseShard(undefined, {});                                                // null
 * ```
 */
export function parseShard(spec?: string, env: ShardEnvironment = process.env): Shard | null {
  if (spec !== undefined && typeof spec !== 'string') throw new ValidationError(FN, 'spec', "'i/n' or 'n'", spec);
  if (env === null || typeof env !== 'object') throw new ValidationError(FN, 'env', 'an environment record', env);
  const slurmIndex = (): number | null => {
    const id = env.SLURM_ARRAY_TASK_ID;
    if (id === undefined || id === '') return null;
    const min = env.SLURM_ARRAY_TASK_MIN;
    return nonNegativeInt('SLURM_ARRAY_TASK_ID', id) - (min === undefined || min === '' ? 0 : nonNegativeInt('SLURM_ARRAY_TASK_MIN', min));
  };
  const make = (index: number, count: number, source: Shard['source'], argument: string): Shard => {
    if (count < 1) throw new ValidationError(FN, argument, 'a shard count ≥ 1', count);
    if (index < 0 || index >= count) throw new ValidationError(FN, argument, `a shard index in [0, ${count - 1}]`, index);
    return { index, count, source };
  };
  if (spec !== undefined) {
    const parts = spec.split('/');
    if (parts.length === 2) return make(nonNegativeInt('--shard', parts[0]!), nonNegativeInt('--shard', parts[1]!), '--shard', '--shard');
    if (parts.length !== 1) throw new ValidationError(FN, '--shard', "'i/n' (shard i of n, 0-based) or 'n' (index from the environment)", spec);
    const count = nonNegativeInt('--shard', parts[0]!);
    const job = env.JOB_COMPLETION_INDEX;
    if (job !== undefined && job !== '') return make(nonNegativeInt('JOB_COMPLETION_INDEX', job), count, 'JOB_COMPLETION_INDEX', 'JOB_COMPLETION_INDEX');
    const slurm = slurmIndex();
    if (slurm !== null) return make(slurm, count, 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_ID');
    throw new ValidationError(FN, '--shard', `'i/${count}', or JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID set in the environment`, spec);
  }
  const slurm = slurmIndex();
  const slurmCount = env.SLURM_ARRAY_TASK_COUNT;
  if (slurm !== null && slurmCount !== undefined && slurmCount !== '') {
    return make(slurm, nonNegativeInt('SLURM_ARRAY_TASK_COUNT', slurmCount), 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_ID');
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    throw new ValidationError(FN, '--shard', 'the shard count (--shard N) alongside JOB_COMPLETION_INDEX', undefined);
  }
  return null;
}

/**
 * The contiguous range `[start, end)` of `total` items that `shard` owns: the first `total mod count` shards take
 * one item more. No shard (`null`) owns everything.
 * @param total - number of items (an integer ≥ 0).
 * @param shard - from {@link parseShard}, or null.
 * @returns `{ start, end }` with `0 ≤ start ≤ end ≤ total`.
 * @example
 * ```ts
 * shardRange(10, { index: 2, count: 3, source: '--shard' }); // { start: 7, end: 10 }
 * ```
 */
export function shardRange(total: number, shard: Shard | null): { start: number; end: number } {
  if (!Number.isSafeInteger(total) || total < 0) throw new ValidationError('shardRange', 'total', 'an integer ≥ 0', total);
  if (shard === null) return { start: 0, end: total };
  checkShard('shardRange', shard);
  const base = Math.floor(total / shard.count);
  const extra = total % shard.count;
  const start = shard.index * base + Math.min(shard.index, extra);
  return { start, end: start + base + (shard.index < extra ? 1 : 0) };
}

/**
 * The items `shard` owns (see {@link shardRange}); all of them for `null`.
 * @param items - the whole workload, in a fixed order.
 * @param shard - from {@link parseShard}, or null.
 * @returns a new array.
 * @example
 * ```ts
 * shardItems([0, 1, 2, 3], { index: 0, count: 2, source: '--shard' }); // [0, 1]
 * ```
 */
export function shardItems<T>(items: readonly T[], shard: Shard | null): T[] {
  if (!Array.isArray(items)) throw new ValidationError('shardItems', 'items', 'an array', items);
  const { start, end } = shardRange(items.length, shard);
  return items.slice(start, end);
}

function checkShard(fn: string, shard: Shard): void {
  if (shard === null || typeof shard !== 'object' || !Number.isSafeInteger(shard.count) || shard.count < 1 || !Number.isSafeInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new ValidationError(fn, 'shard', '{ index, count } with 0 ≤ index < count', shard);
  }
}
