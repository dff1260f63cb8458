/**
 * TokenConditioner (wasm): tokens of a vector condition are its linear (written out here), of a map condition its
 * encoder's output, in declaration order; seeded per-condition dropout replaces exactly the dropped samples' tokens of
 * exactly that condition with the null token (documented draw order: `rng.bernoulli(B, p)` per condition), `drop`
 * replaces a whole condition; initial weights are per-name forks; gradients reach the null token; no leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { nn, Rng, tf, useBackend, ValidationError } from '@consistent-avatar/core';
import { TokenConditioner, type ImageConditionEncoder } from '../index.js';

/** A small map encoder: 1×1 conv to D channels, then the spatial mean → [B, D]. */
class MeanEncoder extends nn.Module implements ImageConditionEncoder {
  readonly conv: nn.Conv2d;
  constructor(channels: number, dim: number) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d(channels, dim, 1, { rng: new Rng(9) }));
  }
  forward(map: tf.Tensor4D): tf.Tensor {
    return tf.tidy(() => tf.mean(this.conv.forward(map), [1, 2])); // [B, D]
  }
}

const D = 4;
const build = (seed = 0, nullToken = true) => new TokenConditioner({ tokenDim: D, seed, nullToken, conditions: [
  { name: 'gaze', kind: 'vector', inFeatures: 2 },
  { name: 'audio', kind: 'vector', inFeatures: 6, tokens: 3 },
  { name: 'map', kind: 'map', encoder: new MeanEncoder(3, D) },
] });
const B = 16;
const inputs = () => ({
  gaze: tf.tensor2d(new Rng(1).normal(B * 2), [B, 2]),
  audio: tf.tensor2d(new Rng(2).normal(B * 6), [B, 6]),
  map: tf.tensor4d(new Rng(3).normal(B * 5 * 5 * 3), [B, 5, 5, 3]),
});
const rows = (t: tf.Tensor) => (t.arraySync() as number[][][]).map((r) => r.flat());

beforeAll(async () => {
  await useBackend('wasm');
});

