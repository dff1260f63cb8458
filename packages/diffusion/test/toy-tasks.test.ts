/**
 * The toy tasks' own bookkeeping (issue 17): the ControlNet task's held-out disk centres are never drawn in training,
 * and a `CA_HEAVY` run writes its result file after every seed, before any assertion, and resumes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng, tf } from '@consistent-avatar/core';
import { HELD_OUT_CENTRES, diskBatch, runHeavySeeds } from './toy-tasks.js';

describe('ControlNet toy task: held-out centres', () => {
  it('20 of the 100 centres are held out; 2,000 training draws never hit one and cover all 80 others; held-out draws only use them', () => {
    expect(HELD_OUT_CENTRES).toHaveLength(20);
    const key = ([cy, cx]: readonly [number, number]) => `${cy},${cx}`;
    const heldOut = new Set(HELD_OUT_CENTRES.map(key));
    const rng = new Rng(5);
    const seen = new Set<string>();
    for (let i = 0; i < 250; i++) {
      const b = diskBatch(rng, 8);
      b.centres.forEach((c) => seen.add(key(c)));
      tf.dispose([b.x0, b.condition]);
    }
    expect([...seen].filter((c) => heldOut.has(c))).toEqual([]);
    expect(seen.size).toBe(80);
    const h = diskBatch(rng, 64, 'held-out');
    expect(h.centres.every((c) => heldOut.has(key(c)))).toBe(true);
    // The condition marks the drawn centre: its 3×3 dot sums to 9 and is centred there.
    const cond = h.condition.dataSync() as Float32Array;
    const [cy, cx] = h.centres[0]!;
    expect(cond.subarray(0, 256).reduce((a, b) => a + b, 0)).toBe(9);
    expect(cond[cy * 16 + cx]).toBe(1);
    tf.dispose([h.x0, h.condition]);
  });
});

describe('runHeavySeeds', () => {
  const saved = { out: process.env.CA_HEAVY_OUT_DIR, seeds: process.env.CA_HEAVY_SEEDS };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heavy-'));
  afterEach(() => {
    process.env.CA_HEAVY_OUT_DIR = saved.out;
    process.env.CA_HEAVY_SEEDS = saved.seeds;
    if (saved.out === undefined) delete process.env.CA_HEAVY_OUT_DIR;
    if (saved.seeds === undefined) delete process.env.CA_HEAVY_SEEDS;
  });

  it('writes every finished seed before a later seed fails, with mean / sample std / extremes and the re-creating command; then resumes', async () => {
    process.env.CA_HEAVY_OUT_DIR = dir;
    process.env.CA_HEAVY_SEEDS = '3,4,5';
    const calls: number[] = [];
    const figures = { 3: 1, 4: 2, 5: 6 } as Record<number, number>;
    await expect(runHeavySeeds('toy', 'some/test.ts', { steps: 1 }, async (seed) => {
      calls.push(seed);
      if (seed === 5) throw new Error('seed 5 broke');
      return { value: figures[seed]! };
    })).rejects.toThrow('seed 5 broke');
    const file = path.join(dir, 'toy.json');
    const partial = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(partial.complete).toBe(false);
    expect(partial.perSeed).toEqual([{ seed: 3, value: 1 }, { seed: 4, value: 2 }]);
    expect(partial.command).toBe(`CA_HEAVY=1 CA_HEAVY_SEEDS=3,4,5 CA_HEAVY_OUT_DIR=${dir} npx vitest run some/test.ts`);
    expect(partial.seeds).toEqual([3, 4, 5]);
    expect(partial.runs.map((r: { seed: number }) => r.seed)).toEqual([3, 4]);
    expect(partial.runs[0].loadAverageAtStart).toHaveLength(3);
    // Resume (same setup, same commit): only seed 5 runs again.
    const { perSeed } = await runHeavySeeds('toy', 'some/test.ts', { steps: 1 }, async (seed) => {
      calls.push(seed);
      return { value: figures[seed]! };
    });
    expect(calls).toEqual([3, 4, 5, 5]);
    expect(perSeed.map((r) => r.value)).toEqual([1, 2, 6]);
    const full = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(full.complete).toBe(true);
    // 1, 2, 6: mean 3, sample variance ((−2)² + (−1)² + 3²) / 2 = 7.
    expect(full.summary.value).toEqual({ mean: 3, std: Math.sqrt(7), min: 1, max: 6 });
    // A different setup starts over.
    await runHeavySeeds('toy', 'some/test.ts', { steps: 2 }, async (seed) => {
      calls.push(seed);
      return { value: 0 };
    });
    expect(calls).toEqual([3, 4, 5, 5, 3, 4, 5]);
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects CA_HEAVY_SEEDS that are not integers', async () => {
    process.env.CA_HEAVY_SEEDS = '0,x';
    await expect(runHeavySeeds('toy', 't.ts', {}, async () => ({}))).rejects.toThrow(/CA_HEAVY_SEEDS/);
  });
});
