/**
 * The paper's ablations (Tables 1–2, Fig. 7; ConsistentAvatar §5) over several synthetic identities:
 *
 * 1. identities: `count` synthetic identities (numbers 1 … count; identity k's dataset is written by
 *    `synthesizeDataset` with seed k), or the ones a shard owns (contiguous, balanced parts);
 * 2. per identity, the whole method (`runMethod`) once, with the rows the ablations need: proxy (stage 1), baseline
 *    (w/o stage 2), full, w/o LCM (DDIM on the teacher), refiner on (DDIM + the refiner: compare with w/o LCM,
 *    the same sampler with the refiner off), the oracle-TSD reference, and the stage-3 variants w/o emotion
 *    (`useEmotion: false`) and w/o normal (`useNormal: false`), which retrain stage 3 only on the same stage-1 / 2
 *    outputs and the same backbone;
 * 3. its numbers (no frames) written to `<out>/identities/identity-<k>.json`; an identity whose file exists with the
 *    same settings is not run again, and an interrupted identity resumes from its checkpoints
 *    (`<out>/identities/identity-<k>/`);
 * 4. a shard writes `<out>/parts/part-<i>-of-<n>.json` (its identities); {@link mergeAblation} combines parts into the
 *    same result as an unsharded run (the tables are pure functions of the per-identity numbers:
 *    `ablation-tables.ts`).
 *
 * Nothing is tuned here: every setting comes from the caller's config; the validation split of each identity is
 * carved and left unused (protocol: it is where choices would be made).
 *
 * @example
 * ```ts
 * import { runAblation, writeAblationOutputs } from '@consistent-avatar/avatar';
 * const result = await runAblation({ out: 'runs/ablate', identities: 3, dataset: { frames: 96, size: 32 }, method: { … } });
 * writeAblationOutputs('runs/ablate', result, { command: 'ca ablate', wallMs: 0 });
 * ```
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, readJson, ValidationError, writeJsonAtomic } from '@consistent-avatar/core';
import { synthesizeDataset } from '@consistent-avatar/proxy';
import { runMethod, type RunMethodOptions, type RunMethodResult, type StageThreeVariant } from './run-method.js';
import { shardItems } from './shard.js';
import { summarizeAblation, type AblationIdentityResult, type AblationMetric, type AblationSummary } from './ablation-tables.js';

/**
 * The synthetic data of each identity.
 * @example
 * ```ts
 * const data: AblationDataset = { frames: 96, size: 32, testFrames: 16, supersample: 1 };
 * ```
 */
export interface AblationDataset {
  /** Frames per video. Default 96. */
  frames: number;
  /** Frame side. Default 32. */
  size: number;
  /** Held-out (test) frames at the end. Default 16. */
  testFrames: number;
  /** Supersampling of the synthetic renderer. Default 1. */
  supersample: number;
}

/**
 * The method settings shared by every identity (a subset of `runMethod`'s options).
 * @example
 * ```ts
 * const method: AblationMethodOptions = { tsdm: { iterations: 100 }, fcsd: { controlIterations: 100 } };
 * ```
 */
export type AblationMethodOptions = Pick<RunMethodOptions, 'validationFrames' | 'proxy' | 'tsdm' | 'alignEnsemble' | 'fcsd' | 'backbone'>;

/** Options of {@link runAblation}. */
export interface AblationOptions {
  /** The run folder. */
  out: string;
  /** Number of synthetic identities (1 … n). Default 3. */
  identities?: number;
  /** Seed of every stage of every identity. Default 0. */
  seed?: number;
  /** Synthetic data per identity. */
  dataset?: Partial<AblationDataset>;
  /** Method settings. */
  method?: AblationMethodOptions;
  /** Run only this shard's identities (`{ index, count }`, e.g. from `parseShard`); default all. */
  shard?: { index: number; count: number } | null;
  /** Passed to `runMethod`: PE / EE estimator (e.g. DECA), LPIPS weights, face analyser. Not disposed. */
  scoring?: Pick<RunMethodOptions, 'estimator' | 'lpips' | 'faceAnalyzer'>;
  /** Progress lines. */
  onLog?: (line: string) => void;
}

