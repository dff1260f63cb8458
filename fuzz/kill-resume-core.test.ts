/**
 * Issue 19: kill-and-resume during every checkpoint write, core's part (`saveTrainingCheckpoint` / `resumeTraining`
 * through `CheckpointManager`, `keepLast` 2). A tiny seeded training run (`toy` in kill-scenarios.ts, checkpoints at
 * steps 2, 4, 6, 8) is traced once, then killed (SIGKILL, fuzz/faults.ts) before each file-system call of the run
 * folder's lock and at the first and last call of every phase (and every call of the pruning) of the first save (no
 * checkpoint yet) and of the third save (the first that prunes) — then resumed. After each kill, every checkpoint the folder
 * lists loads with its checksums verified; after each resume the final weights, the loss log and the losses of the
 * re-run steps are bit-identical to the uninterrupted run's, and no temporary is left.
 * KILL_SWEEP=all kills before every call of those saves instead (a run of writes to one file by its first and last).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killThenResume, pickKillPoints, runChild, saveWindow, type ChildRun } from './kill-harness.js';
import { CORE_SCENARIOS, scenarioBackend } from './kill-scenarios.js';

const MODE = (process.env.KILL_SWEEP ?? 'edges') as 'all' | 'edges';
let tmp: string;
let reference: ChildRun;

beforeAll(async () => {
  await scenarioBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-kill-core-'));
  reference = runChild('toy', path.join(tmp, 'reference', 'run'));
  if (!reference.outcome) throw new Error(`the uninterrupted run failed: ${reference.stderr.slice(-2000)}`);
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('kill during a checkpoint write, then resume (core: resumeTraining / saveTrainingCheckpoint)', () => {
  it('the reference run saved 4 checkpoints and kept the last 2', () => {
    const run = path.join(tmp, 'reference', 'run');
    expect(fs.readdirSync(run).filter((n) => n.startsWith('step-')).sort()).toEqual(['step-000006', 'step-000008']);
    expect(reference.outcome!.stepLosses).toHaveLength(8);
  });

  it(`every ${MODE === 'all' ? 'call' : 'phase edge'} of the lock, the first save and the pruning third save: readable after the kill, bit-identical after the resume`, async () => {
    const events = reference.events;
    const firstSave = saveWindow(events, 1);
    const points = [
      ...pickKillPoints(events, [1, firstSave[0] - 1], 'all'), // the run folder and its lock
      ...pickKillPoints(events, firstSave, MODE),
      ...pickKillPoints(events, saveWindow(events, 3), MODE),
    ];
    const phases = new Set(points.map((p) => p.phase.replace(/ \(.*/, '')));
    for (const phase of ['lock', 'prepare', 'write config.json', 'write model.safetensors', 'write optimizer.safetensors', 'write state.json', 'write checksums.json', 'swap', 'prune']) {
      expect(phases, phase).toContain(phase);
    }
    const failures: string[] = [];
    for (const { n, phase } of points) {
      const runDir = path.join(tmp, `kill-${n}`, 'run');
      failures.push(...(await killThenResume({ scenario: 'toy', runDir, n, phase, reference: reference.outcome!, resume: () => CORE_SCENARIOS.toy!(runDir, {}) })));
    }
    console.log(`core kill-and-resume: ${points.length} kill points (${[...phases].join(', ')}), ${failures.length} failures`);
    expect(failures).toEqual([]);
  }, 1_800_000);
});
