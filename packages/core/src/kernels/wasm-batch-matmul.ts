/**
 * A hand-written WebAssembly SIMD batched matrix product for the tfjs-wasm backend, C[b] = A[b]·B[b], that works
 * in place on the backend's own heap (the module imports tfjs-wasm's `WebAssembly.Memory`, so no tensor is copied).
 *
 * Why: tfjs-wasm 4.22 runs batched products (batch > 1) in a generic loop at 1–2 GFLOP/s and products with a small
 * inner size K (attention scores q·kᵀ with head size 4–8) at ~1 GFLOP/s even through XNNPACK, against ~28 GFLOP/s for
 * a large 2-D product. In a small diffusion UNet those are the attention products, 44–66 % of a training step.
 *
 * Register tile: R rows of A (4, or 1 for the last M mod 4 rows) × 8 columns of B (two f32x4 vectors): per k, two
 * vector loads of B, R scalar splats of A, 2R multiplies and adds (wasm SIMD has no FMA without relaxed SIMD) —
 * each output is a sequential float32 sum over k. A 4-column tile takes N mod 8 ≥ 4, a scalar loop the last N mod 4
 * columns.
 *
 * Exported: `bmm(aPtr, bPtr, cPtr, batch, M, K, N, aBatchBytes, bBatchBytes)` with row-major `[M, K]` / `[K, N]` /
 * `[M, N]` matrices; `aBatchBytes` / `bBatchBytes` = 0 broadcasts one matrix over the batch. K ≥ 1.
 *
 * @example
 * ```ts
 * const bytes = batchMatMulKernelBytes(false); // a module importing env.memory, exporting bmm
 * ```
 *
 * @packageDocumentation
 */
import { wasmBinary } from './wasm-binary.js';

const { I32, F32, V128, uleb, section, vec, body, name, op } = wasmBinary;

/**
 * The kernel module's bytes.
 * @param sharedMemory - import a shared memory (tfjs-wasm's threaded build) instead of a plain one.
 * @example
 * ```ts
 * const bytes = batchMatMulKernelBytes(false); // Uint8Array, '\0asm' …
 * ```
 */
