/**
 * `tracking.json`, the record `ca track` writes into a tracked dataset: the model it fitted (`model`: the synthetic
 * head or a FLAME file), the fitted identity `shape`, the crop and per-frame landmarks. {@link readTrackedModel}
 * tells stage 1 which head model a tracked folder's parameters belong to.
 *
 * @example
 * ```ts
 * import { readTrackedModel } from '@consistent-avatar/proxy';
 * const tracked = readTrackedModel('data/me'); // { kind: 'synthetic', shape: Float32Array(50) } or null
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, readJson } from '@consistent-avatar/core';

/**
 * The label `ca track` writes in `tracking.json` when it fitted the embedded synthetic head.
 * @example
 * ```ts
 * const synthetic = readJson<{ model: string }>('data/me/tracking.json').model === TRACKED_SYNTHETIC_LABEL;
 * ```
 */
export const TRACKED_SYNTHETIC_LABEL = 'synthetic head (embedded default, not FLAME)';

/**
 * The head model of a `ca track` dataset: `{ kind: 'synthetic', shape }` when it was fitted to the embedded synthetic
 * head (identity 0's template; `shape` = the fitted identity coefficients), `{ kind: 'flame', file }` for a FLAME
 * fit, null when the folder has no `tracking.json`.
 * @throws FormatError naming the file when `tracking.json` is malformed.
 * @example
 * ```ts
 * const tracked = readTrackedModel(dataset.root);
 * if (tracked?.kind === 'synthetic') console.log(tracked.shape.length);
 * ```
 */
export function readTrackedModel(root: string): { kind: 'synthetic'; shape: Float32Array } | { kind: 'flame'; model: string } | null {
  if (typeof root !== 'string' || root.length === 0) throw new ValidationError('readTrackedModel', 'root', 'a dataset folder', root);
  const file = path.join(root, 'tracking.json');
  if (!fs.existsSync(file)) return null;
  const record = readJson(file) as { model?: unknown; shape?: unknown };
  if (typeof record?.model !== 'string') throw new FormatError('json', file, "'model' should be a string (the model ca track fitted)");
  if (record.model !== TRACKED_SYNTHETIC_LABEL) return { kind: 'flame', model: record.model };
  if (!Array.isArray(record.shape) || !record.shape.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new FormatError('json', file, "'shape' should be the fitted identity coefficients (finite numbers)");
  }
  return { kind: 'synthetic', shape: Float32Array.from(record.shape as number[]) };
}
