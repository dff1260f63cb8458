/**
 * Blocked cosine-similarity top-k search: for each query vector, the k database rows with the highest cosine
 * similarity (Eq. 7 of the paper takes k = 1: `argmax_n cs(E_I, E_n)`).
 *
 * Three kernels compute the same result:
 * - `'wasm'`: a hand-written WebAssembly SIMD kernel (`wasm-cosine-kernel.ts`) run by `threads` worker threads over
 *   disjoint row ranges of one shared, unit-normalised, transposed copy of the database (`wasm-cosine-search.ts`).
 *   It fuses the dot products with the top-k screening, so no similarity matrix exists. The float32 screening keeps
 *   every row within a *proven* error bound 2ε of the running k-th best score (ε ≈ 6.1e-6 for D = 100, see
 *   `screeningErrorBound`) and re-scores all of them in float64: the ranking and the similarities are exact (ties
 *   included), with no margin to tune. The fastest kernel from about 10^4 rows (Q = 32, D = 100): 350 × 1,000,000 × 100
 *   takes 1.6–1.7 s on a loaded 2-core machine, 0.84–0.85× numpy in the same run (BENCHMARKS.md, emotion).
 * - `'tf'`: the database is cut into blocks of B rows, each stored unit-normalised and transposed `[D, B]` (on the
 *   active backend when resident, else re-uploaded per search). A block's similarities are one `tf.matMul` of the
 *   unit-normalised queries `[Q, D]` with the block (wasm: SIMD GEMM), followed by `tf.topk`; candidates are merged
 *   on the JS side, so memory is bounded by one `[Q, B]` block whatever N is. Float32 GEMM only *screens*: the best
 *   `k + rerankMargin` candidates per query are re-scored exactly (float64 dot products of the float32 inputs), so the
 *   similarities returned equal a float64 reference to ~1e-15, and the ranking is exact unless more than
 *   `rerankMargin` rows fall within the float32 error (~1e-6) of the k-th neighbour.
 * - `'js'`: a typed-array loop that streams the database once, computing every dot product in float64 for a block of
 *   queries and keeping a sorted top-k list per query. Exact by construction; faster than `'tf'` only for tiny
 *   problems (no upload, no kernel launches); see BENCHMARKS.md, emotion section.
 * `'auto'` (default) picks `'js'` when Q·N·D is below {@link AUTO_JS_MAX_WORK}; `'wasm'` when Q·N·D ≥
 * {@link AUTO_WASM_MIN_WORK}, the index is resident and the runtime supports it (wasm SIMD, shared memory, database
 * copy ≤ 4 GiB); `'tf'` otherwise.
 *
 * Rows with zero norm have similarity 0 with everything. Ties are broken by the lower row index (as numpy/torch
 * `argmax` return the first maximum).
 *
 * Layout note: `tf.matMul(q, b, false, true)` (transposed B flag) is 5–7× slower than multiplying by an explicitly
 * transposed `[D, B]` block on tfjs-wasm 4.22 (measured), hence the transposed block storage.
 *
 * @example
 * ```ts
 * import { cosineTopK } from '@consistent-avatar/emotion';
 * const db = Float32Array.from([1, 0, 0, 1, 1, 1]);            // 3 rows, D = 2
 * const r = await cosineTopK(Float32Array.from([1, 0.1]), db, { dimension: 2, k: 2 });
 * r.indices;      // Int32Array [0, 2]
 * r.similarities; // Float64Array [0.995…, 0.77…]
 * ```
 *
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import { checkFinite, tf, ValidationError } from '@consistent-avatar/core';
import { WasmCosineScanner, wasmCosineSupported } from './wasm-cosine-search.js';

/**
 * Kernel choice for cosine search: `'wasm'` (SIMD kernel on worker threads, exact screening), `'tf'` (blocked GEMM on
 * the active backend), `'js'` (typed-array loop) or `'auto'`.
 *
 * @example
 * ```ts
 * const kernel: CosineKernel = 'tf';
 * ```
 */
export type CosineKernel = 'auto' | 'wasm' | 'tf' | 'js';

/**
 * Call-time options of {@link CosineIndex.search} (flat; every field has a documented default).
 *
 * @example
 * ```ts
 * const options: CosineSearchOptions = { k: 5, kernel: 'tf', rerankMargin: 3 };
 * ```
 */