/**
 * The settings that make two runs' identity results comparable (written into every file and checked on resume and
 * merge).
 * @example
 * ```ts
 * const s: AblationSettings = result.settings; // { identities: 3, seed: 0, dataset, method, variants, rows }
 * ```
 */
export interface AblationSettings {
  identities: number;
  seed: number;
  dataset: AblationDataset;
  method: AblationMethodOptions;
  variants: StageThreeVariant[];
  /** How PE / EE, LPIPS and identity similarity are scored. */
  scoring: { estimator: string | null; lpips: string | null; faceAnalyzer: boolean };
}

/**
 * What {@link runAblation} and {@link mergeAblation} return.
 * @example
 * ```ts
 * result.summary.rows.map((r) => [r.name, r.cells.psnr.mean, r.cells.psnr.std]);
 * ```
 */
export interface AblationResult {
  settings: AblationSettings;
  /** Per-identity numbers, by identity number. */
  identities: AblationIdentityResult[];
  /** Mean ± std over identities (null for a shard that holds only part of the identities: merge the parts). */
  summary: AblationSummary | null;
  /** The shard this run covered (null: all identities). */
  shard: { index: number; count: number } | null;
}

/**
 * A shard's part file: its settings and identity results.
 * @example
 * ```ts
 * const part: AblationPart = readJsonFile('runs/ablate/parts/part-0-of-2.json');
 * ```
 */
export interface AblationPart {
  format: 'consistent-avatar-ablation-part/1';
  settings: AblationSettings;
  shard: { index: number; count: number } | null;
  identities: AblationIdentityResult[];
}

/**
 * The ablation's stage-3 variants: w/o emotion and w/o normal (Table 1's rows; each retrains stage 3 only).
 * @example
 * ```ts
 * ABLATION_VARIANTS.map((v) => v.name); // ['wo-emotion', 'wo-normal']
 * ```
 */
export const ABLATION_VARIANTS: readonly StageThreeVariant[] = Object.freeze([
  { name: 'wo-emotion', label: 'w/o emotion: FCSD trained without the emotion token Linear(T)', fcsd: { useEmotion: false } },
  { name: 'wo-normal', label: 'w/o normal: FCSD trained without the normal map in z_c', fcsd: { useNormal: false } },
]);

const DATASET_DEFAULTS: AblationDataset = { frames: 96, size: 32, testFrames: 16, supersample: 1 };
const PART_FORMAT = 'consistent-avatar-ablation-part/1';

/**
 * The identity numbers a shard owns: contiguous, balanced parts of 1 … count (`shardItems`: sizes differ by at most one).
 * @example
 * ```ts
 * ablationIdentities(3, { index: 1, count: 2 }); // [3]
 * ```
 */
export function ablationIdentities(count: number, shard: { index: number; count: number } | null = null): number[] {
  const fn = 'ablationIdentities';
  if (!Number.isInteger(count) || count < 1) throw new ValidationError(fn, 'count', 'an integer ≥ 1', count);
  const all = Array.from({ length: count }, (_, k) => k + 1);
  if (shard !== null && (!shard || typeof shard !== 'object')) throw new ValidationError(fn, 'shard', '{ index, count } with 0 ≤ index < count', shard);
  return shardItems(all, shard === null ? null : { ...shard, source: '--shard' });
}

/** The JSON-comparable settings of a call. */
function ablationSettings(options: AblationOptions): AblationSettings {
  const FN = 'runAblation';
  const identities = options.identities ?? 3;
  if (!Number.isInteger(identities) || identities < 1 || identities > 1000) throw new ValidationError(FN, 'options.identities', 'an integer in [1, 1000]', identities);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError(FN, 'options.seed', 'a non-negative integer', seed);
  const dataset = { ...DATASET_DEFAULTS, ...options.dataset };
  for (const [k, v] of Object.entries(dataset)) {
    if (!(k in DATASET_DEFAULTS)) throw new ValidationError(FN, `options.dataset.${k}`, `one of ${Object.keys(DATASET_DEFAULTS).join(', ')}`, k);
    if (!Number.isInteger(v) || v < 1) throw new ValidationError(FN, `options.dataset.${k}`, 'a positive integer', v);
  }
  if (dataset.testFrames >= dataset.frames - 2) throw new ValidationError(FN, 'options.dataset.testFrames', `fewer than frames − 2 (${dataset.frames - 2})`, dataset.testFrames);
  const s = options.scoring ?? {};
  return {
    identities, seed, dataset,
    method: JSON.parse(JSON.stringify(options.method ?? {})) as AblationMethodOptions,
    variants: ABLATION_VARIANTS.map((v) => ({ ...v, fcsd: { ...v.fcsd } })),
    scoring: { estimator: s.estimator?.name ?? null, lpips: s.lpips ? s.lpips.net : null, faceAnalyzer: !!s.faceAnalyzer },
  };
}

