/**
 * The fuzz suite in CI: a few hundred seeded cases per parser (FUZZ_CASES, default 150), each in a child process
 * under a time and memory cap; every case must end parsed-and-sane or refused with a typed error — 0 untyped errors,
 * 0 hangs, 0 over-memory, 0 silent garbage. The bench (`fuzz/run.ts --cases 2000`) runs the same cases at scale.
 */
import { describe, expect, it } from 'vitest';
import { caseSeed, runFuzz, TARGET_NAMES } from './harness.js';
import { mutateBytes, mutateJson } from './mutators.js';

const CASES = Number(process.env.FUZZ_CASES ?? 150);

describe('fuzz mutators', () => {
  it('are seeded: the same seed gives the same input, another seed another one', () => {
    const bytes = Uint8Array.from({ length: 200 }, (_, i) => i);
    expect(Buffer.from(mutateBytes(bytes, 5)).equals(Buffer.from(mutateBytes(bytes, 5)))).toBe(true);
    const distinct = new Set(Array.from({ length: 20 }, (_, i) => Buffer.from(mutateBytes(bytes, i)).toString('hex')));
    expect(distinct.size).toBeGreaterThan(15);
    expect(mutateJson('{"a": [1, 2]}', 9)).toBe(mutateJson('{"a": [1, 2]}', 9));
    expect(caseSeed(1, 0)).not.toBe(caseSeed(1, 1));
  });
});

describe('fuzz suite (every parser, child process, time and memory caps)', () => {
  it(`${CASES} cases per parser: only parsed-and-sane or typed errors`, async () => {
    const { targets } = await runFuzz({ cases: CASES, seed: 20260101, timeoutMs: 15_000 });
    expect(Object.keys(targets)).toEqual([...TARGET_NAMES]);
    for (const [name, r] of Object.entries(targets)) {
      const failures = r.failures.map((f) => `${name} seed ${f.seed} ${f.kind}: ${f.detail}`);
      expect({ name, untyped: r.untyped, hang: r.hang, overMemory: r.overMemory, garbage: r.garbage, failures }).toEqual({
        name, untyped: 0, hang: 0, overMemory: 0, garbage: 0, failures: [],
      });
      expect(r.ok + r.typed).toBe(CASES);
    }
    // The mutators reach past the first check: some cases of the binary formats still parse (a changed value).
    expect(targets.npz!.ok + targets.npy!.ok + targets.safetensors!.ok).toBeGreaterThan(0);
  }, 600_000);
});
