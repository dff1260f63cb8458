/**
 * Seeded mutators for the fuzz suite, built on fast-check arbitraries: every case is `fc.sample(arbitrary, { seed })`,
 * so a (parser, seed, index) triple names one input exactly and a failure reproduces with `fuzz/run.ts --only`.
 *
 * - {@link mutateBytes}: bit flips, byte overwrites with boundary values, little- / big-endian length fields set to
 *   0, −1, 2^31, 2^32 − 1, 2^53, truncation, insertion, duplicated or removed chunks;
 * - {@link mutateJson}: replace / delete / duplicate a node of a JSON document with hostile values (huge and negative
 *   numbers, 1e300, wrong types, deep nesting, long strings, `__proto__` keys), or fall back to byte mutations;
 * - {@link fileSystemMutation}: replace a file by a FIFO, a folder, a symlink to `/dev/zero`, a symlink leading out of
 *   its folder, or an empty file.
 *
 * @example
 * ```ts
 * const bytes = mutateBytes(original, 42);      // the same bytes for seed 42, every time
 * const text = mutateJson('{"w": 64}', 7);       // e.g. '{"w":-2147483648}'
 * ```
 */
import * as fc from 'fast-check';

/** Interesting integers for length and count fields. */
const BOUNDARY = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 40, 2 ** 53 - 1];

type ByteOp =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'field'; at: number; width: 2 | 4 | 8; value: number; bigEndian: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'remove'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number };

/** A position in [0, 1), uniform (no bias toward the ends: the start of a file is only one region of it). */
const unit = fc.noBias(fc.integer({ min: 0, max: 1_000_000 })).map((v) => v / 1_000_001);

const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: unit, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at: unit, value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x5b) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('field' as const),
      at: unit,
      width: fc.constantFrom(2 as const, 4 as const, 8 as const),
      value: fc.constantFrom(...BOUNDARY),
      bigEndian: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: unit }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: unit, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), at: unit, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: unit, length: fc.integer({ min: 1, max: 256 }) }) },
);

const byteOps = fc.noBias(fc.array(byteOp, { minLength: 1, maxLength: 4 }));

function apply(bytes: Uint8Array, op: ByteOp): Uint8Array {
  if (bytes.length === 0) return op.kind === 'insert' ? Uint8Array.from(op.bytes) : bytes;
  const at = Math.floor(op.at * bytes.length);
  switch (op.kind) {
    case 'flip': {
      const out = bytes.slice();
      out[at] = out[at]! ^ (1 << op.bit);
      return out;
    }
    case 'set': {
      const out = bytes.slice();
      out[at] = op.value;
      return out;
    }
    case 'field': {
      const out = bytes.slice();
      let v = BigInt(op.value);
      for (let k = 0; k < op.width && at + k < out.length; k++) {
        const byte = Number(v & 0xffn);
        out[op.bigEndian ? at + op.width - 1 - k : at + k] = byte;
        v >>= 8n;
      }
      return out;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, at), ...op.bytes, ...bytes.subarray(at)]);
    case 'remove':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + op.length)]);
    case 'duplicate': {
      const chunk = bytes.subarray(at, at + op.length);
      return Uint8Array.from([...bytes.subarray(0, at + chunk.length), ...chunk, ...bytes.subarray(at + chunk.length)]);
    }
  }
}

/**
 * 1–4 seeded byte mutations of `bytes` (a fresh array; `bytes` is not changed).
 * @example
 * ```ts
 * mutateBytes(new Uint8Array([1, 2, 3]), 1);
 * ```
 */
export function mutateBytes(bytes: Uint8Array, seed: number): Uint8Array {
  const [ops] = fc.sample(byteOps, { seed, numRuns: 1 });
  return ops!.reduce(apply, bytes);
}