export interface CosineSearchOptions {
  /** Neighbours per query (default 1, Eq. 7). */
  k?: number;
  /** Kernel (default `'auto'`). */
  kernel?: CosineKernel;
  /** `'tf'`: largest similarity block Q·B in elements (default 2^23 = 32 MiB float32); larger Q is chunked. */
  maxBlockElements?: number;
  /** `'tf'`: extra candidates per query re-scored in float64 (default 3). */
  rerankMargin?: number;
}

/**
 * Load-time options of {@link CosineIndex} (flat; documented defaults).
 *
 * @example
 * ```ts
 * const options: CosineIndexOptions = { dimension: 100, blockRows: 8192, resident: 'auto' };
 * ```
 */
export interface CosineIndexOptions {
  /** D: vector length (required). */
  dimension: number;
  /** Database rows per block B (default 8192, the fastest measured on wasm for D = 100, Q = 350). */
  blockRows?: number;
  /**
   * Keep the normalised transposed blocks between searches — on the tensor backend (`'tf'`) or in the shared wasm
   * memory of the worker threads (`'wasm'`) — (default `'auto'`: when N·D·4 bytes ≤ `residentBudgetBytes`). When
   * false, `'tf'` re-uploads block by block (bounded memory, slower) and an explicit `'wasm'` search builds its copy
   * and stops its threads afterwards; `'auto'` never picks `'wasm'` for a non-resident index.
   */
  resident?: boolean | 'auto';
  /** Budget for `resident: 'auto'` (default 1 GiB). */
  residentBudgetBytes?: number;
  /**
   * `'wasm'` kernel: worker threads scanning disjoint row ranges (default `'auto'`: the available cores, at most
   * {@link AUTO_MAX_THREADS}).
   */
  threads?: number | 'auto';
}

/**
 * Result of a cosine search: for each query, k neighbours sorted by decreasing similarity.
 *
 * @example
 * ```ts
 * const { indices, similarities, k } = result; // neighbour j of query q: indices[q * k + j]
 * ```
 */
export interface CosineSearchResult {
  /** Number of queries Q. */
  queries: number;
  /** Neighbours per query (min(k, N)). */
  k: number;
  /** Row indices `[Q, k]`, row-major. */
  indices: Int32Array;
  /** Cosine similarities `[Q, k]` in [-1, 1], computed in float64. */
  similarities: Float64Array;
  /** The kernel that ran. */
  kernel: 'wasm' | 'tf' | 'js';
}

/**
 * Below this many multiply-adds (Q·N·D) `'auto'` uses the JS kernel (measured crossover, see the bench: the tf
 * kernel wins from ~100 database rows at Q = 32, D = 100).
 *
 * @example
 * ```ts
 * const usesJs = 32 * 10 * 100 < AUTO_JS_MAX_WORK; // true
 * ```
 */
export const AUTO_JS_MAX_WORK = 1e5;

/**
 * From this many multiply-adds (Q·N·D) on, `'auto'` uses the `'wasm'` kernel (resident index). Below it a search is
 * dominated by the round trip to the worker threads (0.5–2 ms measured on a loaded 2-core machine), where `'tf'` is
 * as fast or faster: Q = 32, D = 100 — 1000 rows: tf 0.6–0.8 ms, wasm 0.7–1.7 ms; 10,000 rows: tf 3.2–8.4 ms, wasm
 * 2.5–4.8 ms (BENCHMARKS.md, emotion).
 *
 * @example
 * ```ts
 * const usesWasm = 350 * 1_000_000 * 100 >= AUTO_WASM_MIN_WORK; // true
 * ```
 */
export const AUTO_WASM_MIN_WORK = 3e7;

/**
 * Upper limit of `threads: 'auto'` for the `'wasm'` kernel (the scan is compute-bound; more threads than cores only
 * add contention).
 *
 * @example
 * ```ts
 * const threads = Math.min(os.availableParallelism(), AUTO_MAX_THREADS);
 * ```
 */
export const AUTO_MAX_THREADS = 8;

/**
 * A prepared cosine-similarity index over database vectors `[N, D]` (Eq. 7 retrieval). Stateful because the
 * normalised blocks may live on the tensor backend: call {@link CosineIndex.dispose} when done.
 *
 * @example
 * ```ts
 * const index = new CosineIndex(db.vectors, { dimension: db.dimension });
 * const r = await index.search(frames, { k: 1 });
 * index.dispose();
 * ```
 */
