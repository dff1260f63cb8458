/** The run folder: its layout, the config pin, stage records, the manifest's timings, and the lock's release. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRunFolder } from './run-folder.js';

let dir: string;
beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'run-folder-')), 'run');
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

const quiet = { print: () => {} };

describe('openRunFolder', () => {
  it('lays out the folder, records finished stages and their times in the manifest, and appends the log', () => {
    const run = openRunFolder(dir, { command: 'ca tsd', config: { seed: 3, tsdm: { size: 16 } }, seed: 3, ...quiet });
    for (const sub of ['checkpoints', 'logs', 'outputs']) expect(fs.statSync(path.join(dir, sub)).isDirectory()).toBe(true);
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual({ seed: 3, tsdm: { size: 16 } });
    expect(run.finished('tsd')).toBeNull();
    run.finish('tsd', { ms: 1234.4, extra: { frames: 8 } });
    run.finish('align', { ms: 10 });
    expect(run.finished('tsd')).toMatchObject({ stage: 'tsd', ms: 1234, command: 'ca tsd', extra: { frames: 8 } });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.timings).toEqual({ alignMs: 10, tsdMs: 1234 });
    expect(manifest.seed).toBe(3);
    expect(Object.keys(manifest.extra.stages)).toEqual(['align', 'tsd']);
    run.log('hello');
    expect(fs.readFileSync(path.join(dir, 'logs', 'tsd.log'), 'utf8')).toMatch(/Z hello\n$/);
    expect(() => run.stageDir('../x')).toThrow(/openRunFolder: argument 'stage' expected a lower-case stage name/);
    run.close();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
  });

  it('refuses another config for the same folder, naming the first field that differs, and accepts the same one', () => {
    openRunFolder(dir, { command: 'ca run', config: { seed: 0, fcsd: { batchSize: 2 } }, seed: 0, ...quiet }).close();
    expect(() => openRunFolder(dir, { command: 'ca run', config: { seed: 0, fcsd: { batchSize: 4 } }, seed: 0, ...quiet })).toThrow(
      /ca run: argument 'config\.fcsd\.batchSize' expected 2 as in .*config\.json \(this run folder's config; use a fresh --run folder for another config\), got 4/,
    );
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
    const again = openRunFolder(dir, { command: 'ca eval', config: { seed: 0, fcsd: { batchSize: 2 } }, seed: 0, ...quiet });
    again.close();
  });
});
