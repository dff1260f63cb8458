/**
 * `ca fit-proxy --flame DIR` (and `ca run --flame`): stage 1 on a dataset folder without `synthetic.json` (a real
 * INSTA / NeRFace / IMAvatar folder has none) with the user's FLAME files; a folder lacking a file is named.
 * The FLAME folder is written here from the synthetic head's FLAME arrays (`flame2020.npz` with `vt` / `ft`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, writeNpz } from '@consistent-avatar/core';
import { buildSyntheticTopology, syntheticFlameArrays } from '@consistent-avatar/proxy';
import { main } from '../src/cli/ca.js';

let tmp: string;

async function ca(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(argv, { writeOut: () => {}, writeErr: (t) => (err += t) });
  return { code, err };
}

beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-flame-'));
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ca fit-proxy --flame', () => {
  it('fits stage 1 on a folder without synthetic.json with the user\'s FLAME; names what a FLAME folder lacks', async () => {
    const data = path.join(tmp, 'data');
    expect((await ca(['synth', '--out', data, '--frames', '6', '--size', '32', '--test-frames', '2', '--seed', '1', '--supersample', '1'])).code).toBe(0);
    fs.rmSync(path.join(data, 'synthetic.json')); // now like a real tracked dataset
    const flame = path.join(tmp, 'flame');
    fs.mkdirSync(flame);
    const arrays = syntheticFlameArrays(buildSyntheticTopology());
    const dtype = (data: unknown) => (data instanceof Float32Array ? 'float32' as const : data instanceof Uint32Array ? 'uint32' as const : 'int32' as const);
    writeNpz(path.join(flame, 'flame2020.npz'), Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, { dtype: dtype(a.data), shape: [...a.shape], data: a.data as Float32Array }])));
    const config = path.join(tmp, 'quick.json');
    fs.writeFileSync(config, JSON.stringify({ preset: 'quick', validationFrames: 1 }));

    const without = await ca(['fit-proxy', '--run', path.join(tmp, 'no-flame'), '--data', data, '--config', config, '--backend', 'wasm']);
    expect(without.code).toBe(1);
    expect(without.err).toMatch(/options\.model/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const missing = await ca(['fit-proxy', '--run', path.join(tmp, 'missing'), '--data', data, '--config', config, '--flame', empty, '--backend', 'wasm']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/missing .*flame2020\.npz/);

    const run = path.join(tmp, 'run');
    const fitted = await ca(['fit-proxy', '--run', run, '--data', data, '--config', config, '--flame', flame, '--backend', 'wasm']);
    expect(fitted.err).not.toMatch(/^ca: /m);
    expect(fitted.code).toBe(0);
    expect(fs.existsSync(path.join(run, 'outputs/fit-proxy/done.json'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).flame).toBe(flame);
    // A later stage reads the FLAME folder from the run folder's record (no --flame needed).
    const tsd = await ca(['tsd', '--run', run, '--backend', 'wasm']);
    expect(tsd.err).not.toMatch(/^ca: /m);
    expect(tsd.code).toBe(0);
  }, 120_000);
});
