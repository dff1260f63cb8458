/**
 * A hand-written WebAssembly SIMD (128-bit, f32x4) kernel for cosine screening: for every query of a tile and every
 * database row of a block, the float32 dot product of the unit-normalised vectors, compared on the fly with a
 * per-query threshold. Scores that reach the threshold are appended to a candidate list (query, row, score); nothing
 * else leaves the registers, so no `[Q, N]` similarity matrix exists anywhere.
 *
 * The module is assembled here from raw bytes (no toolchain, no dependency), specialised for one dimension D and
 * block size B (loop bounds and load offsets are constants). Register tile: `QT` queries × `RV`·4 rows (`QT`·`RV`
 * f32x4 accumulators, default 2 × 16 rows); per k it loads `RV` row vectors of the transposed block and `QT` query
 * scalars as splats, then multiplies and adds (wasm SIMD has no FMA without relaxed SIMD). The loop over D is kept
 * rolled: fully unrolled, V8's TurboFan hoists the loads and spills registers (5× slower, see BENCHMARKS.md).
 * It imports a shared `WebAssembly.Memory` so that worker threads read one copy of the database.
 *
 * Memory layout the exported function expects (byte offsets chosen by the caller):
 * - database blocks: block i at `dbPtr + i·D·B·4`, row-major `[D, B]` (transposed), rows unit-normalised, padded
 *   with zero rows to B;
 * - queries: `[⌈Q/QT⌉, D, QT]` (each tile interleaved by k), unit-normalised, padded with zero queries;
 * - thresholds: f32 `[⌈Q/QT⌉·QT]` (padded queries get +∞ so they never produce candidates);
 * - hit scratch: `QT·RV·16` bytes; candidates: records of (i32 query, i32 row, f32 score), 12 bytes each.
 *
 * Exported: `scanBlock(blockPtr, validRows, rowBase, queriesPtr, queryTiles, thresholdsPtr, hitPtr, candidatesPtr,
 * count, updateThreshold, delta) → count'`. With `updateThreshold = 1` (top-1) a candidate with score f raises its
 * query's threshold to `max(threshold, f − delta)` on the spot.
 *
 * @example
 * ```ts
 * const bytes = cosineKernelBytes({ dimension: 100, blockRows: 512 });
 * const module = new WebAssembly.Module(bytes);
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError, wasmBinary } from '@consistent-avatar/core';

/** Queries per register tile of the kernel. */
export const KERNEL_QUERY_TILE = 2;
/** f32x4 row vectors per register tile of the kernel (rows per tile = 4 · this). */
export const KERNEL_ROW_VECTORS = 4;
/** k steps per iteration of the kernel's loop over D. */
export const KERNEL_UNROLL = 1;

/**
 * Shape parameters of the generated kernel.
 *
 * @example
 * ```ts
 * const shape: CosineKernelShape = { dimension: 100, blockRows: 512 };
 * ```
 */
export interface CosineKernelShape {
  /** D: vector length. */
  dimension: number;
  /** B: rows per transposed block (a multiple of 4 · {@link KERNEL_ROW_VECTORS}). */
  blockRows: number;
  /** Queries per register tile (default {@link KERNEL_QUERY_TILE}). */
  queryTile?: number;
  /** f32x4 row vectors per register tile (default {@link KERNEL_ROW_VECTORS}). */
  rowVectors?: number;
  /** k steps per iteration of the loop over D (default {@link KERNEL_UNROLL}). */
  unroll?: number;
}

/**
 * Proven bound ε on |f − s| for unit vectors of length D, where f is the float32 screening score the kernel computes
 * (inputs rounded to float32, D products and a sequential sum in float32, round-to-nearest) and s the float64 cosine:
 * ε = (γ_D·(1+u)² + 2u + u²)·(1 + 1e-12) + 1e-12 with u = 2⁻²⁴, γ_D = D·u / (1 − D·u) (Higham, Thm. 3.1 plus the
 * rounding of both inputs). The trailing 1e-12 covers the float64 rounding of the reference and of the norms, and
 * subnormal flushing (≤ D·2⁻¹²⁶).
 *
 * @example
 * ```ts
 * screeningErrorBound(100); // ≈ 6.1e-6
 * ```
 */
export function screeningErrorBound(dimension: number): number {
  const u = 2 ** -24;
  const gamma = (dimension * u) / (1 - dimension * u);
  return (gamma * (1 + u) ** 2 + 2 * u + u * u) * (1 + 1e-12) + 1e-12;
}

// The WebAssembly binary writer is core's (shared with its matmul kernel).
const { I32, F32, V128, uleb, section, vec, body, op } = wasmBinary;

/**
 * The kernel module's bytes for one shape (see the file comment for the memory layout and the export).
 *
 * @example
 * ```ts
 * WebAssembly.validate(cosineKernelBytes({ dimension: 53, blockRows: 256 })); // true where wasm SIMD exists
 * ```
 */
