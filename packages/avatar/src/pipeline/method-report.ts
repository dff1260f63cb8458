/**
 * The outputs of a method run in its folder: `results.json` (every number, per row and per frame), the output
 * sequences as GIF (and MP4 when ffmpeg exists), `strip.png`, and the self-contained `report.html` (tables, strips,
 * the Fig. 7 flow-magnitude curves, the sequences, the manifest) — and, when Chromium is installed, the report opened
 * headless with its render self-check and a screenshot (`report.png`).
 *
 * @example
 * ```ts
 * import { runMethod, writeMethodOutputs } from '@consistent-avatar/avatar';
 * const result = await runMethod({ data, out, seed: 0 });
 * const written = await writeMethodOutputs(out, result, { title: 'demo', label: 'SYNTHETIC head, embedded default', manifest });
 * console.log(written.browserCheck); // "ok tables=3 images=1 plots=1 videos=4"
 * ```
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng, hasFfmpeg, writeFileAtomic, writeJsonAtomic, writeVideo, type FloatImage } from '@consistent-avatar/core';
import { flowCurveSvg } from '@consistent-avatar/metrics';
import { checkReportInBrowser, findChromium } from '../report/browser-check.js';
import { renderReportHtml, type ReportCell, type ReportTable, type RunReport } from '../report/report-html.js';
import type { RunMethodResult } from './run-method.js';

/** Options of {@link writeMethodOutputs}. */
export interface MethodOutputOptions {
  title: string;
  /** Which data / backbone ran, shown under the title (e.g. "SYNTHETIC head, embedded default trained here"). */
  label: string;
  /** Paragraphs under the label. */
  summary?: string[];
  /** The run manifest (shown at the end of the report). */
  manifest?: unknown;
  /** Run the headless-Chromium check when Chromium is installed. Default true. */
  browserCheck?: boolean;
}

/** What {@link writeMethodOutputs} wrote. */
export interface MethodOutputs {
  report: string;
  results: string;
  strip: string;
  videos: string[];
  /** The report's self-check in headless Chromium (`null` when no Chromium). */
  browserCheck: string | null;
  screenshot: string | null;
}

/** Frames shown in the strip: 4 evenly spaced held-out frames. */
function shownFrames(n: number): number[] {
  return [...new Set([0, 1, 2, 3].map((k) => Math.round((k * (n - 1)) / 3)))];
}

/** A TSD map in [−1, 1] shown as 0.5 + 0.5·TSD. */
const tsdImage = (m: Float32Array, S: number): FloatImage => ({ data: m.map((v) => Math.min(1, Math.max(0, 0.5 + 0.5 * v))), height: S, width: S, channels: 3 });

/** The strip: rows = held-out frames, columns = GT | proxy | proxy TSD | aligned TSD′ | each rendered row; ×`zoom` nearest. */
function strip(result: RunMethodResult, zoom: number): { png: Uint8Array; columns: string[] } {
  const S = result.size, Z = S * zoom;
  const held = result.split.test;
  const rows = shownFrames(held.length);
  const rendered = result.rows.filter((r) => r.name !== 'proxy');
  const columns = ['real frame', 'proxy', 'proxy TSD', 'aligned TSD′', ...rendered.map((r) => r.name)];
  const W = Z * columns.length;
  const data = new Float32Array(rows.length * Z * W * 3);
  rows.forEach((k, r) => {
    const frame = result.data.frames[held[k]!]!;
    const cells: FloatImage[] = [result.reference[k]!, { data: frame.proxyRgb, height: S, width: S, channels: 3 }, tsdImage(frame.proxyTsd, S), tsdImage(frame.alignedTsd!, S), ...rendered.map((row) => row.frames[k]!)];
    cells.forEach((img, col) => {
      for (let y = 0; y < Z; y++) for (let x = 0; x < Z; x++) for (let c = 0; c < 3; c++) {
        data[((r * Z + y) * W + col * Z + x) * 3 + c] = img.data[(Math.floor(y / zoom) * S + Math.floor(x / zoom)) * 3 + c]!;
      }
    });
  });
  return { png: new Uint8Array(encodePng({ width: W, height: rows.length * Z, channels: 3, data })), columns };
}

const r4 = (v: number | null | undefined): ReportCell => (v === null || v === undefined || !Number.isFinite(v) ? null : v);

/**
 * The report's tables from a result.
 * @example
 * ```ts
 * const [quality, temporal, stage2, time] = methodTables(result);
 * ```
 */