/** Check a JSON file holds an identity result of these settings (a resumed or merged identity). */
function sameSettings(a: AblationSettings, b: AblationSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One identity's numbers from its `runMethod` result (no frames).
 * @example
 * ```ts
 * const id = identityResult(1, 1, 0, await runMethod({ … }));
 * ```
 */
export function identityResult(identity: number, datasetSeed: number, seed: number, result: RunMethodResult): AblationIdentityResult {
  if (!result || !Array.isArray(result.rows)) throw new ValidationError('identityResult', 'result', 'a runMethod result', result);
  const first = result.rows.find((r) => r.scores.temporal)?.scores.temporal ?? null;
  return {
    identity, datasetSeed, seed,
    rows: result.rows.map((r) => {
      const t = r.scores.temporal;
      const metrics: Record<AblationMetric, number | null> = {
        l2: r.scores.whole.mse, l2Face: r.scores.face.mse, psnr: r.scores.whole.psnr, psnrFace: r.scores.face.psnr,
        ssim: r.scores.whole.ssim, ssimFace: r.scores.face.ssim, lpips: r.scores.lpips,
        pe: r.scores.pe, ee: r.scores.ee,
        flowCurveError: t?.curveMeanAbsDiff ?? null, flowCurveCorrelation: t && Number.isFinite(t.curvePearson) ? t.curvePearson : null,
        warpingError: t?.warpingError ?? null, identitySimilarity: r.scores.identitySimilarity, msPerFrame: r.msPerFrame,
      };
      return { name: r.name, label: r.label, metrics, curve: t ? [...t.curve] : null };
    }),
    referenceCurve: first ? [...first.referenceCurve] : null,
    referenceWarpingError: first?.referenceWarpingError ?? null,
    notes: { estimator: result.estimator, lpips: result.lpips ?? 'not computed (no LPIPS weights given)', identity: result.identity ?? "not computed (no face analyser given; ca ablate --identity runs human's)" },
    split: { train: result.split.train.length, validation: result.split.validation.length, test: result.split.test.length },
    size: result.size,
    tsd: {
      proxy: { mse: result.tsd.proxy.mse, deltaMse: result.tsd.proxy.deltaMse, changeCorrelation: result.tsd.proxy.changeCorrelation },
      aligned: { mse: result.tsd.aligned.mse, deltaMse: result.tsd.aligned.deltaMse, changeCorrelation: result.tsd.aligned.changeCorrelation },
    },
    timings: { ...result.timings },
  };
}

/**
 * Run the ablation on the identities of `options.shard` (all by default), resuming what a previous call finished.
 * @returns the per-identity numbers, and the summary when every identity is covered.
 * @example
 * ```ts
 * const { summary } = await runAblation({ out: 'runs/ablate', identities: 3, onLog: console.log });
 * ```
 */
export async function runAblation(options: AblationOptions): Promise<AblationResult> {
  const FN = 'runAblation';
  if (!options || typeof options.out !== 'string' || options.out.length === 0) throw new ValidationError(FN, 'options.out', 'a run folder path', options?.out);
  const settings = ablationSettings(options);
  const shard = options.shard ?? null;
  const ids = ablationIdentities(settings.identities, shard);
  const log = options.onLog ?? (() => {});
  const results: AblationIdentityResult[] = [];
  for (const identity of ids) {
    // 1. Resume: an identity finished with the same settings is read back, not run again.
    const file = join(options.out, 'identities', `identity-${identity}.json`);
    if (existsSync(file)) {
      const saved = readJson(file) as { settings: AblationSettings; result: AblationIdentityResult };
      if (!sameSettings(saved.settings, settings)) throw new ValidationError(FN, 'options', `the settings of the finished identity in ${file} (or another run folder)`, settings);
      log(`identity ${identity}: done earlier (${file})`);
      results.push(saved.result);
      continue;
    }
    // 2. Its dataset (seeded: a re-run writes the same frames) and the method with every ablation row.
    const dir = join(options.out, 'identities', `identity-${identity}`);
    log(`identity ${identity}: synthesising ${settings.dataset.frames} frames ${settings.dataset.size}² (seed ${identity}) …`);
    const { root } = await synthesizeDataset({ out: join(dir, 'dataset'), frames: settings.dataset.frames, size: settings.dataset.size, testFrames: settings.dataset.testFrames, supersample: settings.dataset.supersample, identity, seed: identity });
    const method = await runMethod({
      ...settings.method,
      ...options.scoring,
      fcsd: { ...settings.method.fcsd, refiner: true },
      data: root, out: dir, seed: settings.seed,
      ddimRow: true,
      variants: settings.variants,
      onLog: (line) => log(`[identity ${identity}] ${line}`),
    });
    const result = identityResult(identity, identity, settings.seed, method);
    // 3. Its numbers, atomically: from here on the identity counts as done.
    writeJsonAtomic(file, { settings, result });
    results.push(result);
  }
  const complete = ids.length === settings.identities;
  const out: AblationResult = { settings, identities: results, summary: complete ? summarizeAblation(results) : null, shard };
  // 4. The part file of a shard (also written unsharded, as the one part).
  const part: AblationPart = { format: PART_FORMAT, settings, shard, identities: results };
  writeJsonAtomic(join(options.out, 'parts', shard ? `part-${shard.index}-of-${shard.count}.json` : 'part-all.json'), part);
  return out;
}

/**
 * Read a part file written by {@link runAblation}.
 * @throws IoError when it cannot be read; FormatError when it is not a part file.
 * @example
 * ```ts
 * const part = readAblationPart('runs/ablate/parts/part-0-of-2.json');
 * ```
 */
export function readAblationPart(file: string): AblationPart {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('readAblationPart', 'file', 'a path', file);
  return readJson(file, (value) => {
    const part = value as AblationPart;
    if (!part || part.format !== PART_FORMAT || !Array.isArray(part.identities) || !part.settings) throw new FormatError('ablation part', file, `not an ablation part (format '${PART_FORMAT}')`);
    return part;
  });
}

/**
 * Combine the parts of a sharded ablation into the result of the unsharded run: same settings in every part, every
 * identity exactly once, all of them covered.
 * @param parts - part records ({@link readAblationPart}), in any order.
 * @example
 * ```ts
 * const merged = mergeAblation(['part-0-of-2.json', 'part-1-of-2.json'].map((f) => readAblationPart(join(dir, 'parts', f))));
 * ```
 */
export function mergeAblation(parts: readonly AblationPart[]): AblationResult {
  const FN = 'mergeAblation';
  if (!Array.isArray(parts) || parts.length === 0) throw new ValidationError(FN, 'parts', 'a non-empty array of ablation parts', parts);
  parts.forEach((p, i) => {
    if (!p || p.format !== PART_FORMAT) throw new ValidationError(FN, `parts[${i}]`, `an ablation part (format '${PART_FORMAT}')`, p?.format);
    if (!sameSettings(p.settings, parts[0]!.settings)) throw new ValidationError(FN, `parts[${i}].settings`, 'the settings of parts[0]', p.settings);
  });
  const settings = parts[0]!.settings;
  const byIdentity = new Map<number, AblationIdentityResult>();
  parts.forEach((p: AblationPart, i: number) => p.identities.forEach((id: AblationIdentityResult) => {
    if (byIdentity.has(id.identity)) throw new ValidationError(FN, `parts[${i}]`, `identity ${id.identity} in one part only`, 'a duplicate');
    byIdentity.set(id.identity, id);
  }));
  const missing = ablationIdentities(settings.identities).filter((k) => !byIdentity.has(k));
  if (missing.length) throw new ValidationError(FN, 'parts', `every identity 1 … ${settings.identities}`, `missing ${missing.join(', ')}`);
  const identities = [...byIdentity.values()].sort((a, b) => a.identity - b.identity);
  return { settings, identities, summary: summarizeAblation(identities), shard: null };
}
