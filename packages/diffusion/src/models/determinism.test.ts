/**
 * Reproducibility across processes (non-negotiable 7): the same seeded training run — a tiny UNet, 30 AdamW steps
 * on wasm — executed in two separate Node processes gives bit-identical losses and weights. Same-process reruns
 * cannot catch state that differs per process (memory layout, kernel selection by alignment, module init order).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.resolve(here, '../../test/determinism-child.ts');

function runChild(): { losses: string[]; checksum: number; backend: string } {
  const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', child], { encoding: 'utf8', cwd: path.resolve(here, '../../../..') });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('cross-process determinism', () => {
  it('two processes running the same seeded wasm training give bit-identical losses and weights', () => {
    const a = runChild();
    const b = runChild();
    expect(a.backend).toBe('wasm');
    expect(a.losses).toHaveLength(30);
    expect(new Set(a.losses).size).toBeGreaterThan(1); // the losses move: a real training run
    expect(b.losses).toEqual(a.losses);
    expect(b.checksum).toBe(a.checksum);
  }, 180_000);
});
