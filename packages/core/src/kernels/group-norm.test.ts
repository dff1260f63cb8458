import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, nn, readNpz, groupNorm, setFusedGroupNorm, fusedGroupNormCalls, ValidationError } from '../index.js';
import { maxRelError } from '../../test/helpers.js';
import { groupNormBackwardValues, groupNormForwardValues } from './group-norm.js';

/**
 * The fused group-norm kernels against PyTorch's F.group_norm and its autograd gradients
 * (test/fixtures/kernels/group_norm.npz, made by make_group_norm.py there), on wasm and cpu, through nn.GroupNorm and
 * through the tape; the composition from tf ops (the fallback on other backends) against the same reference.
 */
const fixture = readNpz(fileURLToPath(new URL('../../test/fixtures/kernels/group_norm.npz', import.meta.url)));
const arr = (key: string) => fixture[key]!.data as Float32Array;
const CASES = ['nhwc', 'seq', 'offset', 'one_group', 'per_channel'] as const;

/** y, dx, dγ, dβ of loss = Σ groupNorm(x)·w through nn.GroupNorm and the tape. */
function run(name: (typeof CASES)[number]) {
  const shape = fixture[`${name}_x`]!.shape;
  const [groups, eps] = Array.from(fixture[`${name}_meta`]!.data as Float64Array);
  const C = shape[shape.length - 1]!;
  const gn = new nn.GroupNorm(groups!, C, eps);
  gn.weight!.assign(tf.tensor1d(arr(`${name}_gamma`)));
  gn.bias!.assign(tf.tensor1d(arr(`${name}_beta`)));
  const out = tf.tidy(() => {
    const x = tf.tensor(arr(`${name}_x`), shape);
    const w = tf.tensor(arr(`${name}_w`), shape);
    const f = (xx: tf.Tensor) => tf.sum(tf.mul(gn.forward(xx), w)) as tf.Scalar;
    const { grads } = tf.variableGrads(() => f(x), [gn.weight!, gn.bias!]);
    return {
      y: gn.forward(x).dataSync().slice(),
      dx: tf.grad(f)(x).dataSync().slice(),
      dgamma: grads[gn.weight!.name]!.dataSync().slice(),
      dbeta: grads[gn.bias!.name]!.dataSync().slice(),
    };
  });
  gn.dispose();
  return out;
}

