/**
 * The `'wasm'` screening stage of cosine search: worker threads scan disjoint row ranges of one shared copy of the
 * unit-normalised, transposed database with the hand-written SIMD kernel of `wasm-cosine-kernel.ts`, and return
 * every row whose float32 score comes within a proven error bound of its query's running k-th best. The caller
 * re-scores those candidates in float64 (see `CosineIndex`), so the final ranking is exact:
 *
 * with ε = {@link screeningErrorBound}(D) ≥ |f − s| for every row (f: float32 score, s: exact cosine) and τ the
 * k-th largest f of a query, each of the true top k (ties included) has s ≥ τ − ε, hence f ≥ τ − 2ε. Workers keep
 * every row with f ≥ (running k-th best) − 2ε, which is a superset; {@link WasmCosineScanner.search} then drops the
 * candidates below the global τ − 2ε.
 *
 * Memory: the database copy (N·D·4 bytes, rows padded to a whole block) plus, per worker, thresholds and a
 * candidate buffer of at most `queryGroup · B` records; never a `[Q, N]` matrix. Queries are processed in groups of
 * at most {@link WASM_QUERY_GROUP} (one pass over the database per group). The candidates kept are the rows within
 * 2ε of the k-th best: a few per query on real and random data (about ln N "record" rows while the running best
 * rises, plus near-ties), but a database holding very many identical rows keeps all of them (memory grows with
 * their count, 12 bytes each per query) — exactness needs every tied row's float64 score.
 *
 * @example
 * ```ts
 * const scanner = new WasmCosineScanner(db, inverseRowNorms(db, 100), { dimension: 100, threads: 2 });
 * const candidates = await scanner.search(unitQueries32, 1); // per query: rows to re-score in float64
 * await scanner.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from '@consistent-avatar/core';
import type { Worker } from 'node:worker_threads';
import { KERNEL_QUERY_TILE, KERNEL_ROW_VECTORS, cosineKernelBytes, screeningErrorBound } from './wasm-cosine-kernel.js';

/** Rows per transposed block of the wasm kernel (512 and 256 were the fastest measured for D = 100, Q = 350). */
export const WASM_BLOCK_ROWS = 512;
/** Largest query group scanned in one pass over the database. */
export const WASM_QUERY_GROUP = 1024;

/**
 * Options of {@link WasmCosineScanner}.
 *
 * @example
 * ```ts
 * const options: WasmCosineScannerOptions = { dimension: 100, threads: 2 };
 * ```
 */
export interface WasmCosineScannerOptions {
  /** D: vector length. */
  dimension: number;
  /** Worker threads (≥ 1); fewer are started when the database has fewer blocks. */
  threads: number;
  /** Rows per block (default {@link WASM_BLOCK_ROWS}; rounded up to the kernel's row tile). */
  blockRows?: number;
}

/**
 * Screening candidates of one query: rows to re-score exactly, with their float32 scores.
 *
 * @example
 * ```ts
 * const { rows, scores } = candidates[q];
 * ```
 */
export interface ScreeningCandidates {
  rows: Int32Array;
  scores: Float32Array;
}

/**
 * The part of the WebAssembly JS API used here. Typed locally: the workspace compiles without the DOM lib, and
 * `@types/node` 20 does not declare the `WebAssembly` global.
 */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

/** Byte layout of the shared memory (see `retrieval-worker.mjs`). */
interface Layout {
  dbPtr: number;
  blockBytes: number;
  blockRows: number;
  rows: number;
  queriesPtr: number;
  queryTile: number;
  pages: number;
  scratch: { thresholdsPtr: number; hitPtr: number; candidatesPtr: number }[];
}

function planLayout(rows: number, d: number, blockRows: number, threads: number): Layout {
  const align = (n: number) => Math.ceil(n / 64) * 64;
  const blocks = Math.ceil(rows / blockRows);
  const blockBytes = d * blockRows * 4;
  const qt = KERNEL_QUERY_TILE;
  const groupPadded = Math.ceil(WASM_QUERY_GROUP / qt) * qt;
  let at = 64;
  const dbPtr = at;
  at = align(at + blocks * blockBytes);
  const queriesPtr = at;
  at = align(at + groupPadded * d * 4);
  const scratch = [];
  for (let t = 0; t < threads; t++) {
    const thresholdsPtr = at;
    at = align(at + groupPadded * 4);
    const hitPtr = at;
    at = align(at + qt * KERNEL_ROW_VECTORS * 16);
    const candidatesPtr = at;
    at = align(at + groupPadded * blockRows * 12);
    scratch.push({ thresholdsPtr, hitPtr, candidatesPtr });
  }
  return { dbPtr, blockBytes, blockRows, rows, queriesPtr, queryTile: qt, pages: Math.ceil(at / PAGE), scratch };
}

/**
 * Whether the wasm kernel can run here for a database of `rows × dimension` with `threads` workers: WebAssembly
 * SIMD and shared memory are available and the copy fits the 4 GiB wasm32 memory.
 *
 * @example
 * ```ts
 * wasmCosineSupported(1_000_000, 100, 2); // true on Node 20
 * ```
 */
