/**
 * The table math of the ablation (the paper's Tables 1–2 and Fig. 7 over several identities), as pure functions:
 * per-identity rows in, mean ± std over identities out, as JSON-ready records and Markdown. No I/O, no tensors, so a
 * sharded run merged from its parts and an unsharded run give the same tables from the same per-identity numbers.
 *
 * - {@link meanStd}: mean and sample standard deviation (n − 1) of the values present (nulls = not computed).
 * - {@link summarizeAblation}: every row × metric over identities, rows in the order of the first identity.
 * - {@link ablationMarkdown}: Table 1 (L2 / PSNR / SSIM / LPIPS / time), Table 2 (PE / EE), the temporal table
 *   (Fig. 7's flow-curve error and correlation, warping error) and identity similarity.
 * - {@link meanCurves}: the Fig. 7 curves (mean flow magnitude per frame pair) averaged over identities.
 *
 * @example
 * ```ts
 * import { summarizeAblation, ablationMarkdown } from '@consistent-avatar/avatar';
 * const summary = summarizeAblation(identities);
 * console.log(ablationMarkdown(summary));
 * ```
 *
 * @packageDocumentation
 */
import { checkFinite, ValidationError } from '@consistent-avatar/core';

/**
 * The columns of the ablation, one number per row and identity (`null`: not computed for this row / identity).
 * @example
 * ```ts
 * const key: AblationMetric = 'psnrFace';
 * ```
 */
export type AblationMetric =
  | 'l2' | 'l2Face' | 'psnr' | 'psnrFace' | 'ssim' | 'ssimFace' | 'lpips'
  | 'pe' | 'ee'
  | 'flowCurveError' | 'flowCurveCorrelation' | 'warpingError' | 'identitySimilarity'
  | 'msPerFrame';

/**
 * Every {@link AblationMetric}, in table order.
 * @example
 * ```ts
 * ABLATION_METRICS.length; // 14
 * ```
 */
export const ABLATION_METRICS: readonly AblationMetric[] = Object.freeze([
  'l2', 'l2Face', 'psnr', 'psnrFace', 'ssim', 'ssimFace', 'lpips', 'pe', 'ee',
  'flowCurveError', 'flowCurveCorrelation', 'warpingError', 'identitySimilarity', 'msPerFrame',
] as AblationMetric[]);

/**
 * One row (a way of producing the held-out frames) of one identity.
 * @example
 * ```ts
 * const row: AblationIdentityRow = { name: 'full', label: 'full method', metrics: { psnr: 29.3, … }, curve: [0.4, 0.5] };
 * ```
 */
export interface AblationIdentityRow {
  name: string;
  label: string;
  metrics: Record<AblationMetric, number | null>;
  /** Mean flow magnitude per adjacent held-out frame pair (px / frame), Fig. 7; null for fewer than 2 frames. */
  curve: number[] | null;
}

/**
 * Everything kept of one identity's run (no frames): the rows and what the tables need to say how they were scored.
 * @example
 * ```ts
 * const id: AblationIdentityResult = { identity: 1, datasetSeed: 1, seed: 0, rows, referenceCurve, notes, … };
 * ```
 */
export interface AblationIdentityResult {
  /** Synthetic identity number. */
  identity: number;
  /** Seed of its dataset. */
  datasetSeed: number;
  /** Seed of every stage. */
  seed: number;
  rows: AblationIdentityRow[];
  /** The real video's Fig. 7 curve. */
  referenceCurve: number[] | null;
  /** The real video's own warping error (the floor of the warping-error column). */
  referenceWarpingError: number | null;
  /** How PE / EE, LPIPS and identity similarity were scored (or why not). */
  notes: { estimator: string; lpips: string; identity: string };
  /** Frames per split and the stage-3 size. */
  split: { train: number; validation: number; test: number };
  size: number;
  /** Stage-2 TSD errors of the held-out frames. */
  tsd: { proxy: { mse: number; deltaMse: number; changeCorrelation: number }; aligned: { mse: number; deltaMse: number; changeCorrelation: number } };
  /** Wall time of each stage in ms. */
  timings: Record<string, number>;
}

/**
 * Mean ± std of one row × metric over identities.
 * @example
 * ```ts
 * const cell: AblationCell = { mean: 2, std: 1, n: 3, values: [1, 2, 3] };
 * ```
 */
export interface AblationCell {
  /** Mean of the values present; null when none. */
  mean: number | null;
  /** Sample standard deviation (n − 1); null for fewer than 2 values. */
  std: number | null;
  /** How many identities had a value. */
  n: number;
  /** The per-identity values, in identity order (null: not computed there). */
  values: (number | null)[];
}

/**
 * The tables: rows × metrics over identities.
 * @example
 * ```ts
 * summary.rows.find((r) => r.name === 'full')!.cells.psnr.mean;
 * ```
 */
