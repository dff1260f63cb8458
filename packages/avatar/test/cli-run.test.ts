/**
 * The `ca` stage commands over a run folder, end to end on a tiny dataset written by `ca synth` (the quick preset):
 *
 * - `ca run --data DIR` runs every stage, writes the report, and gives the numbers `runMethod` gives with the same
 *   config (scores, TSD errors and rendered frames, value for value); re-running it is a no-op that says so;
 * - killed with SIGKILL in the middle of its FCSD training (a checkpoint exists, the stage has not finished), the same
 *   `ca run` command continues from the checkpoint and ends with byte-identical results, frames and PNGs;
 * - `ca train-fcsd` alone, killed the same way and re-run, ends with the uninterrupted run's losses and weights.
 *
 * The CLI is spawned as a child process (`node --conditions=source --import tsx packages/avatar/src/cli/ca.ts`) for
 * the kills, and called in-process (`main`) otherwise.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy, tf, useBackend } from '@consistent-avatar/core';
import { main } from '../src/cli/ca.js';
import { resolveMethodConfig, methodRunOptions } from '../src/cli/method-config.js';
import { METHOD_STAGES } from '../src/cli/method-runner.js';
import { runMethod } from '../src/pipeline/run-method.js';
import { renders, scores } from './run-outputs.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CA = path.join(ROOT, 'packages/avatar/src/cli/ca.ts');
const CONFIG = { preset: 'quick', validationFrames: 2 };

let tmp: string;
let data: string;
let configFile: string;
let reference: string;

async function ca(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  return { code, out, err };
}

/** Spawn `ca argv`; SIGKILL it as soon as `when()` holds. Resolves with how it ended. */
function spawnCa(argv: string[], when?: () => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CA, ...argv], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = when ? setInterval(() => when() && child.kill('SIGKILL'), 25) : null;
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const runArgs = (dir: string) => ['run', '--run', dir, '--data', data, '--config', configFile, '--backend', 'wasm', '--no-browser-check'];
const done = (dir: string, stage: string) => fs.existsSync(path.join(dir, 'outputs', stage, 'done.json'));
const json = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

beforeAll(async () => {
  await useBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-run-'));
  data = path.join(tmp, 'data');
  configFile = path.join(tmp, 'quick.json');
  fs.writeFileSync(configFile, JSON.stringify(CONFIG));
  const synth = await ca(['synth', '--out', data, '--frames', '10', '--size', '32', '--test-frames', '3', '--seed', '2', '--identity', '1', '--supersample', '1']);
  expect(synth.code).toBe(0);
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ca run', () => {
  it('runs every stage on a folder written by ca synth, gives runMethod\'s numbers, and is a no-op once finished', async () => {
    reference = path.join(tmp, 'reference');
    const tensors = tf.memory().numTensors;
    const first = await ca(runArgs(reference));
    expect(first.code, first.err).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors); // every network the stages loaded is released
    for (const stage of METHOD_STAGES) expect(done(reference, stage), stage).toBe(true);
    expect(fs.existsSync(path.join(reference, 'outputs/report/report.html'))).toBe(true);
    const manifest = json(path.join(reference, 'manifest.json'));
    expect(Object.keys(manifest.timings).sort()).toEqual(METHOD_STAGES.map((s) => `${s}Ms`).sort());
    expect(manifest.backend).toBe('wasm');
    expect(json(path.join(reference, 'config.json'))).toMatchObject({ ...CONFIG, seed: 0, data, layout: 'insta', backbone: null });

    // The same config through runMethod in one call: the same scores, TSD errors and frames.
    const config = resolveMethodConfig('test', CONFIG);
    const direct = await runMethod(methodRunOptions(config, { data, out: path.join(tmp, 'direct'), layout: 'insta', backbone: null }));
    const cli = scores(reference);
    expect(cli.rows.map((r: { name: string }) => r.name)).toEqual(direct.rows.map((r) => r.name));
    expect(cli.rows.map((r: { scores: unknown }) => r.scores)).toEqual(JSON.parse(JSON.stringify(direct.rows.map((r) => r.scores))));
    expect(cli.tsd).toEqual(JSON.parse(JSON.stringify(direct.tsd)));
    for (const row of direct.rows) {
      const npy = readNpy(path.join(reference, 'outputs/render', `${row.name}.npy`));
      expect(Array.from(npy.data as Float32Array)).toEqual(row.frames.flatMap((f) => Array.from(f.data)));
    }

    const before = fs.readFileSync(path.join(reference, 'outputs/eval/results.json'));
    const again = await ca(runArgs(reference));
    expect(again.code).toBe(0);
    expect(again.err.match(/: already finished \(/g)).toHaveLength(METHOD_STAGES.length);
    expect(fs.readFileSync(path.join(reference, 'outputs/eval/results.json'))).toEqual(before);
  }, 240_000);

  it('killed (SIGKILL) during its FCSD training, the same command resumes from the checkpoint to identical outputs', async () => {
    const dir = path.join(tmp, 'killed-run');
    const checkpoint = path.join(dir, 'checkpoints/fcsd/backbone/step-000002');
    const killed = await spawnCa(runArgs(dir), () => fs.existsSync(checkpoint));
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(done(dir, 'align')).toBe(true);
    expect(done(dir, 'train-fcsd')).toBe(false);
    const resumed = await spawnCa(runArgs(dir));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/fit-proxy: already finished/);
    expect(scores(dir)).toEqual(scores(reference));
    expect(renders(dir)).toEqual(renders(reference));
  }, 240_000);
});

