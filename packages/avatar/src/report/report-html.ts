/**
 * The run report: one self-contained HTML page (every image, plot and animation inlined as a data URI, no network,
 * no external file) with the result tables, image strips, the Fig. 7 flow-magnitude curves as SVG, the output
 * sequences as animated GIF (and MP4 when given), and the run manifest.
 *
 * The page checks itself when a browser opens it: an inline script counts the tables with rows, the images that
 * decoded (`naturalWidth > 0`) and the plots with a non-empty bounding box, and writes the result into
 * `document.body.dataset.renderCheck` (`"ok tables=3 images=5 plots=1 videos=2"` or `"fail …"`), which the
 * headless-Chromium test reads back.
 *
 * @example
 * ```ts
 * import { renderReportHtml } from '@consistent-avatar/avatar';
 * const html = renderReportHtml({
 *   title: 'demo', label: 'SYNTHETIC head, embedded default',
 *   tables: [{ caption: 'held-out frames', columns: ['method', 'PSNR'], rows: [['proxy', 30.1], ['full', 31.2]] }],
 * });
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';

/** A cell: text, a number (printed with `digits`), or null (printed as "—", not computed). */
export type ReportCell = string | number | null;

/** A results table. */
export interface ReportTable {
  caption: string;
  columns: string[];
  rows: ReportCell[][];
  /** Significant decimals for numbers (default 4). */
  digits?: number;
  /** A note under the table (what was not computed, where the numbers come from). */
  note?: string;
}

/** An image strip (a PNG). */
export interface ReportImage {
  caption: string;
  /** PNG bytes. */
  png: Uint8Array;
  /** Column labels drawn above the strip (left to right). */
  columns?: string[];
}

/** A plot (an SVG document, e.g. from `flowCurveSvg`). */
export interface ReportPlot {
  caption: string;
  svg: string;
}

/** An output sequence. */
export interface ReportVideo {
  caption: string;
  /** Animated GIF bytes. */
  gif: Uint8Array;
  /** MP4 bytes, when ffmpeg was available. */
  mp4?: Uint8Array;
}