describe('fused group norm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    await useBackend('cpu');
    await useBackend('wasm');
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    for (const name of CASES) {
      it(`${backend}: ${name} forward and gradients match PyTorch`, async () => {
        await useBackend(backend);
        const calls = fusedGroupNormCalls();
        const got = run(name);
        expect(fusedGroupNormCalls() - calls).toBe(3); // the fused kernels ran: two taped forwards and one plain one
        // offset: y is ~1 but x ~100, so float32 rounding of x itself bounds the agreement
        const tol = name === 'offset' ? 2e-3 : 1e-5;
        expect(maxRelError(got.y, arr(`${name}_y`))).toBeLessThan(tol);
        expect(maxRelError(got.dx, arr(`${name}_dx`))).toBeLessThan(tol);
        expect(maxRelError(got.dgamma, arr(`${name}_dgamma`))).toBeLessThan(tol);
        expect(maxRelError(got.dbeta, arr(`${name}_dbeta`))).toBeLessThan(1e-5);
        await useBackend('wasm');
      });
    }
  }

  it('the composition (fused kernels off) matches the same references', () => {
    const before = setFusedGroupNorm(false);
    try {
      const calls = fusedGroupNormCalls();
      for (const name of ['nhwc', 'seq'] as const) {
        const got = run(name);
        expect(maxRelError(got.y, arr(`${name}_y`))).toBeLessThan(1e-5);
        expect(maxRelError(got.dx, arr(`${name}_dx`))).toBeLessThan(1e-4);
        expect(maxRelError(got.dgamma, arr(`${name}_dgamma`))).toBeLessThan(1e-4);
      }
      expect(fusedGroupNormCalls()).toBe(calls);
    } finally {
      setFusedGroupNorm(before);
    }
  });

  it('leaves no tensor behind over repeated forward + backward on the hot path', () => {
    const gn = new nn.GroupNorm(4, 16);
    const x = tf.randomNormal([2, 8, 8, 16], 0, 1, 'float32', 5);
    const step = () => tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(gn.forward(x))) as tf.Scalar, [gn.weight!, gn.bias!]);
      value.dataSync();
      tf.dispose(grads);
    });
    step();
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytes);
    gn.dispose();
    x.dispose();
  });

  it('carries NaN within its batch item and group only', () => {
    const x = new Float32Array(2 * 3 * 4).fill(0).map((_, i) => Math.sin(i));
    x[1 * 12 + 5] = Number.NaN; // item 1, position 1, channel 1 → group 0 of item 1
    const y = groupNorm(tf.tensor3d(x, [2, 3, 4]), 2).dataSync();
    for (let i = 0; i < 24; i++) {
      const item = Math.floor(i / 12), group = Math.floor((i % 4) / 2);
      expect(Number.isNaN(y[i]!)).toBe(item === 1 && group === 0);
    }
  });

  it('the pure functions compute a hand-checked case', () => {
    // B=1, P=2, C=2, G=1: x = [1, 3, 5, 7] → μ = 4, σ² = 5, r = 1/√5
    const x = Float32Array.from([1, 3, 5, 7]);
    const y = new Float32Array(4), mean = new Float32Array(1), rstd = new Float32Array(1);
    groupNormForwardValues(x, Float32Array.from([1, 2]), Float32Array.from([0, 1]), { B: 1, P: 2, C: 2, G: 1 }, 0, y, mean, rstd);
    const r = 1 / Math.sqrt(5);
    expect(mean[0]).toBe(4);
    expect(rstd[0]).toBeCloseTo(r, 7);
    expect(Array.from(y)).toEqual([(1 - 4) * r, (3 - 4) * r * 2 + 1, (5 - 4) * r, (7 - 4) * r * 2 + 1].map(Math.fround));
    // dy = 1 everywhere with γ = 1: y sums to a constant, so dx = 0; dβ = count per channel; dγ = Σ x̂ per channel
    const dx = new Float32Array(4), dg = new Float32Array(2), db = new Float32Array(2);
    groupNormBackwardValues(new Float32Array(4).fill(1), x, Float32Array.from([1, 1]), mean, rstd, { B: 1, P: 2, C: 2, G: 1 }, dx, dg, db);
    for (const v of dx) expect(Math.abs(v)).toBeLessThan(1e-7);
    expect(Array.from(db)).toEqual([2, 2]);
    expect(dg[0]).toBeCloseTo((1 - 4) * r + (5 - 4) * r, 6);
    expect(dg[1]).toBeCloseTo((3 - 4) * r + (7 - 4) * r, 6);
  });

  it('setFusedGroupNorm takes a boolean', () => {
    expect(() => setFusedGroupNorm('yes' as unknown as boolean)).toThrow(ValidationError);
    expect(() => setFusedGroupNorm('yes' as unknown as boolean)).toThrow(/setFusedGroupNorm.*enabled.*a boolean/);
  });

  it('groupNorm rejects bad arguments, naming each', () => {
    const x = tf.zeros([2, 3, 4]);
    const cases: Array<[() => unknown, RegExp]> = [
      [() => groupNorm(tf.zeros([4]), 2), /groupNorm: argument 'x' expected a float32 tensor \[B, \.\.\., C\]/],
      [() => groupNorm(tf.zeros([2, 4], 'int32'), 2), /argument 'x'/],
      [() => groupNorm([1, 2] as unknown as tf.Tensor, 2), /argument 'x'/],
      [() => groupNorm(x, 3), /argument 'numGroups' expected a positive divisor of the channel count 4/],
      [() => groupNorm(x, 0), /argument 'numGroups'/],
      [() => groupNorm(x, 1.5), /argument 'numGroups'/],
      [() => groupNorm(x, 2, tf.ones([3])), /argument 'gamma' expected null or a \[4\] tensor/],
      [() => groupNorm(x, 2, tf.ones([4]), tf.zeros([4, 1])), /argument 'beta'/],
      [() => groupNorm(x, 2, null, null, Number.NaN), /argument 'eps' expected a finite number ≥ 0/],
      [() => groupNorm(x, 2, null, null, -1), /argument 'eps'/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(ValidationError);
      expect(call).toThrow(message);
    }
  });
});
