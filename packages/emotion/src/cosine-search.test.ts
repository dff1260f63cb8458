import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, ValidationError, initBackend, tf, useBackend } from '@consistent-avatar/core';
import { CosineIndex, cosineTopK, type CosineKernel } from './cosine-search.js';
import { WasmCosineScanner } from './wasm-cosine-search.js';
import { cosineKernelBytes, screeningErrorBound } from './wasm-cosine-kernel.js';

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
    for (const kernel of ['wasm', 'tf', 'js'] as const) {
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
    for (const kernel of ['wasm', 'tf', 'js'] as const) {
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
    expect(() => new CosineIndex(db, { dimension: 2, threads: 0 })).toThrow(/threads/);
  });
});

/** Compare a search result with the float64 brute force: identical indices, similarities within 1e-6. */
function expectEqualsReference(r: { indices: Int32Array; similarities: Float64Array; k: number }, queries: Float32Array, db: Float32Array, d: number) {
  const ref = reference(queries, db, d, r.k);
  let maxErr = 0;
  ref.forEach((list, i) =>
    list.forEach(({ index, sim }, j) => {
      expect(r.indices[i * r.k + j], `query ${i}, neighbour ${j}`).toBe(index);
      maxErr = Math.max(maxErr, Math.abs(r.similarities[i * r.k + j]! - sim));
    }),
  );
  expect(maxErr).toBeLessThan(1e-6);
}

