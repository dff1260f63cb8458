import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../backend/tf.js';
import { initBackend } from '../backend/init.js';
import { FormatError, ValidationError } from '../errors.js';
import { Linear } from '../nn/layers.js';
import { Adam } from '../optim/adam.js';
import { Rng } from '../random.js';
import {
  CheckpointManager,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  parseCheckpointStep,
  saveCheckpoint,
} from './checkpoint.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-ckpt-'));
let runCount = 0;
const newRunDir = () => path.join(root, `run-${runCount++}`);

beforeAll(async () => {
  await initBackend('cpu');
});

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('checkpoint folders', () => {
  it('names steps and parses them back', () => {
    expect(checkpointName(123)).toBe('step-000123');
    expect(checkpointName(12345678)).toBe('step-12345678');
    expect(parseCheckpointStep('step-000123')).toBe(123);
    expect(parseCheckpointStep('step-000123.tmp-42-0')).toBeNull();
    expect(parseCheckpointStep('latest')).toBeNull();
    expect(() => checkpointName(-1)).toThrow(ValidationError);
  });

  it('saves and loads config, model, optimizer and state', () => {
    const dir = path.join(newRunDir(), 'step-000010');
    const w = tf.tensor2d([
      [1, 2],
      [3, 4.5],
    ]);
    const ids = tf.tensor1d([3, -1], 'int32');
    const m = tf.tensor1d([0.25, -0.5]);
    const rng = new Rng(7);
    rng.uniform(3);
    saveCheckpoint(dir, {
      config: { lr: 1e-4, blocks: [32, 64] },
      tensors: { 'fc.weight': w, 'embed.ids': ids },
      optimizerTensors: { 'fc.weight.exp_avg': m },
      state: { step: 10, rng: rng.getState() },
    });
    expect(fs.readdirSync(dir).sort()).toEqual(['checksums.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json']);
    const loaded = loadCheckpoint(dir);
    expect(loaded.config).toEqual({ lr: 1e-4, blocks: [32, 64] });
    expect(values(loaded.tensors['fc.weight']!)).toEqual([1, 2, 3, 4.5]);
    expect(loaded.tensors['embed.ids']!.dtype).toBe('int32');
    expect(values(loaded.optimizerTensors!['fc.weight.exp_avg']!)).toEqual([0.25, -0.5]);
    expect(loaded.state!.step).toBe(10);
    // the RNG continues the same stream after the round trip through JSON
    const resumed = Rng.fromState(loaded.state!.rng as ReturnType<Rng['getState']>);
    expect(Array.from(resumed.uniform(4))).toEqual(Array.from(rng.uniform(4)));
    tf.dispose([w, ids, m, ...Object.values(loaded.tensors), ...Object.values(loaded.optimizerTensors!)]);
    // optimizer tensors are skipped on request
    const noOpt = loadCheckpoint(dir, { optimizer: false });
    expect(noOpt.optimizerTensors).toBeUndefined();
    tf.dispose(Object.values(noOpt.tensors));
  });

  it('an nn.Module and Adam plug in through stateDict / stateTensors and resume bit for bit', () => {
    const runDir = newRunDir();
    const x = tf.tensor2d([
      [0.5, -1, 2],
      [1, 0.25, -0.5],
    ]);
    const y = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const train = (model: Linear, optimizer: Adam, steps: number) => {
      for (let i = 0; i < steps; i++) {
        optimizer.step(() => tf.losses.meanSquaredError(y, model.forward(x)) as tf.Scalar);
      }
    };
    // Run A: 3 steps, checkpoint, 2 more steps.
    const a = new Linear(3, 2, { rng: new Rng(1) });
    const optA = new Adam(a, { lr: 0.05 });
    train(a, optA, 3);
    const manager = new CheckpointManager(runDir);
    manager.save(3, {
      config: { inFeatures: 3, outFeatures: 2 },
      tensors: a.stateDict(),
      optimizerTensors: optA.stateTensors(),
      state: { step: 3, optimizer: optA.stateJson() },
    });
    train(a, optA, 2);
    // Run B: a fresh model resumes from the checkpoint and does the same 2 steps.
    const b = new Linear(3, 2, { rng: new Rng(99) });
    const optB = new Adam(b, { lr: 0.05 });
    const last = manager.loadLatest()!;
    b.loadStateDict(last.tensors);
    optB.loadState(last.optimizerTensors!, last.state!.optimizer as { step: number });
    train(b, optB, 2);
    for (const [name, t] of Object.entries(a.stateDict())) expect(values(b.stateDict()[name]!), name).toEqual(values(t));
    tf.dispose([x, y, ...Object.values(last.tensors), ...Object.values(last.optimizerTensors!)]);
    a.dispose();
    b.dispose();
    optA.dispose();
    optB.dispose();
  });

  it('a save that fails midway leaves the previous checkpoint of the same name intact', () => {
    const dir = path.join(newRunDir(), 'step-000001');
    const good = tf.tensor1d([1, 2, 3]);
    saveCheckpoint(dir, { config: { version: 1 }, tensors: { w: good }, state: { step: 1 } });
    const broken = tf.tensor1d([9, 9, 9]);
    broken.dispose(); // reading it throws while model.safetensors is being written
    expect(() =>
      saveCheckpoint(dir, { config: { version: 2 }, tensors: { a: tf.tensor1d([5]), w: broken }, state: { step: 2 } }),
    ).toThrow(/disposed/);
    const loaded = loadCheckpoint(dir);
    expect(loaded.config).toEqual({ version: 1 });
    expect(values(loaded.tensors.w!)).toEqual([1, 2, 3]);
    expect(loaded.state).toEqual({ step: 1 });
    // the temporary folder was cleaned up
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['step-000001']);
    tf.dispose([good, ...Object.values(loaded.tensors)]);
  });

  it('replacing a checkpoint of the same name swaps it only when the new one is complete', () => {
    const dir = path.join(newRunDir(), 'step-000001');
    saveCheckpoint(dir, { config: { version: 1 }, tensors: { w: tf.tensor1d([1]) } });
    saveCheckpoint(dir, { config: { version: 2 }, tensors: { w: tf.tensor1d([2]) } });
    const loaded = loadCheckpoint(dir);
    expect(loaded.config).toEqual({ version: 2 });
    expect(values(loaded.tensors.w!)).toEqual([2]);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['step-000001']);
    tf.dispose(Object.values(loaded.tensors));
  });

  it('recovers a checkpoint set aside by a save killed between its two renames', () => {
    const runDir = newRunDir();
    const dir = path.join(runDir, 'step-000005');
    saveCheckpoint(dir, { config: { version: 1 }, tensors: { w: tf.tensor1d([1]) } });
    // what a kill right after `rename(dir → dir.old-…)` leaves behind
    fs.renameSync(dir, `${dir}.old-4194305-0`);
    const loaded = loadCheckpoint(dir);
    expect(loaded.config).toEqual({ version: 1 });
    tf.dispose(Object.values(loaded.tensors));
    saveCheckpoint(dir, { config: { version: 2 }, tensors: { w: tf.tensor1d([2]) } });
    expect(fs.readdirSync(runDir)).toEqual(['step-000005']);
    expect(loadCheckpoint(dir, {}).config).toEqual({ version: 2 });
  });

  it('a process SIGKILLed in the middle of a save leaves the previous checkpoint loadable; resume picks it', () => {
    const runDir = newRunDir();
    const manager = new CheckpointManager(runDir, { keepLast: 5 });
    manager.save(1, { config: { version: 1 }, tensors: { w: tf.tensor1d([1, 1]) }, state: { step: 1 } });
    const script = path.join(root, 'killed-save.ts');
    const checkpointModule = fileURLToPath(new URL('./checkpoint.ts', import.meta.url));
    const tfModule = fileURLToPath(new URL('../backend/tf.ts', import.meta.url));
    // The child writes config.json into its temporary folder, then dies (SIGKILL, no cleanup) when the writer
    // touches the model tensors — once overwriting step-000001, once writing a new step-000002.
    fs.writeFileSync(
      script,
      `import { saveCheckpoint } from ${JSON.stringify(checkpointModule)};
import { tf } from ${JSON.stringify(tfModule)};
const tensors = {
  get w() {
    process.kill(process.pid, 'SIGKILL');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000);
    return tf.zeros([2]);
  },
};
saveCheckpoint(process.argv[2], { config: { version: 2 }, tensors, state: { step: 2 } });
`,
    );
    const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
    for (const target of ['step-000001', 'step-000002']) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', script, path.join(runDir, target)], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.signal, child.stderr).toBe('SIGKILL');
    }
    // Leftovers: two temporary folders with a config.json and no model.
    const leftovers = fs.readdirSync(runDir).filter((n) => n.includes('.tmp-'));
    expect(leftovers).toHaveLength(2);
    for (const name of leftovers) expect(fs.readdirSync(path.join(runDir, name))).toEqual(['config.json']);
    expect(listCheckpoints(runDir).map((c) => c.step)).toEqual([1]);
    expect(latestCheckpoint(runDir)).toBe(path.join(runDir, 'step-000001'));
    const resumed = manager.loadLatest()!;
    expect(resumed.state).toEqual({ step: 1 });
    expect(values(resumed.tensors.w!)).toEqual([1, 1]);
    tf.dispose(Object.values(resumed.tensors));
    // the manager removes the dead process's temporaries
    manager.prune();
    expect(fs.readdirSync(runDir).filter((n) => n !== '.lock')).toEqual(['step-000001']); // .lock: the manager's run lock
  });

  it('the manager keeps the last K and resumes from the newest complete step', () => {
    const runDir = newRunDir();
    const manager = new CheckpointManager(runDir, { keepLast: 2 });
    expect(manager.loadLatest()).toBeNull();
    for (const step of [100, 200, 300]) {
      const w = tf.fill([2], step);
      manager.save(step, { config: {}, tensors: { w }, state: { step } });
      w.dispose();
    }
    expect(manager.list().map((c) => c.step)).toEqual([200, 300]);
    // an incomplete folder with a higher step (e.g. copied by hand, model missing) is not picked
    fs.mkdirSync(path.join(runDir, 'step-000400'));
    fs.writeFileSync(path.join(runDir, 'step-000400', 'config.json'), '{}');
    const latest = manager.loadLatest()!;
    expect(latest.state!.step).toBe(300);
    expect(values(latest.tensors.w!)).toEqual([300, 300]);
    tf.dispose(Object.values(latest.tensors));
    expect(() => new CheckpointManager(runDir, { keepLast: 0 })).toThrow(ValidationError);
  });

  it('raises FormatError for missing or damaged checkpoints', () => {
    const runDir = newRunDir();
    expect(() => loadCheckpoint(path.join(runDir, 'step-000001'))).toThrow(FormatError);
    const dir = path.join(runDir, 'step-000002');
    saveCheckpoint(dir, { config: {}, tensors: { w: tf.tensor1d([1]) } });
    fs.writeFileSync(path.join(dir, 'config.json'), '{"broken": ');
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json does not match its SHA-256/);
    expect(() => loadCheckpoint(dir, { verify: false })).toThrow(/json file .*config\.json: invalid JSON/);
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    fs.truncateSync(path.join(dir, 'model.safetensors'), 20);
    expect(() => loadCheckpoint(dir)).toThrow(/does not match its SHA-256/);
    expect(() => loadCheckpoint(dir, { verify: false })).toThrow(FormatError);
    fs.rmSync(path.join(dir, 'model.safetensors'));
    expect(() => loadCheckpoint(dir)).toThrow(/missing model\.safetensors/);
    expect(() => saveCheckpoint(dir, { config: {}, tensors: null as never })).toThrow(ValidationError);
  });

  it('does not leak tensors', () => {
    const dir = path.join(newRunDir(), 'step-000001');
    const w = tf.ones([4, 4]);
    saveCheckpoint(dir, { config: {}, tensors: { w }, optimizerTensors: { m: w } });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const loaded = loadCheckpoint(dir);
      tf.dispose([...Object.values(loaded.tensors), ...Object.values(loaded.optimizerTensors!)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
  });
});
