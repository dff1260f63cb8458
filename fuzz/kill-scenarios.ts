/**
 * The training runs and the dataset synthesis that the kill-and-resume tests interrupt (`fuzz/kill-resume.test.ts`):
 * each writes its checkpoints (or its dataset) under one folder and returns a fingerprint of its final result — the
 * SHA-256 of the final weights (every tensor of the state dict, sorted by name, float32 bytes), the loss log and the
 * losses of the steps this call ran — so an interrupted-and-resumed run can be compared with an uninterrupted one
 * bit for bit. Every run is tiny (8² – 16² maps, 6 – 8 steps, a checkpoint every 2 steps, `keepLast` 2, so the
 * third save prunes) and fully seeded. The same functions run in the killed child (`fuzz/kill-child.ts`) and in the
 * test's own process for the resume.
 *
 * @example
 * ```ts
 * import { loadScenario } from './kill-scenarios.js';
 * const outcome = await (await loadScenario('toy'))!('/tmp/run', {}); // { weights: 'ab12…', lossLog: [...], stepLosses: [...] }
 * ```
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AdamW, CheckpointManager, Rng, TrainingLoopState, nn, resumeTraining, saveTrainingCheckpoint, tf, useBackend,
} from '@consistent-avatar/core';

/** What a scenario returns: enough to tell two final results apart bit for bit. */
export interface Outcome {
  /** SHA-256 (hex) of the final weights, or of the dataset's files for `synthesis`. */
  weights: string;
  lossLog: unknown;
  /** Losses of the steps run by this call (a resumed call starts after the checkpoint). */
  stepLosses: number[];
}

/** Extra inputs a scenario needs (the proxy fit's dataset folder). */
export interface ScenarioInputs {
  dataset?: string;
}

/** SHA-256 of named tensors' float32 bytes, names sorted. */
export function weightsDigest(tensors: Record<string, tf.Tensor>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const data = tensors[name]!.dataSync();
    hash.update(name);
    hash.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/** SHA-256 of every file under `dir` (relative names and bytes, sorted by name); folders and symlinks by name. */
export function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = path.join(rel, entry.name);
      hash.update(`${entry.isDirectory() ? 'd' : entry.isFile() ? 'f' : 'o'}:${child}\n`);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) hash.update(fs.readFileSync(path.join(dir, child)));
    }
  };
  walk('');
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------

/** core alone: a 2-layer MLP on a fixed regression batch with AdamW, TrainingLoopState and resumeTraining. */
async function toy(runDir: string): Promise<Outcome> {
  const ITERATIONS = 8;
  const model = new nn.ModuleList([new nn.Linear(3, 8, { rng: new Rng(1) }), new nn.Linear(8, 1, { rng: new Rng(2) })]);
  const forward = (x: tf.Tensor2D) => model.at(1).forward(tf.relu(model.at(0).forward(x)) as tf.Tensor2D) as tf.Tensor2D; // [4, 1]
  const optimizer = new AdamW(model, { lr: 0.01 });
  const loop = new TrainingLoopState(new Rng(3).fork('toy'), 2, ITERATIONS);
  const config = { iterations: ITERATIONS, lr: 0.01 };
  const manager = new CheckpointManager(runDir, { keepLast: 2 });
  const run = { model, optimizer, config, fn: 'toy', validateState: (s: Record<string, unknown>) => loop.checkState(s) };
  try {
    const resumed = resumeTraining(manager, run);
    if (resumed) loop.restore(resumed.state);
    const stepLosses: number[] = [];
    while (loop.step < ITERATIONS) {
      const x = tf.tensor2d(loop.rng.normal(4 * 3), [4, 3]);
      const loss = optimizer.step(() => tf.tidy(() => tf.mean(tf.square(tf.sub(forward(x), tf.sum(x, 1, true)))) as tf.Scalar)).loss;
      x.dispose();
      stepLosses.push(loss);
      loop.record(loss);
      if (loop.step % 2 === 0) saveTrainingCheckpoint(manager, loop.step, { ...run, state: loop.toState() });
    }
    return { weights: weightsDigest(model.stateDict()), lossLog: loop.lossLog, stepLosses };
  } finally {
    manager.close();
    optimizer.dispose();
    model.dispose();
  }
}

/** A scenario: run into `runDir`, return the outcome. */
export type Scenario = (runDir: string, inputs: ScenarioInputs) => Promise<Outcome>;

/** The core-only scenarios; the stage trainers and the synthesis are in kill-scenarios-stages.ts. */
export const CORE_SCENARIOS: Record<string, Scenario> = { toy };

/**
 * A scenario by name (`toy`, or `tsdm`, `fcsd`, `lcm`, `proxy`, `synthesis`, `resynthesis` from kill-scenarios-stages.ts,
 * imported only then: a core-only child starts faster).
 */
export async function loadScenario(name: string): Promise<Scenario | undefined> {
  if (Object.hasOwn(CORE_SCENARIOS, name)) return CORE_SCENARIOS[name];
  const { STAGE_SCENARIOS } = await import('./kill-scenarios-stages.js');
  return Object.hasOwn(STAGE_SCENARIOS, name) ? STAGE_SCENARIOS[name] : undefined;
}

/** The backend every scenario runs on (the child and the resuming test must agree for bit-identical results). */
export async function scenarioBackend(): Promise<void> {
  await useBackend('wasm');
}
