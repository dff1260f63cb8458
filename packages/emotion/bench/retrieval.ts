/**
 * Benchmark: Eq. 7 retrieval — 350 query frames against a 1,000,000 × 100 expression database — ours (`CosineIndex`
 * with its defaults: the `'wasm'` SIMD kernel on worker threads, float64 re-scoring; also the `'tf'` and `'js'`
 * kernels) versus numpy (normalised matmul + argmax, the way a Python reference implementation does it) in the same
 * run, on the same data. Exactness is checked against a float64 brute force on a subset of the queries.
 *
 *   node --conditions=source --import tsx packages/emotion/bench/retrieval.ts [--rows 1000000] [--queries 350] [--dim 100]
 *
 * Prints a JSON summary and a Markdown table for BENCHMARKS.md. Reference: `/usr/bin/python3` with numpy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import { Rng, backendReport, initBackend, tf } from '@consistent-avatar/core';
import { CosineIndex } from '../src/cosine-search.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const rows = arg('rows', 1_000_000);
const numQueries = arg('queries', 350);
const dim = arg('dim', 100);
const repeats = 3;

const maxRssMiB = (): number => process.resourceUsage().maxRSS / 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(fn: () => Promise<unknown>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

await initBackend();
console.error(backendReport());

// 1. Data: database rows ~ N(0, 1); queries = noisy copies of random database rows (a true nearest neighbour exists).
const rng = new Rng(2024);
let t0 = performance.now();
const database = rng.normal(rows * dim); // [N, D]
const queries = new Float32Array(numQueries * dim); // [Q, D]
const truth = new Int32Array(numQueries);
for (let q = 0; q < numQueries; q++) {
  truth[q] = rng.int(rows);
  const noise = rng.normal(dim, 0, 0.3);
  for (let j = 0; j < dim; j++) queries[q * dim + j] = database[truth[q]! * dim + j]! + noise[j]!;
}
console.error(`data generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; rss ${maxRssMiB().toFixed(0)} MiB`);
const rssAfterData = maxRssMiB();

const dir = mkdtempSync(join(tmpdir(), 'emotion-bench-'));
try {
  writeFileSync(join(dir, 'db.f32'), new Uint8Array(database.buffer, database.byteOffset, database.byteLength));
  writeFileSync(join(dir, 'q.f32'), new Uint8Array(queries.buffer, queries.byteOffset, queries.byteLength));

  // 2. Ours, tf kernel, streaming (blocks uploaded per search: memory bounded by one block). First, so that its
  //    peak RSS is not masked by the larger ones measured later (maxRSS only grows).
  const streaming = new CosineIndex(database, { dimension: dim, resident: false });
  let streamResult: Awaited<ReturnType<CosineIndex['search']>> | undefined;
  const streamTimes = await timeIt(async () => {
    streamResult = await streaming.search(queries, { k: 1, kernel: 'tf' });
  }, 1);
  streaming.dispose();
  const rssStreaming = maxRssMiB();

  // 2b. Ours, defaults ('auto' → 'wasm' kernel, threads = available cores); prep = database copy + worker start.
  t0 = performance.now();
  const wasmIndex = new CosineIndex(database, { dimension: dim });
  await wasmIndex.search(queries.subarray(0, dim), { k: 1 });
  const wasmPrepSeconds = (performance.now() - t0) / 1000;
  const wasmTimes = await timeIt(() => wasmIndex.search(queries, { k: 1 }), repeats);
  const wasm = await wasmIndex.search(queries, { k: 1 });
  const wasmThreads = wasmIndex.threads;
  await wasmIndex.close();
  const rssWasm = maxRssMiB();
  const wasm1Index = new CosineIndex(database, { dimension: dim, threads: 1 });
  await wasm1Index.search(queries.subarray(0, dim), { k: 1 });
  const wasm1Times = await timeIt(() => wasm1Index.search(queries, { k: 1, kernel: 'wasm' }), repeats);
  await wasm1Index.close();

  // 2c. Exactness: float64 brute force (every similarity, first maximum) for a subset of the queries.
  const exactQueries = Math.min(numQueries, 8);
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += database[r * dim + j]! ** 2;
    inv[r] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  let exactAgree = 0;
  let exactMaxDiff = 0;
  for (let q = 0; q < exactQueries; q++) {
    let qq = 0;
    for (let j = 0; j < dim; j++) qq += queries[q * dim + j]! ** 2;
    const qInv = qq > 0 ? 1 / Math.sqrt(qq) : 0;
    let best = -Infinity;
    let bestRow = -1;
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += queries[q * dim + j]! * database[r * dim + j]!;
      const sim = dot * qInv * inv[r]!;
      if (sim > best) {
        best = sim;
        bestRow = r;
      }
    }
    if (wasm.indices[q] === bestRow) exactAgree++;
    exactMaxDiff = Math.max(exactMaxDiff, Math.abs(wasm.similarities[q]! - best));
  }

  // 3. Ours, resident (normalised transposed blocks kept on the backend; prep timed separately).
  t0 = performance.now();
  const resident = new CosineIndex(database, { dimension: dim, resident: true });
  await resident.search(queries.subarray(0, dim), { k: 1, kernel: 'tf' }); // builds the blocks
  const prepSeconds = (performance.now() - t0) / 1000;
  const residentTimes = await timeIt(() => resident.search(queries, { k: 1, kernel: 'tf' }), repeats);
  const ours = await resident.search(queries, { k: 1, kernel: 'tf' });
  const residentBytes = tf.memory().numBytes;
  resident.dispose();
  const rssResident = maxRssMiB();

  // 4. The JS kernel on a 1/20 slice (it is ~10× slower than tf at this size; extrapolated linearly in N).
  const sliceRows = Math.max(1, Math.floor(rows / 20));
  const jsIndex = new CosineIndex(database.subarray(0, sliceRows * dim), { dimension: dim });
  const jsTimes = await timeIt(() => jsIndex.search(queries, { k: 1, kernel: 'js' }), 1);
  const tfSliceTimes = await timeIt(() => jsIndex.search(queries, { k: 1, kernel: 'tf' }), 1);
  jsIndex.dispose();

  // 5. Small-problem crossover between the kernels (for CosineIndex 'auto'); wasm warm (workers started).
  const crossover: { rows: number; js: number; tf: number; wasm: number }[] = [];
  for (const n of [10, 100, 1000, 10000]) {
    const idx = new CosineIndex(database.subarray(0, n * dim), { dimension: dim, resident: true });
    const q = queries.subarray(0, Math.min(numQueries, 32) * dim);
    await idx.search(q, { kernel: 'tf' });
    await idx.search(q, { kernel: 'wasm' });
    const js = median(await timeIt(() => idx.search(q, { kernel: 'js' }), 3));
    const tfs = median(await timeIt(() => idx.search(q, { kernel: 'tf' }), 3));
    const ws = median(await timeIt(() => idx.search(q, { kernel: 'wasm' }), 3));
    crossover.push({ rows: n, js, tf: tfs, wasm: ws });
    await idx.close();
  }

  // 6. numpy reference in a separate process on the same data.
  const py = String.raw`
import sys, time, json, resource
import numpy as np
d, nq = ${dim}, ${numQueries}
db = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, d)
q = np.fromfile(sys.argv[2], dtype=np.float32).reshape(nq, d)
t = time.perf_counter()
dbn = db / np.linalg.norm(db, axis=1, keepdims=True)
prep = time.perf_counter() - t
times = []
for _ in range(${repeats}):
    t = time.perf_counter()
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    sims = qn @ dbn.T
    idx = sims.argmax(axis=1)
    best = sims[np.arange(nq), idx]
    times.append(time.perf_counter() - t)
    del sims
print(json.dumps({"numpy": np.__version__, "prep": prep, "times": times, "idx": idx.tolist(),
                  "best": best.astype(float).tolist(),
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;
  type NumpyResult = { numpy: string; prep: number; times: number[]; idx: number[]; best: number[]; maxrss_mib: number };
  const runNumpy = (threads: string | undefined): NumpyResult => {
    const env = { ...process.env };
    if (threads) Object.assign(env, { OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads });
    const run = spawnSync('/usr/bin/python3', ['-c', py, join(dir, 'db.f32'), join(dir, 'q.f32')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env,
    });
    if (run.status !== 0) throw new Error(`numpy reference failed: ${run.stderr}`);
    return JSON.parse(run.stdout) as NumpyResult;
  };
  const ref = runNumpy(undefined); // OpenBLAS default: one thread per core
  const ref1 = runNumpy('1'); // single thread, like tfjs-wasm in Node
  let agree = 0;
  let maxSimDiff = 0;
  let truthHits = 0;
  let tfAgree = 0;
  let tfMaxDiff = 0;
  for (let q = 0; q < numQueries; q++) {
    if (wasm.indices[q] === ref.idx[q]) agree++;
    if (wasm.indices[q] === truth[q]) truthHits++;
    if (wasm.indices[q] === ours.indices[q]) tfAgree++;
    maxSimDiff = Math.max(maxSimDiff, Math.abs(wasm.similarities[q]! - ref.best[q]!));
    tfMaxDiff = Math.max(tfMaxDiff, Math.abs(wasm.similarities[q]! - ours.similarities[q]!));
  }
  const wasmMedian = median(wasmTimes);
  const wasmBest = Math.min(...wasmTimes);
  const tfMedian = median(residentTimes);
  const numpyMedian = median(ref.times);
  const tfBest = Math.min(...residentTimes);
  const numpyBest = Math.min(...ref.times);
  const numpy1Best = Math.min(...ref1.times);
  const summary = {
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    backend: tf.getBackend(),
    rows,
    queries: numQueries,
    dim,
    numpy: ref.numpy,
    ours: {
      wasm: { threads: wasmThreads, searchSeconds: wasmTimes, prepSeconds: wasmPrepSeconds, kernel: wasm.kernel },
      wasmOneThread: { searchSeconds: wasm1Times },
      tfResidentSearchSeconds: residentTimes,
      streamingSearchSeconds: streamTimes,
      prepSeconds,
      residentBackendMiB: residentBytes / 2 ** 20,
      maxRssMiB: { afterData: rssAfterData, afterWasm: rssWasm, afterStreaming: rssStreaming, afterResident: rssResident },
      jsKernelSlice: { rows: sliceRows, js: jsTimes[0], tf: tfSliceTimes[0] },
      crossover,
    },
    reference: { searchSeconds: ref.times, prepSeconds: ref.prep, maxRssMiB: ref.maxrss_mib },
    referenceSingleThread: { searchSeconds: ref1.times, prepSeconds: ref1.prep },
    ratio: wasmMedian / numpyMedian,
    ratioBestOf3: wasmBest / numpyBest,
    ratioTfResident: tfMedian / numpyMedian,
    ratioTfResidentBestOf3: tfBest / numpyBest,
    loadAverage: loadavg(),
    ratioStreaming: streamTimes[0]! / numpyMedian,
    float64BruteForce: { queries: exactQueries, sameArgmax: `${exactAgree}/${exactQueries}`, maxSimilarityDiff: exactMaxDiff },
    argmaxAgreementWithNumpy: `${agree}/${numQueries}`,
    maxSimilarityDiffVsNumpyFloat32: maxSimDiff,
    argmaxAgreementWasmTf: `${tfAgree}/${numQueries}`,
    maxSimilarityDiffWasmTf: tfMaxDiff,
    nearestIsSourceRow: `${truthHits}/${numQueries}`,
    streamingEqualsResident: streamResult!.indices.every((v, i) => v === ours.indices[i]),
  };
  console.log(JSON.stringify(summary, null, 1));
  const f = (s: number) => s.toFixed(2);
  console.log(`
| ${numQueries} queries × ${rows.toLocaleString('en')} × ${dim}, top-1 cosine | search: best of ${repeats} (median) | ratio best (median) | prep | peak RSS |
|---|---|---|---|---|
| numpy ${ref.numpy} + OpenBLAS, default threads (${cpus().length}) | ${f(numpyBest)} s (${f(numpyMedian)} s) | 1 | ${f(ref.prep)} s | ${ref.maxrss_mib.toFixed(0)} MiB |
| numpy ${ref.numpy} + OpenBLAS, 1 thread | ${f(numpy1Best)} s (${f(median(ref1.times))} s) | — | ${f(ref1.prep)} s | — |
| ours, defaults: wasm SIMD kernel, ${wasmThreads} worker threads | ${f(wasmBest)} s (${f(wasmMedian)} s) | **${(wasmBest / numpyBest).toFixed(2)}×** (${(wasmMedian / numpyMedian).toFixed(2)}×) | ${f(wasmPrepSeconds)} s | ${rssWasm.toFixed(0)} MiB |
| ours, wasm SIMD kernel, 1 worker thread | ${f(Math.min(...wasm1Times))} s (${f(median(wasm1Times))} s) | ${(Math.min(...wasm1Times) / numpyBest).toFixed(2)}× (${(median(wasm1Times) / numpyMedian).toFixed(2)}×); vs 1-thread numpy ${(Math.min(...wasm1Times) / numpy1Best).toFixed(2)}× | — | — |
| ours, tf ${tf.getBackend()} (1 thread), resident blocks | ${f(tfBest)} s (${f(tfMedian)} s) | ${(tfBest / numpyBest).toFixed(2)}× (${(tfMedian / numpyMedian).toFixed(2)}×) | ${f(prepSeconds)} s | ${rssResident.toFixed(0)} MiB |
| ours, tf ${tf.getBackend()}, streaming blocks (1 run) | ${f(streamTimes[0]!)} s | ${(streamTimes[0]! / numpyBest).toFixed(2)}× | — | ${rssStreaming.toFixed(0)} MiB |
| ours, JS kernel (${sliceRows.toLocaleString('en')} rows measured, ×${rows / sliceRows}) | ${f(jsTimes[0]! * (rows / sliceRows))} s | ${((jsTimes[0]! * (rows / sliceRows)) / numpyBest).toFixed(1)}× | — | — |

load average during the run: ${loadavg().map((x) => x.toFixed(1)).join(', ')} (2 cores shared with other jobs)
`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
