import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, ValidationError, initBackend, tf, useBackend } from '@consistent-avatar/core';
import { CosineIndex, cosineTopK } from './cosine-search.js';

/** Brute-force float64 reference: every similarity in float64, full sort (stable on index). */
function reference(queries: Float32Array, db: Float32Array, d: number, k: number) {
  const q = queries.length / d;
  const n = db.length / d;
  const out: { index: number; sim: number }[][] = [];
  for (let i = 0; i < q; i++) {
    let qq = 0;
    for (let t = 0; t < d; t++) qq += queries[i * d + t]! ** 2;
    const sims: { index: number; sim: number }[] = [];
    for (let r = 0; r < n; r++) {
      let dot = 0;
      let bb = 0;
      for (let t = 0; t < d; t++) {
        dot += queries[i * d + t]! * db[r * d + t]!;
        bb += db[r * d + t]! ** 2;
      }
      sims.push({ index: r, sim: qq > 0 && bb > 0 ? dot / Math.sqrt(qq * bb) : 0 });
    }
    sims.sort((a, b) => b.sim - a.sim || a.index - b.index);
    out.push(sims.slice(0, k));
  }
  return out;
}

const backends = ['wasm', 'cpu'] as const;

describe('cosine search equals a float64 brute-force reference', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const backend of backends) {
    for (const kernel of ['tf', 'js'] as const) {
      it(`${kernel} kernel on ${backend}: same argmax and top-k, similarities within 1e-6`, async () => {
        await useBackend(backend);
        const rng = new Rng(7);
        const d = 53;
        const n = 3000;
        const q = 60;
        const db = rng.normal(n * d);
        const queries = rng.normal(q * d);
        // Small blocks so the test crosses block and query-chunk boundaries.
        const r = await cosineTopK(queries, db, { dimension: d, k: 5, kernel, blockRows: 700, maxBlockElements: 700 * 25 });
        expect(r.kernel).toBe(kernel);
        const ref = reference(queries, db, d, 5);
        let maxErr = 0;
        for (let i = 0; i < q; i++) {
          for (let j = 0; j < 5; j++) {
            expect(r.indices[i * 5 + j]).toBe(ref[i]![j]!.index);
            maxErr = Math.max(maxErr, Math.abs(r.similarities[i * 5 + j]! - ref[i]![j]!.sim));
          }
        }
        expect(maxErr).toBeLessThan(1e-6);
        await useBackend('wasm');
      });
    }
  }

  it('resident index: repeated searches leak no tensors and agree with the one-off search', async () => {
    const rng = new Rng(3);
    const d = 100;
    const db = rng.normal(5000 * d);
    const queries = rng.normal(40 * d);
    const index = new CosineIndex(db, { dimension: d, blockRows: 1024, resident: true });
    const first = await index.search(queries, { k: 3, kernel: 'tf' });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await index.search(queries, { k: 3, kernel: 'tf' });
    expect(tf.memory().numTensors).toBe(before);
    index.dispose();
    expect(tf.memory().numTensors).toBe(before - index.blockCount);
    const once = await cosineTopK(queries, db, { dimension: d, k: 3, kernel: 'tf' });
    expect([...once.indices]).toEqual([...first.indices]);
    await expect(index.search(queries)).rejects.toThrow(ValidationError);
  });

  it('ties go to the lower row index; zero rows score 0; k is capped at N', async () => {
    const db = Float32Array.from([0, 0, 2, 0, 1, 0, 0, 1]); // rows: zero, x, x (tie), y
    for (const kernel of ['tf', 'js'] as const) {
      const r = await cosineTopK(Float32Array.from([3, 0, 0, 0]), db, { dimension: 2, k: 10, kernel });
      expect(r.k).toBe(4);
      expect([...r.indices.subarray(0, 4)]).toEqual([1, 2, 0, 3]);
      expect(r.similarities[0]).toBeCloseTo(1, 12);
      // zero query row: every similarity is 0, order by index
      expect([...r.indices.subarray(4, 8)]).toEqual([0, 1, 2, 3]);
      expect([...r.similarities.subarray(4, 8)]).toEqual([0, 0, 0, 0]);
    }
  });

  it("'auto' picks the JS kernel only for tiny problems (measured crossover) and both agree", async () => {
    const rng = new Rng(9);
    const tiny = await cosineTopK(rng.normal(4 * 10), rng.normal(20 * 10), { dimension: 10 }); // 800 multiply-adds
    expect(tiny.kernel).toBe('js');
    const db = rng.normal(2000 * 20);
    const queries = rng.normal(10 * 20);
    const large = await cosineTopK(queries, db, { dimension: 20, k: 3 }); // 400k multiply-adds
    expect(large.kernel).toBe('tf');
    const js = await cosineTopK(queries, db, { dimension: 20, k: 3, kernel: 'js' });
    expect([...large.indices]).toEqual([...js.indices]);
    large.similarities.forEach((s, i) => expect(Math.abs(s - js.similarities[i]!)).toBeLessThan(1e-12));
  });

  it('rejects bad input with named errors', async () => {
    const db = new Float32Array(6).fill(1);
    await expect(cosineTopK(new Float32Array(3), db, { dimension: 2 })).rejects.toThrow(/queries/);
    await expect(cosineTopK(new Float32Array(2), new Float32Array(5), { dimension: 2 })).rejects.toThrow(/database/);
    await expect(cosineTopK(Float32Array.from([NaN, 1]), db, { dimension: 2 })).rejects.toThrow(/finite/);
    await expect(cosineTopK(new Float32Array(2), db, { dimension: 2, k: 0 })).rejects.toThrow(/options.k/);
    await expect(cosineTopK(new Float32Array(2), db, { dimension: 2, kernel: 'gpu' as never })).rejects.toThrow(/kernel/);
    expect(() => new CosineIndex(db, { dimension: 0 })).toThrow(ValidationError);
  });
});
