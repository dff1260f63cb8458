/**
 * Issue 19: kill-and-resume during a checkpoint write of every trainer that checkpoints — `trainTsdm`, `trainFcsd`
 * (backbone phase), `distillFcsdLcm`, `trainFcsdRefiner`, the metrics pose / expression trainer
 * `trainPoseExpressionEstimator` and the proxy fitter `fitProxyAvatar` (kill-scenarios-stages.ts: checkpoints
 * every 2 steps, `keepLast` 2). Each run is traced once, then killed (SIGKILL, fuzz/faults.ts) in its third save (the
 * first that prunes) before the last call of each phase — the weights, the optimiser moments, `state.json`,
 * `checksums.json` written but not yet renamed, the folder not yet renamed into place, the pruning before and after
 * its first call, the proxy's `loss.json` (written just before the third save) — and resumed in this process. After each kill every listed checkpoint
 * loads with its checksums verified; after each resume the final weights and the loss log are bit-identical to the
 * uninterrupted run's, the re-run steps' losses are its last ones, and no temporary is left.
 *
 * By default every trainer is killed at three of those phases (the weights being written, `checksums.json` written
 * but the folder not renamed, the pruning; the proxy also in its `loss.json`), to keep the suite's run time modest —
 * kill-resume-core.test.ts kills the same save at every phase; `KILL_SWEEP=all` kills every trainer at every phase.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killThenResume, pickKillPoints, runChild, saveWindow } from './kill-harness.js';
import { scenarioBackend } from './kill-scenarios.js';
import { STAGE_SCENARIOS, prepareProxyDataset } from './kill-scenarios-stages.js';

let tmp: string;
let dataset: string;

beforeAll(async () => {
  await scenarioBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-kill-trainers-'));
  dataset = await prepareProxyDataset(path.join(tmp, 'proxy-data'));
}, 120_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PHASES = ['write model.safetensors', 'write optimizer.safetensors', 'write state.json', 'write checksums.json', 'swap', 'prune'];
/** The phases the trainers added last are killed at unless `KILL_SWEEP=all`. */
const FEW_PHASES = ['write model.safetensors', 'write checksums.json', 'prune'];
const SWEEP_ALL = process.env.KILL_SWEEP === 'all';
// Every phase of the save itself is killed in every run by kill-resume-core.test.ts (the same saveTrainingCheckpoint);
// here each trainer is killed at three of them by default (the suite's time budget), at all with KILL_SWEEP=all.
const TRAINER_PHASES = SWEEP_ALL ? PHASES : FEW_PHASES;
const PHASES_OF: Record<string, string[]> = {
  tsdm: TRAINER_PHASES, fcsd: TRAINER_PHASES, lcm: TRAINER_PHASES, proxy: [...TRAINER_PHASES, 'loss log'],
  refiner: TRAINER_PHASES, 'pose-expression': TRAINER_PHASES,
};

describe('kill during a trainer\'s checkpoint write, then resume', () => {
  for (const name of ['tsdm', 'fcsd', 'lcm', 'refiner', 'pose-expression', 'proxy']) {
    it(`${name}: readable after every kill, bit-identical after every resume`, async () => {
      const reference = runChild(name, path.join(tmp, name, 'reference', 'run'), { dataset });
      expect(reference.outcome, reference.stderr.slice(-2000)).not.toBeNull();
      const ref = reference.outcome!;
      const phasesToKill = PHASES_OF[name]!;
      const points = pickKillPoints(reference.events, saveWindow(reference.events, 3), 'last').filter((p) => phasesToKill.includes(p.phase.replace(/ \(.*/, '')));
      // The proxy fitter writes loss.json just before each checkpoint: the one before the third save ends save 2's window.
      if (name === 'proxy') points.unshift(...pickKillPoints(reference.events, saveWindow(reference.events, 2), 'last').filter((p) => p.phase.startsWith('loss log')));
      const phases = new Set(points.map((p) => p.phase.replace(/ \(.*/, '')));
      for (const phase of phasesToKill) expect(phases, phase).toContain(phase);
      const failures: string[] = [];
      for (const { n, phase } of points) {
        const runDir = path.join(tmp, name, `kill-${n}`, 'run');
        // The proxy fitter's loss.json must end as the final loss log too.
        const after = () => (name === 'proxy' && JSON.stringify(JSON.parse(fs.readFileSync(path.join(runDir, 'loss.json'), 'utf8'))) !== JSON.stringify(ref.lossLog) ? ['loss.json is not the final loss log'] : []);
        failures.push(...(await killThenResume({ scenario: name, runDir, n, phase, reference: ref, dataset, after, resume: () => STAGE_SCENARIOS[name]!(runDir, { dataset }) })));
      }
      console.log(`${name} kill-and-resume: ${points.length} kill points (${[...phases].join(', ')}), ${failures.length} failures`);
      expect(failures).toEqual([]);
    }, 1_200_000);
  }
});
