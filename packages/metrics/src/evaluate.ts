/**
 * `evaluate(generated, reference, options)`: every metric of this package that the caller enabled, over aligned
 * frame lists, reported as a per-frame CSV, a JSON summary, a Markdown table and an HTML fragment (tables, the
 * Fig. 7 flow plot, an image strip as data-URI PNGs) for the pipeline's report.
 *
 * What is not computed is said so (`null` + a note), never filled in: LPIPS needs user-supplied weights, face
 * metrics need `faces`, PE / EE need an estimator.
 */
import { encodePng, toFloatImage, ValidationError, type Image } from '@consistent-avatar/core';
import { assertSameShape, type MetricMask } from './image.js';
import { mse } from './mse.js';
import { psnr } from './psnr.js';
import { ssim, type SsimVariant } from './ssim.js';
import { Lpips, lpipsFrames } from './lpips.js';
import { temporalConsistency, type TemporalConsistencyOptions, type TemporalConsistencyResult } from './temporal-consistency.js';
import { flowCurveSvg, type PlotSeries } from './flow-plot.js';
import { FaceAnalyzer } from './face-analyzer.js';
import { faceConsistency, type FaceConsistencyResult } from './face-consistency.js';
import { evaluatePoseExpression, type PoseExpressionEstimator, type PoseExpressionErrorResult } from './pose-expression.js';
import { loadEmbeddedPoseExpressionEstimator } from './synthetic-pose-expression.js';

/**
 * Options of {@link evaluate}.
 * @example
 * ```ts
 * const options: EvaluateOptions = { ssimVariant: 'skimage-default', temporal: { border: 8 }, stripFrames: 6 };
 * ```
 */