export class CosineIndex {
  readonly dimension: number;
  readonly size: number;
  readonly blockRows: number;
  readonly resident: boolean;
  /** Float64 inverse row norms `[N]`. */
  readonly inverseNorms: Float64Array;
  /** Worker threads of the `'wasm'` kernel. */
  readonly threads: number;
  private blocks: tf.Tensor2D[] | null = null;
  private wasm: WasmCosineScanner | null = null;
  private closing: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    readonly database: Float32Array,
    options: CosineIndexOptions,
  ) {
    const fn = 'CosineIndex';
    if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an object', options);
    const d = options.dimension;
    if (!Number.isInteger(d) || d < 1) throw new ValidationError(fn, 'options.dimension', 'a positive integer', d);
    if (!(database instanceof Float32Array) || database.length % d !== 0 || database.length === 0) {
      throw new ValidationError(fn, 'database', `a non-empty Float32Array [N, D = ${d}] (length a multiple of ${d})`, database);
    }
    const blockRows = options.blockRows ?? 8192;
    if (!Number.isInteger(blockRows) || blockRows < 1) {
      throw new ValidationError(fn, 'options.blockRows', 'a positive integer', blockRows);
    }
    const budget = options.residentBudgetBytes ?? 2 ** 30;
    const resident = options.resident ?? 'auto';
    if (resident !== 'auto' && typeof resident !== 'boolean') {
      throw new ValidationError(fn, 'options.resident', "true, false or 'auto'", resident);
    }
    const threads = options.threads ?? 'auto';
    if (threads !== 'auto' && (!Number.isInteger(threads) || threads < 1)) {
      throw new ValidationError(fn, 'options.threads', "a positive integer or 'auto'", threads);
    }
    for (let i = 0; i < database.length; i++) {
      if (!Number.isFinite(database[i]!)) throw new ValidationError(fn, `database[${i}]`, 'finite numbers', database[i]);
    }
    this.threads = threads === 'auto' ? Math.max(1, Math.min(availableParallelism(), AUTO_MAX_THREADS)) : threads;
    this.dimension = d;
    this.size = database.length / d;
    this.blockRows = Math.min(blockRows, this.size);
    this.resident = resident === 'auto' ? database.length * 4 <= budget : resident;
    this.inverseNorms = inverseRowNorms(database, d);
  }

  /** Number of blocks ⌈N / B⌉. */
  get blockCount(): number {
    return Math.ceil(this.size / this.blockRows);
  }

  /** Block `i` unit-normalised and transposed, as a new tensor `[D, B_i]`. */
  private makeBlock(i: number): tf.Tensor2D {
    const d = this.dimension;
    const r0 = i * this.blockRows;
    const r1 = Math.min(this.size, r0 + this.blockRows);
    const b = r1 - r0;
    const unitT = new Float32Array(d * b); // [D, B]: row-major [B, D] rows scaled to unit norm, transposed
    const tile = 64; // tiles of 64 rows keep the strided writes in cache
    for (let t0 = 0; t0 < b; t0 += tile) {
      const t1 = Math.min(b, t0 + tile);
      for (let j = 0; j < d; j++) {
        const o = j * b;
        for (let r = t0; r < t1; r++) unitT[o + r] = this.database[(r0 + r) * d + j]! * this.inverseNorms[r0 + r]!;
      }
    }
    return tf.tensor2d(unitT, [d, b]);
  }

  /**
   * The k most cosine-similar database rows of each query.
   *
   * @param queries - row-major `[Q, D]` expression vectors (finite).
   * @returns indices and float64 similarities `[Q, k]`, best first.
   *
   * @example
   * ```ts
   * const { indices, similarities } = await index.search(frames, { k: 5 });
   * ```
   */
  async search(queries: Float32Array, options: CosineSearchOptions = {}): Promise<CosineSearchResult> {
    const fn = 'CosineIndex.search';
    if (this.disposed) throw new ValidationError(fn, 'this', 'an index that was not disposed', 'disposed index');
    const o = validateSearch(fn, queries, this.dimension, this.size, options);
    const kernel = o.kernel === 'auto' ? this.autoKernel(o.q) : o.kernel;
    const lists =
      kernel === 'js'
        ? searchJs(queries, this.database, this.dimension, o.k)
        : kernel === 'wasm'
          ? await this.searchWasm(queries, o.k)
          : await this.searchTf(queries, o.q, o.k, o.maxBlockElements, o.rerankMargin);
    return { queries: o.q, k: o.k, indices: lists.indices, similarities: lists.sims, kernel };
  }

  /** `'auto'`: JS for tiny problems, wasm for large ones when resident and supported, else tf. */
  private autoKernel(q: number): 'js' | 'wasm' | 'tf' {
    if (q * this.size * this.dimension < AUTO_JS_MAX_WORK) return 'js';
    const work = q * this.size * this.dimension;
    if (work >= AUTO_WASM_MIN_WORK && this.resident && wasmCosineSupported(this.size, this.dimension, this.threads)) {
      return 'wasm';
    }
    return 'tf';
  }

  /** Float64 cosine of normalised query `qi` with database row `r`: the exact re-scoring of every kernel. */
  private exactScore(queryUnit64: Float64Array, qi: number, r: number): number {
    const d = this.dimension;
    let s = 0;
    for (let t = 0; t < d; t++) s += queryUnit64[qi * d + t]! * this.database[r * d + t]!;
    return s * this.inverseNorms[r]!;
  }

  /** wasm kernel: SIMD screening on worker threads (proven bound) → float64 re-scoring of every candidate. */
  private async searchWasm(queries: Float32Array, k: number): Promise<TopKLists> {
    const d = this.dimension;
    const queryUnit64 = normalisedQueries(queries, d);
    this.wasm ??= new WasmCosineScanner(this.database, this.inverseNorms, { dimension: d, threads: this.threads });
    const scanner = this.wasm;
    try {
      const candidates = await scanner.search(queryUnit64, k);
      const lists = new TopKLists(candidates.length, k);
      candidates.forEach(({ rows }, qi) => rows.forEach((r) => lists.push(qi, r, this.exactScore(queryUnit64, qi, r))));
      return lists;
    } finally {
      if (!this.resident) {
        this.wasm = null;
        this.closing = scanner.dispose();
      }
    }
  }

  /** tf kernel: normalised GEMM per block → topk screening → float64 re-scoring of the candidates. */
  private async searchTf(
    queries: Float32Array,
    q: number,
    k: number,
    maxBlockElements: number,
    rerankMargin: number,
  ): Promise<TopKLists> {
    const d = this.dimension;
    const n = this.size;
    const kScreen = Math.min(n, k + rerankMargin);
    if (this.resident && !this.blocks) {
      this.blocks = Array.from({ length: this.blockCount }, (_, i) => this.makeBlock(i));
    }
    const candidates = new TopKLists(q, kScreen);
    const queryChunk = Math.max(1, Math.min(q, Math.floor(maxBlockElements / this.blockRows)));
    const queryUnit64 = normalisedQueries(queries, d);
    const queryUnit32 = Float32Array.from(queryUnit64);
    for (let q0 = 0; q0 < q; q0 += queryChunk) {
      const q1 = Math.min(q, q0 + queryChunk);
      const qCount = q1 - q0;
      const queryTensor = tf.tensor2d(queryUnit32.subarray(q0 * d, q1 * d), [qCount, d]); // [Qc, D]
      try {
        for (let i = 0; i < this.blockCount; i++) {
          const r0 = i * this.blockRows;
          const block = this.blocks ? this.blocks[i]! : this.makeBlock(i); // [D, B]
          const b = block.shape[1];
          const kb = Math.min(kScreen, b);
          const [values, indices] = tf.tidy(() => {
            const sims = tf.matMul(queryTensor, block); // [Qc, B]  Eq. 7: cosine similarities
            const top = tf.topk(sims, kb, true); // [Qc, kb] each
            return [top.values, top.indices];
          });
          if (!this.blocks) block.dispose();
          const [vals, idx] = await Promise.all([values.data(), indices.data()]);
          values.dispose();
          indices.dispose();
          for (let qi = 0; qi < qCount; qi++) {
            const thr = candidates.threshold(q0 + qi);
            for (let j = 0; j < kb; j++) {
              const v = vals[qi * kb + j]!;
              if (v < thr) break; // sorted descending: the rest are worse
              candidates.push(q0 + qi, r0 + idx[qi * kb + j]!, v);
            }
          }
        }
      } finally {
        queryTensor.dispose();
      }
    }
    // Exact float64 re-scoring of the screened candidates.
    const lists = new TopKLists(q, k);
    for (let qi = 0; qi < q; qi++) {
      const count = candidates.counts[qi]!;
      for (let j = 0; j < count; j++) {
        const r = candidates.indices[qi * kScreen + j]!;
        lists.push(qi, r, this.exactScore(queryUnit64, qi, r));
      }
    }
    return lists;
  }

  /**
   * Release the resident blocks and terminate the `'wasm'` worker threads (a pending search rejects). The index
   * cannot search afterwards. Use {@link CosineIndex.close} to also wait until the threads have exited.
   *
   * @example
   * ```ts
   * index.dispose();
   * ```
   */
  dispose(): void {
    this.blocks?.forEach((b) => b.dispose());
    this.blocks = null;
    if (this.wasm) {
      const scanner = this.wasm;
      this.wasm = null;
      this.closing = Promise.all([this.closing, scanner.dispose()]).then(() => undefined);
    }
    this.disposed = true;
  }

  /**
   * {@link CosineIndex.dispose}, then resolve once every worker thread has exited.
   *
   * @example
   * ```ts
   * await index.close();
   * ```
   */
  async close(): Promise<void> {
    this.dispose();
    await this.closing;
  }

  /** Worker threads of the `'wasm'` kernel currently running (0 before the first wasm search and after dispose). */
  get runningWorkers(): number {
    return this.wasm?.runningWorkers ?? 0;
  }
}