export function wasmCosineSupported(rows: number, dimension: number, threads: number, blockRows = WASM_BLOCK_ROWS): boolean {
  if (!wasmApi || typeof SharedArrayBuffer !== 'function') return false;
  const b = kernelBlockRows(blockRows, rows);
  if (planLayout(rows, dimension, b, threads).pages > MAX_PAGES) return false;
  return simdSupported();
}

let simdCache: boolean | undefined;
function simdSupported(): boolean {
  simdCache ??= wasmApi!.validate(cosineKernelBytes({ dimension: 1, blockRows: 4 * KERNEL_ROW_VECTORS }));
  return simdCache;
}

/** Block rows rounded up to the kernel's row tile, and no larger than the (rounded) database. */
function kernelBlockRows(blockRows: number, rows: number): number {
  const tile = 4 * KERNEL_ROW_VECTORS;
  return Math.ceil(Math.min(blockRows, rows) / tile) * tile;
}

type Pending = { resolve: (r: WorkerAnswer) => void; reject: (e: Error) => void };
type WorkerAnswer = { id: number; query: Int32Array; row: Int32Array; score: Float32Array; error?: string };

/**
 * Worker threads scanning a shared wasm copy of the normalised database (see the file comment). Stateful (threads,
 * shared memory): call {@link WasmCosineScanner.dispose}.
 *
 * @example
 * ```ts
 * const scanner = new WasmCosineScanner(db, inverseRowNorms(db, d), { dimension: d, threads: 2 });
 * const perQuery = await scanner.search(unitQueries, 5);
 * await scanner.dispose();
 * ```
 */
export class WasmCosineScanner {
  readonly dimension: number;
  readonly rows: number;
  readonly blockRows: number;
  readonly threads: number;
  private readonly layout: Layout;
  private readonly memory: { buffer: SharedArrayBuffer };
  private readonly module: object;
  private workers: Promise<Worker[]> | null = null;
  private started: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;
  private disposed = false;

