/**
 * The stage-1 and stage-2 evaluation under the protocol (docs/experiments/protocol.md; issue 17).
 *
 * For every synthetic identity × data seed (a run):
 *  1. Data: a synthetic INSTA-layout video (tracked parameters = the truth with noise and lag); the protocol split —
 *     the last `testFrames` are test, the `validationFrames` before them validation, the rest train.
 *  2. Stage 1: the proxy fitted on the training frames from the **tracked** parameters and the **mean shape** (zeros;
 *     never the generator's shape), scored on the test frames: MSE / PSNR / SSIM over the whole frame and inside the
 *     dataset's face mask.
 *  3. Stage 2 on the same proxy. The TSDM's four design choices — target (residual / TSD), prediction (x₀ / ε),
 *     proxy concatenation (on / off), temporal window K (1 / 0) — are selected on the validation block
 *     (`design-search.ts`: the full 2⁴ factorial or a greedy one-factor-at-a-time search, `setup.designSearch`): a
 *     TSDM is trained for each candidate (same steps, batch, learning rate, seed) and scored by the validation MSE of
 *     one sample with `setup.designSampler`. With the selected design: the deterministic regressor
 *     (`tsd-regressor.ts`: the same network, inputs, target, optimiser, batch, seed and number of steps,
 *     early-stopped on validation); on the validation block (aligned on its own, windows clamped inside it) the
 *     smoothing window of the smoothed proxy TSD, the TSDM's sampler / steps (one sample) and its ensemble size are
 *     selected by validation MSE. Then the test block is scored **once** for every method: proxy TSD, smoothed proxy
 *     TSD, regressor, TSDM (one sample, the paper's setting) and TSDM (ensemble). No candidate design ever sees a
 *     test frame.
 *  Every run is saved (`<work>/runs/*.json`, atomically, with {@link RUN_VERSION} and its setup) and skipped when the
 *  script is re-run: the evaluation resumes (each candidate TSDM is checkpointed too). A saved run of another version
 *  or setup is refused, never reused.
 *  At the end: mean ± std over runs, every per-run number, and which baselines the TSDM beats, written to
 *  `<result>.json` and a generated `<result>.md` (never edit either by hand).
 *
 *   node --conditions=source --import tsx packages/avatar/bench/eval-stage12.ts [--quick] [--work DIR] [--result PREFIX] [--config JSON]
 *
 * `--quick`: one identity, one seed, tiny sizes — a smoke run of the script (its result is not published).
 * `--result PREFIX` (default `docs/experiments/<today>-stage12-eval`) names the two output files.
 * `--config JSON`: overrides of {@link Setup} (e.g. `'{"identities":[1]}'`: only those runs; a later run without it
 * resumes them from `<work>/runs/`, so runs can be computed by parallel processes and then aggregated).
 * `--note TEXT`: a provenance note recorded in the result file and printed in the Markdown (e.g. how the runs were
 * computed and under what load).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, readPng, tf, writeJsonAtomic, type FloatImage } from '@consistent-avatar/core';
import { mse, psnr, ssim } from '@consistent-avatar/metrics';
import { fitProxyAvatar, frameParams, protocolSplit, readInstaDataset, renderProxy, synthesizeDataset, SYNTHETIC_NUM_SHAPE } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdErrors, TSDM_DEFAULTS, TSDM_PAPER_CONDITIONING, type AlignTsdOptions, type TsdmConfig, type TsdmFrame } from '@consistent-avatar/tsd';
import { resultMeta } from '../../../scripts/bench/result-meta.js';
import { designKey, searchDesigns, type DesignSpace, type TsdmDesign } from './design-search.js';
import { regressTsd, trainTsdRegressor } from './tsd-regressor.js';

/** Everything that sizes the evaluation (recorded in the result file). */
interface Setup {
  identities: number[];
  dataSeeds: number[];
  /** Frames per video, image side, test frames (the last ones), validation frames (just before them). */
  frames: number;
  size: number;
  testFrames: number;
  validationFrames: number;
  /** Proxy fitting steps (`fitProxyAvatar`; other options default). */
  proxySteps: number;
  /** TSDM config overrides (the rest: `TSDM_DEFAULTS`); the seed is the run's data seed; the design fields are selected (unless `designSearch` is `'none'`). */
  tsdm: Partial<TsdmConfig>;
  /** How the TSDM's design (target, prediction, proxy concatenation, K) is chosen on validation; `'none'`: `tsdm` as given. */
  designSearch: 'factorial' | 'greedy' | 'none';
  /** The values tried per design field (the first of each: the greedy search's start). */
  designSpace: DesignSpace;
  /** The design selection's criterion: validation MSE of one sample with this sampler. */
  designSampler: { sampler: 'ddim' | 'lcm'; steps: number };
  /** Validation period of the regressor's early stopping (steps). */
  regressorEvalEvery: number;
  /** Half-widths r of the smoothed proxy TSD (box of 2r + 1 frames) tried on validation. */
  smoothingRadii: number[];
  /** Samplers / steps tried on validation with one sample. */
  samplers: { sampler: 'ddim' | 'lcm'; steps: number }[];
  /** Ensemble sizes tried on validation with the selected sampler. */
  ensembles: number[];
}

