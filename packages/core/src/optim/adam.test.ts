import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, Adam, AdamW, Ema, clipGradNorm, nn, Rng, ValidationError } from '../index.js';

/**
 * Reference numbers from PyTorch 1.13 (Debian python3-torch), float64:
 *   p = [1, -2, 0.5]; loss = sum((p·[1, 2, 3])²); clip_grad_norm_(p, 5); opt = Adam|AdamW(lr 0.1, wd 0.1,
 *   betas (0.9, 0.999), eps 1e-8); 3 steps.
 */
const TORCH_ADAM = [0.7003822912807125, -1.6997383258546617, 0.2026246031483424];
const TORCH_ADAMW = [0.6735203302437437, -1.64330087656187, 0.19079181462387912];

function run(Opt: typeof Adam | typeof AdamW): number[] {
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const opt = new Opt([['p', p]], { lr: 0.1, weightDecay: 0.1, maxGradNorm: 5 });
  const c = tf.tensor1d([1, 2, 3]);
  for (let i = 0; i < 3; i++) opt.step(() => tf.sum(tf.square(tf.mul(p, c))) as tf.Scalar);
  const out = Array.from(p.dataSync());
  opt.dispose();
  p.dispose();
  c.dispose();
  return out;
}

describe('optimisers', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('Adam matches torch.optim.Adam (L2 weight decay, clipping)', () => {
    run(Adam).forEach((v, i) => expect(v).toBeCloseTo(TORCH_ADAM[i]!, 5));
  });

  it('AdamW matches torch.optim.AdamW (decoupled weight decay, clipping)', () => {
    run(AdamW).forEach((v, i) => expect(v).toBeCloseTo(TORCH_ADAMW[i]!, 5));
  });

  it('clipGradNorm scales to the max norm and reports the norm before clipping', () => {
    const { grads, totalNorm } = clipGradNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, 1);
    expect(totalNorm).toBeCloseTo(5, 6);
    expect(grads['a']!.dataSync()[0]).toBeCloseTo(0.6, 5);
    expect(() => clipGradNorm({}, 0)).toThrow(ValidationError);
  });

  it('state round-trips: a resumed optimiser continues exactly', () => {
    const make = () => new nn.Linear(3, 1, { rng: new Rng(3) });
    const x = tf.tensor2d([[1, 2, 3], [0, -1, 1]]);
    const y = tf.tensor2d([[1], [2]]);
    const loss = (m: nn.Linear) => () => tf.mean(tf.square(tf.sub(m.forward(x), y))) as tf.Scalar;
    const a = make();
    const optA = new AdamW(a, { lr: 0.05 });
    for (let i = 0; i < 4; i++) optA.step(loss(a));
    // snapshot after 2 steps on a fresh pair, then resume into new objects
    const b = make();
    const optB = new AdamW(b, { lr: 0.05 });
    for (let i = 0; i < 2; i++) optB.step(loss(b));
    const snapModel = Object.fromEntries(Object.entries(b.stateDict()).map(([k, v]) => [k, v.clone()]));
    const snapOpt = Object.fromEntries(Object.entries(optB.stateTensors()).map(([k, v]) => [k, v.clone()]));
    const c = make();
    c.loadStateDict(snapModel);
    const optC = new AdamW(c, { lr: 0.05 });
    optC.loadState(snapOpt, optB.stateJson());
    for (let i = 0; i < 2; i++) optC.step(loss(c));
    expect(Array.from(c.weight.dataSync())).toEqual(Array.from(a.weight.dataSync()));
    expect(optC.steps).toBe(4);
    for (const o of [optA, optB, optC]) o.dispose();
    for (const m of [a, b, c]) m.dispose();
  });

  it('construction and disposal leave no tensors behind (optimiser and EMA)', () => {
    const m = new nn.Linear(4, 2, { rng: new Rng(1) });
    const before = tf.memory().numTensors;
    const opt = new AdamW(m);
    const ema = new Ema(m, 0.9);
    opt.dispose();
    ema.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('does not leak tensors across steps', () => {
    const m = new nn.Linear(4, 2, { rng: new Rng(1) });
    const opt = new AdamW(m, { lr: 1e-3, maxGradNorm: 1 });
    const x = tf.ones([3, 4]);
    const step = () => opt.step(() => tf.mean(tf.square(m.forward(x))) as tf.Scalar);
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    m.dispose();
  });

  it('Ema blends parameters with the given decay', () => {
    const m = new nn.Linear(1, 1, { rng: new Rng(1), bias: false });
    m.weight.assign(tf.tensor2d([[1]]));
    const ema = new Ema(m, 0.9);
    m.weight.assign(tf.tensor2d([[2]]));
    ema.update(m);
    expect(ema.stateTensors()['weight']!.dataSync()[0]).toBeCloseTo(1.1, 6);
    const target = new nn.Linear(1, 1, { bias: false });
    ema.copyTo(target);
    expect(target.weight.dataSync()[0]).toBeCloseTo(1.1, 6);
    expect(() => new Ema(m, 2)).toThrow(ValidationError);
    ema.dispose();
    m.dispose();
    target.dispose();
  });

  it('rejects bad hyper-parameters', () => {
    const m = new nn.Linear(1, 1);
    expect(() => new Adam(m, { lr: -1 })).toThrow(/Adam: argument 'lr' expected a finite number > 0, got -1/);
    expect(() => new AdamW(m, { beta1: 1 })).toThrow(/beta1/);
    m.dispose();
  });
});