export interface EvaluateOptions {
  /** SSIM convention. Default `'wang'`. */
  readonly ssimVariant?: SsimVariant;
  /** Optional `[H, W]` face-region mask for MSE / PSNR / SSIM (one for all frames). */
  readonly mask?: MetricMask;
  /** An LPIPS model (weights are the user's, see README). Without it LPIPS is reported as not computed. */
  readonly lpips?: Lpips;
  /** Flow-based temporal consistency; `false` to skip. Default on when there are ≥ 2 frames. */
  readonly temporal?: false | TemporalConsistencyOptions;
  /** Extra curves for the flow plot (e.g. a baseline method's Fig. 7 curve). */
  readonly baselines?: readonly PlotSeries[];
  /** Face consistency with `@vladmandic/human`: `true` creates an analyzer, or pass one. Default off. */
  readonly faces?: boolean | FaceAnalyzer;
  /**
   * A pose / expression estimator for the paper's PE / EE, or `true` for the embedded default (the regressor trained
   * on synthetic-head renders, {@link loadEmbeddedPoseExpressionEstimator}; meaningful on synthetic-head frames
   * only, hence not on by default). Default off.
   */
  readonly poseExpression?: boolean | PoseExpressionEstimator;
  /** Frames shown in the HTML image strip (evenly spaced). Default 4; 0 for none. */
  readonly stripFrames?: number;
  /** Progress callback `(stage, done, total)`. */
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * Per-frame values; `null` where a metric was not computed or not defined for that frame.
 * @example
 * ```ts
 * const worst: EvaluationRow = report.perFrame.reduce((a, b) => (b.psnr < a.psnr ? b : a));
 * ```
 */
export interface EvaluationRow {
  readonly frame: number;
  readonly mse: number;
  readonly psnr: number;
  readonly ssim: number;
  readonly lpips: number | null;
  /** Values for the pair (t, t+1); `null` on the last frame. */
  readonly flowMagnitudeGenerated: number | null;
  readonly flowMagnitudeReference: number | null;
  readonly flowEpe: number | null;
  readonly warpingError: number | null;
  readonly faceFound: { readonly generated: boolean; readonly reference: boolean } | null;
  readonly poseErrorDeg: number | null;
  readonly mouthDistance: number | null;
  readonly eyesDistance: number | null;
  readonly emotionGenerated: string | null;
  readonly emotionReference: string | null;
  readonly identitySimilarity: number | null;
  readonly pe: number | null;
  readonly ee: number | null;
}

/**
 * The summary (also serialised as `json`).
 * @example
 * ```ts
 * const s: EvaluationSummary = report.summary;
 * console.log(s.psnr, s.ssim, s.lpips?.mean ?? 'no LPIPS', s.notes);
 * ```
 */
export interface EvaluationSummary {
  readonly frames: number;
  readonly size: readonly [number, number, number];
  readonly ssimVariant: SsimVariant;
  readonly mse: number;
  readonly psnr: number;
  readonly ssim: number;
  readonly lpips: { readonly net: string; readonly mean: number } | null;
  readonly temporal: Omit<TemporalConsistencyResult, 'generatedCurve' | 'referenceCurve' | 'epePerPair'> | null;
  readonly faces: Omit<FaceConsistencyResult, 'perFrame'> | null;
  readonly poseExpression: { readonly estimator: string; readonly pe: number | null; readonly ee: number | null; readonly failures: PoseExpressionErrorResult['failures'] } | null;
  /** What was not computed and why. */
  readonly notes: string[];
}

/**
 * Result of {@link evaluate}.
 * @example
 * ```ts
 * const report: EvaluationReport = await evaluate(generatedFrames, realFrames);
 * fs.writeFileSync('metrics.csv', report.csv);
 * ```
 */
export interface EvaluationReport {
  readonly summary: EvaluationSummary;
  readonly perFrame: EvaluationRow[];
  /** The Fig. 7 curves (empty when temporal metrics are off). */
  readonly curves: { readonly generated: number[]; readonly reference: number[] };
  readonly csv: string;
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
}

const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;

/**
 * Evaluate a generated video against the real one (aligned frame lists of core `Image`s, `[H, W, 3]`: float in
 * [0, 1] or bytes in [0, 255], mixed freely — every metric scores a byte frame as its [0, 1] float image, v / 255).
 *
 * @example
 * ```ts
 * const report = await evaluate(generatedFrames, realFrames, { lpips, faces: true });
 * fs.writeFileSync('metrics.csv', report.csv);
 * fs.writeFileSync('summary.json', report.json);
 * console.log(report.markdown);
 * ```
 */
export async function evaluate(
  generated: readonly Image[],
  reference: readonly Image[],
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  const fn = 'evaluate';
  if (!Array.isArray(generated) || generated.length === 0) throw new ValidationError(fn, 'generated', 'a non-empty array of frames', generated);
  if (!Array.isArray(reference) || reference.length !== generated.length) {
    throw new ValidationError(fn, 'reference', `an array of ${generated.length} frames`, reference);
  }
  generated.forEach((g, i) => {
    assertSameShape(fn, generated[0]!, g, 'generated[0]', `generated[${i}]`);
    assertSameShape(fn, g, reference[i]!, `generated[${i}]`, `reference[${i}]`);
  });
  if (options.lpips !== undefined && !(options.lpips instanceof Lpips)) {
    throw new ValidationError(fn, 'options.lpips', 'an Lpips instance', options.lpips);
  }
  const stripFrames = options.stripFrames ?? 4;
  if (!Number.isInteger(stripFrames) || stripFrames < 0) throw new ValidationError(fn, 'options.stripFrames', 'an integer >= 0', stripFrames);
  const n = generated.length;
  const variant = options.ssimVariant ?? 'wang';
  const progress = options.onProgress ?? (() => undefined);
  const notes: string[] = [];

  // 1. Image quality per frame.
  const q = { mse: [] as number[], psnr: [] as number[], ssim: [] as number[] };
  for (let t = 0; t < n; t++) {
    q.mse.push(mse(generated[t]!, reference[t]!, { mask: options.mask }));
    q.psnr.push(psnr(generated[t]!, reference[t]!, { mask: options.mask }));
    q.ssim.push(ssim(generated[t]!, reference[t]!, { variant, mask: options.mask }));
    progress('image quality', t + 1, n);
  }
  let lpipsValues: number[] | null = null;
  if (options.lpips) {
    lpipsValues = lpipsFrames(options.lpips, generated, reference).perFrame;
    progress('lpips', n, n);
  } else notes.push('LPIPS not computed: no weights given (options.lpips; see the README for converting the official files).');

  // 2. Temporal consistency.
  let temporal: TemporalConsistencyResult | null = null;
  if (options.temporal === false) notes.push('Temporal metrics skipped (options.temporal = false).');
  else if (n < 2) notes.push('Temporal metrics need at least 2 frames.');
  else {
    temporal = await temporalConsistency(generated, reference, {
      ...options.temporal,
      onProgress: (d, total) => progress('optical flow', d, total),
    });
  }

  // 3. Faces.
  let faces: FaceConsistencyResult | null = null;
  if (options.faces) {
    const analyzer = options.faces instanceof FaceAnalyzer ? options.faces : await FaceAnalyzer.create();
    try {
      const gen = [];
      const ref = [];
      for (let t = 0; t < n; t++) {
        gen.push(await analyzer.analyze(generated[t]!));
        ref.push(await analyzer.analyze(reference[t]!));
        progress('faces', t + 1, n);
      }
      faces = faceConsistency(gen, ref);
      if (faces.comparedFrames < n) {
        notes.push(`Face metrics over ${faces.comparedFrames} of ${n} frames: no face found in ${faces.failures.generated.length} generated and ${faces.failures.reference.length} real frames.`);
      }
    } finally {
      if (!(options.faces instanceof FaceAnalyzer)) analyzer.dispose();
    }
  } else notes.push('Face metrics (head pose, mesh, emotion, CSIM) not requested (options.faces).');

  // 4. PE / EE.
  let pe: PoseExpressionErrorResult | null = null;
  const estimator = options.poseExpression === true ? loadEmbeddedPoseExpressionEstimator() : options.poseExpression || null;
  if (estimator) {
    try {
      pe = await evaluatePoseExpression(estimator, generated, reference);
    } finally {
      if (options.poseExpression === true) estimator.dispose?.();
    }
    progress('pose / expression', n, n);
  } else notes.push('PE / EE not computed: no PoseExpressionEstimator given (options.poseExpression).');

  // 5. Rows and summary.
  const perFrame: EvaluationRow[] = [];
  for (let t = 0; t < n; t++) {
    const pair = temporal && t < n - 1;
    const face = faces?.perFrame[t] ?? null;
    const p = pe?.perFrame[t] ?? null;
    perFrame.push({
      frame: t,
      mse: q.mse[t]!,
      psnr: q.psnr[t]!,
      ssim: q.ssim[t]!,
      lpips: lpipsValues ? lpipsValues[t]! : null,
      flowMagnitudeGenerated: pair ? temporal!.generatedCurve[t]! : null,
      flowMagnitudeReference: pair ? temporal!.referenceCurve[t]! : null,
      flowEpe: pair ? temporal!.epePerPair[t]! : null,
      warpingError: pair && temporal!.warping ? temporal!.warping.generatedPerPair[t]! : null,
      faceFound: faces
        ? { generated: !faces.failures.generated.includes(t), reference: !faces.failures.reference.includes(t) }
        : null,
      poseErrorDeg: face ? (face.poseErrorDeg.pitch + face.poseErrorDeg.yaw + face.poseErrorDeg.roll) / 3 : null,
      mouthDistance: face ? face.mouthDistance : null,
      eyesDistance: face ? face.eyesDistance : null,
      emotionGenerated: face ? face.emotionGenerated : null,
      emotionReference: face ? face.emotionReference : null,
      identitySimilarity: face ? face.identitySimilarity : null,
      pe: p ? p.pe : null,
      ee: p ? p.ee : null,
    });
  }
  const first = generated[0]!;
  const summary: EvaluationSummary = {
    frames: n,
    size: [first.height, first.width, first.channels],
    ssimVariant: variant,
    mse: mean(q.mse),
    psnr: mean(q.psnr),
    ssim: mean(q.ssim),
    lpips: lpipsValues && options.lpips ? { net: options.lpips.net, mean: mean(lpipsValues) } : null,
    temporal: temporal
      ? {
          curveMeanAbsDiff: temporal.curveMeanAbsDiff,
          curvePearson: temporal.curvePearson,
          epeMean: temporal.epeMean,
          ...(temporal.warping ? { warping: temporal.warping } : {}),
        }
      : null,
    faces: faces
      ? {
          frames: faces.frames,
          failures: faces.failures,
          comparedFrames: faces.comparedFrames,
          headPoseErrorDeg: faces.headPoseErrorDeg,
          meshDistance: faces.meshDistance,
          emotionAgreement: faces.emotionAgreement,
          identitySimilarity: faces.identitySimilarity,
        }
      : null,
    poseExpression:
      pe && estimator
        ? { estimator: estimator.name, pe: pe.pe, ee: pe.ee, failures: pe.failures }
        : null,
    notes,
  };
  const curves = { generated: temporal?.generatedCurve ?? [], reference: temporal?.referenceCurve ?? [] };
  return {
    summary,
    perFrame,
    curves,
    csv: toCsv(perFrame),
    json: JSON.stringify(summary, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2),
    markdown: toMarkdown(summary),
    html: toHtml(summary, curves, options.baselines ?? [], generated, reference, stripFrames),
  };
}

const num = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined ? '' : Number.isFinite(v) ? v.toFixed(digits) : String(v);

function toCsv(rows: readonly EvaluationRow[]): string {
  const header = [
    'frame', 'mse', 'psnr', 'ssim', 'lpips', 'flow_mag_generated', 'flow_mag_reference', 'flow_epe', 'warping_error',
    'face_generated', 'face_reference', 'pose_error_deg', 'mouth_distance', 'eyes_distance', 'emotion_generated',
    'emotion_reference', 'csim', 'pe', 'ee',
  ];
  const lines = [header.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.frame, num(r.mse, 8), num(r.psnr), num(r.ssim, 6), num(r.lpips, 6), num(r.flowMagnitudeGenerated),
        num(r.flowMagnitudeReference), num(r.flowEpe), num(r.warpingError, 8),
        r.faceFound ? String(r.faceFound.generated) : '', r.faceFound ? String(r.faceFound.reference) : '',
        num(r.poseErrorDeg), num(r.mouthDistance), num(r.eyesDistance), r.emotionGenerated ?? '',
        r.emotionReference ?? '', num(r.identitySimilarity), num(r.pe), num(r.ee),
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** Summary rows `[metric, value, note]` shared by the Markdown and HTML tables. */
function summaryRows(s: EvaluationSummary): [string, string, string][] {
  const na = 'not computed';
  const rows: [string, string, string][] = [
    ['L2 (MSE) ↓', num(s.mse, 6), 'mean over frames, [0, 1] images'],
    ['PSNR ↑', num(s.psnr, 2), 'dB'],
    [`SSIM ↑`, num(s.ssim, 4), s.ssimVariant === 'wang' ? 'Wang et al. 11×11 gaussian' : 'scikit-image default 7×7'],
    ['LPIPS ↓', s.lpips ? num(s.lpips.mean, 4) : na, s.lpips ? `${s.lpips.net}, v0.1` : ''],
  ];
  if (s.temporal) {
    rows.push(['Flow-curve |Δ| ↓', num(s.temporal.curveMeanAbsDiff, 4), 'px, mean |generated − real| (Fig. 7)']);
    rows.push(['Flow-curve correlation ↑', num(s.temporal.curvePearson, 4), 'Pearson']);
    rows.push(['Flow EPE ↓', num(s.temporal.epeMean, 4), 'px, generated vs real flow']);
    if (s.temporal.warping) {
      rows.push(['Warping error ↓', num(s.temporal.warping.generatedMean, 6), `real video: ${num(s.temporal.warping.referenceMean, 6)}`]);
    }
  } else rows.push(['Temporal', na, '']);
  if (s.faces) {
    const f = s.faces;
    const cover = `${f.comparedFrames}/${f.frames} frames with faces on both sides`;
    rows.push(['Head-pose error ↓', f.headPoseErrorDeg ? num(f.headPoseErrorDeg.mean, 2) : na, `degrees; ${cover}`]);
    rows.push(['Mouth landmarks ↓', f.meshDistance ? num(f.meshDistance.mouth, 4) : na, 'inter-ocular units, Procrustes-aligned']);
    rows.push(['Eye landmarks ↓', f.meshDistance ? num(f.meshDistance.eyes, 4) : na, 'inter-ocular units']);
    rows.push(['Emotion agreement ↑', f.emotionAgreement === null ? na : num(f.emotionAgreement, 3), 'top-1, @vladmandic/human']);
    rows.push(['CSIM ↑', f.identitySimilarity === null ? na : num(f.identitySimilarity, 4), 'cosine of face embeddings']);
  }
  if (s.poseExpression) {
    const fails = s.poseExpression.failures.generated.length + s.poseExpression.failures.reference.length;
    rows.push(['PE ↓', s.poseExpression.pe === null ? na : num(s.poseExpression.pe, 4), `${s.poseExpression.estimator}; ${fails} failures`]);
    rows.push(['EE ↓', s.poseExpression.ee === null ? na : num(s.poseExpression.ee, 4), s.poseExpression.estimator]);
  }
  return rows;
}

function toMarkdown(s: EvaluationSummary): string {
  const lines = [`| metric | value | note |`, `|---|---|---|`];
  for (const [m, v, note] of summaryRows(s)) lines.push(`| ${m} | ${v} | ${note.replace(/\|/g, '\\|')} |`);
  const out = [`**${s.frames} frames, ${s.size[0]}×${s.size[1]}**`, '', ...lines];
  if (s.notes.length) out.push('', ...s.notes.map((note) => `- ${note}`));
  return out.join('\n') + '\n';
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function dataUri(img: Image): string {
  return 'data:image/png;base64,' + encodePng(toFloatImage(img, 'evaluate', 'frame')).toString('base64');
}

function toHtml(
  s: EvaluationSummary,
  curves: { generated: number[]; reference: number[] },
  baselines: readonly PlotSeries[],
  generated: readonly Image[],
  reference: readonly Image[],
  stripFrames: number,
): string {
  const parts = ['<section class="ca-metrics">', `<h3>Metrics (${s.frames} frames, ${s.size[0]}×${s.size[1]})</h3>`];
  parts.push('<table><thead><tr><th>metric</th><th>value</th><th>note</th></tr></thead><tbody>');
  for (const [m, v, note] of summaryRows(s)) parts.push(`<tr><td>${esc(m)}</td><td>${esc(v)}</td><td>${esc(note)}</td></tr>`);
  parts.push('</tbody></table>');
  if (s.notes.length) parts.push('<ul>' + s.notes.map((x) => `<li>${esc(x)}</li>`).join('') + '</ul>');
  if (curves.generated.length) {
    parts.push(
      flowCurveSvg(
        [{ label: 'generated', values: curves.generated }, { label: 'real', values: curves.reference }, ...baselines],
        { title: 'Mean optical-flow magnitude between adjacent frames' },
      ),
    );
  }
  const k = Math.min(stripFrames, generated.length);
  if (k > 0) {
    const idx = Array.from({ length: k }, (_, i) => Math.round((i * (generated.length - 1)) / Math.max(1, k - 1)));
    parts.push('<table class="ca-strip"><tr><th></th>' + idx.map((t) => `<th>frame ${t}</th>`).join('') + '</tr>');
    for (const [label, frames] of [['generated', generated], ['real', reference]] as const) {
      parts.push(`<tr><th>${label}</th>` + idx.map((t) => `<td><img alt="${label} ${t}" width="128" src="${dataUri(frames[t]!)}"></td>`).join('') + '</tr>');
    }
    parts.push('</table>');
  }
  parts.push('</section>');
  return parts.join('\n');
}