/**
 * One-off cosine top-k search (builds a non-resident {@link CosineIndex}, searches, closes it). With the default
 * `kernel: 'auto'` this never uses `'wasm'` (which would copy the database); pass `kernel: 'wasm'` for large one-off
 * searches.
 *
 * @param queries - row-major `[Q, D]` expression vectors of the frames to label.
 * @param database - row-major `[N, D]` database vectors (e.g. `ExpressionDatabase.vectors`).
 *
 * @example
 * ```ts
 * const r = await cosineTopK(frames, db.vectors, { dimension: db.dimension, k: 5 });
 * const nearest = r.indices[0]; // best row for the first frame
 * ```
 */
export async function cosineTopK(
  queries: Float32Array,
  database: Float32Array,
  options: CosineSearchOptions & Omit<CosineIndexOptions, 'resident'>,
): Promise<CosineSearchResult> {
  // The non-finite policy, named here (the index and its search would name themselves): one pass over each array.
  if (queries instanceof Float32Array) checkFinite('cosineTopK', 'queries', queries);
  if (database instanceof Float32Array) checkFinite('cosineTopK', 'database', database);
  const index = new CosineIndex(database, { ...options, resident: false });
  try {
    return await index.search(queries, options);
  } finally {
    await index.close();
  }
}

