/**
 * The runnable examples, run as a user runs them (`node --conditions=source --import tsx examples/<file>`), in their
 * smallest settings: the demo's `--quick` mode (stages 1 → 2 → 3 and its report, checked in headless Chromium), stage 1 on a tiny dataset, stages 1 → 2 on a tiny dataset run
 * twice (the second run must resume from the checkpoints and reproduce the same aligned TSD), and adding a condition
 * in `--quick` mode. They check that the scripts finish and write what they promise, not the quality of such short
 * runs (example 30 checks its own effects and exits non-zero when one is missing).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '@consistent-avatar/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-examples-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runExample(file: string, args: string[]): string {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join('examples', file), ...args], { cwd: root, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${file} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('examples', () => {
  it('00-demo --quick runs stages 1 → 2 → 3 and writes results, sequences, the strip, the manifest and a report that renders', () => {
    const out = path.join(tmp, 'demo');
    const stdout = runExample('00-demo.ts', ['--quick', '--out', out]);
    expect(stdout).toMatch(/stage 1: proxy fitted/);
    expect(stdout).toMatch(/stage 3: FCSD trained/);
    for (const f of ['strip.png', 'report.html', 'manifest.json', 'real.gif', 'proxy.gif', 'baseline.gif', 'full.gif']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.rows.map((r: { name: string }) => r.name)).toEqual(['proxy', 'baseline', 'full', 'oracle-tsd']);
    expect(results.split.test).toHaveLength(8);
    for (const r of results.rows) {
      for (const k of ['psnr', 'ssim', 'mse']) expect(Number.isFinite(r.scores.whole[k]) && Number.isFinite(r.scores.face[k]), `${r.name} ${k}`).toBe(true);
      expect(r.scores.temporal.curve).toHaveLength(7);
    }
    // The report was opened in headless Chromium (installed by .ci/run) and every table, image, plot and video rendered.
    if (process.env.CI === 'true' || /headless Chromium/.test(stdout)) {
      expect(stdout).toMatch(/headless Chromium: ok tables=4 images=1 plots=1 videos=5/);
      expect(fs.statSync(path.join(out, 'report.png')).size).toBeGreaterThan(10_000);
    }
  }, 600_000);

  it('05-stage1-strip fits the proxy of a tiny dataset and writes its strip and report', () => {
    const out = path.join(tmp, 'stage1');
    runExample('05-stage1-strip.ts', ['--out', out, '--frames', '24', '--size', '32', '--steps', '10']);
    expect(fs.existsSync(path.join(out, 'stage1-strip.png'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'stage1-report.json'), 'utf8')).psnrHeldOut).toBeGreaterThan(10);
  }, 600_000);

  it('10-stage2-tsdm writes aligned-tsd.npy and the model, and a second run resumes to the same result', () => {
    const out = path.join(tmp, 'stage2');
    const args = ['--out', out, '--frames', '56', '--steps', '4', '--ensemble', '1'];
    runExample('10-stage2-tsdm.ts', args);
    const first = readNpy(path.join(out, 'aligned-tsd.npy'));
    expect(first.shape).toEqual([48, 32, 32, 3]);
    expect(fs.existsSync(path.join(out, 'tsdm-model', 'config.json'))).toBe(true);
    const again = runExample('10-stage2-tsdm.ts', args);
    expect(again).toMatch(/TSDM resumed from/);
    expect(Array.from(readNpy(path.join(out, 'aligned-tsd.npy')).data as Float32Array)).toEqual(Array.from(first.data as Float32Array));
  }, 600_000);

  it('10-stage2-tsdm refuses a bad flag before any work (it validated its flags only after minutes before)', () => {
    const out = path.join(tmp, 'stage2-bad-flag');
    for (const [flag, message] of [['--ensemble', /--ensemble expects an integer ≥ 1, got 0/], ['--frames', /--frames expects an integer ≥ 2, got 0/]] as const) {
      const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join('examples', '10-stage2-tsdm.ts'), '--out', out, flag, '0'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).not.toMatch(/dataset:/); // nothing was synthesised or fitted
      expect(fs.existsSync(out)).toBe(false);
    }
  }, 300_000);

  it('30-add-a-condition --quick adds a gaze IP-Adapter branch and a gated audio processor without touching packages/', () => {
    const stdout = runExample('30-add-a-condition.ts', ['--quick']);
    expect(stdout).toMatch(/OK {3}the loss falls/);
    expect(stdout).toMatch(/OK {3}gaze moves the blob the right way/);
    expect(stdout).toMatch(/OK {3}audio loudness brightens it/);
    expect(stdout).not.toMatch(/FAIL/);
  }, 600_000);
});