export interface AblationSummary {
  /** Identity numbers, in order. */
  identities: number[];
  rows: { name: string; label: string; cells: Record<AblationMetric, AblationCell> }[];
  /** The scoring notes (from the first identity; every identity must agree). */
  notes: AblationIdentityResult['notes'];
}

/**
 * Mean and sample standard deviation (n − 1) of the finite values present; nulls are left out.
 * @param values - numbers or null (not computed).
 * @example
 * ```ts
 * meanStd([1, 2, 3, null]); // { mean: 2, std: 1, n: 3, values: [1, 2, 3, null] }
 * ```
 */
export function meanStd(values: readonly (number | null)[]): AblationCell {
  if (!Array.isArray(values)) throw new ValidationError('meanStd', 'values', 'an array of numbers or null', values);
  values.forEach((v, i) => {
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new ValidationError('meanStd', `values[${i}]`, 'a finite number or null', v);
  });
  const present = values.filter((v): v is number => v !== null);
  const n = present.length;
  if (n === 0) return { mean: null, std: null, n, values: [...values] };
  const mean = present.reduce((s, v) => s + v, 0) / n;
  const std = n < 2 ? null : Math.sqrt(present.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, std, n, values: [...values] };
}

/**
 * Check a list of identity results: non-empty, distinct identities, the same rows in the same order, the same notes.
 */
function checkIdentities(fn: string, list: readonly AblationIdentityResult[]): void {
  const identities: readonly AblationIdentityResult[] = list;
  if (!Array.isArray(list) || identities.length === 0) throw new ValidationError(fn, 'identities', 'a non-empty array of identity results', identities);
  const seen = new Set<number>();
  const names = identities[0]!.rows?.map((r: AblationIdentityRow) => r.name).join(',');
  identities.forEach((id: AblationIdentityResult, i: number) => {
    if (!id || !Number.isInteger(id.identity) || !Array.isArray(id.rows)) throw new ValidationError(fn, `identities[${i}]`, 'an AblationIdentityResult', id);
    if (seen.has(id.identity)) throw new ValidationError(fn, `identities[${i}].identity`, 'a distinct identity', id.identity);
    seen.add(id.identity);
    if (id.rows.map((r) => r.name).join(',') !== names) throw new ValidationError(fn, `identities[${i}].rows`, `the rows ${names}`, id.rows.map((r) => r.name).join(','));
    if (JSON.stringify(id.notes) !== JSON.stringify(identities[0]!.notes)) throw new ValidationError(fn, `identities[${i}].notes`, JSON.stringify(identities[0]!.notes), JSON.stringify(id.notes));
  });
}

/**
 * Mean ± std over identities of every row × metric (identities sorted by number, so any order of parts gives the
 * same summary).
 * @param identities - per-identity results (from `runAblation` or the parts of a sharded run).
 * @example
 * ```ts
 * const summary = summarizeAblation([id1, id2, id3]);
 * summary.rows[0].cells.psnr; // { mean, std, n: 3, values: [..3] }
 * ```
 */
export function summarizeAblation(identities: readonly AblationIdentityResult[]): AblationSummary {
  checkIdentities('summarizeAblation', identities);
  identities.forEach((id, i) => id.rows.forEach((row, r) => ABLATION_METRICS.forEach((m) => {
    const v = row.metrics[m];
    if (v !== null && v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new ValidationError('summarizeAblation', `identities[${i}].rows[${r}].metrics.${m}`, 'a finite number or null (not computed)', v);
    }
  })));
  const sorted = [...identities].sort((a, b) => a.identity - b.identity);
  const rows = sorted[0]!.rows.map((row, r) => ({
    name: row.name,
    label: row.label,
    cells: Object.fromEntries(ABLATION_METRICS.map((m) => [m, meanStd(sorted.map((id) => id.rows[r]!.metrics[m] ?? null))])) as Record<AblationMetric, AblationCell>,
  }));
  return { identities: sorted.map((id) => id.identity), rows, notes: sorted[0]!.notes };
}

/**
 * The Fig. 7 curves averaged over identities: the real video's and each row's (per frame pair), or null when the
 * identities' curves differ in length or are missing.
 * @example
 * ```ts
 * const curves = meanCurves(identities); // { reference: [...], rows: [{ name: 'full', values: [...] }, …] }
 * ```
 */
export function meanCurves(identities: readonly AblationIdentityResult[]): { reference: number[]; rows: { name: string; values: number[] }[] } | null {
  checkIdentities('meanCurves', identities);
  identities.forEach((id, i) => {
    if (id.referenceCurve) checkFinite('meanCurves', `identities[${i}].referenceCurve`, id.referenceCurve);
    id.rows.forEach((row, r) => {
      if (row.curve) checkFinite('meanCurves', `identities[${i}].rows[${r}].curve`, row.curve);
    });
  });
  const average = (curves: (number[] | null)[]): number[] | null => {
    if (curves.some((c) => !c || c.length !== curves[0]!.length)) return null;
    return curves[0]!.map((_, k) => curves.reduce((s, c) => s + c![k]!, 0) / curves.length);
  };
  const reference = average(identities.map((id) => id.referenceCurve));
  if (!reference) return null;
  const rows = identities[0]!.rows.map((row, r) => ({ name: row.name, values: average(identities.map((id) => id.rows[r]!.curve)) }));
  if (rows.some((r) => !r.values)) return null;
  return { reference, rows: rows as { name: string; values: number[] }[] };
}