describe('TokenConditioner', () => {
  it('encodes a vector through its linear and a map through its encoder, concatenated in declaration order', () => {
    const cond = build();
    const x = inputs();
    const out = cond.encode(x);
    expect(out.gaze!.shape).toEqual([B, 1, D]);
    expect(out.audio!.shape).toEqual([B, 3, D]);
    expect(out.map!.shape).toEqual([B, 1, D]);
    // Linear written out: y = x·Wᵀ + b, [B, 3·D] → [B, 3, D].
    const [linear] = cond.namedChildren().filter(([n]) => n === 'audio').map(([, m]) => m as nn.Linear);
    const W = linear!.weight.arraySync() as number[][], b = linear!.bias!.arraySync() as number[];
    const a = x.audio.arraySync() as number[][];
    const manual = a.map((row) => W.map((w, o) => w.reduce((s, wi, i) => s + wi * row[i]!, b[o]!)));
    rows(out.audio!).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(manual[i]![j]!, 5)));
    const enc = cond.namedChildren().find(([n]) => n === 'map')![1] as MeanEncoder;
    const direct = enc.forward(x.map);
    expect(rows(out.map!)).toEqual((direct.arraySync() as number[][]));
    const all = cond.forward(x);
    expect(all.shape).toEqual([B, 5, D]);
    expect(rows(all).map((r) => r.slice(0, D))).toEqual(rows(out.gaze!));
    expect(rows(all).map((r) => r.slice(D, 4 * D))).toEqual(rows(out.audio!));
    expect(rows(all).map((r) => r.slice(4 * D))).toEqual(rows(out.map!));
    expect(Object.keys(cond.stateDict())).toEqual(['null_token', 'gaze.weight', 'gaze.bias', 'audio.weight', 'audio.bias', 'map.conv.weight', 'map.conv.bias']);
    tf.dispose([...Object.values(out), ...Object.values(x), direct, all]);
    cond.dispose();
  });

  it('dropout replaces exactly the dropped samples of the dropped condition with the null token, seeded, no leaks', () => {
    const cond = build();
    const x = inputs();
    const clean = cond.encode(x);
    const nullRow = Array.from(cond.null_token!.dataSync());
    const before = tf.memory().numTensors;
    const dropped = cond.encode(x, { dropout: { gaze: 0.5, audio: 0 }, rng: new Rng(7) });
    expect(tf.memory().numTensors).toBe(before + 3); // the three outputs only
    // The documented draws: rng.bernoulli(B, p) per condition with p > 0, in declaration order.
    const mask = new Rng(7).bernoulli(B, 0.5);
    expect(mask.some((m) => m === 1) && mask.some((m) => m === 0)).toBe(true);
    const got = rows(dropped.gaze!), want = rows(clean.gaze!);
    got.forEach((r, i) => expect(r).toEqual(mask[i] ? nullRow : want[i]));
    expect(rows(dropped.audio!)).toEqual(rows(clean.audio!)); // other conditions untouched
    expect(rows(dropped.map!)).toEqual(rows(clean.map!));
    // Seeded: same seed, same samples; another seed, other samples.
    const again = cond.encode(x, { dropout: { gaze: 0.5 }, rng: new Rng(7) });
    expect(rows(again.gaze!)).toEqual(got);
    const other = cond.encode(x, { dropout: { gaze: 0.5 }, rng: new Rng(8) });
    expect(rows(other.gaze!)).not.toEqual(got);
    // drop: every sample of a condition (the unconditional branch, an ablation); multi-token conditions too.
    const uncond = cond.encode(x, { drop: ['audio'] });
    expect(rows(uncond.audio!)).toEqual(new Array(B).fill([...nullRow, ...nullRow, ...nullRow]));
    expect(rows(uncond.gaze!)).toEqual(want);
    const nulls = cond.nullTokens(2, 3);
    expect(rows(nulls)).toEqual([[...nullRow, ...nullRow, ...nullRow], [...nullRow, ...nullRow, ...nullRow]]);
    tf.dispose([...Object.values(clean), ...Object.values(dropped), ...Object.values(again), ...Object.values(other), ...Object.values(uncond), nulls]);
    // Repeated calls hold no tensors.
    const n = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(cond.forward(x, { dropout: { gaze: 0.3, map: 0.3 }, rng: new Rng(i) }));
    expect(tf.memory().numTensors).toBe(n);
    // The null token learns: a dropped condition's loss has a gradient on it.
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(cond.forward(x, { drop: ['gaze'] }))) as tf.Scalar, [cond.null_token!]);
    expect(Math.max(...Array.from(grads[cond.null_token!.name]!.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads), ...Object.values(x)]);
    cond.dispose();
  });

  it('initial weights are per-name forks (a new condition shifts no other), and inputs / options are validated', () => {
    const a = build(5);
    const b = new TokenConditioner({ tokenDim: D, seed: 5, conditions: [{ name: 'extra', kind: 'vector', inFeatures: 3 }, { name: 'gaze', kind: 'vector', inFeatures: 2 }] });
    const sa = a.stateDict(), sb = b.stateDict();
    expect(Array.from(sa['gaze.weight']!.dataSync())).toEqual(Array.from(sb['gaze.weight']!.dataSync()));
    expect(Array.from(sa['null_token']!.dataSync())).toEqual(Array.from(sb['null_token']!.dataSync()));
    const c = build(6);
    expect(Array.from(c.stateDict()['gaze.weight']!.dataSync())).not.toEqual(Array.from(sa['gaze.weight']!.dataSync()));
    const x = inputs();
    expect(() => a.encode({ ...x, pose: x.gaze })).toThrow(/inputs.*pose/);
    expect(() => a.encode({ gaze: x.gaze, audio: x.audio } as never)).toThrow(/inputs\.map/);
    expect(() => a.encode({ ...x, gaze: tf.zeros([B, 3]) })).toThrow(/inputs\.gaze/);
    expect(() => a.encode({ ...x, audio: tf.zeros([2, 6]) })).toThrow(/inputs\.audio/);
    expect(() => a.encode(x, { dropout: { gaze: 0.2 } })).toThrow(/options\.rng/);
    expect(() => a.encode(x, { dropout: { gaze: 1.5 }, rng: new Rng(0) })).toThrow(/options\.dropout\.gaze/);
    expect(() => a.encode(x, { drop: ['pose'] })).toThrow(/options\.drop/);
    const plain = build(0, false);
    expect(plain.null_token).toBeNull();
    expect(() => plain.encode(x, { drop: ['gaze'] })).toThrow(ValidationError);
    expect(() => plain.nullTokens(1)).toThrow(/nullTokens/);
    expect(() => new TokenConditioner({ tokenDim: D, conditions: [{ name: 'a.b', kind: 'vector', inFeatures: 2 }] })).toThrow(/name/);
    expect(() => new TokenConditioner({ tokenDim: D, conditions: [{ name: 'g', kind: 'vector', inFeatures: 2 }, { name: 'g', kind: 'vector', inFeatures: 2 }] })).toThrow(/name/);
    expect(() => new TokenConditioner({ tokenDim: D, conditions: [{ name: 'g', kind: 'image' } as never] })).toThrow(/kind/);
    tf.dispose(Object.values(x));
    for (const m of [a, b, c, plain]) m.dispose();
  });
});
