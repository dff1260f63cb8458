/**
 * Issue 19: a kill during dataset synthesis's file-writing phase, through the public API only (`synthesizeDataset`,
 * `readInstaDataset`), so it holds whatever file layout the synthesis writes. The `resynthesis` scenario
 * (kill-scenarios-stages.ts) synthesises seed 3 into `run/dataset`, then seed 4 over it; it is traced once, then
 * killed (SIGKILL, fuzz/faults.ts) before the last file-system call (with `KILL_SWEEP=all` also the first) of every phase of both syntheses
 * (every file kind of the dataset, the rename into place, the previous dataset set aside and removed). After each kill
 * the dataset folder is absent or a complete dataset — the seed-3 one or the seed-4 one, byte for byte — never a
 * partial one; after a re-run of the seed-4 synthesis the folder is byte-identical to the uninterrupted run's and
 * nothing of the killed run is left.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { pickKillPoints, runChild, LEFTOVER } from './kill-harness.js';
import { scenarioBackend, treeDigest } from './kill-scenarios.js';
import { STAGE_SCENARIOS } from './kill-scenarios-stages.js';

let tmp: string;
beforeAll(async () => {
  await scenarioBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-kill-synth-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('kill during dataset synthesis, then re-run', () => {
  it('after every kill the dataset is absent or complete; every re-run gives the uninterrupted dataset', async () => {
    const reference = runChild('resynthesis', path.join(tmp, 'reference', 'run'));
    expect(reference.outcome, reference.stderr.slice(-2000)).not.toBeNull();
    const seed3 = (await synthesizeDataset({ out: path.join(tmp, 'seed3', 'dataset'), frames: 8, size: 16, testFrames: 2, seed: 3, supersample: 1 })).root;
    const complete = new Map([[treeDigest(seed3), 'the previous (seed 3) dataset'], [reference.outcome!.weights, 'the new (seed 4) dataset']]);
    expect(complete.size).toBe(2);

    // Before the last call of every phase by default (the suite's time budget); KILL_SWEEP=all also before the first.
    const points = pickKillPoints(reference.events, [1, reference.events.length], process.env.KILL_SWEEP === 'all' ? 'edges' : 'last');
    const phases = new Set(points.map((p) => p.phase.replace(/ \(.*/, '')));
    for (const phase of ['dataset prepare', 'dataset synthetic.json', 'dataset images', 'dataset transforms.json', 'dataset swap', 'dataset cleanup']) {
      expect(phases, phase).toContain(phase);
    }
    const failures: string[] = [];
    for (const { n, phase } of points) {
      const run = path.join(tmp, `kill-${n}`, 'run');
      const killed = runChild('resynthesis', run, { killAt: n });
      if (killed.signal !== 'SIGKILL') {
        failures.push(`call ${n} (${phase}): the child was not killed (status ${killed.status}) ${killed.stderr.slice(-500)}`);
        continue;
      }
      const dataset = path.join(run, 'dataset');
      if (fs.existsSync(dataset)) {
        const found = complete.get(treeDigest(dataset));
        if (!found) failures.push(`call ${n} (${phase}): a dataset folder that is neither complete dataset`);
        try {
          readInstaDataset(dataset);
        } catch (error) {
          failures.push(`call ${n} (${phase}): the dataset left by the kill does not read: ${(error as Error).message}`);
        }
      }
      try {
        const rerun = await STAGE_SCENARIOS.synthesis!(run, {});
        if (rerun.weights !== reference.outcome!.weights) failures.push(`call ${n} (${phase}): the re-run's dataset differs from the uninterrupted one`);
        const left = fs.readdirSync(run).filter((name) => name !== 'dataset' || LEFTOVER.test(name));
        if (left.length > 0) failures.push(`call ${n} (${phase}): left after the re-run: ${left.join(', ')}`);
      } catch (error) {
        failures.push(`call ${n} (${phase}): the re-run failed: ${(error as Error).message}`);
      }
      fs.rmSync(path.dirname(run), { recursive: true, force: true });
    }
    console.log(`synthesis kill-and-rerun: ${points.length} kill points (${[...phases].join(', ')}), ${failures.length} failures`);
    expect(failures).toEqual([]);
  }, 1_800_000);
});