export function cosineKernelBytes(shape: CosineKernelShape): Uint8Array {
  const fn = 'cosineKernelBytes';
  const d = shape.dimension;
  const b = shape.blockRows;
  const qt = shape.queryTile ?? KERNEL_QUERY_TILE;
  const rv = shape.rowVectors ?? KERNEL_ROW_VECTORS;
  const unroll = shape.unroll ?? KERNEL_UNROLL;
  if (!Number.isInteger(d) || d < 1) throw new ValidationError(fn, 'shape.dimension', 'a positive integer', d);
  if (!Number.isInteger(qt) || qt < 1 || !Number.isInteger(rv) || rv < 1) {
    throw new ValidationError(fn, 'shape.queryTile/rowVectors', 'positive integers', [qt, rv]);
  }
  if (!Number.isInteger(b) || b < 4 * rv || b % (4 * rv) !== 0) {
    throw new ValidationError(fn, 'shape.blockRows', `a positive multiple of ${4 * rv}`, b);
  }
  const rowStride = b * 4; // bytes between consecutive k in a transposed block
  const tileRows = 4 * rv;

  // Function 0: record(hitPtr, stripRow, validRows, rowBase, q0, thresholdsTile, candidatesPtr, count,
  //                     updateThreshold, delta) → count.  Scalar slow path, runs only when a tile has a hit.
  const P = { hit: 0, strip: 1, valid: 2, rowBase: 3, q0: 4, thr: 5, cand: 6, count: 7, update: 8, delta: 9 };
  const L = { qi: 10, j: 11, f: 12, t: 13, addr: 14 };
  const recordCode: number[][] = [
    op.i32(0), op.localSet(L.qi),
    op.loop, // for qi in [0, qt)
    op.i32(0), op.localSet(L.j),
    op.loop, // for j in [0, tileRows)
    op.block,
    // skip padded rows: strip + j ≥ validRows
    op.localGet(P.strip), op.localGet(L.j), op.i32Add, op.localGet(P.valid), op.i32GeU, op.brIf(0),
    // f = hit[qi·tileRows + j]
    op.localGet(P.hit), op.localGet(L.qi), op.i32(tileRows), op.i32Mul, op.localGet(L.j), op.i32Add, op.i32(4),
    op.i32Mul, op.i32Add, op.f32Load(0), op.localSet(L.f),
    // t = thresholds[qi]
    op.localGet(P.thr), op.localGet(L.qi), op.i32(4), op.i32Mul, op.i32Add, op.localTee(L.addr), op.f32Load(0),
    op.localSet(L.t),
    op.localGet(L.f), op.localGet(L.t), op.f32Ge, op.i32Eqz, op.brIf(0),
    // candidates[count] = (q0 + qi, rowBase + strip + j, f)
    op.localGet(P.cand), op.localGet(P.count), op.i32(12), op.i32Mul, op.i32Add, op.localGet(P.q0),
    op.localGet(L.qi), op.i32Add, op.i32Store(0),
    op.localGet(P.cand), op.localGet(P.count), op.i32(12), op.i32Mul, op.i32Add, op.localGet(P.rowBase),
    op.localGet(P.strip), op.i32Add, op.localGet(L.j), op.i32Add, op.i32Store(4),
    op.localGet(P.cand), op.localGet(P.count), op.i32(12), op.i32Mul, op.i32Add, op.localGet(L.f), op.f32Store(8),
    op.localGet(P.count), op.i32(1), op.i32Add, op.localSet(P.count),
    // top-1: threshold = max(threshold, f − delta)
    op.localGet(P.update), op.if,
    op.localGet(L.f), op.localGet(P.delta), op.f32Sub, op.localTee(L.f), op.localGet(L.t), op.f32Gt, op.if,
    op.localGet(L.addr), op.localGet(L.f), op.f32Store(0),
    op.end, op.end,
    op.end, // block
    op.localGet(L.j), op.i32(1), op.i32Add, op.localTee(L.j), op.i32(tileRows), op.i32LtU, op.brIf(0),
    op.end, // loop j
    op.localGet(L.qi), op.i32(1), op.i32Add, op.localTee(L.qi), op.i32(qt), op.i32LtU, op.brIf(0),
    op.end, // loop qi
    op.localGet(P.count),
  ];
  const recordLocals = [I32, I32, F32, F32, I32];

  // Function 1: scanBlock(blockPtr, validRows, rowBase, queriesPtr, queryTiles, thresholdsPtr, hitPtr,
  //                       candidatesPtr, count, updateThreshold, delta) → count.
  const S = { block: 0, valid: 1, rowBase: 2, queries: 3, tiles: 4, thr: 5, hit: 6, cand: 7, count: 8, update: 9, delta: 10 };
  const V = { strip: 11, rowPtr: 12, tile: 13, qPtr: 14, thrPtr: 15, kRow: 16, kQ: 17, kEnd: 18, rowVec: 19, splat: 19 + rv, acc: 20 + rv };
  const acc = (q: number, r: number) => V.acc + q * rv + r;
  /** One k step of the tile at constant byte offsets from the kRow / kQ pointers. */
  const kStep = (s: number): number[][] => {
    const out: number[][] = [];
    for (let r = 0; r < rv; r++) out.push(op.localGet(V.kRow), op.v128Load(s * rowStride + r * 16), op.localSet(V.rowVec + r));
    for (let q = 0; q < qt; q++) {
      out.push(op.localGet(V.kQ), op.v128Load32Splat((s * qt + q) * 4), op.localSet(V.splat));
      for (let r = 0; r < rv; r++) {
        out.push(op.localGet(acc(q, r)), op.localGet(V.splat), op.localGet(V.rowVec + r), op.f32x4Mul, op.f32x4Add, op.localSet(acc(q, r)));
      }
    }
    return out;
  };
  const tileCode: number[][] = [];
  for (let q = 0; q < qt; q++) for (let r = 0; r < rv; r++) tileCode.push(op.simd(0x0c, ...new Array(16).fill(0)), op.localSet(acc(q, r))); // v128.const 0
  // Loop over k in steps of `unroll` (a fully unrolled D lets V8's scheduler hoist loads and spill registers).
  const loops = Math.floor(d / unroll);
  tileCode.push(op.localGet(V.rowPtr), op.localSet(V.kRow), op.localGet(V.qPtr), op.localSet(V.kQ));
  if (loops > 0) {
    tileCode.push(op.localGet(V.qPtr), op.i32(loops * unroll * qt * 4), op.i32Add, op.localSet(V.kEnd), op.loop);
    for (let s = 0; s < unroll; s++) tileCode.push(...kStep(s));
    tileCode.push(
      op.localGet(V.kRow), op.i32(unroll * rowStride), op.i32Add, op.localSet(V.kRow),
      op.localGet(V.kQ), op.i32(unroll * qt * 4), op.i32Add, op.localTee(V.kQ), op.localGet(V.kEnd), op.i32LtU, op.brIf(0),
      op.end,
    );
  }
  for (let s = 0; s < d % unroll; s++) tileCode.push(...kStep(s));
  // any score ≥ its query's threshold?
  for (let q = 0; q < qt; q++) {
    tileCode.push(op.localGet(V.thrPtr), op.v128Load32Splat(q * 4), op.localSet(V.splat));
    for (let r = 0; r < rv; r++) {
      tileCode.push(op.localGet(acc(q, r)), op.localGet(V.splat), op.f32x4Ge);
      if (q > 0 || r > 0) tileCode.push(op.v128Or);
    }
  }
  tileCode.push(op.v128AnyTrue, op.if);
  for (let q = 0; q < qt; q++) {
    for (let r = 0; r < rv; r++) tileCode.push(op.localGet(S.hit), op.localGet(acc(q, r)), op.v128Store((q * rv + r) * 16));
  }
  tileCode.push(
    op.localGet(S.hit), op.localGet(V.strip), op.localGet(S.valid), op.localGet(S.rowBase),
    op.localGet(V.tile), op.i32(qt), op.i32Mul, op.localGet(V.thrPtr), op.localGet(S.cand), op.localGet(S.count),
    op.localGet(S.update), op.localGet(S.delta), op.call(0), op.localSet(S.count),
    op.end,
  );
  const scanCode: number[][] = [
    op.i32(0), op.localSet(V.strip),
    op.localGet(S.block), op.localSet(V.rowPtr),
    op.loop, // for strip in [0, validRows) step tileRows
    op.i32(0), op.localSet(V.tile),
    op.localGet(S.queries), op.localSet(V.qPtr),
    op.localGet(S.thr), op.localSet(V.thrPtr),
    op.loop, // for tile in [0, queryTiles)
    ...tileCode,
    op.localGet(V.qPtr), op.i32(qt * d * 4), op.i32Add, op.localSet(V.qPtr),
    op.localGet(V.thrPtr), op.i32(qt * 4), op.i32Add, op.localSet(V.thrPtr),
    op.localGet(V.tile), op.i32(1), op.i32Add, op.localTee(V.tile), op.localGet(S.tiles), op.i32LtU, op.brIf(0),
    op.end,
    op.localGet(V.rowPtr), op.i32(tileRows * 4), op.i32Add, op.localSet(V.rowPtr),
    op.localGet(V.strip), op.i32(tileRows), op.i32Add, op.localTee(V.strip), op.localGet(S.valid), op.i32LtU, op.brIf(0),
    op.end,
    op.localGet(S.count),
  ];
  const scanLocals = [I32, I32, I32, I32, I32, I32, I32, I32, ...new Array(rv + 1 + qt * rv).fill(V128)];

  const types = section(1, vec([
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [F32]]), ...vec([[I32]])],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [F32]]), ...vec([[I32]])],
  ]));
  const { name } = wasmBinary;
  // memory import: shared, min 1 page, max 65536 pages (4 GiB)
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]]));
  const functions = section(3, vec([[0], [1]]));
  const exports = section(7, vec([[...name('scanBlock'), 0x00, ...uleb(1)]]));
  const code = section(10, vec([body(recordLocals, recordCode), body(scanLocals, scanCode)]));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}