/** Everything a report shows. */
export interface RunReport {
  title: string;
  /** Which backbone / data ran (e.g. "SYNTHETIC head, embedded default trained here"). Shown under the title. */
  label: string;
  /** Short paragraphs under the label (what the numbers say). */
  summary?: string[];
  tables?: ReportTable[];
  strips?: ReportImage[];
  plots?: ReportPlot[];
  videos?: ReportVideo[];
  /** The run manifest (printed as JSON at the end). */
  manifest?: unknown;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

function cell(v: ReportCell, digits: number): string {
  if (v === null) return '<td class="na" title="not computed">—</td>';
  if (typeof v === 'number') return `<td class="num">${Number.isFinite(v) ? v.toFixed(digits) : String(v)}</td>`;
  return `<td>${esc(v)}</td>`;
}

function checkReport(report: RunReport): void {
  const fn = 'renderReportHtml';
  if (report === null || typeof report !== 'object') throw new ValidationError(fn, 'report', 'a RunReport object', report);
  if (typeof report.title !== 'string' || typeof report.label !== 'string') throw new ValidationError(fn, 'report.title / report.label', 'strings', report.title);
  (report.tables ?? []).forEach((t, i) => {
    if (!Array.isArray(t.columns) || !Array.isArray(t.rows)) throw new ValidationError(fn, `report.tables[${i}]`, '{ caption, columns, rows }', t);
    t.rows.forEach((r, j) => {
      if (!Array.isArray(r) || r.length !== t.columns.length) throw new ValidationError(fn, `report.tables[${i}].rows[${j}]`, `${t.columns.length} cells (one per column)`, r);
    });
  });
  (report.strips ?? []).forEach((s, i) => {
    if (!(s.png instanceof Uint8Array)) throw new ValidationError(fn, `report.strips[${i}].png`, 'PNG bytes (Uint8Array)', s.png);
  });
  (report.videos ?? []).forEach((v, i) => {
    if (!(v.gif instanceof Uint8Array)) throw new ValidationError(fn, `report.videos[${i}].gif`, 'GIF bytes (Uint8Array)', v.gif);
  });
  (report.plots ?? []).forEach((p, i) => {
    if (typeof p.svg !== 'string' || !p.svg.includes('<svg')) throw new ValidationError(fn, `report.plots[${i}].svg`, 'an SVG document string', p.svg);
  });
}

/** The inline self-check (see the module doc). */
const SELF_CHECK = `
window.addEventListener('load', () => {
  const tables = [...document.querySelectorAll('table.ca-table')];
  const images = [...document.querySelectorAll('img.ca-image')];
  const plots = [...document.querySelectorAll('figure.ca-plot svg')];
  const videos = [...document.querySelectorAll('img.ca-video')];
  const bad = [];
  tables.forEach((t, i) => { if (t.tBodies[0].rows.length === 0) bad.push('table' + i); });
  [...images, ...videos].forEach((img, i) => { if (!(img.complete && img.naturalWidth > 0)) bad.push('image' + i); });
  plots.forEach((s, i) => { const b = s.getBoundingClientRect(); if (!(b.width > 0 && b.height > 0 && s.querySelector('path, polyline, line'))) bad.push('plot' + i); });
  document.body.dataset.renderCheck = (bad.length ? 'fail ' + bad.join(',') + ' ' : 'ok ') +
    'tables=' + tables.length + ' images=' + images.length + ' plots=' + plots.length + ' videos=' + videos.length;
});`;

/**
 * Render a {@link RunReport} as one self-contained HTML document.
 *
 * @returns the HTML text (UTF-8), to be written as `report.html`.
 * @example
 * ```ts
 * import { writeFileAtomic } from '@consistent-avatar/core';
 * writeFileAtomic('runs/demo/report.html', renderReportHtml(report));
 * ```
 */
export function renderReportHtml(report: RunReport): string {
  checkReport(report);
  const parts: string[] = [];
  parts.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(report.title)}</title><style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1400px;color:#111}
h1{margin:0 0 4px}.label{color:#b00;font-weight:600;margin:0 0 12px}
table.ca-table{border-collapse:collapse;margin:8px 0 4px}table.ca-table td,table.ca-table th{border:1px solid #ccc;padding:3px 8px}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.na{color:#888;text-align:center}
figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}.note{color:#555;font-size:12px}
img.ca-image,img.ca-video{image-rendering:pixelated;border:1px solid #ddd;max-width:100%}
img.ca-video{width:192px}.videos{display:flex;flex-wrap:wrap;gap:16px}.videos figure{margin:0}
.cols{display:flex;font-size:12px;color:#333;max-width:100%}.cols span{flex:1;text-align:center}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:11px}
</style></head><body>`);
  parts.push(`<h1>${esc(report.title)}</h1><p class="label">${esc(report.label)}</p>`);
  for (const p of report.summary ?? []) parts.push(`<p>${esc(p)}</p>`);
  (report.tables ?? []).forEach((t) => {
    const digits = t.digits ?? 4;
    parts.push(`<figure><figcaption>${esc(t.caption)}</figcaption><table class="ca-table"><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>`);
    for (const row of t.rows) parts.push(`<tr>${row.map((v) => cell(v, digits)).join('')}</tr>`);
    parts.push(`</tbody></table>${t.note ? `<div class="note">${esc(t.note)}</div>` : ''}</figure>`);
  });
  for (const s of report.strips ?? []) {
    // The column labels span exactly the image's width (read from the PNG's IHDR chunk).
    const width = s.png.length >= 24 ? new DataView(s.png.buffer, s.png.byteOffset).getUint32(16) : 0;
    const cols = s.columns ? `<div class="cols" style="width:${width}px">${s.columns.map((c) => `<span>${esc(c)}</span>`).join('')}</div>` : '';
    parts.push(`<figure><figcaption>${esc(s.caption)}</figcaption>${cols}<img class="ca-image" alt="${esc(s.caption)}" src="data:image/png;base64,${b64(s.png)}"></figure>`);
  }
  for (const p of report.plots ?? []) parts.push(`<figure class="ca-plot"><figcaption>${esc(p.caption)}</figcaption>${p.svg}</figure>`);
  if (report.videos?.length) parts.push('<div class="videos">');
  for (const v of report.videos ?? []) {
    const mp4 = v.mp4 ? `<video controls loop muted width="192" src="data:video/mp4;base64,${b64(v.mp4)}"></video>` : '';
    parts.push(`<figure><figcaption>${esc(v.caption)}</figcaption><img class="ca-video" alt="${esc(v.caption)}" src="data:image/gif;base64,${b64(v.gif)}">${mp4}</figure>`);
  }
  if (report.videos?.length) parts.push('</div>');
  if (report.manifest !== undefined) parts.push(`<h2>Manifest</h2><pre>${esc(JSON.stringify(report.manifest, null, 1))}</pre>`);
  parts.push(`<script>${SELF_CHECK}</script></body></html>\n`);
  return parts.join('\n');
}