describe('ca train-fcsd', () => {
  it('killed (SIGKILL) after its first checkpoint, the same command resumes to the uninterrupted losses and weights', async () => {
    // The reference run up to align, without stage 3.
    const dir = path.join(tmp, 'killed-fcsd');
    fs.cpSync(reference, dir, { recursive: true });
    // The copy is a new folder nobody holds: drop the lock files copied with it (this process's trainers hold the
    // reference's checkpoint folders until it exits).
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) if (path.basename(f) === '.lock') fs.rmSync(path.join(dir, f));
    for (const sub of ['checkpoints/fcsd', 'checkpoints/lcm', 'checkpoints/refiner', ...['train-fcsd', 'distill', 'render', 'eval', 'report'].map((s) => `outputs/${s}`)]) {
      fs.rmSync(path.join(dir, sub), { recursive: true, force: true });
    }
    const argv = ['train-fcsd', '--run', dir, '--backend', 'wasm'];
    const checkpoint = path.join(dir, 'checkpoints/fcsd/backbone/step-000002');
    const killed = await spawnCa(argv, () => fs.existsSync(checkpoint));
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(done(dir, 'train-fcsd')).toBe(false);
    const resumed = await spawnCa(argv);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(json(path.join(dir, 'outputs/train-fcsd/done.json')).extra).toEqual(json(path.join(reference, 'outputs/train-fcsd/done.json')).extra);
    for (const phase of ['backbone', 'conditions']) {
      const last = (d: string) => fs.readFileSync(path.join(d, 'checkpoints/fcsd', phase, 'step-000004/model.safetensors'));
      expect(last(dir).equals(last(reference)), phase).toBe(true);
    }
    const noop = await ca(argv);
    expect(noop.code).toBe(0);
    expect(noop.err).toMatch(/train-fcsd: already finished/);
  }, 240_000);
});

describe('ca stage commands refuse bad input', () => {
  it('names the config field, the missing stage, and refuses unknown flags (exit 1, stderr)', async () => {
    const bad = (name: string, text: string) => {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, text);
      return file;
    };
    const cases: [string[], RegExp][] = [
      [['run', '--run', path.join(tmp, 'x1'), '--data', data, '--config', bad('a.json', '{"fcsd": {"batchSize": 0}}')], /ca run: argument 'config\.fcsd\.batchSize' expected .*got 0/],
      [['run', '--run', path.join(tmp, 'x2'), '--data', data, '--config', bad('b.json', '{"sede": 1}')], /ca run: argument 'config\.sede' expected a known field \(preset, seed, /],
      [['fit-proxy', '--run', path.join(tmp, 'x3'), '--data', data, '--config', bad('c.json', '{"proxy": {"steps": -1}}')], /ca fit-proxy: argument 'config\.proxy\.steps' expected .*got -1/],
      [['tsd', '--run', path.join(tmp, 'x4'), '--data', data, '--config', bad('d.json', '{"tsdm": {"iterations": 2.5}}')], /ca tsd: argument 'config\.tsdm\.iterations'/],
      [['run', '--run', path.join(tmp, 'x5'), '--data', data, '--config', bad('e.json', '{"seed": 1,\n  "preset": }')], /json file .*e\.json: invalid JSON at line 2/],
      [['run', '--run', path.join(tmp, 'x6'), '--config', configFile], /ca run: argument '--data' expected a dataset folder/],
      [['tsd', '--run', path.join(tmp, 'x7'), '--data', data, '--config', configFile, '--backend', 'wasm'], /'fit-proxy' has finished \(run `ca fit-proxy/],
      [['run', '--run', reference, '--seed', '5'], /ca run: argument 'config\.seed' expected 0 as in .*config\.json.*use a fresh --run folder/],
      [['run', '--run', path.join(tmp, 'x8'), '--nope'], /error: unknown option '--nope'/],
      [['train-fcsd', '--run', path.join(tmp, 'x9'), 'extra'], /error: too many arguments for 'train-fcsd'/],
    ];
    for (const [argv, message] of cases) {
      const r = await ca(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
  }, 60_000);
});