/** The design space: our defaults (first) against the paper's formulation (`TSDM_PAPER_CONDITIONING`), per factor. */
const DESIGN_SPACE: DesignSpace = {
  target: [TSDM_DEFAULTS.target, TSDM_PAPER_CONDITIONING.target!],
  predictionType: [TSDM_DEFAULTS.predictionType, TSDM_PAPER_CONDITIONING.predictionType!],
  proxyConcat: [TSDM_DEFAULTS.proxyConcat, TSDM_PAPER_CONDITIONING.proxyConcat!],
  temporalWindow: [TSDM_DEFAULTS.temporalWindow, TSDM_PAPER_CONDITIONING.temporalWindow!],
};
/** Version of a saved run's protocol: 3 = the TSDM design is selected on validation (2: fixed at TSDM_DEFAULTS). */
const RUN_VERSION = 3;

const FULL: Setup = {
  identities: [1, 2, 3],
  dataSeeds: [1, 2],
  frames: 200,
  size: 64,
  testFrames: 32,
  validationFrames: 24,
  proxySteps: 100,
  // 16² maps (ω = 2 bins), 40 steps of batch 16, DDIM only (LCM samples one frame per UNet call): what fits 6 runs in
  // ~35 min on the shared 2-core machine at a load average near 20 (a first, larger setting did not).
  tsdm: { size: 16, tsdRadius: 2, iterations: 40, batchSize: 16 },
  // The full 2⁴ factorial per run: 16 TSDM trainings per run instead of 1 (each candidate's training and sampling
  // seconds are in the result file, runs[k].stage2.validation.design.candidates); on the loaded shared machine the
  // 6 runs take over an hour with 3 processes. `--config '{"designSearch":"greedy"}'` tries 5 designs per run.
  designSearch: 'factorial',
  designSpace: DESIGN_SPACE,
  designSampler: { sampler: 'ddim', steps: 10 },
  regressorEvalEvery: 10,
  smoothingRadii: [1, 2, 3],
  samplers: [{ sampler: 'ddim', steps: 5 }, { sampler: 'ddim', steps: 10 }],
  ensembles: [2, 4],
};
const QUICK: Setup = {
  ...FULL, identities: [1], dataSeeds: [1], frames: 64, size: 32, testFrames: 12, validationFrames: 8, proxySteps: 20,
  tsdm: { size: 16, tsdRadius: 2, iterations: 20 }, designSearch: 'greedy', designSampler: { sampler: 'ddim', steps: 4 }, regressorEvalEvery: 10, smoothingRadii: [1, 2], samplers: [{ sampler: 'ddim', steps: 4 }, { sampler: 'lcm', steps: 2 }], ensembles: [2],
};

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const setup: Setup = { ...(quick ? QUICK : FULL), ...(JSON.parse(flag('--config') ?? '{}') as Partial<Setup>) };
const today = new Date().toISOString().slice(0, 10);
const resultPrefix = path.resolve(flag('--result') ?? (quick ? path.join('/tmp', 'eval-stage12-quick', 'result') : path.join('docs', 'experiments', `${today}-stage12-eval`)));
const work = path.resolve(flag('--work') ?? `/tmp/eval-stage12-v${RUN_VERSION}${quick ? '-quick' : ''}`);
const meta = resultMeta('packages/avatar/bench/eval-stage12.ts');
/** The setup a saved run must match to be resumed (everything but which runs). */
const { identities: _identities, dataSeeds: _dataSeeds, ...runSetup } = setup;
const designCriterion = `validation TSD MSE of one sample (${setup.designSampler.sampler}, ${setup.designSampler.steps} steps, alignment seed 0)`;
fs.mkdirSync(path.join(work, 'runs'), { recursive: true });
await initBackend('wasm');
const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${msg}`);

type Errors = { mse: number; deltaMse: number; changeCorrelation: number };
type ImageScores = { mse: number; psnr: number; ssim: number };
const errors = (seq: Float32Array[], truth: Float32Array[]): Errors => {
  const r = tsdErrors(seq, truth);
  return { mse: r.mse, deltaMse: r.deltaMse, changeCorrelation: r.changeCorrelation };
};
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
/** Sample standard deviation (n − 1); 0 for one run. */
const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

/** The proxy TSD averaged over a box of 2r + 1 frames, clamped inside the block (a trivial temporal filter). */
function smoothed(block: Pick<TsdmFrame, 'proxy'>[], r: number): Float32Array[] {
  return block.map((_, t) => {
    const out = new Float32Array(block[0]!.proxy.length);
    for (let d = -r; d <= r; d++) {
      const p = block[Math.min(block.length - 1, Math.max(0, t + d))]!.proxy;
      for (let k = 0; k < out.length; k++) out[k] += p[k]! / (2 * r + 1);
    }
    return out;
  });
}

/** Argmin of `score` over `candidates` (the first one on ties). */
function select<T>(candidates: T[], score: (c: T) => number): { choice: T; scores: number[] } {
  const scores = candidates.map(score);
  return { choice: candidates[scores.indexOf(Math.min(...scores))]!, scores };
}

/** One design candidate's validation numbers (criterion: `mse` of one sample with `setup.designSampler`). */
interface DesignCandidateResult {
  design: TsdmDesign;
  key: string;
  validation: Errors;
  tsdmFinalLoss: number | null;
  seconds: { train: number; sample: number };
}

interface RunResult {
  version: number;
  /** The setup that made the run, without `identities` / `dataSeeds` (a resumed run must match it). */
  setup: Omit<Setup, 'identities' | 'dataSeeds'>;
  identity: number;
  dataSeed: number;
  frames: { train: number; validation: number; test: number };
  stage1: { whole: ImageScores; face: ImageScores; proxyFinalLoss: number | null };
  stage2: {
    validation: {
      /** The TSDM design selection: every candidate in the order evaluated, and the chosen one. */
      design: { search: Setup['designSearch']; criterion: string; candidates: DesignCandidateResult[]; chosen: TsdmDesign };
      smoothing: { radii: number[]; mse: number[]; chosen: number };
      samplers: { candidates: Setup['samplers']; mse: number[]; chosen: Setup['samplers'][number] };
      ensembles: { candidates: number[]; mse: number[]; chosen: number };
      regressor: { bestStep: number; log: { step: number; mse: number }[] };
      /** Validation errors of the selected settings. */
      selected: Record<string, Errors>;
    };
    test: Record<'proxy' | 'proxySmoothed' | 'regressor' | 'tsdmSingle' | 'tsdmEnsemble', Errors>;
    tsdmFinalLoss: number | null;
  };
  seconds: Record<string, number>;
}

async function runOne(identity: number, dataSeed: number): Promise<RunResult> {
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => T | Promise<T>): Promise<T> => {
    const s = Date.now();
    const out = await f();
    seconds[name] = (Date.now() - s) / 1000;
    return out;
  };
  const tag = `id${identity}-seed${dataSeed}`;
  // 1. Data and the protocol split.
  const dataDir = path.join(work, 'data', tag);
  if (!fs.existsSync(path.join(dataDir, 'synthetic.json'))) {
    await timed('synthesize', () => synthesizeDataset({ out: dataDir, frames: setup.frames, size: setup.size, testFrames: setup.testFrames, identity, seed: dataSeed }));
  }
  const ds = readInstaDataset(dataDir);
  const split = protocolSplit(ds, { validationFrames: setup.validationFrames });
  const trainSet = { ...ds, split: { ...ds.split, train: split.train } };
  log(`${tag}: synthesized in ${seconds.synthesize ?? 0} s; ${ds.frames.length} frames ${ds.width}², train ${split.train.length}, validation ${split.validation.length}, test ${split.test.length}`);

  // 2. Stage 1: tracked parameters, mean shape, training frames only; scored on the test frames.
  const proxy = await timed('stage1', () => fitProxyAvatar(trainSet, { seed: dataSeed, steps: setup.proxySteps, shape: new Float32Array(SYNTHETIC_NUM_SHAPE) }));
  const stage1 = await timed('stage1-score', () => {
    const whole: ImageScores[] = [], face: ImageScores[] = [];
    for (const i of split.test) {
      const frame = ds.frames[i]!;
      const real = readPng(frame.imagePath, { channels: 3 });
      const render: FloatImage = { data: renderProxy(proxy, frameParams(frame), { supersample: 2 }).rgb, height: ds.height, width: ds.width, channels: 3 };
      const mask = { data: readPng(frame.maskPath!, { channels: 1 }).data as Float32Array, height: ds.height, width: ds.width };
      whole.push({ mse: mse(render, real), psnr: psnr(render, real), ssim: ssim(render, real) });
      face.push({ mse: mse(render, real, { mask }), psnr: psnr(render, real, { mask }), ssim: ssim(render, real, { mask }) });
    }
    const avg = (xs: ImageScores[]): ImageScores => ({ mse: mean(xs.map((x) => x.mse)), psnr: mean(xs.map((x) => x.psnr)), ssim: mean(xs.map((x) => x.ssim)) });
    return { whole: avg(whole), face: avg(face), proxyFinalLoss: proxy.lossLog.at(-1)?.loss ?? null };
  });
  log(`${tag}: proxy fitted in ${seconds.stage1} s; stage 1 test PSNR ${stage1.whole.psnr.toFixed(2)} dB (face ${stage1.face.psnr.toFixed(2)}), SSIM ${stage1.whole.ssim.toFixed(3)} (face ${stage1.face.ssim.toFixed(3)})`);

  // 3. Stage-2 pairs (training frames only in the split the trainers read; the maps do not depend on the design).
  const base = resolveTsdmConfig({ ...setup.tsdm, seed: dataSeed });
  const data = await timed('tsd', () => prepareTsdmData(ds, proxy, base));
  proxy.dispose();
  data.split = { train: split.train, test: split.test };
  const val = split.validation.map((i) => data.frames[i]!), test = split.test.map((i) => data.frames[i]!);
  const valTruth = val.map((f) => f.gt!), testTruth = test.map((f) => f.gt!);

  // 4. The TSDM's design, selected on validation: one TSDM per candidate (same steps, batch, learning rate, seed;
  //    checkpointed per design, so an interrupted run resumes), scored by the validation MSE of one sample.
  const trainDesign = async (design: TsdmDesign) => {
    const config = resolveTsdmConfig({ ...setup.tsdm, ...design, seed: dataSeed });
    const s = Date.now();
    const tsdm = await trainTsdm(data, config, { checkpointDir: path.join(work, 'checkpoints', tag, designKey(design)) });
    const train = (Date.now() - s) / 1000;
    return { config, tsdm, train };
  };
  const current: TsdmDesign = { target: base.target, predictionType: base.predictionType, proxyConcat: base.proxyConcat, temporalWindow: base.temporalWindow };
  const evaluate = async (design: TsdmDesign) => {
    const { config, tsdm, train } = await trainDesign(design);
    const s = Date.now();
    const validation = errors(alignTsd(tsdm.model, val, { seed: 0, batchSize: val.length, ...setup.designSampler, ensemble: 1 }), valTruth);
    const record: DesignCandidateResult = { design, key: designKey(design), validation, tsdmFinalLoss: tsdm.lossLog.at(-1)?.loss ?? null, seconds: { train, sample: (Date.now() - s) / 1000 } };
    log(`${tag}: design ${record.key}: validation MSE ${validation.mse.toFixed(5)} (trained in ${train.toFixed(0)} s)`);
    return { score: validation.mse, result: { config, tsdm, record } };
  };
  // `designSearch: 'none'` (the old protocol): the one design of `setup.tsdm`, still scored on validation.
  const search = await timed('tsdm-design', async () => (setup.designSearch === 'none'
    ? { candidates: [{ design: current, ...(await evaluate(current)) }], chosen: 0 }
    : searchDesigns(setup.designSearch, setup.designSpace, evaluate, (r) => r.tsdm.model.dispose())));
  const { config, tsdm } = search.candidates[search.chosen]!.result;
  const chosenDesign = search.candidates[search.chosen]!.design;
  log(`${tag}: validation chose the TSDM design ${designKey(chosenDesign)} among ${search.candidates.length} (${setup.designSearch}) in ${seconds['tsdm-design']!.toFixed(0)} s`);

  // 5. Selection of the rest on validation only (with the chosen design).
  const smoothing = select(setup.smoothingRadii, (r) => errors(smoothed(val, r), valTruth).mse);
  // Aligned blocks by setting (each setting is sampled once per block); the whole block is one UNet batch.
  const cache = new Map<string, Float32Array[]>();
  const align = (frames: TsdmFrame[], o: AlignTsdOptions) => {
    const key = `${frames === val ? 'val' : 'test'} ${JSON.stringify(o)}`;
    if (!cache.has(key)) cache.set(key, alignTsd(tsdm.model, frames, { seed: 0, batchSize: frames.length, ...o }));
    return cache.get(key)!;
  };
  const samplers = await timed('select-sampler', () => select(setup.samplers, (s) => errors(align(val, { ...s, ensemble: 1 }), valTruth).mse));
  const ensembles = await timed('select-ensemble', () => select(setup.ensembles, (k) => errors(align(val, { ...samplers.choice, ensemble: k }), valTruth).mse));
  log(`${tag}: validation chose smoothing r = ${smoothing.choice}, ${samplers.choice.sampler} ${samplers.choice.steps} steps, ensemble ${ensembles.choice}`);
  const regressor = await timed('regressor-train', () => trainTsdRegressor(data, config, split.validation, { evalEvery: setup.regressorEvalEvery }));
  log(`${tag}: regressor early-stopped at step ${regressor.bestStep} in ${seconds['regressor-train']!.toFixed(0)} s`);
  const selectedVal = {
    proxy: errors(val.map((f) => f.proxy), valTruth),
    proxySmoothed: errors(smoothed(val, smoothing.choice), valTruth),
    regressor: errors(regressTsd(regressor.model, val), valTruth),
    tsdmSingle: errors(align(val, { ...samplers.choice, ensemble: 1 }), valTruth),
    tsdmEnsemble: errors(align(val, { ...samplers.choice, ensemble: ensembles.choice }), valTruth),
  };

  // 6. The test block, scored once.
  const testScores = await timed('test', () => ({
    proxy: errors(test.map((f) => f.proxy), testTruth),
    proxySmoothed: errors(smoothed(test, smoothing.choice), testTruth),
    regressor: errors(regressTsd(regressor.model, test), testTruth),
    tsdmSingle: errors(align(test, { ...samplers.choice, ensemble: 1 }), testTruth),
    tsdmEnsemble: errors(align(test, { ...samplers.choice, ensemble: ensembles.choice }), testTruth),
  }));
  tsdm.model.dispose();
  regressor.model.dispose();
  log(`${tag}: test MSE proxy ${testScores.proxy.mse.toFixed(5)}, smoothed ${testScores.proxySmoothed.mse.toFixed(5)}, regressor ${testScores.regressor.mse.toFixed(5)}, TSDM ×1 ${testScores.tsdmSingle.mse.toFixed(5)}, TSDM ×${ensembles.choice} ${testScores.tsdmEnsemble.mse.toFixed(5)}`);
  return {
    identity, dataSeed,
    frames: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    version: RUN_VERSION,
    setup: runSetup,
    stage1,
    stage2: {
      validation: {
        design: {
          search: setup.designSearch,
          criterion: designCriterion,
          candidates: search.candidates.map((c) => c.result.record),
          chosen: chosenDesign,
        },
        smoothing: { radii: setup.smoothingRadii, mse: smoothing.scores, chosen: smoothing.choice },
        samplers: { candidates: setup.samplers, mse: samplers.scores, chosen: samplers.choice },
        ensembles: { candidates: setup.ensembles, mse: ensembles.scores, chosen: ensembles.choice },
        regressor: { bestStep: regressor.bestStep, log: regressor.validationLog },
        selected: selectedVal,
      },
      test: testScores,
      tsdmFinalLoss: tsdm.lossLog.at(-1)?.loss ?? null,
    },
    seconds,
  };
}

// Every run (resumed from its saved file when present — only one made by this version with this setup).
const runs: RunResult[] = [];
for (const identity of setup.identities) {
  for (const dataSeed of setup.dataSeeds) {
    const file = path.join(work, 'runs', `id${identity}-seed${dataSeed}.json`);
    if (fs.existsSync(file)) {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RunResult>;
      if (saved.version !== RUN_VERSION || JSON.stringify(saved.setup) !== JSON.stringify(runSetup)) {
        const why = saved.version !== RUN_VERSION ? `version ${saved.version ?? '≤ 2 (design not selected)'}, this script's is ${RUN_VERSION}` : 'another setup';
        throw new Error(`eval-stage12: ${file} was saved by ${why}; it is not reused — use another --work folder or delete it`);
      }
      runs.push(saved as RunResult);
      log(`id${identity}-seed${dataSeed}: resumed from ${file}`);
      continue;
    }
    const run = await runOne(identity, dataSeed);
    writeJsonAtomic(file, run);
    runs.push(run);
  }
}