function validateSearch(fn: string, queries: Float32Array, d: number, n: number, options: CosineSearchOptions) {
  if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an object', options);
  if (!(queries instanceof Float32Array) || queries.length % d !== 0 || queries.length === 0) {
    throw new ValidationError(fn, 'queries', `a non-empty Float32Array [Q, D = ${d}] (length a multiple of ${d})`, queries);
  }
  for (let i = 0; i < queries.length; i++) {
    if (!Number.isFinite(queries[i]!)) throw new ValidationError(fn, `queries[${i}]`, 'finite numbers', queries[i]);
  }
  const k = options.k ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new ValidationError(fn, 'options.k', 'a positive integer', k);
  const kernel = options.kernel ?? 'auto';
  if (kernel !== 'auto' && kernel !== 'wasm' && kernel !== 'tf' && kernel !== 'js') {
    throw new ValidationError(fn, 'options.kernel', "'auto', 'wasm', 'tf' or 'js'", kernel);
  }
  const maxBlockElements = options.maxBlockElements ?? 1 << 23;
  if (!Number.isInteger(maxBlockElements) || maxBlockElements < 1) {
    throw new ValidationError(fn, 'options.maxBlockElements', 'a positive integer', maxBlockElements);
  }
  const rerankMargin = options.rerankMargin ?? 3;
  if (!Number.isInteger(rerankMargin) || rerankMargin < 0) {
    throw new ValidationError(fn, 'options.rerankMargin', 'an integer ≥ 0', rerankMargin);
  }
  return { q: queries.length / d, k: Math.min(k, n), kernel, maxBlockElements, rerankMargin };
}

const inverseNormCache = new WeakMap<Float32Array, Float64Array>();

/**
 * Inverse L2 norm of each row of a row-major `[N, D]` matrix (0 for zero rows), in float64. Cached per array
 * (keyed by the `Float32Array` object; mutate a database's vectors and the cache is stale — databases are
 * treated as immutable).
 *
 * @example
 * ```ts
 * inverseRowNorms(Float32Array.from([3, 4, 0, 0]), 2); // Float64Array [0.2, 0]
 * ```
 */
