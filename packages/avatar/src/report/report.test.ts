/**
 * The run report renders in headless Chromium: every table, image, plot and animation of a self-contained page
 * (checked by the page's own script, read back through --dump-dom), with a screenshot. A broken image makes the
 * check fail, so the check can fail.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng, ValidationError, writeVideo } from '@consistent-avatar/core';
import { flowCurveSvg } from '@consistent-avatar/metrics';
import { checkReportInBrowser, findChromium } from './browser-check.js';
import { renderReportHtml, type RunReport } from './report-html.js';

const dir = mkdtempSync(join(tmpdir(), 'ca-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gradient(w: number, h: number, phase: number) {
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = ((x + y + phase * 4 + c * 7) % 32) / 31;
  return { data, width: w, height: h, channels: 3 as const };
}

async function sampleReport(): Promise<RunReport> {
  const gifFile = join(dir, 'clip.gif');
  await writeVideo(gifFile, [0, 1, 2].map((p) => gradient(32, 32, p)), { fps: 5, encoder: 'gifenc' });
  return {
    title: 'report test',
    label: 'SYNTHETIC head, embedded default',
    summary: ['a <b>tag</b> in text is escaped'],
    tables: [
      { caption: 'held-out', columns: ['method', 'PSNR', 'LPIPS'], rows: [['proxy', 30.12345, null], ['full', 31.5, null]], digits: 2, note: 'LPIPS: not computed (no weights)' },
      { caption: 'timings', columns: ['stage', 's'], rows: [['stage 1', 3.2]] },
    ],
    strips: [{ caption: 'GT | proxy', columns: ['GT', 'proxy'], png: new Uint8Array(encodePng(gradient(64, 32, 0))) }],
    plots: [{ caption: 'Fig. 7', svg: flowCurveSvg([{ label: 'real', values: [0.1, 0.3, 0.2, 0.4] }, { label: 'full', values: [0.12, 0.28, 0.25, 0.35] }]) }],
    videos: [{ caption: 'full', gif: new Uint8Array(readFileSync(gifFile)) }],
    manifest: { seed: 0 },
  };
}

describe('renderReportHtml', () => {
  it('inlines everything and escapes text', async () => {
    const html = renderReportHtml(await sampleReport());
    expect(html).toContain('data:image/png;base64,');
    expect(html).toContain('data:image/gif;base64,');
    expect(html).toContain('&lt;b&gt;tag&lt;/b&gt;');
    expect(html).toContain('<td class="num">30.12</td>');
    expect(html).toContain('<td class="na" title="not computed">—</td>');
    expect(html).not.toMatch(/(src|href)="(https?:|\/\/|file:)/); // nothing outside the page
  });
  it('rejects malformed reports naming the field', async () => {
    const r = await sampleReport();
    expect(() => renderReportHtml({ ...r, tables: [{ caption: 'x', columns: ['a', 'b'], rows: [['only one']] }] })).toThrow(/report.tables\[0\].rows\[0\]' expected 2 cells/);
    expect(() => renderReportHtml({ ...r, plots: [{ caption: 'x', svg: 'nope' }] })).toThrow(ValidationError);
  });
});

describe.runIf(findChromium() !== null || process.env.CI === 'true')('report in headless Chromium', () => {
  it('every table, image, plot and animation renders; a screenshot is saved', async () => {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReportHtml(await sampleReport()));
    const shot = join(dir, 'report.png');
    const result = checkReportInBrowser(file, { screenshot: shot, windowSize: [900, 1200] });
    expect(result.check).toBe('ok tables=2 images=1 plots=1 videos=1');
    expect(statSync(shot).size).toBeGreaterThan(1000);
  });
  it('a broken image fails the check', async () => {
    const r = await sampleReport();
    r.strips![0]!.png = new Uint8Array([1, 2, 3, 4]);
    const file = join(dir, 'broken.html');
    writeFileSync(file, renderReportHtml(r));
    const result = checkReportInBrowser(file);
    expect(result.ok).toBe(false);
    expect(result.check).toMatch(/^fail image0 /);
  });
});
