import { describe, expect, it } from 'vitest';
import { Rng, ValidationError } from './index.js';

describe('Rng', () => {
  it('is reproducible bit for bit from the seed and differs across seeds', () => {
    expect(Array.from(new Rng(7).normal(16))).toEqual(Array.from(new Rng(7).normal(16)));
    expect(Array.from(new Rng(7).uniform(4))).not.toEqual(Array.from(new Rng(8).uniform(4)));
  });

  it('has the right first two moments', () => {
    const n = 200_000;
    const x = new Rng(1).normal(n);
    let s = 0;
    let s2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
    const u = new Rng(2).uniform(n);
    expect(u.reduce((a, b) => Math.min(a, b), 1)).toBeGreaterThanOrEqual(0);
    expect(u.reduce((a, b) => Math.max(a, b), 0)).toBeLessThan(1);
  });

  it('forks independent named streams that do not depend on the parent position', () => {
    const a = new Rng(3);
    const childBefore = a.fork('noise').normal(4);
    a.normal(100);
    expect(Array.from(a.fork('noise').normal(4))).toEqual(Array.from(childBefore));
    expect(Array.from(a.fork('noise').normal(4))).not.toEqual(Array.from(a.fork('dropout').normal(4)));
  });

  it('restores its state (resume continues the same stream)', () => {
    const a = new Rng(9);
    a.normal(5);
    const state = JSON.parse(JSON.stringify(a.getState()));
    const expected = a.normal(7);
    expect(Array.from(Rng.fromState(state).normal(7))).toEqual(Array.from(expected));
  });

  it('permutation is a permutation; bad arguments throw ValidationError', () => {
    const p = Array.from(new Rng(4).permutation(50)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => new Rng(-1)).toThrow(ValidationError);
    expect(() => new Rng(1.5)).toThrow(/Rng: argument 'seed'/);
    expect(() => new Rng(1).int(0)).toThrow(ValidationError);
    expect(() => new Rng(1).bernoulli(3, 2)).toThrow(ValidationError);
  });
});
