/**
 * A small dependency-free SVG line plot for the Fig. 7 curves (generated, real and any baselines).
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * One curve of the plot.
 * @example
 * ```ts
 * const baseline: PlotSeries = { label: 'baseline (w/o stage 2)', values: baselineCurve, color: '#999' };
 * ```
 */
export interface PlotSeries {
  readonly label: string;
  readonly values: readonly number[];
  /** CSS colour; default from a fixed colour-blind-safe palette. */
  readonly color?: string;
}

/**
 * Options of {@link flowCurveSvg}.
 * @example
 * ```ts
 * flowCurveSvg(series, { width: 800, height: 300, title: 'Fig. 7' } satisfies FlowPlotOptions);
 * ```
 */
export interface FlowPlotOptions {
  readonly width?: number;
  readonly height?: number;
  readonly title?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
}

const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

/**
 * Render curves as a standalone `<svg>` string (deterministic; no scripts, no external resources). Non-finite
 * values break the line.
 *
 * @example
 * ```ts
 * const svg = flowCurveSvg([
 *   { label: 'generated', values: r.generatedCurve },
 *   { label: 'real', values: r.referenceCurve },
 * ], { title: 'Mean optical-flow magnitude' });
 * ```
 */
export function flowCurveSvg(series: readonly PlotSeries[], options: FlowPlotOptions = {}): string {
  const fn = 'flowCurveSvg';
  if (!Array.isArray(series) || series.length === 0) {
    throw new ValidationError(fn, 'series', 'a non-empty array of {label, values}', series);
  }
  series.forEach((s, i) => {
    if (typeof s?.label !== 'string' || !Array.isArray(s.values)) {
      throw new ValidationError(fn, `series[${i}]`, '{label: string, values: number[]}', s);
    }
  });
  const W = options.width ?? 640;
  const H = options.height ?? 320;
  const m = { left: 56, right: 16, top: options.title ? 32 : 16, bottom: 44 };
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const n = Math.max(...series.map((s) => s.values.length));
  const yMin = Math.min(0, ...all);
  const yMaxRaw = all.length ? Math.max(...all) : 1;
  const yMax = yMaxRaw > yMin ? yMaxRaw : yMin + 1;
  const px = (i: number) => m.left + (n > 1 ? (i / (n - 1)) * (W - m.left - m.right) : 0);
  const py = (v: number) => H - m.bottom - ((v - yMin) / (yMax - yMin)) * (H - m.top - m.bottom);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  if (options.title) out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(options.title)}</text>`);
  // Axes with 5 y ticks and up to 10 x ticks.
  out.push(`<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="#333"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = yMin + ((yMax - yMin) * k) / 4;
    const y = py(v).toFixed(1);
    out.push(`<line x1="${m.left - 4}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step) {
    out.push(`<text x="${px(i).toFixed(1)}" y="${H - m.bottom + 14}" text-anchor="middle">${i}</text>`);
  }
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 8}" text-anchor="middle">${esc(options.xLabel ?? 'frame pair t → t+1')}</text>`);
  out.push(`<text transform="translate(14 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel ?? 'mean flow magnitude (px)')}</text>`);
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    let d = '';
    let pen = false;
    s.values.forEach((v: number, i: number) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(i).toFixed(1)} ${py(v).toFixed(1)}`;
      pen = true;
    });
    out.push(`<path d="${d}" fill="none" stroke="${esc(color)}" stroke-width="1.5"/>`);
    const ly = m.top + 6 + 14 * k;
    out.push(`<line x1="${W - m.right - 110}" y1="${ly}" x2="${W - m.right - 92}" y2="${ly}" stroke="${esc(color)}" stroke-width="2"/>`);
    out.push(`<text x="${W - m.right - 88}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
