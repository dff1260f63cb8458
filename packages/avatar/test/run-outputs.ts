/**
 * Readers of a `ca` run folder's outputs for the CLI tests: the eval numbers without wall-clock times, and every
 * rendered frame file's bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const json = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** `outputs/eval/results.json` without the wall-clock ms per frame. */
export const scores = (dir: string) => {
  const r = json(path.join(dir, 'outputs/eval/results.json'));
  return { ...r, rows: r.rows.map(({ msPerFrame: _ms, ...row }: { msPerFrame: unknown }) => row) };
};

/** Every rendered frame file (npy and PNG) of a run, by relative path → bytes. */
export const renders = (dir: string) => {
  const base = path.join(dir, 'outputs/render');
  const files = (fs.readdirSync(base, { recursive: true }) as string[]).filter((f) => /\.(npy|png)$/.test(f)).sort();
  return Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(base, f)).toString('base64')]));
};
