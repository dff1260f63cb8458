/**
 * Issue 19: a full disk. `ENOSPC` is injected (fuzz/faults.ts, in this process) at every data-writing call of a
 * checkpoint save, of the run-output writers (`writeJsonAtomic`, `writeFileAtomic`, `writePng`, `writeVideo`) and at
 * spread-out calls of a dataset synthesis over a previous dataset; each must fail with an `IoError` (errno `ENOSPC`)
 * naming the checkpoint, output or dataset path, and lose nothing: the previous checkpoint / file / dataset stays
 * readable and unchanged, no temporary is left, and once space is back the run resumes to the uninterrupted result.
 * Where this process may mount a tmpfs (root in a container), the same is checked on a real, really full one.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointManager, IoError, listCheckpoints, loadCheckpoint, readJson, readPng, tf, writeFileAtomic, writeJsonAtomic, writePng, writeVideo,
} from '@consistent-avatar/core';
import { readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { installFaults } from './faults.js';
import { leftovers } from './kill-harness.js';
import { CORE_SCENARIOS, scenarioBackend, treeDigest } from './kill-scenarios.js';

let tmp: string;
beforeAll(async () => {
  await scenarioBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-full-disk-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Run `action` with the `enospcAt`-th data write under `root` failing (and every later one); expect an IoError ENOSPC
 * naming `expectedPath`, and return it.
 */
async function expectFullDisk(root: string, enospcAt: number, expectedPath: string, action: () => unknown): Promise<IoError> {
  const uninstall = installFaults({ root, enospcAt });
  let error: unknown;
  try {
    await action();
  } catch (e) {
    error = e;
  } finally {
    uninstall();
  }
  expect(error, `data write ${enospcAt}`).toBeInstanceOf(IoError);
  expect((error as IoError).errno).toBe('ENOSPC');
  expect((error as IoError).path).toBe(expectedPath);
  return error as IoError;
}

/** How many data-writing calls `fn` makes under `root` (traced, no fault). */
function countWrites(root: string, fn: () => void): number {
  const trace = path.join(tmp, `trace-${Math.random().toString(36).slice(2)}.tsv`);
  const uninstall = installFaults({ root, trace });
  try {
    fn();
  } finally {
    uninstall();
  }
  return dataWrites(trace);
}

/** The data-writing calls of a trace (fuzz/faults.ts marks them `w`). */
function dataWrites(trace: string): number {
  if (!fs.existsSync(trace)) return 0;
  const writes = fs.readFileSync(trace, 'utf8').split('\n').filter((l) => l.endsWith('\tw')).length;
  fs.rmSync(trace);
  return writes;
}

const weights = (seed: number) => ({ w: tf.tensor2d([1, 2, 3, 4, 5, 6].map((v) => v * seed), [3, 2]), b: tf.tensor1d([seed, -seed]) });

