import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import { CheckpointManager } from '../io/checkpoint.js';
import { Linear } from '../nn/layers.js';
import { Rng } from '../random.js';
import { AdamW } from './adam.js';
import { resumeTraining, saveTrainingCheckpoint, TrainingLoopState } from './resume.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resume-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const x = () => tf.tensor2d([[1, 2, 3], [0.5, -1, 2]]);
const y = () => tf.tensor2d([[1], [-1]]);
function train(model: Linear, optimizer: AdamW, steps: number): void {
  const [xs, ys] = [x(), y()];
  for (let i = 0; i < steps; i++) optimizer.step(() => tf.losses.meanSquaredError(ys, model.forward(xs)) as tf.Scalar);
  tf.dispose([xs, ys]);
}

describe('resumeTraining / saveTrainingCheckpoint', () => {
  it('a run resumed after 3 steps ends with the weights of an uninterrupted 6-step run', () => {
    const config = { lr: 0.05 };
    const straight = new Linear(3, 1, { rng: new Rng(1) });
    const straightOpt = new AdamW(straight, config);
    train(straight, straightOpt, 6);

    const manager = new CheckpointManager(path.join(tmp, 'run'));
    const first = new Linear(3, 1, { rng: new Rng(1) });
    const firstOpt = new AdamW(first, config);
    expect(resumeTraining(manager, { model: first, optimizer: firstOpt, config })).toBeNull();
    train(first, firstOpt, 3);
    saveTrainingCheckpoint(manager, 3, { model: first, optimizer: firstOpt, config, state: { step: 3, note: 'kept' } });

    const second = new Linear(3, 1, { rng: new Rng(99) }); // different init: everything must come from the checkpoint
    const secondOpt = new AdamW(second, config);
    const before = tf.memory().numTensors;
    const resumed = resumeTraining(manager, { model: second, optimizer: secondOpt, config })!;
    expect(tf.memory().numTensors).toBe(before); // the loaded tensors are freed
    expect(resumed.dir).toMatch(/step-000003$/);
    expect(resumed.state).toMatchObject({ step: 3, note: 'kept' });
    expect(secondOpt.steps).toBe(3);
    train(second, secondOpt, 3);
    expect(Array.from(second.weight.dataSync())).toEqual(Array.from(straight.weight.dataSync()));
    expect(Array.from(second.bias!.dataSync())).toEqual(Array.from(straight.bias!.dataSync()));

    const other = new Linear(3, 1);
    const otherOpt = new AdamW(other, { lr: 0.01 });
    expect(() => resumeTraining(manager, { model: other, optimizer: otherOpt, config: { lr: 0.01 }, fn: 'trainToy' })).toThrow(ValidationError);
    expect(() => resumeTraining(manager, { model: other, optimizer: otherOpt, config: { lr: 0.01 }, fn: 'trainToy' })).toThrow(/trainToy: .*checkpoint/);
    for (const t of [straight, first, second, other]) t.dispose();
    for (const o of [straightOpt, firstOpt, secondOpt, otherOpt]) o.dispose();
  });
});

describe('TrainingLoopState', () => {
  it('logs window means every logEvery steps and at the last step, and resumes the RNG and the open window exactly', () => {
    const losses = [1, 2, 3, 4, 5, 6, 7];
    const straight = new TrainingLoopState(new Rng(5), 3, 7);
    const means = losses.map((l) => straight.record(l));
    expect(means).toEqual([null, null, 2, null, null, 5, 7]);
    expect(straight.lossLog).toEqual([{ step: 3, loss: 2 }, { step: 6, loss: 5 }, { step: 7, loss: 7 }]);

    const first = new TrainingLoopState(new Rng(5), 3, 7);
    first.record(1); first.record(2); first.record(3); first.record(4); // step 4, window [4] open
    const draw = first.rng.normal(3);
    const saved = JSON.parse(JSON.stringify(first.toState()));
    const second = new TrainingLoopState(new Rng(99), 3, 7);
    second.restore(saved);
    expect(second.step).toBe(4);
    expect(second.rng.normal(2)).toEqual(first.rng.normal(2)); // the stream continues where it was saved
    expect(draw).toHaveLength(3);
    expect(second.record(5)).toBeNull();
    expect(second.record(6)).toBe(5); // (4 + 5 + 6) / 3: the window survived the checkpoint
    expect(second.lossLog).toEqual(straight.lossLog.slice(0, 2));
  });
});