// Summary: mean ± std over runs; which baselines the TSDM beats (on the means, and in how many runs).
const METHODS = ['proxy', 'proxySmoothed', 'regressor', 'tsdmSingle', 'tsdmEnsemble'] as const;
const METRICS = ['mse', 'deltaMse', 'changeCorrelation'] as const;
const better = (metric: (typeof METRICS)[number], a: number, b: number) => (metric === 'changeCorrelation' ? a > b : a < b);
const stat = (v: number[]) => ({ mean: mean(v), std: std(v) });
const stage2 = Object.fromEntries(METHODS.map((m) => [m, Object.fromEntries(METRICS.map((k) => [k, stat(runs.map((r) => r.stage2.test[m][k]))]))])) as Record<(typeof METHODS)[number], Record<(typeof METRICS)[number], { mean: number; std: number }>>;
const beats = Object.fromEntries((['tsdmSingle', 'tsdmEnsemble'] as const).map((t) => [t, Object.fromEntries((['proxy', 'proxySmoothed', 'regressor'] as const).map((b) => [b, Object.fromEntries(METRICS.map((k) => [k, {
  onMean: better(k, stage2[t][k].mean, stage2[b][k].mean),
  runs: runs.filter((r) => better(k, r.stage2.test[t][k], r.stage2.test[b][k])).length,
}]))]))]));
const stage1 = Object.fromEntries((['whole', 'face'] as const).map((w) => [w, Object.fromEntries((['mse', 'psnr', 'ssim'] as const).map((k) => [k, stat(runs.map((r) => r.stage1[w][k]))]))]));
const result = {
  ...meta,
  loadAverageAtEnd: (await import('node:os')).loadavg(),
  backend: tf.getBackend(),
  quick,
  note: flag('--note') ?? null,
  setup,
  /** The TSDM config before the design selection (its design fields are the search's start); each run's choice: runs[k].stage2.validation.design.chosen. */
  tsdmConfig: resolveTsdmConfig({ ...setup.tsdm, seed: setup.dataSeeds[0] }),
  seeds: { dataSeeds: setup.dataSeeds, note: 'each run uses its data seed as the seed of the dataset, the proxy fit, the TSDM and the regressor; alignment seed 0' },
  selectedOnValidation: [
    ...(setup.designSearch === 'none' ? [] : [`TSDM design — target (${setup.designSpace.target.join(' / ')}), prediction (${setup.designSpace.predictionType.join(' / ')}), proxy concatenation (${setup.designSpace.proxyConcat.map((v) => (v ? 'on' : 'off')).join(' / ')}), temporal window K (${setup.designSpace.temporalWindow.join(' / ')}) — per run, by ${setup.designSearch === 'factorial' ? 'the full factorial' : 'a greedy one-factor-at-a-time search (start: TSDM_DEFAULTS; each factor flipped in turn, a flip kept only if it lowers the criterion)'}; criterion: ${designCriterion}; the regressor uses the chosen design's inputs and target`]),
    'smoothing window of the smoothed proxy TSD', 'TSDM sampler and steps (one sample, with the chosen design)', 'TSDM ensemble size', "regressor's stopping step",
  ],
  notSelectedOnValidation: {
    fixed: [
      ...(setup.designSearch === 'none' ? ['TSDM target, prediction, proxy concatenation, temporal window (setup.tsdm over TSDM_DEFAULTS)'] : []),
      `TSDM / regressor training steps (${resolveTsdmConfig(setup.tsdm).iterations}), batch size (${resolveTsdmConfig(setup.tsdm).batchSize}), learning rate (${resolveTsdmConfig(setup.tsdm).lr}) and architecture: setup.tsdm over TSDM_DEFAULTS, not selected on validation`,
      ...(setup.designSearch === 'greedy' ? ['the greedy search tries 5 of the 16 design combinations per run, so an interaction of two flips that each hurt alone is not explored'] : []),
      'the design is selected with one fixed sampler (the criterion above) before the sampler and the ensemble size are selected for it',
      'the LCM sampler was not among the candidates (it samples one frame per UNet call, too slow for the budget)',
    ].join('; '),
    defaults: TSDM_DEFAULTS,
  },
  summary: { runs: runs.length, stage1, stage2, beats },
  runs,
  seconds: (Date.now() - t0) / 1000,
};
fs.mkdirSync(path.dirname(resultPrefix), { recursive: true });
writeJsonAtomic(`${resultPrefix}.json`, result);
fs.writeFileSync(`${resultPrefix}.md.tmp`, markdown());
fs.renameSync(`${resultPrefix}.md.tmp`, `${resultPrefix}.md`);
log(`wrote ${resultPrefix}.json and .md`);