describe("'wasm' kernel: SIMD screening on worker threads with a proven bound, float64 re-scoring", () => {
  it('equals the float64 brute force on random data: tiny, odd and multi-block sizes, 1–3 threads, k = 1 and 4', async () => {
    const rng = new Rng(11);
    const cases = [
      { n: 1, d: 1, q: 1, k: 1, threads: 2 },
      { n: 5, d: 3, q: 7, k: 4, threads: 3 }, // fewer rows than one row tile (16)
      { n: 17, d: 9, q: 3, k: 1, threads: 1 },
      { n: 1000, d: 13, q: 5, k: 4, threads: 3 }, // 2 blocks of 512, the last one partial
      { n: 2311, d: 100, q: 37, k: 1, threads: 2 },
      { n: 2311, d: 100, q: 37, k: 4, threads: 1 },
    ];
    for (const { n, d, q, k, threads } of cases) {
      const db = rng.normal(n * d);
      const queries = rng.normal(q * d);
      const index = new CosineIndex(db, { dimension: d, threads });
      const r = await index.search(queries, { k, kernel: 'wasm' });
      expect(r.kernel).toBe('wasm');
      expect(r.k).toBe(Math.min(k, n));
      expectEqualsReference(r, queries, db, d);
      await index.close();
    }
  });

  it('scanner: several blocks per thread (16-row blocks) and more queries than one query group (1030 > 1024)', async () => {
    const rng = new Rng(12);
    const d = 6;
    const n = 203;
    const db = rng.normal(n * d);
    const queries = rng.normal(1030 * d);
    const index = new CosineIndex(db, { dimension: d, threads: 2 });
    // The index uses 512-row blocks; check the scanner itself with small blocks against the same float64 result.
    const scanner = new WasmCosineScanner(db, index.inverseNorms, { dimension: d, threads: 3, blockRows: 16 });
    expect(scanner.blockRows).toBe(16);
    const unit = new Float64Array(queries.length);
    for (let i = 0; i < 1030; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += queries[i * d + j]! ** 2;
      for (let j = 0; j < d; j++) unit[i * d + j] = queries[i * d + j]! / Math.sqrt(s);
    }
    const candidates = await scanner.search(unit, 2);
    const ref = reference(queries, db, d, 2);
    candidates.forEach(({ rows }, i) => {
      for (const { index: row } of ref[i]!) expect(rows).toContain(row); // the exact top 2 survive screening
    });
    await scanner.dispose();
    expect(scanner.runningWorkers).toBe(0);
    expectEqualsReference(await index.search(queries, { k: 2, kernel: 'wasm' }), queries, db, d);
    await index.close();
  });

  it('near-ties below float32 resolution, exact duplicates and zero rows are ranked like the float64 reference', async () => {
    const rng = new Rng(13);
    const d = 100;
    const base = rng.normal(d);
    const noise = rng.normal(400 * d);
    const db = new Float32Array(400 * d);
    for (let r = 0; r < 400; r++) {
      // rows 0–299: base + perturbations of 1e-6 (cosines differ by ~1e-13, far below float32's ~1e-7)
      for (let j = 0; j < d; j++) db[r * d + j] = r < 300 ? base[j]! + 1e-6 * noise[r * d + j]! : noise[r * d + j]!;
    }
    db.copyWithin(250 * d, 40 * d, 41 * d); // row 250 duplicates row 40: an exact tie
    db.fill(0, 120 * d, 121 * d); // a zero row
    const queries = new Float32Array(3 * d);
    queries.set(base, 0);
    for (let j = 0; j < d; j++) queries[d + j] = base[j]! + 1e-6 * noise[j]!;
    // third query: zero vector (every similarity 0, order by index)
    for (const k of [1, 5]) {
      const r = await cosineTopK(queries, db, { dimension: d, k, kernel: 'wasm', threads: 2 });
      expectEqualsReference(r, queries, db, d);
      expect([...r.indices.subarray(2 * k, 3 * k)]).toEqual(Array.from({ length: k }, (_, i) => i));
    }
  });

  it('adversarial order (every row beats the previous best) still returns the exact answer', async () => {
    const d = 4;
    const n = 3000;
    const db = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      const angle = (1 - r / n) * 1.5; // cosine with [1, 0, 0, 0] increases with the row index
      db.set([Math.cos(angle), Math.sin(angle), 0, 0], r * d);
    }
    const queries = Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0]);
    const r = await cosineTopK(queries, db, { dimension: d, k: 3, kernel: 'wasm', threads: 2 });
    expectEqualsReference(r, queries, db, d);
    expect(r.indices[0]).toBe(n - 1);
  });

  it('threads 1, 2 and 3 give identical results; no tensors are created; auto picks wasm for a large resident index', async () => {
    const rng = new Rng(14);
    const d = 100;
    const db = rng.normal(3200 * d);
    const queries = rng.normal(100 * d); // Q·N·D = 3.2e7 ≥ AUTO_WASM_MIN_WORK
    const before = tf.memory().numTensors;
    const results = [];
    for (const threads of [1, 2, 3]) {
      const index = new CosineIndex(db, { dimension: d, threads });
      const r = await index.search(queries, { k: 3 }); // 'auto'
      for (let i = 0; i < 2; i++) await index.search(queries, { k: 3 });
      expect(r.kernel).toBe('wasm');
      expect(index.runningWorkers).toBe(threads);
      results.push(r);
      await index.close();
      expect(index.runningWorkers).toBe(0);
    }
    expect(tf.memory().numTensors).toBe(before);
    for (const r of results.slice(1)) {
      expect([...r.indices]).toEqual([...results[0]!.indices]);
      expect([...r.similarities]).toEqual([...results[0]!.similarities]);
    }
    expectEqualsReference(results[0]!, queries, db, d);
    const oneOff = await cosineTopK(queries, db, { dimension: d, k: 3 });
    expect(oneOff.kernel).toBe('tf'); // non-resident 'auto' keeps memory bounded: no database copy
    const small = new CosineIndex(db, { dimension: d });
    expect((await small.search(queries.subarray(0, 10 * d), { k: 3 })).kernel).toBe('tf'); // 3.2e6 < 3e7
    await small.close();
  });

  it('dispose terminates the workers; a disposed index rejects; worker failures surface as errors', async () => {
    const rng = new Rng(15);
    const d = 8;
    const db = rng.normal(2000 * d);
    const queries = rng.normal(4 * d);
    const index = new CosineIndex(db, { dimension: d, threads: 2 });
    await index.search(queries, { kernel: 'wasm' });
    expect(index.runningWorkers).toBe(2);
    await index.close();
    expect(index.runningWorkers).toBe(0);
    await expect(index.search(queries, { kernel: 'wasm' as CosineKernel })).rejects.toThrow(ValidationError);

    // An error inside a worker (a scan beyond the database traps in wasm) rejects the search with its message.
    const scanner = new WasmCosineScanner(db, new CosineIndex(db, { dimension: d }).inverseNorms, { dimension: d, threads: 1 });
    await scanner.search(queries, 1); // starts the worker
    const internals = scanner as unknown as { started: { postMessage(m: unknown): void }[]; ask(w: unknown, m: unknown): Promise<unknown> };
    await expect(
      internals.ask(internals.started[0], { firstBlock: 0, endBlock: 1e6, queries: 4, queryTiles: 2, k: 1, delta: 0 }),
    ).rejects.toThrow(/cosine wasm worker failed: RuntimeError: memory access out of bounds/);
    // A worker that dies makes every later search fail with a clear error instead of hanging.
    await (internals.started[0] as unknown as { terminate(): Promise<number> }).terminate();
    await expect(scanner.search(queries, 1)).rejects.toThrow(/cosine wasm worker 0 exited unexpectedly/);
    await scanner.dispose();
    expect(scanner.runningWorkers).toBe(0);
  });

  it('kernel: validates its shape; the screening bound is the float32 dot-product bound', () => {
    const wasmApi = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasmApi.validate(cosineKernelBytes({ dimension: 100, blockRows: 512 }))).toBe(true);
    expect(() => cosineKernelBytes({ dimension: 100, blockRows: 100 })).toThrow(/blockRows/);
    expect(() => cosineKernelBytes({ dimension: 0, blockRows: 16 })).toThrow(/dimension/);
    // D·u ≤ ε ≤ 1.1·(D + 2)·u with u = 2^-24; grows with D
    const u = 2 ** -24;
    expect(screeningErrorBound(100)).toBeGreaterThan(100 * u);
    expect(screeningErrorBound(100)).toBeLessThan(1.1 * 102 * u);
    expect(screeningErrorBound(768)).toBeGreaterThan(screeningErrorBound(100));
  });
});
