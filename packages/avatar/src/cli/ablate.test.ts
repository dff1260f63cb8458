/**
 * `ca ablate` sharded across processes: two shards (`--shard 0/2`, `--shard 1/2`) and an unsharded run are spawned
 * as separate `ca` processes on the tiny preset (2 identities), the shards are combined by `ca merge` (a fourth
 * process), and the merged tables must equal the unsharded run's — every number of every row and column, except
 * the time per frame (wall clock). A re-run of the finished ablation reads its identities back (resume) to the same
 * tables; config and flag errors name the field.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './ca.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CA = path.join(ROOT, 'packages/avatar/src/cli/ca.ts');

/** Run `ca …` as its own process; resolve to its exit code and output. */
function ca(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CA, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

type Summary = { rows: { name: string; cells: Record<string, { mean: number | null; std: number | null; values: (number | null)[] }> }[] };
const summaryOf = (run: string): Summary => JSON.parse(fs.readFileSync(path.join(run, 'outputs/ablate/ablation.json'), 'utf8')).summary;
/** The summary without its wall-clock column. */
const withoutTime = (s: Summary) => s.rows.map((r) => ({ name: r.name, cells: Object.fromEntries(Object.entries(r.cells).filter(([k]) => k !== 'msPerFrame')) }));

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-ablate-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ca ablate and ca merge', () => {
  it('two shards in separate processes, merged, give the unsharded tables; a re-run resumes to the same tables', async () => {
    const [s0, s1, all] = ['shard-0', 'shard-1', 'all'].map((d) => path.join(tmp, d));
    // The second shard takes its index from a Kubernetes Indexed Job's variable.
    const results = await Promise.all([
      ca(['ablate', '--run', s0!, '--preset', 'tiny', '--shard', '0/2']),
      ca(['ablate', '--run', s1!, '--preset', 'tiny', '--shard', '2'], { JOB_COMPLETION_INDEX: '1' }),
      ca(['ablate', '--run', all!, '--preset', 'tiny']),
    ]);
    for (const r of results) expect(r.code, r.output).toBe(0);
    expect(fs.readdirSync(path.join(s0!, 'outputs/ablate/parts'))).toEqual(['part-0-of-2.json']);
    expect(fs.readdirSync(path.join(s1!, 'outputs/ablate/parts'))).toEqual(['part-1-of-2.json']);
    expect(fs.existsSync(path.join(s0!, 'outputs/ablate/ablation.json'))).toBe(false); // a shard alone has no tables
    const merged = path.join(tmp, 'merged');
    const m = await ca(['merge', '--run', merged, s1!, path.join(s0!, 'outputs/ablate/parts/part-0-of-2.json')]);
    expect(m.code, m.output).toBe(0);

    const [a, b] = [summaryOf(all!), summaryOf(merged)];
    expect(a.rows.map((r) => r.name)).toEqual(['proxy', 'baseline', 'full', 'full-ddim', 'full-refiner', 'oracle-tsd', 'wo-emotion', 'wo-normal']);
    expect(withoutTime(b)).toEqual(withoutTime(a));
    const full = a.rows.find((r) => r.name === 'full')!;
    expect(full.cells.psnr!.values).toHaveLength(2);
    expect(full.cells.lpips!.mean).toBeNull(); // no weights given: not computed
    const md = fs.readFileSync(path.join(merged, 'outputs/ablate/ablation.md'), 'utf8');
    expect(md).toContain('LPIPS: not computed (no LPIPS weights given)');
    expect(fs.readFileSync(path.join(merged, 'outputs/ablate/ablation-fig7.svg'), 'utf8')).toMatch(/^<svg[\s\S]*real video[\s\S]*wo-normal/);

    // Resume: the finished identities are read back, so the tables (time included) come out the same.
    const lines: string[] = [];
    expect(await main(['ablate', '--run', all!, '--preset', 'tiny'], { writeErr: (t) => lines.push(t) })).toBe(0);
    expect(lines.join('')).toMatch(/identity 1: done earlier[\s\S]*identity 2: done earlier/);
    expect(summaryOf(all!)).toEqual(a);
  }, 600_000);

  it('errors name the field or flag', async () => {
    const err: string[] = [];
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ fcsd: { controlIterations: -1 } }));
    expect(await main(['ablate', '--run', path.join(tmp, 'bad'), '--config', bad], { writeErr: (t) => err.push(t) })).toBe(1);
    expect(err.join('')).toMatch(/config\.fcsd\.controlIterations/);
    fs.writeFileSync(bad, JSON.stringify({ identitys: 3 }));
    expect(await main(['ablate', '--run', path.join(tmp, 'bad'), '--config', bad], { writeErr: (t) => err.push(t) })).toBe(1);
    expect(err.join('')).toMatch(/identitys/);
    expect(await main(['ablate', '--run', path.join(tmp, 'bad'), '--shard', '0/2', '--publish', path.join(tmp, 'x')], { writeErr: (t) => err.push(t) })).toBe(1);
    expect(err.join('')).toMatch(/--publish/);
    expect(await main(['ablate', '--run', path.join(tmp, 'bad'), '--frobnicate'], { writeErr: (t) => err.push(t) })).toBe(1);
    expect(await main(['merge', '--run', path.join(tmp, 'm'), path.join(tmp, 'nothing')], { writeErr: (t) => err.push(t) })).toBe(1);
    expect(err.join('')).toMatch(/nothing/);
  });
});
