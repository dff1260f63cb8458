/**
 * `ca render --shard` and `ca eval --shard` as separate processes, merged by `ca merge --stage render|eval`, give the
 * unsharded run's outputs: the same rendered frames (npy and PNG bytes) and the same results.json numbers.
 *
 * The reference is a `ca run` on a tiny `ca synth` folder (quick preset, 3 held-out frames, render batches of 2: the
 * shards are batches {0, 1} and {2}). Its folder, with outputs/render, eval and report removed, is a run folder whose
 * `distill` has finished; the shards run on copies of it (as jobs on other machines would), two at a time.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@consistent-avatar/core';
import { main } from '../src/cli/ca.js';
import { renders, scores } from './run-outputs.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CA = path.join(ROOT, 'packages/avatar/src/cli/ca.ts');

let tmp: string;

async function ca(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(argv, { writeOut: () => {}, writeErr: (t) => (err += t) });
  return { code, err };
}

/** Spawn `ca argv` as its own process (extra environment variables in `env`). */
function caProcess(argv: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CA, ...argv], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

const json = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const copy = (from: string, to: string) => fs.cpSync(from, to, { recursive: true });

beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-shards-'));
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ca render / ca eval --shard, ca merge --stage render|eval', () => {
  it('two shard processes of each, merged, equal the unsharded run (PNG and npy bytes, results.json numbers)', async () => {
    const data = path.join(tmp, 'data');
    const config = path.join(tmp, 'quick.json');
    fs.writeFileSync(config, JSON.stringify({ preset: 'quick', validationFrames: 2, renderBatchSize: 2 }));
    expect((await ca(['synth', '--out', data, '--frames', '10', '--size', '32', '--test-frames', '3', '--seed', '3', '--identity', '2', '--supersample', '1'])).code).toBe(0);
    const whole = path.join(tmp, 'whole');
    const run = await ca(['run', '--run', whole, '--data', data, '--config', config, '--backend', 'wasm', '--no-browser-check']);
    expect(run.err).not.toMatch(/^ca: /m);
    expect(run.code).toBe(0);

    // A run folder whose distill has finished, on two "machines".
    const sharded = path.join(tmp, 'sharded'), second = path.join(tmp, 'sharded-1');
    copy(whole, sharded);
    for (const stage of ['render', 'eval', 'report']) fs.rmSync(path.join(sharded, 'outputs', stage), { recursive: true });
    copy(sharded, second);
    const renderShards = await Promise.all([
      caProcess(['render', '--run', sharded, '--shard', '0/2', '--backend', 'wasm']),
      caProcess(['render', '--run', second, '--shard', '2', '--backend', 'wasm'], { JOB_COMPLETION_INDEX: '1' }),
    ]);
    for (const r of renderShards) expect(r.stderr).not.toMatch(/^ca: /m);
    expect(renderShards.map((r) => r.code)).toEqual([0, 0]);
    expect(json(path.join(sharded, 'outputs/render-shards/part-0-of-2/shard.json'))).toMatchObject({ start: 0, end: 2, total: 3, batchSize: 2 });
    expect(json(path.join(second, 'outputs/render-shards/part-1-of-2/shard.json'))).toMatchObject({ start: 2, end: 3 });
    expect(fs.existsSync(path.join(sharded, 'outputs/render/done.json'))).toBe(false); // a shard finishes no stage

    // Eval before the render is merged names what to run.
    expect((await ca(['eval', '--run', sharded, '--shard', '0/2'])).err).toMatch(/'render' has finished/);
    const mergedRender = await ca(['merge', '--run', sharded, '--stage', 'render', sharded, second]);
    expect(mergedRender.err).not.toMatch(/^ca: /m);
    expect(renders(sharded)).toEqual(renders(whole));

    copy(sharded, second + '-eval');
    const evalShards = await Promise.all([
      caProcess(['eval', '--run', sharded, '--shard', '0/2', '--backend', 'wasm']),
      caProcess(['eval', '--run', second + '-eval', '--shard', '2', '--backend', 'wasm'], { SLURM_ARRAY_TASK_ID: '1' }),
    ]);
    for (const r of evalShards) expect(r.stderr).not.toMatch(/^ca: /m);
    expect(evalShards.map((r) => r.code)).toEqual([0, 0]);
    // One shard alone is refused (every shard exactly once).
    expect((await ca(['merge', '--run', sharded, '--stage', 'eval'])).err).toMatch(/all 2 eval shards/);
    const mergedEval = await ca(['merge', '--run', sharded, '--stage', 'eval', sharded, second + '-eval']);
    expect(mergedEval.err).not.toMatch(/^ca: /m);
    expect(mergedEval.code).toBe(0);
    expect(scores(sharded)).toEqual(scores(whole));
    expect(scores(whole).rows.map((r: { scores: { temporal: { curve: number[] } } }) => r.scores.temporal.curve.length)).toEqual(scores(whole).rows.map(() => 2));
  }, 300_000);
});