export function inverseRowNorms(matrix: Float32Array, dimension: number): Float64Array {
  const fn = 'inverseRowNorms';
  if (!Number.isInteger(dimension) || dimension < 1) throw new ValidationError(fn, 'dimension', 'a positive integer', dimension);
  if (!(matrix instanceof Float32Array) || matrix.length % dimension !== 0) {
    throw new ValidationError(fn, 'matrix', `a Float32Array [N, D = ${dimension}] (length a multiple of ${dimension})`, matrix);
  }
  const cached = inverseNormCache.get(matrix);
  if (cached && cached.length * dimension === matrix.length) return cached;
  // The non-finite policy, on a cache miss only (one pass, as the norms): a NaN row's norm was NaN, and so was every
  // similarity with it.
  checkFinite(fn, 'matrix', matrix);
  const n = matrix.length / dimension;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * dimension;
    for (let j = 0; j < dimension; j++) {
      const v = matrix[o + j]!;
      s += v * v;
    }
    out[r] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  inverseNormCache.set(matrix, out);
  return out;
}

/** Sorted top-k lists for many queries, kept as flat arrays (descending similarity, ascending index on ties). */
class TopKLists {
  readonly indices: Int32Array;
  readonly sims: Float64Array;
  readonly counts: Int32Array;
  constructor(
    readonly queries: number,
    readonly k: number,
  ) {
    this.indices = new Int32Array(queries * k).fill(-1);
    this.sims = new Float64Array(queries * k).fill(-Infinity);
    this.counts = new Int32Array(queries);
  }
  /** Worst similarity kept for query q (−∞ while the list is not full). */
  threshold(q: number): number {
    return this.counts[q]! < this.k ? -Infinity : this.sims[q * this.k + this.k - 1]!;
  }
  /** Insert (index, sim) into query q's list if it belongs there. */
  push(q: number, index: number, sim: number): void {
    const k = this.k;
    const base = q * k;
    const count = this.counts[q]!;
    let pos = count < k ? count : k - 1;
    if (count >= k) {
      const ws = this.sims[base + k - 1]!;
      if (sim < ws || (sim === ws && index > this.indices[base + k - 1]!)) return;
    } else {
      this.counts[q] = count + 1;
    }
    // Shift worse entries down (insertion sort step).
    while (pos > 0) {
      const ps = this.sims[base + pos - 1]!;
      if (ps > sim || (ps === sim && this.indices[base + pos - 1]! < index)) break;
      this.sims[base + pos] = ps;
      this.indices[base + pos] = this.indices[base + pos - 1]!;
      pos--;
    }
    this.sims[base + pos] = sim;
    this.indices[base + pos] = index;
  }
}

/** Unit-normalised copy of the queries in float64 (exact scoring) — `[Q, D]`. */
function normalisedQueries(queries: Float32Array, d: number): Float64Array {
  const inv = inverseRowNorms(queries, d);
  const out = new Float64Array(queries.length);
  for (let i = 0; i < queries.length; i++) out[i] = queries[i]! * inv[(i / d) | 0]!;
  return out;
}

/** JS kernel: stream database rows once; for a block of queries, float64 dot products and sorted top-k insert. */
function searchJs(queries: Float32Array, database: Float32Array, d: number, k: number): TopKLists {
  const q = queries.length / d;
  const n = database.length / d;
  const qn = normalisedQueries(queries, d);
  const dbInv = inverseRowNorms(database, d);
  const lists = new TopKLists(q, k);
  const thresholds = new Float64Array(q).fill(-Infinity);
  // Query blocks keep the working set (block of queries + one db row) in cache.
  const queryBlock = 64;
  const dbBlock = 4096;
  for (let r0 = 0; r0 < n; r0 += dbBlock) {
    const r1 = Math.min(n, r0 + dbBlock);
    for (let q0 = 0; q0 < q; q0 += queryBlock) {
      const q1 = Math.min(q, q0 + queryBlock);
      for (let r = r0; r < r1; r++) {
        const ro = r * d;
        const inv = dbInv[r]!;
        for (let qi = q0; qi < q1; qi++) {
          const qo = qi * d;
          let s = 0;
          let j = 0;
          for (; j + 3 < d; j += 4) {
            s +=
              qn[qo + j]! * database[ro + j]! +
              qn[qo + j + 1]! * database[ro + j + 1]! +
              qn[qo + j + 2]! * database[ro + j + 2]! +
              qn[qo + j + 3]! * database[ro + j + 3]!;
          }
          for (; j < d; j++) s += qn[qo + j]! * database[ro + j]!;
          const sim = s * inv;
          if (sim >= thresholds[qi]!) {
            lists.push(qi, r, sim);
            thresholds[qi] = lists.threshold(qi);
          }
        }
      }
    }
  }
  return lists;
}

