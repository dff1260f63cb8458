/**
 * Issue 19 (reliability), metrics: the non-finite policy of every image metric (10), FaceAnalyzer in a fresh process
 * (11: it restored the backend `undefined` before) and uncaught errors once opencv.js is loaded (11: its crash handler
 * printed its ~11 MB source and exited with code 7).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, initBackend, type FloatImage } from '@consistent-avatar/core';
import { mse, psnr, ssim, temporalConsistency } from './index.js';

const ROOT = path.resolve(__dirname, '../../..');
beforeAll(async () => {
  await initBackend('wasm');
});

const frame = (fill: number, nanAt = -1): FloatImage => {
  const data = new Float32Array(32 * 32 * 3).fill(fill);
  if (nanAt >= 0) data[nanAt] = Number.NaN;
  return { data, height: 32, width: 32, channels: 3 };
};

describe('10. NaN never passes silently through a metric', () => {
  it('mse, psnr, ssim name the image and the sample; temporalConsistency the frame', async () => {
    for (const [name, metric] of [['mse', mse], ['psnr', psnr], ['ssim', ssim]] as const) {
      // psnr is computed through mse, which names itself; the argument and the sample are named either way.
      expect(() => metric(frame(0.5), frame(0.5, 7))).toThrow(new RegExp(`${name === 'psnr' ? 'mse' : name}: argument 'b\\.data' expected finite samples .*NaN at pixel .* sample 7`));
      expect(() => metric(frame(0.5, 0), frame(0.5))).toThrow(ValidationError);
    }
    await expect(temporalConsistency([frame(0.2), frame(0.3, 5)], [frame(0.2), frame(0.3)])).rejects.toThrow(/frames\[1\].*finite samples/);
  });
});

describe('11. FaceAnalyzer.create in a fresh process', () => {
  it('works without a backend chosen first (it threw "Backend name \'undefined\' not found")', () => {
    const script = "import { FaceAnalyzer } from '@consistent-avatar/metrics'; const a = await FaceAnalyzer.create(); a.dispose(); console.log('created');";
    const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toMatch(/Backend name 'undefined'/);
    expect(r.stdout).toContain('created');
    expect(r.status).toBe(0);
  }, 130_000);
});

describe('11. an uncaught error after opencv.js is loaded', () => {
  it('prints our message and stack first, no opencv.js source, exit code 1', () => {
    const script = "import { loadOpenCv } from '@consistent-avatar/metrics'; const cv = await loadOpenCv(); new cv.Mat(2, 2, cv.CV_8UC1).delete(); console.log('opencv loaded'); setTimeout(() => { throw new Error('our message'); });";
    const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
    expect(r.stdout).toContain('opencv loaded');
    expect(r.stderr.trimStart().startsWith('Error: our message')).toBe(true);
    expect(r.stderr.length).toBeLessThan(4000);
    expect(r.status).toBe(1);
  }, 130_000);
});