  constructor(database: Float32Array, inverseNorms: Float64Array, options: WasmCosineScannerOptions) {
    const fn = 'WasmCosineScanner';
    const d = options.dimension;
    const rows = database.length / d;
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new ValidationError(fn, 'options.threads', 'a positive integer', options.threads);
    }
    this.dimension = d;
    this.rows = rows;
    this.blockRows = kernelBlockRows(options.blockRows ?? WASM_BLOCK_ROWS, rows);
    const blocks = Math.ceil(rows / this.blockRows);
    this.threads = Math.min(options.threads, blocks);
    if (!wasmCosineSupported(rows, d, this.threads, this.blockRows)) {
      throw new ValidationError(fn, 'database', 'a database whose copy fits 4 GiB of wasm memory, on a runtime with wasm SIMD', `${rows} × ${d}`);
    }
    this.layout = planLayout(rows, d, this.blockRows, this.threads);
    this.module = new wasmApi!.Module(cosineKernelBytes({ dimension: d, blockRows: this.blockRows }));
    this.memory = new wasmApi!.Memory({ initial: this.layout.pages, maximum: this.layout.pages, shared: true });
    // Database blocks: [D, B] each, rows unit-normalised (float64 scale, one float32 rounding), zero-padded.
    const f32 = new Float32Array(this.memory.buffer);
    const b = this.blockRows;
    for (let block = 0; block < blocks; block++) {
      const r0 = block * b;
      const count = Math.min(b, rows - r0);
      const out = (this.layout.dbPtr + block * this.layout.blockBytes) / 4;
      const tile = 64; // 64-row tiles keep the strided writes in cache
      for (let t0 = 0; t0 < count; t0 += tile) {
        const t1 = Math.min(count, t0 + tile);
        for (let j = 0; j < d; j++) {
          const o = out + j * b;
          for (let r = t0; r < t1; r++) f32[o + r] = database[(r0 + r) * d + j]! * inverseNorms[r0 + r]!;
        }
      }
    }
  }

  /** Bytes of wasm memory held (database copy and scratch). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Number of worker threads currently running. */
  get runningWorkers(): number {
    return this.started.length;
  }

  private startWorkers(): Promise<Worker[]> {
    this.workers ??= (async () => {
      const { Worker } = await import('node:worker_threads');
      const url = new URL('./retrieval-worker.mjs', import.meta.url);
      const workers: Worker[] = [];
      for (let t = 0; t < this.threads; t++) {
        const layout = { ...this.layout, scratch: this.layout.scratch[t] };
        // execArgv: [] — the worker is plain JavaScript and needs no loader hooks (e.g. tsx) from the parent.
        const worker = new Worker(url, { workerData: { module: this.module, memory: this.memory, layout }, execArgv: [] });
        worker.on('message', (answer: WorkerAnswer) => this.settle(answer));
        worker.on('error', (error) => this.fail(new Error(`cosine wasm worker ${t} failed: ${error.message}`, { cause: error })));
        worker.on('exit', (code) => {
          this.started = this.started.filter((w) => w !== worker);
          if (!this.disposed) this.fail(new Error(`cosine wasm worker ${t} exited unexpectedly (code ${code})`));
        });
        worker.unref(); // idle workers do not keep the process alive; ref() while a search is pending
        workers.push(worker);
        this.started.push(worker);
      }
      return workers;
    })();
    return this.workers;
  }

  private settle(answer: WorkerAnswer): void {
    const pending = this.pending.get(answer.id);
    if (!pending) return;
    this.pending.delete(answer.id);
    if (answer.error !== undefined) pending.reject(new Error(`cosine wasm worker failed: ${answer.error}`));
    else pending.resolve(answer);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private ask(worker: Worker, message: Record<string, number>): Promise<WorkerAnswer> {
    const id = this.nextId++;
    return new Promise<WorkerAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  }

  /**
   * Screening candidates of each query for its top k (a superset of the exact top k; see the file comment).
   *
   * @param unitQueries - row-major `[Q, D]` unit-normalised queries (float64 or float32).
   * @returns per query, the candidate rows (ascending within each worker's range) and their float32 scores.
   *
   * @example
   * ```ts
   * const perQuery = await scanner.search(unitQueries, 1);
   * ```
   */
  async search(unitQueries: Float64Array | Float32Array, k: number): Promise<ScreeningCandidates[]> {
    const fn = 'WasmCosineScanner.search';
    if (this.disposed) throw new ValidationError(fn, 'this', 'a scanner that was not disposed', 'disposed scanner');
    if (this.failure) throw this.failure;
    const d = this.dimension;
    const q = unitQueries.length / d;
    const workers = await this.startWorkers();
    const blocks = Math.ceil(this.rows / this.blockRows);
    const qt = this.layout.queryTile;
    const epsilon = screeningErrorBound(d);
    // Threshold offset used on the workers: 2ε plus the float32 rounding of (k-th best − offset) itself.
    const delta = 2 * epsilon + 2 ** -22;
    const out: { rows: number[]; scores: number[] }[] = Array.from({ length: q }, () => ({ rows: [], scores: [] }));
    const f32 = new Float32Array(this.memory.buffer);
    workers.forEach((w) => w.ref());
    try {
      for (let g0 = 0; g0 < q; g0 += WASM_QUERY_GROUP) {
        const g1 = Math.min(q, g0 + WASM_QUERY_GROUP);
        const count = g1 - g0;
        const tiles = Math.ceil(count / qt);
        // Queries of the group as tiles [tiles, D, qt] (interleaved by k), zero-padded.
        const base = this.layout.queriesPtr / 4;
        f32.fill(0, base, base + tiles * qt * d);
        for (let i = 0; i < count; i++) {
          const o = base + Math.floor(i / qt) * d * qt + (i % qt);
          for (let j = 0; j < d; j++) f32[o + j * qt] = unitQueries[(g0 + i) * d + j]!;
        }
        const answers = await Promise.all(
          workers.map((worker, t) =>
            this.ask(worker, {
              firstBlock: Math.floor((t * blocks) / workers.length),
              endBlock: Math.floor(((t + 1) * blocks) / workers.length),
              queries: count,
              queryTiles: tiles,
              k: Math.min(k, this.rows),
              delta,
            }),
          ),
        );
        // Global filter: keep f ≥ τ − 2ε, τ = k-th best float32 score of the query over all workers.
        const kk = Math.min(k, this.rows);
        const top = new Float64Array(count * kk).fill(-Infinity);
        for (const a of answers) {
          for (let i = 0; i < a.query.length; i++) {
            const base = a.query[i]! * kk;
            const f = a.score[i]!;
            if (f <= top[base + kk - 1]!) continue;
            let pos = kk - 1;
            while (pos > 0 && top[base + pos - 1]! < f) {
              top[base + pos] = top[base + pos - 1]!;
              pos--;
            }
            top[base + pos] = f;
          }
        }
        for (const a of answers) {
          for (let i = 0; i < a.query.length; i++) {
            const qi = a.query[i]!;
            if (a.score[i]! >= top[qi * kk + kk - 1]! - 2 * epsilon) {
              out[g0 + qi]!.rows.push(a.row[i]!);
              out[g0 + qi]!.scores.push(a.score[i]!);
            }
          }
        }
      }
    } finally {
      if (!this.disposed) workers.forEach((w) => w.unref());
    }
    return out.map((c) => ({ rows: Int32Array.from(c.rows), scores: Float32Array.from(c.scores) }));
  }

  /**
   * Terminate the worker threads and release the shared memory (pending searches reject). Resolves when every
   * worker has exited.
   *
   * @example
   * ```ts
   * await scanner.dispose();
   * ```
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.fail(new Error('WasmCosineScanner: disposed during a search'));
    const workers = this.workers ? await this.workers.catch(() => [] as Worker[]) : [];
    await Promise.all(workers.map((w) => w.terminate()));
    this.started = [];
  }
}
