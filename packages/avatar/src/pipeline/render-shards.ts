/**
 * Render shards: `ca render --shard i/n` renders the held-out frames of shard i, and `ca merge` puts the shards'
 * frames back together as the unsharded `outputs/render/`.
 *
 * The shards are whole render batches, not balanced frame counts: `renderFcsd` draws each frame's x_T from the seed
 * and the frame's index, but the LCM sampler's inner noise from the seed and the batch's first frame index, so a
 * frame renders to the unsharded run's pixels only inside the same batch. {@link renderShardRange} therefore cuts the
 * `ceil(T / batchSize)` batches with `shardRange` and maps them back to frame positions.
 *
 * @example
 * ```ts
 * import { renderShardRange } from '@consistent-avatar/avatar';
 * renderShardRange(10, 4, { index: 1, count: 2, source: '--shard' }); // { start: 8, end: 10 } (batches 0–1 | 2)
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ValidationError, readJson, writeJsonAtomic } from '@consistent-avatar/core';
import type { RenderedRow } from './method-stages.js';
import { shardRange, type Shard } from './shard.js';
import { readRenderArtifact, writeRenderArtifact } from './stage-artifacts.js';

/**
 * The positions `[start, end)` of the `total` held-out frames that `shard` renders: whole batches of `batchSize`.
 * @param total - number of held-out frames (integer ≥ 0).
 * @param batchSize - frames per render batch (integer ≥ 1).
 * @param shard - from `parseShard`, or null (everything).
 * @returns `{ start, end }`, `start` a multiple of `batchSize`; shards in index order tile `[0, total)`.
 * @example
 * ```ts
 * renderShardRange(3, 2, { index: 0, count: 2, source: '--shard' }); // { start: 0, end: 2 }
 * ```
 */
export function renderShardRange(total: number, batchSize: number, shard: Shard | null): { start: number; end: number } {
  const FN = 'renderShardRange';
  if (!Number.isSafeInteger(total) || total < 0) throw new ValidationError(FN, 'total', 'an integer ≥ 0', total);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ValidationError(FN, 'batchSize', 'an integer ≥ 1', batchSize);
  const batches = shardRange(Math.ceil(total / batchSize), shard); // the shard's batches [b0, b1)
  return { start: Math.min(total, batches.start * batchSize), end: Math.min(total, batches.end * batchSize) };
}

/** What a render shard records next to its frames (`shard.json`). */
export interface RenderShardRecord {
  index: number;
  count: number;
  /** Positions `[start, end)` in the held-out frames. */
  start: number;
  end: number;
  /** All held-out frames (the unsharded run's count). */
  total: number;
  batchSize: number;
  /** Ids of every held-out frame, in order (the merged artifact's). */
  ids: string[];
}

/**
 * The folder of render shard `index` of `count` under a run folder's `outputs/`.
 * @example
 * ```ts
 * const dir = renderShardDir('runs/me/outputs', 0, 4); // where `ca render --shard 0/4` writes its part
 * ```
 */
export function renderShardDir(outputs: string, index: number, count: number): string {
  return join(outputs, 'render-shards', `part-${index}-of-${count}`);
}

/**
 * Write a render shard: its rows (the frames of `[start, end)`) as a render artifact, then `shard.json` last (a
 * shard without it is unfinished).
 * @param dir - from {@link renderShardDir}.
 * @param record - the shard's place in the whole.
 * @param rows - from `renderRows(…, range)`.
 * @example
 * ```ts
 * writeRenderShard(renderShardDir(run.outputs, 0, 2), { index: 0, count: 2, start: 0, end: 8, total: 12, batchSize: 8, ids }, rows);
 * ```
 */