export function batchMatMulKernelBytes(sharedMemory: boolean): Uint8Array {
  const P = { a: 0, b: 1, c: 2, batch: 3, M: 4, K: 5, N: 6, aStride: 7, bStride: 8 };
  const L = {
    bi: 9, aB: 10, bB: 11, cB: 12, m: 13, n: 14, pa: 15, pb: 16, kEnd: 17, kb: 18, nb: 19, n8: 20, col: 21,
    row: 22, rowEnd: 23, pc: 24, n4: 25, zero: 26, sum: 27, b0: 28, b1: 29, splat: 30, acc: 31,
  };
  const acc = (r: number, v: number) => L.acc + 2 * r + v;
  const get = op.localGet, set = op.localSet;
  /** local ← local + amount (a local or a constant). */
  const bump = (local: number, amount: number[]) => [get(local), amount, op.i32Add, set(local)];

  /**
   * The SIMD tiles for rows m … m+R−1 over n ∈ [from, to) in steps of 4·V (V = 2: the 8-wide tiles up to n8;
   * V = 1: one 4-wide tile from n8 to n4 when N mod 8 ≥ 4).
   */
  const rowBlock = (R: number, V: number, from: number, to: number): number[][] => {
    const code: number[][] = [get(from), set(L.n), op.block, get(L.n), get(to), op.i32GeU, op.brIf(0), op.loop];
    for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) code.push(op.v128Zero(), set(acc(r, v)));
    code.push(
      // pa = aB + m·K·4 (row m of A), pb = bB + n·4 (column n of B), kEnd = pa + K·4
      get(L.aB), get(L.m), get(L.kb), op.i32Mul, op.i32Add, op.localTee(L.pa), get(L.kb), op.i32Add, set(L.kEnd),
      get(L.bB), get(L.n), op.i32(4), op.i32Mul, op.i32Add, set(L.pb),
      op.loop, // over k
    );
    for (let v = 0; v < V; v++) code.push(get(L.pb), op.v128Load(16 * v), set(v === 0 ? L.b0 : L.b1));
    for (let r = 0; r < R; r++) {
      // splat A[m + r, k] (row r is r·K·4 bytes after row 0)
      code.push(get(L.pa));
      for (let i = 0; i < r; i++) code.push(get(L.kb), op.i32Add);
      code.push(op.v128Load32Splat(0), set(L.splat));
      for (let v = 0; v < V; v++) code.push(get(acc(r, v)), get(L.splat), get(v === 0 ? L.b0 : L.b1), op.f32x4Mul, op.f32x4Add, set(acc(r, v)));
    }
    code.push(
      ...bump(L.pb, get(L.nb)),
      get(L.pa), op.i32(4), op.i32Add, op.localTee(L.pa), get(L.kEnd), op.i32LtU, op.brIf(0),
      op.end, // k
      // pc = cB + m·N·4 + n·4; row r is r·N·4 bytes further
      get(L.cB), get(L.m), get(L.nb), op.i32Mul, op.i32Add, get(L.n), op.i32(4), op.i32Mul, op.i32Add, set(L.pc),
    );
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) code.push(get(L.pc), get(acc(r, v)), op.v128Store(16 * v));
      if (r < R - 1) code.push(...bump(L.pc, get(L.nb)));
    }
    code.push(get(L.n), op.i32(4 * V), op.i32Add, op.localTee(L.n), get(to), op.i32LtU, op.brIf(0), op.end, op.end);
    return code;
  };
  /** Rows m … m+R−1: 8-wide tiles, a 4-wide tile, scalar columns. */
  const rows = (R: number): number[][] => [...rowBlock(R, 2, L.zero, L.n8), ...rowBlock(R, 1, L.n8, L.n4), ...tail(R)];

  /** Scalar columns n ∈ [n4, N) for rows m … m+R−1. */
  const tail = (R: number): number[][] => [
    get(L.m), set(L.row), get(L.m), op.i32(R), op.i32Add, set(L.rowEnd),
    op.block, get(L.n4), get(P.N), op.i32GeU, op.brIf(0),
    op.loop, // rows
    get(L.n4), set(L.col),
    op.loop, // columns
    op.f32Zero, set(L.sum),
    get(L.aB), get(L.row), get(L.kb), op.i32Mul, op.i32Add, op.localTee(L.pa), get(L.kb), op.i32Add, set(L.kEnd),
    get(L.bB), get(L.col), op.i32(4), op.i32Mul, op.i32Add, set(L.pb),
    op.loop, // k
    get(L.sum), get(L.pa), op.f32Load(0), get(L.pb), op.f32Load(0), op.f32Mul, op.f32Add, set(L.sum),
    ...bump(L.pb, get(L.nb)),
    get(L.pa), op.i32(4), op.i32Add, op.localTee(L.pa), get(L.kEnd), op.i32LtU, op.brIf(0),
    op.end,
    get(L.cB), get(L.row), get(L.nb), op.i32Mul, op.i32Add, get(L.col), op.i32(4), op.i32Mul, op.i32Add, get(L.sum), op.f32Store(0),
    get(L.col), op.i32(1), op.i32Add, op.localTee(L.col), get(P.N), op.i32LtU, op.brIf(0),
    op.end, // columns
    get(L.row), op.i32(1), op.i32Add, op.localTee(L.row), get(L.rowEnd), op.i32LtU, op.brIf(0),
    op.end, // rows
    op.end, // block
  ];

  const code: number[][] = [
    get(P.K), op.i32(4), op.i32Mul, set(L.kb),
    get(P.N), op.i32(4), op.i32Mul, set(L.nb),
    get(P.N), op.i32(-8), [0x71] /* i32.and */, set(L.n8),
    get(P.N), op.i32(-4), [0x71] /* i32.and */, set(L.n4),
    op.i32(0), set(L.zero),
    op.i32(0), set(L.bi),
    op.loop, // over the batch
    get(P.a), get(L.bi), get(P.aStride), op.i32Mul, op.i32Add, set(L.aB),
    get(P.b), get(L.bi), get(P.bStride), op.i32Mul, op.i32Add, set(L.bB),
    get(P.c), get(L.bi), get(P.M), op.i32Mul, get(L.nb), op.i32Mul, op.i32Add, set(L.cB),
    op.i32(0), set(L.m),
    // blocks of 4 rows while m + 4 ≤ M
    op.block, get(P.M), op.i32(4), op.i32LtU, op.brIf(0), op.loop,
    ...rows(4),
    get(L.m), op.i32(4), op.i32Add, op.localTee(L.m), op.i32(4), op.i32Add, get(P.M), op.i32LeU, op.brIf(0),
    op.end, op.end,
    // the remaining M mod 4 rows one at a time
    op.block, get(L.m), get(P.M), op.i32GeU, op.brIf(0), op.loop,
    ...rows(1),
    get(L.m), op.i32(1), op.i32Add, op.localTee(L.m), get(P.M), op.i32LtU, op.brIf(0),
    op.end, op.end,
    get(L.bi), op.i32(1), op.i32Add, op.localTee(L.bi), get(P.batch), op.i32LtU, op.brIf(0),
    op.end, // batch
  ];
  const locals = [...new Array<number>(18).fill(I32), F32, ...new Array<number>(3 + 8).fill(V128)];

  const types = section(1, vec([[0x60, ...vec(new Array(9).fill([I32])), ...vec([])]]));
  const memoryType = sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...memoryType]]));
  const functions = section(3, vec([[0]]));
  const exports = section(7, vec([[...name('bmm'), 0x00, ...uleb(0)]]));
  const codeSection = section(10, vec([body(locals, code)]));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...codeSection]);
}

/** A `WebAssembly.Memory` (typed locally: the workspace compiles without the DOM lib, and `@types/node` 20 does not declare the `WebAssembly` global). */
export interface WasmMemoryLike {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmJsApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmJs = (globalThis as unknown as { WebAssembly?: WasmJsApi }).WebAssembly;

/** The instantiated kernel: `bmm(aPtr, bPtr, cPtr, batch, M, K, N, aBatchBytes, bBatchBytes)`. */
export type BatchMatMulKernel = (a: number, b: number, c: number, batch: number, M: number, K: number, N: number, aStride: number, bStride: number) => void;

/**
 * Instantiate the kernel on a memory (tfjs-wasm's: `backend.wasm.asm.memory`); `null` where wasm SIMD or the import
 * is not available.
 * @example
 * ```ts
 * const bmm = instantiateBatchMatMul((tf.backend() as any).wasm.asm.memory); // tfjs-wasm's heap
 * ```
 */
export function instantiateBatchMatMul(memory: WasmMemoryLike): BatchMatMulKernel | null {
  if (!wasmJs) return null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const instance = new wasmJs.Instance(new wasmJs.Module(batchMatMulKernelBytes(shared)), { env: { memory } });
    return instance.exports.bmm as BatchMatMulKernel;
  } catch {
    return null;
  }
}