describe('a full disk during a checkpoint save', () => {
  it('every data write of a save fails with IoError ENOSPC naming the checkpoint; the previous one stays readable', async () => {
    const run = path.join(tmp, 'ckpt');
    const manager = new CheckpointManager(run, { keepLast: 2 });
    const first = weights(1), second = weights(2);
    const data = (tensors: Record<string, tf.Tensor>, step: number) => ({ config: { lr: 1 }, tensors, optimizerTensors: { 'w.exp_avg': tensors.w! }, state: { step } });
    manager.save(1, data(first, 1));
    const writes = countWrites(run, () => manager.save(2, data(second, 2)));
    fs.rmSync(path.join(run, 'step-000002'), { recursive: true });
    expect(writes).toBeGreaterThan(10);
    for (let k = 1; k <= writes; k++) {
      const error = await expectFullDisk(run, k, path.resolve(run, 'step-000002'), () => manager.save(2, data(second, 2)));
      expect(error.message).toMatch(/^save checkpoint \((prepare|\w+ [\w.]+)\) .*step-000002 failed \(ENOSPC\): no space left on the device$/);
      expect(listCheckpoints(run).map((c) => c.step)).toEqual([1]);
      const loaded = loadCheckpoint(path.join(run, 'step-000001'));
      expect(Array.from(loaded.tensors.w!.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
      tf.dispose([...Object.values(loaded.tensors), ...Object.values(loaded.optimizerTensors ?? {})]);
      expect(leftovers(run)).toEqual([]);
    }
    manager.save(2, data(second, 2)); // space is back
    expect(listCheckpoints(run).map((c) => c.step)).toEqual([1, 2]);
    manager.close();
    tf.dispose([...Object.values(first), ...Object.values(second)]);
  });

  it('a training run that hits a full disk at a checkpoint stops with IoError, then resumes to the uninterrupted result', async () => {
    const reference = await CORE_SCENARIOS.toy!(path.join(tmp, 'toy-reference'), {});
    const run = path.join(tmp, 'toy-full');
    // The 60th data write falls in the third save (each save makes about 25).
    await expectFullDisk(run, 60, path.resolve(run, 'step-000006'), () => CORE_SCENARIOS.toy!(run, {}));
    expect(listCheckpoints(run).map((c) => c.step)).toEqual([2, 4]);
    const resumed = await CORE_SCENARIOS.toy!(run, {});
    expect(resumed.weights).toBe(reference.weights);
    expect(resumed.lossLog).toEqual(reference.lossLog);
    expect(resumed.stepLosses).toEqual(reference.stepLosses.slice(4));
  });
});

describe('a full disk while writing run outputs', () => {
  const image = (v: number) => ({ width: 4, height: 4, channels: 3, data: new Float32Array(48).fill(v) });
  const writers: Array<[string, string, (file: string) => void | Promise<unknown>, (file: string) => unknown]> = [
    ['writeJsonAtomic', 'results.json', (f) => writeJsonAtomic(f, { rows: [1, 2, 3], label: 'new' }), (f) => readJson(f)],
    ['writeFileAtomic', 'report.html', (f) => writeFileAtomic(f, '<html>new</html>'), (f) => fs.readFileSync(f, 'utf8')],
    ['writePng', 'strip.png', (f) => writePng(f, image(0.75)), (f) => Array.from(readPng(f).data)],
    ['writeVideo (gifenc)', 'real.gif', (f) => writeVideo(f, [image(0.2), image(0.8)], { encoder: 'gifenc' }), (f) => fs.readFileSync(f).toString('hex')],
  ];
  for (const [name, base, write, read] of writers) {
    it(`${name}: IoError ENOSPC naming the output at every data write; the previous file is untouched`, async () => {
      const dir = path.join(tmp, 'outputs', name.replace(/\W/g, ''));
      const file = path.join(dir, base);
      await write(file);
      const previous = JSON.stringify(read(file));
      let writes = 0;
      {
        const trace = path.join(tmp, `${base}.trace`);
        const uninstall = installFaults({ root: dir, trace });
        try {
          await write(file);
        } finally {
          uninstall();
        }
        writes = dataWrites(trace);
      }
      expect(writes).toBeGreaterThan(0);
      for (let k = 1; k <= writes; k++) {
        await expectFullDisk(dir, k, file, () => write(file));
        expect(JSON.stringify(read(file))).toBe(previous);
        expect(fs.readdirSync(dir)).toEqual([base]);
      }
    });
  }
});

describe('a full disk during dataset synthesis', () => {
  it('IoError ENOSPC naming the dataset; the previous dataset is untouched; the re-run completes it', async () => {
    const out = path.join(tmp, 'synth', 'dataset');
    const options = (seed: number) => ({ out, frames: 8, size: 16, testFrames: 2, seed, supersample: 1 });
    await synthesizeDataset(options(3));
    const previous = treeDigest(out);
    const trace = path.join(tmp, 'synth.trace');
    const uninstall = installFaults({ root: path.dirname(out), trace });
    try {
      await synthesizeDataset(options(4));
    } finally {
      uninstall();
    }
    const expected = treeDigest(out);
    await synthesizeDataset(options(3));
    const writes = dataWrites(trace);
    expect(writes).toBeGreaterThan(20);
    for (const k of [1, 2, 3, Math.floor(writes / 3), Math.floor(writes / 2), Math.floor((2 * writes) / 3), writes - 1, writes]) {
      await expectFullDisk(path.dirname(out), k, out, () => synthesizeDataset(options(4)));
      expect(treeDigest(out)).toBe(previous);
      expect(fs.readdirSync(path.dirname(out))).toEqual(['dataset']);
    }
    await synthesizeDataset(options(4));
    expect(treeDigest(out)).toBe(expected);
    expect(readInstaDataset(out).frames).toHaveLength(8);
  }, 300_000);
});

/** A real tmpfs of `kib` KiB at a fresh folder, or null where mounting is not allowed. */
function mountTmpfs(kib: number): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    fs.rmdirSync(dir);
    return null;
  }
}

/** Fill `dir`'s file system to the last byte (a filler file written until ENOSPC). */
function fill(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  try {
    const block = Buffer.alloc(4096, 1);
    for (;;) fs.writeSync(fd, block);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
}

describe('a real full tmpfs (where this process may mount one)', () => {
  const mount = os.platform() === 'linux' && process.getuid?.() === 0 ? mountTmpfs(512) : null;
  afterAll(() => {
    if (!mount) return;
    execFileSync('umount', [mount]);
    fs.rmdirSync(mount);
  });
  it.skipIf(mount === null)('checkpoint save, output and synthesis on a full file system: IoError ENOSPC, nothing lost', async () => {
    const run = path.join(mount!, 'run');
    const manager = new CheckpointManager(run);
    const first = weights(1), big = { w: tf.ones([256, 256]) };
    manager.save(1, { config: {}, tensors: first });
    fill(mount!);
    expect(() => manager.save(2, { config: {}, tensors: big })).toThrow(/step-000002 failed \(ENOSPC\)/);
    expect(listCheckpoints(run).map((c) => c.step)).toEqual([1]);
    const loaded = loadCheckpoint(path.join(run, 'step-000001'));
    expect(Array.from(loaded.tensors.w!.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    tf.dispose([...Object.values(loaded.tensors), ...Object.values(first), big.w]);
    expect(leftovers(run)).toEqual([]);
    expect(() => writeJsonAtomic(path.join(mount!, 'results.json'), { big: 'x'.repeat(65536) })).toThrow(IoError);
    expect(() => writeJsonAtomic(path.join(mount!, 'results.json'), { big: 'x'.repeat(65536) })).toThrow(`write ${path.join(mount!, 'results.json')} failed (ENOSPC)`);
    await expect(synthesizeDataset({ out: path.join(mount!, 'dataset'), frames: 4, size: 16, testFrames: 1, seed: 1, supersample: 1 })).rejects.toMatchObject({ name: 'IoError', errno: 'ENOSPC' });
    expect(fs.readdirSync(mount!).sort()).toEqual(['filler', 'run']);
    manager.close();
  });
});