export function writeRenderShard(dir: string, record: RenderShardRecord, rows: RenderedRow[]): void {
  if (!record || !Array.isArray(record.ids) || record.ids.length !== record.total || !(record.start <= record.end && record.end <= record.total)) {
    throw new ValidationError('writeRenderShard', 'record', '{ index, count, start ≤ end ≤ total, ids of all total frames }', record);
  }
  fs.rmSync(join(dir, 'shard.json'), { force: true });
  if (record.end > record.start) writeRenderArtifact(dir, record.ids.slice(record.start, record.end), rows);
  writeJsonAtomic(join(dir, 'shard.json'), record);
}

/** A finished render shard read back. */
export interface RenderShard {
  record: RenderShardRecord;
  /** Its rows (empty for a shard with no frames). */
  rows: RenderedRow[];
}

/**
 * Read a finished render shard.
 * @param dir - a shard folder.
 * @returns the record and rows.
 * @throws ValidationError when `shard.json` is missing (an unfinished shard).
 * @example
 * ```ts
 * const part = readRenderShard('runs/a/outputs/render-shards/part-0-of-2');
 * ```
 */
export function readRenderShard(dir: string): RenderShard {
  const file = join(dir, 'shard.json');
  if (!fs.existsSync(file)) throw new ValidationError('readRenderShard', 'dir', 'a finished render shard (shard.json written last)', dir);
  const record = readJson<RenderShardRecord>(file);
  return { record, rows: record.end > record.start ? readRenderArtifact(dir) : [] };
}

/**
 * Merge render shards into the unsharded rows: every shard of the same `count`, `total`, `batchSize` and ids exactly
 * once, the same rows in each; frames concatenated in shard order; `msPerFrame` the frame-weighted mean.
 * @param parts - from {@link readRenderShard}, any order.
 * @returns the held-out ids and the rows with all their frames.
 * @example
 * ```ts
 * const { ids, rows } = mergeRenderShards(dirs.map(readRenderShard));
 * ```
 */
export function mergeRenderShards(parts: RenderShard[]): { ids: string[]; rows: RenderedRow[] } {
  const FN = 'mergeRenderShards';
  if (!Array.isArray(parts) || parts.length === 0) throw new ValidationError(FN, 'parts', 'one or more render shards', parts);
  const first = parts[0]!.record;
  const sorted = [...parts].sort((a, b) => a.record.index - b.record.index);
  sorted.forEach((p, k) => {
    const r = p.record;
    if (r.count !== first.count || r.total !== first.total || r.batchSize !== first.batchSize || r.ids.join('\n') !== first.ids.join('\n')) {
      throw new ValidationError(FN, `parts[${k}]`, `a shard of the same render (count ${first.count}, ${first.total} frames, batch ${first.batchSize})`, { index: r.index, count: r.count, total: r.total, batchSize: r.batchSize });
    }
    if (r.index !== k) throw new ValidationError(FN, 'parts', `every shard 0 … ${first.count - 1} exactly once`, sorted.map((q) => q.record.index));
  });
  if (sorted.length !== first.count) throw new ValidationError(FN, 'parts', `all ${first.count} shards`, sorted.map((q) => q.record.index));
  const withFrames = sorted.filter((p) => p.rows.length > 0);
  const names = withFrames[0]?.rows.map((r) => r.name) ?? [];
  const rows: RenderedRow[] = names.map((name, j) => {
    const pieces = withFrames.map((p) => {
      const row = p.rows[j];
      if (!row || row.name !== name) throw new ValidationError(FN, `parts[${p.record.index}].rows`, `the rows ${names.join(', ')}`, p.rows.map((r) => r.name));
      return row;
    });
    const frames = pieces.flatMap((r) => r.frames);
    const timed = pieces.every((r) => r.msPerFrame !== null);
    const msPerFrame = timed ? pieces.reduce((s, r) => s + r.msPerFrame! * r.frames.length, 0) / frames.length : null;
    return { name, label: pieces[0]!.label, frames, msPerFrame };
  });
  const covered = rows[0]?.frames.length ?? 0;
  if (covered !== first.total) throw new ValidationError(FN, 'parts', `shards covering all ${first.total} held-out frames`, covered);
  return { ids: first.ids, rows };
}