export function methodTables(result: RunMethodResult): ReportTable[] {
  const rows = result.rows;
  const quality: ReportTable = {
    caption: `Held-out frames (${result.split.test.length}, ${result.size}²): image quality, whole frame and inside the face mask (mean over frames)`,
    columns: ['row', 'PSNR ↑', 'PSNR face ↑', 'SSIM ↑', 'SSIM face ↑', 'L2 ↓', 'L2 face ↓', 'PE ↓', 'EE ↓', 'ms / frame'],
    rows: rows.map((r) => [r.name, r4(r.scores.whole.psnr), r4(r.scores.face.psnr), r4(r.scores.whole.ssim), r4(r.scores.face.ssim), r4(r.scores.whole.mse), r4(r.scores.face.mse), r4(r.scores.pe), r4(r.scores.ee), r4(r.msPerFrame)]),
    digits: 4,
    note: `LPIPS: not computed (no LPIPS weights given). PE / EE: ${result.estimator}. Rows: ${rows.map((r) => `${r.name} = ${r.label}`).join('; ')}.`,
  };
  const temporal: ReportTable = {
    caption: 'Held-out frames: temporal consistency against the real video (Farnebäck flow between adjacent frames; Fig. 7)',
    columns: ['row', 'flow-curve |Δ| ↓ (px)', 'flow-curve corr. ↑', 'warping error ↓', "real video's warping error"],
    rows: rows.map((r) => [r.name, r4(r.scores.temporal?.curveMeanAbsDiff), r4(r.scores.temporal?.curvePearson), r4(r.scores.temporal?.warpingError), r4(r.scores.temporal?.referenceWarpingError)]),
    digits: 4,
  };
  const stage2: ReportTable = {
    caption: "Stage 2 on the held-out frames: TSD against the real frames' TSD",
    columns: ['TSD', 'MSE ↓', 'ΔMSE ↓ (frame to frame)', 'change-curve corr. ↑'],
    rows: [['proxy TSD (stage 2 input)', r4(result.tsd.proxy.mse), r4(result.tsd.proxy.deltaMse), r4(result.tsd.proxy.changeCorrelation)], ['aligned TSD′ (TSDM)', r4(result.tsd.aligned.mse), r4(result.tsd.aligned.deltaMse), r4(result.tsd.aligned.changeCorrelation)]],
    digits: 5,
  };
  const time: ReportTable = {
    caption: 'Wall time per stage (s)',
    columns: ['stage', 's'],
    rows: Object.entries(result.timings).map(([k, v]) => [k, v / 1000]),
    digits: 1,
  };
  return [quality, temporal, stage2, time];
}

/**
 * Write `results.json`, the sequences, `strip.png`, `report.html` (and the browser check) into `dir`.
 * @example
 * ```ts
 * const { report, browserCheck } = await writeMethodOutputs('runs/mine', result, { title: 'my run', label: 'SYNTHETIC head' });
 * ```
 */
export async function writeMethodOutputs(dir: string, result: RunMethodResult, options: MethodOutputOptions): Promise<MethodOutputs> {
  const S = result.size;
  // 1. Every number, per row and per frame.
  const results = join(dir, 'results.json');
  writeJsonAtomic(results, {
    label: options.label,
    backbone: result.backbone,
    split: { train: result.split.train.length, validation: result.split.validation.length, test: result.split.test },
    size: S,
    estimator: result.estimator,
    rows: result.rows.map((r) => ({ name: r.name, label: r.label, msPerFrame: r.msPerFrame, scores: r.scores })),
    tsd: result.tsd,
    losses: result.losses,
    timings: result.timings,
    config: result.config,
  });
  // 2. The sequences (real + each row) as GIF, MP4 too with ffmpeg.
  const sequences: { name: string; frames: FloatImage[] }[] = [{ name: 'real', frames: result.reference }, ...result.rows.map((r) => ({ name: r.name, frames: r.frames }))];
  const videos: string[] = [];
  const reportVideos: RunReport['videos'] = [];
  for (const seq of sequences) {
    const gif = join(dir, `${seq.name}.gif`);
    await writeVideo(gif, seq.frames, { fps: 12, encoder: 'gifenc' });
    videos.push(gif);
    let mp4: Uint8Array | undefined;
    if (hasFfmpeg()) {
      const file = join(dir, `${seq.name}.mp4`);
      await writeVideo(file, seq.frames, { fps: 12 });
      videos.push(file);
      mp4 = new Uint8Array(readFileSync(file));
    }
    reportVideos.push({ caption: `${seq.name} (held-out frames)`, gif: new Uint8Array(readFileSync(gif)), mp4 });
  }
  // 3. The strip and the Fig. 7 curves.
  const { png, columns } = strip(result, S < 64 ? 2 : 1);
  const stripFile = join(dir, 'strip.png');
  writeFileAtomic(stripFile, png);
  const first = result.rows.find((r) => r.scores.temporal)?.scores.temporal;
  const plots = first
    ? [{ caption: 'Fig. 7: mean flow magnitude between adjacent held-out frames', svg: flowCurveSvg([{ label: 'real video', values: first.referenceCurve }, ...result.rows.filter((r) => r.scores.temporal).map((r) => ({ label: r.name, values: r.scores.temporal!.curve }))], { title: 'flow magnitude per frame pair', xLabel: 'frame pair', yLabel: 'px / frame' }) }]
    : [];
  // 4. The report, and the browser's word on it.
  const report: RunReport = {
    title: options.title,
    label: options.label,
    summary: options.summary,
    tables: methodTables(result),
    strips: [{ caption: `${shownFrames(result.split.test.length).length} held-out frames (each ${S}², shown ×${S < 64 ? 2 : 1})`, png, columns }],
    plots,
    videos: reportVideos,
    manifest: options.manifest,
  };
  const reportFile = join(dir, 'report.html');
  writeFileAtomic(reportFile, renderReportHtml(report));
  let browserCheck: string | null = null;
  let screenshot: string | null = null;
  if ((options.browserCheck ?? true) && findChromium()) {
    const check = checkReportInBrowser(reportFile, { screenshot: join(dir, 'report.png') });
    browserCheck = check.check;
    screenshot = check.screenshot ?? null;
  }
  return { report: reportFile, results, strip: stripFile, videos, browserCheck, screenshot };
}