/** `mean ± std` with `digits` decimals; `—` when not computed; the mean alone with one identity. */
function cellText(cell: AblationCell, digits: number): string {
  if (cell.mean === null) return '—';
  return cell.std === null ? cell.mean.toFixed(digits) : `${cell.mean.toFixed(digits)} ± ${cell.std.toFixed(digits)}`;
}

const TABLES: { title: string; columns: { metric: AblationMetric; head: string; digits: number }[] }[] = [
  {
    title: 'Table 1 style: image quality of the held-out frames (whole frame, and inside the face mask)',
    columns: [
      { metric: 'l2', head: 'L2 ↓', digits: 5 }, { metric: 'l2Face', head: 'L2 face ↓', digits: 5 },
      { metric: 'psnr', head: 'PSNR ↑', digits: 2 }, { metric: 'psnrFace', head: 'PSNR face ↑', digits: 2 },
      { metric: 'ssim', head: 'SSIM ↑', digits: 4 }, { metric: 'ssimFace', head: 'SSIM face ↑', digits: 4 },
      { metric: 'lpips', head: 'LPIPS ↓', digits: 4 }, { metric: 'msPerFrame', head: 'ms / frame', digits: 0 },
    ],
  },
  { title: 'Table 2 style: pose and expression error', columns: [{ metric: 'pe', head: 'PE ↓', digits: 4 }, { metric: 'ee', head: 'EE ↓', digits: 4 }] },
  {
    title: 'Temporal consistency against the real video (Fig. 7: Farnebäck flow-magnitude curves) and identity',
    columns: [
      { metric: 'flowCurveError', head: 'flow-curve |Δ| ↓ (px)', digits: 4 }, { metric: 'flowCurveCorrelation', head: 'flow-curve corr. ↑', digits: 3 },
      { metric: 'warpingError', head: 'warping error ↓', digits: 6 }, { metric: 'identitySimilarity', head: 'identity sim. ↑', digits: 3 },
    ],
  },
];

/**
 * The Markdown tables of a summary (mean ± sample std over identities; `—` = not computed, with the reason below
 * the tables), then the per-identity values of the main columns.
 * @param summary - from {@link summarizeAblation}.
 * @example
 * ```ts
 * writeFileSync('ablation.md', ablationMarkdown(summarizeAblation(identities)));
 * ```
 */
export function ablationMarkdown(summary: AblationSummary): string {
  if (!summary || !Array.isArray(summary.rows) || !Array.isArray(summary.identities)) throw new ValidationError('ablationMarkdown', 'summary', 'an AblationSummary (summarizeAblation)', summary);
  const lines: string[] = [];
  const n = summary.identities.length;
  for (const table of TABLES) {
    lines.push(`### ${table.title}`, '', `Mean ± sample std over ${n} identit${n === 1 ? 'y' : 'ies'} (${summary.identities.join(', ')}).`, '');
    lines.push(`| row | ${table.columns.map((c) => c.head).join(' | ')} |`, `|---|${table.columns.map(() => '---:').join('|')}|`);
    for (const row of summary.rows) lines.push(`| ${row.name} | ${table.columns.map((c) => cellText(row.cells[c.metric], c.digits)).join(' | ')} |`);
    lines.push('');
  }
  lines.push('### Per identity (PSNR face / SSIM face / EE / flow-curve corr.)', '');
  lines.push(`| row | ${summary.identities.map((id) => `identity ${id}`).join(' | ')} |`, `|---|${summary.identities.map(() => '---').join('|')}|`);
  const v = (x: number | null, d: number) => (x === null ? '—' : x.toFixed(d));
  for (const row of summary.rows) {
    lines.push(`| ${row.name} | ${summary.identities.map((_, k) => `${v(row.cells.psnrFace.values[k] ?? null, 2)} / ${v(row.cells.ssimFace.values[k] ?? null, 4)} / ${v(row.cells.ee.values[k] ?? null, 4)} / ${v(row.cells.flowCurveCorrelation.values[k] ?? null, 3)}`).join(' | ')} |`);
  }
  lines.push('', `Rows: ${summary.rows.map((r) => `**${r.name}** = ${r.label}`).join('; ')}.`, '');
  lines.push(`PE / EE: ${summary.notes.estimator}. LPIPS: ${summary.notes.lpips}. Identity similarity: ${summary.notes.identity}.`, '');
  return lines.join('\n');
}