/** Hostile JSON values. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1e300, -1e300, 2 ** 31, 2 ** 32 - 1, 2 ** 53, 65536, 0.5, -0.0, 1e-320),
  fc.constantFrom(null, true, false, '', 'NaN', '../../../etc/passwd', '/dev/zero', '__proto__'),
  fc.constantFrom([], {}, [0], [[1, 2], [3]], { __proto__: 1 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => ({ __deep: depth })), // expanded to nesting below
  fc.integer({ min: 1, max: 100_000 }).map((n) => ({ __long: n })),
  fc.jsonValue({ maxDepth: 3 }),
);

type JsonOp =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'bytes'; seed: number };

const jsonOps = fc.noBias(fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: unit, value: hostile }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: unit }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: unit }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), seed: fc.integer() }) },
  ),
  { minLength: 1, maxLength: 3 },
));

/** Expand the `{__deep}` / `{__long}` markers of {@link hostile}. */
function materialise(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as { __deep?: number; __long?: number };
    if (typeof v.__deep === 'number') {
      let out: unknown = 0;
      for (let i = 0; i < v.__deep; i++) out = [out];
      return out;
    }
    if (typeof v.__long === 'number') return 'x'.repeat(v.__long);
  }
  return value;
}

/** Every [container, key] slot of a parsed document, in a stable order (iterative: documents may be deep). */
function slots(root: unknown): Array<[Record<string | number, unknown>, string | number]> {
  const out: Array<[Record<string | number, unknown>, string | number]> = [];
  const stack: unknown[] = [root];
  while (stack.length > 0 && out.length < 100_000) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(node)) {
      out.push([node as Record<string | number, unknown>, key]);
      stack.push((node as Record<string | number, unknown>)[key]);
    }
  }
  return out;
}

/**
 * 1–3 seeded mutations of a JSON document (structure-aware when it parses, bytes otherwise). Returns the new text.
 * @example
 * ```ts
 * mutateJson('{"frames": [{"file_path": "a.png"}]}', 3);
 * ```
 */
export function mutateJson(text: string, seed: number): string {
  const [ops] = fc.sample(jsonOps, { seed, numRuns: 1 });
  let current = text;
  for (const op of ops!) {
    if (op.kind === 'bytes') {
      current = Buffer.from(mutateBytes(Buffer.from(current, 'utf8'), op.seed)).toString('utf8');
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(current);
    } catch {
      continue;
    }
    const all = slots(doc);
    if (all.length === 0) {
      current = JSON.stringify(op.kind === 'replace' ? materialise(op.value) : doc) ?? 'null';
      continue;
    }
    const [container, key] = all[Math.floor(op.at * all.length)]!;
    if (op.kind === 'replace') Object.defineProperty(container, key, { value: materialise(op.value), enumerable: true, writable: true, configurable: true });
    else if (op.kind === 'delete') {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete container[key];
    } else if (Array.isArray(container)) container.splice(key as number, 0, structuredClone(container[key as number]));
    else container[`${String(key)}_copy`] = container[key];
    try {
      current = JSON.stringify(doc);
    } catch {
      // too deep to serialise here: keep the previous text
    }
  }
  return current;
}

/** The file-system mutations of {@link fileSystemMutation}. */
export type FileSystemMutation = 'fifo' | 'folder' | 'dev-zero' | 'symlink-out' | 'empty' | 'missing';

/**
 * A seeded choice among the file-system mutations.
 * @example
 * ```ts
 * fileSystemMutation(5); // 'fifo'
 * ```
 */
export function fileSystemMutation(seed: number): FileSystemMutation {
  return fc.sample(fc.constantFrom<FileSystemMutation>('fifo', 'folder', 'dev-zero', 'symlink-out', 'empty', 'missing'), { seed, numRuns: 1 })[0]!;
}

/**
 * A seeded index in [0, n).
 * @example
 * ```ts
 * pick(4, 9); // 0..3
 * ```
 */
export function pick(n: number, seed: number): number {
  return fc.sample(fc.noBias(fc.integer({ min: 0, max: Math.max(0, n - 1) })), { seed, numRuns: 1 })[0]!;
}
