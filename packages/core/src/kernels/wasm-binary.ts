/**
 * A minimal WebAssembly binary writer for the library's hand-written SIMD kernels (no toolchain, no dependency):
 * LEB128 integers, sections, vectors, function bodies and the instruction emitters they use (opcode numbers from the
 * WebAssembly core and SIMD specifications).
 *
 * @example
 * ```ts
 * import { wasmBinary as w } from '@consistent-avatar/core';
 * const add = [w.op.localGet(0), w.op.localGet(1), w.op.i32Add];
 * const bytes = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
 *   ...w.section(1, w.vec([[0x60, ...w.vec([[w.I32], [w.I32]]), ...w.vec([[w.I32]])]])),
 *   ...w.section(3, w.vec([[0]])), ...w.section(7, w.vec([[...w.name('add'), 0x00, 0]])),
 *   ...w.section(10, w.vec([w.body([], [add.flat()])]))]);
 * new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.add; // (a, b) => a + b
 * ```
 *
 * @packageDocumentation
 */

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Instruction emitters (opcode numbers from the WebAssembly core and SIMD specifications). */
const op = {
  /** `local.get i`: push local `i`. */
  localGet: (i: number) => [0x20, ...uleb(i)],
  /** `local.set i`: pop into local `i`. */
  localSet: (i: number) => [0x21, ...uleb(i)],
  /** `local.tee i`: store into local `i`, keep the value on the stack. */
  localTee: (i: number) => [0x22, ...uleb(i)],
  /** `i32.const v` (signed LEB128 immediate). */
  i32: (v: number) => [0x41, ...sleb(v)],
  /** `i32.add`. */
  i32Add: [0x6a],
  /** `i32.mul`. */
  i32Mul: [0x6c],
  /** `i32.lt_u`. */
  i32LtU: [0x49],
  /** `i32.ge_u`. */
  i32GeU: [0x4f],
  /** `i32.eqz`. */
  i32Eqz: [0x45],
  /** `i32.load offset` (alignment 2² bytes). */
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  /** `i32.store offset` (alignment 2² bytes). */
  i32Store: (offset: number) => [0x36, 2, ...uleb(offset)],
  /** `f32.load offset` (alignment 2² bytes). */
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  /** `f32.store offset` (alignment 2² bytes). */
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  /** `f32.ge`. */
  f32Ge: [0x60],
  /** `f32.gt`. */
  f32Gt: [0x5e],
  /** `f32.sub`. */
  f32Sub: [0x93],
  /** `block` with no result. */
  block: [0x02, 0x40],
  /** `loop` with no result. */
  loop: [0x03, 0x40],
  /** `if` with no result. */
  if: [0x04, 0x40],
  /** `end` of a block, loop, if or body. */
  end: [0x0b],
  /** `br depth`: branch to the enclosing label `depth` levels out. */
  br: (depth: number) => [0x0c, ...uleb(depth)],
  /** `br_if depth`: branch when the popped i32 is non-zero. */
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  /** `call f`: call function index `f`. */
  call: (f: number) => [0x10, ...uleb(f)],
  /** A SIMD instruction: prefix 0xfd, LEB128 opcode `code`, then the immediates `imm` as given. */
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
  /** `v128.load offset` (alignment 2⁴ bytes). */
  v128Load: (offset: number) => op.simd(0x00, 4, ...uleb(offset)),
  /** `v128.load32_splat offset` (alignment 2² bytes). */
  v128Load32Splat: (offset: number) => op.simd(0x09, 2, ...uleb(offset)),
  /** `v128.store offset` (alignment 2⁴ bytes). */
  v128Store: (offset: number) => op.simd(0x0b, 4, ...uleb(offset)),
  /** `f32x4.splat`. */
  f32x4Splat: op_simd(0x13),
  /** `v128.or`. */
  v128Or: op_simd(0x50),
  /** `v128.any_true`. */
  v128AnyTrue: op_simd(0x53),
  /** `f32x4.ge`. */
  f32x4Ge: op_simd(0x46),
  /** `f32x4.add`. */
  f32x4Add: op_simd(0xe4),
  /** `f32x4.mul`. */
  f32x4Mul: op_simd(0xe6),
  /** `v128.const 0` (sixteen zero bytes). */
  v128Zero: () => op.simd(0x0c, ...new Array<number>(16).fill(0)),
  /** `i32.sub`. */
  i32Sub: [0x6b],
  /** `i32.le_u`. */
  i32LeU: [0x4d],
  /** `f32.add`. */
  f32Add: [0x92],
  /** `f32.mul`. */
  f32Mul: [0x94],
  /** `f32.const 0`. */
  f32Zero: [0x43, 0, 0, 0, 0],
};

function op_simd(code: number): number[] {
  return [0xfd, ...uleb(code)];
}

/** A function body: local declarations (one entry per local, grouped by type) and code. */
function body(locals: number[], code: number[][]): number[] {
  const groups: number[][] = [];
  for (const t of locals) {
    const last = groups[groups.length - 1];
    if (last && last[1] === t) last[0]!++;
    else groups.push([1, t]);
  }
  const bytes = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n!), t!]), ...code.flat(), 0x0b];
  return [...uleb(bytes.length), ...bytes];
}


/** A name (import module / field, export) as a length-prefixed byte string. */
function name(text: string): number[] {
  return [...uleb(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];
}

/**
 * The writer: value types, LEB128, `section(id, body)`, `vec(items)`, `body(locals, code)`, `name(text)` and the
 * instruction emitters `op`.
 * @example
 * ```ts
 * import { wasmBinary } from '@consistent-avatar/core';
 * wasmBinary.uleb(624485); // [0xe5, 0x8e, 0x26]
 * ```
 */
export const wasmBinary = Object.freeze({
  /** Value type `i32` (0x7f). */
  I32,
  /** Value type `f32` (0x7d). */
  F32,
  /** Value type `v128` (0x7b). */
  V128,
  /** Unsigned LEB128 bytes of a non-negative integer below 2³². */
  uleb,
  /** Signed LEB128 bytes of a 32-bit integer. */
  sleb,
  /** A section: `id`, the LEB128 byte length of `body`, then `body`. */
  section,
  /** A vector: the LEB128 item count, then the items' bytes concatenated. */
  vec,
  /** A function body: local declarations (one entry per local, grouped by type), code, `end`, length-prefixed. */
  body,
  /** A name (import module / field, export) as a length-prefixed byte string. */
  name,
  /** The instruction emitters (opcode numbers from the WebAssembly core and SIMD specifications). */
  op,
});