function markdown(): string {
  const file = path.basename(`${resultPrefix}.json`);
  const pm = (s: { mean: number; std: number }, d: number) => `${s.mean.toFixed(d)} ± ${s.std.toFixed(d)}`;
  const names: Record<(typeof METHODS)[number], string> = {
    proxy: "proxy TSD (stage 1's render)", proxySmoothed: 'proxy TSD smoothed over time (window chosen on validation)', regressor: "deterministic regressor on the TSDM's inputs (early-stopped on validation)",
    tsdmSingle: 'TSDM, one sample (the paper\'s setting; sampler chosen on validation)', tsdmEnsemble: 'TSDM, ensemble mean (size chosen on validation)',
  };
  const lines = [
    `# Stage 1 and stage 2 under the protocol (${today})`,
    '',
    `Generated by \`${meta.command}\` — do not edit; re-run the command. Numbers: [${file}](${file}) (every per-run number, the validation`,
    `selections, command, commit ${meta.commit?.slice(0, 10) ?? 'unknown'}${meta.dirty ? ' with uncommitted changes' : ''}, machine, load average at start ${meta.machine.loadAverage.map((v) => v.toFixed(2)).join(' / ')}). Protocol: [protocol.md](protocol.md).`,
    '',
    ...(result.note ? [`Note: ${result.note}`, ''] : []),
    `Setup: ${runs.length} runs = synthetic identities ${setup.identities.join(', ')} × data seeds ${setup.dataSeeds.join(', ')}; per run ${setup.frames} frames at ${setup.size}², the last ${setup.testFrames}`,
    `test, the ${setup.validationFrames} before them validation, the rest train. Sized for a shared, loaded 2-core CPU (wasm): small frames, ${setup.proxySteps} proxy`,
    `steps, ${result.tsdmConfig.iterations} TSDM / regressor steps at ${result.tsdmConfig.size}² — a small-budget result on synthetic data, not the paper's setting. Mean ± sample std over runs.`,
    '',
    '## Stage 1: the proxy (tracked parameters, mean shape), test frames',
    '',
    '| region | MSE | PSNR (dB) | SSIM |',
    '|---|---|---|---|',
    ...(['whole', 'face'] as const).map((w) => `| ${w === 'whole' ? 'whole frame' : 'face mask'} | ${pm(stage1[w]!.mse!, 5)} | ${pm(stage1[w]!.psnr!, 2)} | ${pm(stage1[w]!.ssim!, 3)} |`),
    '',
    '## Stage 2: TSD against the real frames\' TSD, test frames',
    '',
    '| method | MSE ↓ | ΔMSE ↓ | change-curve correlation ↑ |',
    '|---|---|---|---|',
    ...METHODS.map((m) => `| ${names[m]} | ${pm(stage2[m].mse, 5)} | ${pm(stage2[m].deltaMse, 5)} | ${pm(stage2[m].changeCorrelation, 3)} |`),
    '',
    'Does the TSDM beat the baseline? (on the mean over runs; in how many runs)',
    '',
    '| TSDM | baseline | MSE | ΔMSE | change-curve correlation |',
    '|---|---|---|---|---|',
    ...(['tsdmSingle', 'tsdmEnsemble'] as const).flatMap((t) => (['proxy', 'proxySmoothed', 'regressor'] as const).map((b) =>
      `| ${t === 'tsdmSingle' ? 'one sample' : 'ensemble'} | ${b === 'proxy' ? 'proxy TSD' : b === 'proxySmoothed' ? 'smoothed proxy TSD' : 'regressor'} | ${METRICS.map((k) => `${beats[t]![b]![k]!.onMean ? 'yes' : 'no'} (${beats[t]![b]![k]!.runs}/${runs.length})`).join(' | ')} |`)),
    '',
    '## Chosen on validation, per run',
    '',
    '| run | TSDM design | smoothing r | sampler (1 sample) | ensemble | regressor stop step | TSDM val MSE (ens.) | regressor val MSE |',
    '|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => {
      const v = r.stage2.validation;
      return `| identity ${r.identity}, seed ${r.dataSeed} | ${designKey(v.design.chosen)} | ${v.smoothing.chosen} | ${v.samplers.chosen.sampler} ${v.samplers.chosen.steps} | ${v.ensembles.chosen} | ${v.regressor.bestStep} | ${v.selected.tsdmEnsemble.mse.toFixed(5)} | ${v.selected.regressor.mse.toFixed(5)} |`;
    }),
    '',
    `### TSDM design candidates on validation (${setup.designSearch === 'factorial' ? 'full factorial' : setup.designSearch === 'greedy' ? 'greedy, in the order tried' : 'no search'}; criterion: ${designCriterion}; chosen in bold)`,
    '',
    'Design name: target-prediction-concatenation-K (`residual-sample-concat-K1` = TSDM_DEFAULTS, `tsd-epsilon-noconcat-K0` = the paper\'s formulation).',
    '',
    '| run | candidate | val MSE | val ΔMSE | val change-curve correlation |',
    '|---|---|---|---|---|',
    ...runs.flatMap((r) => r.stage2.validation.design.candidates.map((c) => {
      const chosen = c.key === designKey(r.stage2.validation.design.chosen);
      const b = (t: string) => (chosen ? `**${t}**` : t);
      return `| identity ${r.identity}, seed ${r.dataSeed} | ${b(c.key)} | ${b(c.validation.mse.toFixed(5))} | ${c.validation.deltaMse.toFixed(5)} | ${c.validation.changeCorrelation.toFixed(3)} |`;
    })),
    '',
    `Selected on validation: ${result.selectedOnValidation.join('; ')}. **Not** selected on validation: ${result.notSelectedOnValidation.fixed}.`,
    '',
  ];
  return lines.join('\n');
}
