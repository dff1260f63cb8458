/**
 * The method's stages over a run folder, for the `ca` stage commands: each stage reads what the stages before it
 * left in `outputs/` (or loads their trained networks from `checkpoints/`), runs through the library's stage
 * functions (`src/pipeline/method-stages.ts`, the ones `runMethod` composes), writes its artifacts and then
 * `outputs/<stage>/done.json`. A finished stage is a no-op that says so; an interrupted training resumes from its
 * last checkpoint; a stage whose inputs are missing names the command to run first.
 *
 * Stages, in order: `fit-proxy` → `tsd` → `train-tsdm` → `align` → `train-fcsd` → `distill` (LCM student and
 * refiner) → `render` → `eval` → `report`.
 *
 * @example
 * ```ts
 * import { openMethodRun, runStage } from './method-runner.js';
 * const session = await openMethodRun('ca tsd', { run: 'runs/a' });
 * try { await runStage(session, 'tsd'); } finally { session.close(); }
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, readJson, ValidationError, writeJsonAtomic, type BackendName } from '@consistent-avatar/core';
import type { ProxyAvatar } from '@consistent-avatar/proxy';
import type { TsdmData, TrainTsdmResult } from '@consistent-avatar/tsd';
import type { FcsdData } from '../fcsd/data.js';
import type { TrainFcsdResult } from '../fcsd/train.js';
import type { DistillFcsdLcmResult } from '../fcsd/lcm.js';
import type { TrainFcsdRefinerResult } from '../fcsd/refiner.js';
import * as stages from '../pipeline/method-stages.js';
import type { DatasetLayout, MethodPlan } from '../pipeline/method-stages.js';
import { readAlignArtifact, readRenderArtifact, readTsdmArtifact, writeAlignArtifact, writeRenderArtifact, writeTsdmArtifact } from '../pipeline/stage-artifacts.js';
import { writeMethodOutputs } from '../pipeline/method-report.js';
import { mergeScoreShards } from '../pipeline/eval-shards.js';
import { mergeRenderShards, readRenderShard, renderShardDir, renderShardRange, writeRenderShard } from '../pipeline/render-shards.js';
import { shardRange, type Shard } from '../pipeline/shard.js';
import { RENDER_BATCH_SIZE } from '../fcsd/render.js';
import type { MethodRow, RunMethodResult } from '../pipeline/run-method.js';
import { methodRunOptions, readMethodConfig, resolveMethodConfig, type MethodConfig } from './method-config.js';
import { trainingBar } from './progress.js';
import { openRunFolder, type RunFolder } from './run-folder.js';

/** The stages, in the order they run. */
export const METHOD_STAGES = ['fit-proxy', 'tsd', 'train-tsdm', 'align', 'train-fcsd', 'distill', 'render', 'eval', 'report'] as const;
/** One of {@link METHOD_STAGES}. */
export type MethodStage = (typeof METHOD_STAGES)[number];

/** The flags every stage command takes. */
export interface MethodRunFlags {
  run: string;
  config?: string;
  data?: string;
  layout?: DatasetLayout;
  backbone?: string;
  seed?: number;
  backend?: BackendName | 'auto';
  /** `ca report` / `ca run`: skip the headless-Chromium check of the report. */
  browserCheck?: boolean;
  /** `ca fit-proxy` / `ca run`: a folder with your FLAME files (recorded in the run folder's config.json). */
  flame?: string;
  /** `ca render` / `ca eval`: the `--shard` value (`'i/n'` or `'n'`, see `parseShard`). */
  shard?: string;
}

/** What `config.json` of a method run folder holds: the config file's fields and the inputs. */
type MethodRecord = MethodConfig & { data: string; layout: DatasetLayout; backbone: string | null; flame?: string };

/** An open method run: the folder, the plan, and what the stages have loaded so far (reused by later stages). */
export interface MethodSession {
  readonly run: RunFolder;
  readonly plan: MethodPlan;
  readonly flags: MethodRunFlags;
  /** Release the networks loaded so far and the folder's lock. */
  close(): void;
  /** @internal loaded networks and data, by name. */
  cache: Map<string, unknown>;
}

/**
 * Open a method run folder for `command`: the config (`--config`, else the folder's `config.json`, else the
 * defaults; `--seed` overrides its seed), the inputs (`--data` is required the first time), the tensor backend, the
 * lock, and the plan (dataset read, split, configs resolved).
 * @param command - `'ca train-fcsd'` (named in errors and logs).
 * @param flags - the command's flags.
 * @param print - where log lines go besides `logs/` (default stderr).
 * @returns the session; `close()` it.
 * @throws ValidationError (a config field, a missing `--data`, a folder started with another config), FormatError,
 *   IoError, RunLockedError.
 * @example
 * ```ts
 * const session = await openMethodRun('ca run', { run: 'runs/a', data: 'data/synthetic', config: 'quick.json' });
 * ```
 */
export async function openMethodRun(command: string, flags: MethodRunFlags, print?: (line: string) => void): Promise<MethodSession> {
  const dir = path.resolve(flags.run);
  const recordFile = path.join(dir, 'config.json');
  const saved = fs.existsSync(recordFile) ? readJson<Partial<MethodRecord>>(recordFile) : null;
  const { data: savedData, layout: savedLayout, backbone: savedBackbone, flame: savedFlame, ...savedConfig } = saved ?? {};
  const config = flags.config !== undefined ? readMethodConfig(command, flags.config) : resolveMethodConfig(command, saved ? savedConfig : undefined);
  if (flags.seed !== undefined) config.seed = flags.seed;
  const data = flags.data !== undefined ? path.resolve(flags.data) : savedData;
  if (typeof data !== 'string') throw new ValidationError(command, '--data', 'a dataset folder (required the first time a run folder is used)', undefined);
  const record: MethodRecord = {
    ...config,
    data,
    layout: flags.layout ?? savedLayout ?? 'insta',
    backbone: flags.backbone !== undefined ? path.resolve(flags.backbone) : savedBackbone ?? null,
  };
  // The user's FLAME folder: recorded only when given, so the records of synthetic-head runs are unchanged.
  const flame = flags.flame !== undefined ? path.resolve(flags.flame) : savedFlame;
  if (flame !== undefined) record.flame = flame;
  await initBackend(flags.backend ?? 'auto');
  const run = openRunFolder(dir, { command, config: record, seed: config.seed, print });
  try {
    const plan = stages.planMethod({ ...methodRunOptions(config, { data: record.data, out: dir, layout: record.layout, backbone: record.backbone }), ...(flame !== undefined ? { flame } : {}) });
    const cache = new Map<string, unknown>();
    return {
      run,
      plan,
      flags,
      cache,
      close: () => {
        for (const value of cache.values()) disposeLoaded(value);
        cache.clear();
        run.close();
      },
    };
  } catch (error) {
    run.close();
    throw error;
  }
}

function disposeLoaded(value: unknown): void {
  const v = value as { dispose?: () => void; model?: { dispose(): void }; student?: { dispose(): void }; refiner?: { dispose(): void } } | null;
  if (!v || typeof v !== 'object') return;
  if (typeof v.dispose === 'function') v.dispose();
  v.model?.dispose();
  v.student?.dispose();
  v.refiner?.dispose();
}

/** Load once per session. */
async function cached<T>(session: MethodSession, key: string, load: () => T | Promise<T>): Promise<T> {
  if (!session.cache.has(key)) session.cache.set(key, await load());
  return session.cache.get(key) as T;
}

/** Fail unless `stage` has finished, naming the command to run. */
function requireStage(session: MethodSession, stage: MethodStage, by: MethodStage): void {
  if (!session.run.finished(stage)) {
    throw new ValidationError(session.run.command, '--run', `a run folder where '${stage}' has finished (run \`ca ${stage} --run ${session.run.dir}\` first, or \`ca run\`) before '${by}'`, session.run.dir);
  }
}

// Loaders: each reads a finished stage's artifact or loads its trained network (the trainers load a finished
// checkpoint folder without a step).
const proxyOf = (s: MethodSession) => cached<ProxyAvatar>(s, 'proxy', () => stages.fitProxyStage(s.plan));
const tsdmDataOf = (s: MethodSession) => cached<TsdmData>(s, 'tsdm-data', () => readTsdmArtifact(path.join(s.run.outputs, 'tsd')));
const tsdmOf = (s: MethodSession) => cached<TrainTsdmResult>(s, 'tsdm', async () => stages.trainTsdmStage(s.plan, await tsdmDataOf(s)));
const fcsdDataOf = (s: MethodSession) => cached<FcsdData>(s, 'fcsd-data', async () => {
  const aligned = readAlignArtifact(path.join(s.run.outputs, 'align'));
  return stages.fcsdDataStage(s.plan, await proxyOf(s), await tsdmDataOf(s), await stages.emotionStage(s.plan), aligned.aligned);
});
const fcsdOf = (s: MethodSession) => cached<TrainFcsdResult>(s, 'fcsd', async () => stages.trainFcsdStage(s.plan, await fcsdDataOf(s)));
const lcmOf = (s: MethodSession) => cached<DistillFcsdLcmResult | null>(s, 'lcm', async () => stages.lcmStage(s.plan, (await fcsdOf(s)).model, await fcsdDataOf(s)));
const refinerOf = (s: MethodSession) => cached<TrainFcsdRefinerResult | null>(s, 'refiner', async () => stages.refinerStage(s.plan, (await fcsdOf(s)).model, await fcsdDataOf(s)));

type StageBody = (s: MethodSession) => Promise<Record<string, unknown> | undefined>;

const STAGES: Record<MethodStage, { after: MethodStage | null; body: StageBody }> = {
  'fit-proxy': {
    after: null,
    body: async (s) => {
      const bar = trainingBar('fit proxy (stage 1)');
      await cached(s, 'proxy', () => stages.fitProxyStage(s.plan, ({ step, steps, loss }) => bar.onProgress({ step, iterations: steps, loss })));
      bar.done();
      return { split: s.plan.split };
    },
  },
  tsd: {
    after: 'fit-proxy',
    body: async (s) => {
      const data = stages.tsdStage(s.plan, await proxyOf(s));
      writeTsdmArtifact(s.run.stageDir('tsd'), data);
      s.cache.set('tsdm-data', data);
      return { frames: data.frames.length, size: data.size };
    },
  },
  'train-tsdm': {
    after: 'tsd',
    body: async (s) => {
      const bar = trainingBar('train TSDM (stage 2)');
      const tsdm = await cached(s, 'tsdm', async () => stages.trainTsdmStage(s.plan, await tsdmDataOf(s), bar.onProgress));
      bar.done();
      return { losses: { tsdm: tsdm.lossLog }, steps: tsdm.step };
    },
  },
  align: {
    after: 'train-tsdm',
    body: async (s) => {
      const result = stages.alignStage(s.plan, (await tsdmOf(s)).model, await tsdmDataOf(s));
      writeAlignArtifact(s.run.stageDir('align'), s.plan.split.test, s.plan.tsdmConfig.size, result);
      s.run.log(`align: ${result.aligned.length} held-out frames, TSD MSE ${result.tsd.aligned.mse.toFixed(5)} (proxy's ${result.tsd.proxy.mse.toFixed(5)})`);
      return { tsd: result.tsd };
    },
  },
  'train-fcsd': {
    after: 'align',
    body: async (s) => {
      const bar = trainingBar('train FCSD (stage 3)');
      const fcsd = await cached(s, 'fcsd', async () => stages.trainFcsdStage(s.plan, await fcsdDataOf(s), bar.onProgress));
      bar.done();
      return { losses: { 'fcsd-backbone': fcsd.lossLog.backbone, 'fcsd-conditions': fcsd.lossLog.conditions }, steps: fcsd.steps };
    },
  },
  distill: {
    after: 'train-fcsd',
    body: async (s) => {
      const lcmBar = trainingBar('distil LCM student (§4.3)');
      const model = (await fcsdOf(s)).model;
      const data = await fcsdDataOf(s);
      const lcm = await cached(s, 'lcm', () => stages.lcmStage(s.plan, model, data, lcmBar.onProgress));
      lcmBar.done();
      const refinerBar = trainingBar('train refiner (§4.3)');
      const refiner = await cached(s, 'refiner', () => stages.refinerStage(s.plan, model, data, refinerBar.onProgress));
      refinerBar.done();
      const losses: Record<string, unknown> = {};
      if (lcm) losses.lcm = lcm.lossLog;
      if (refiner) losses.refiner = refiner.lossLog;
      s.run.log(`distill: ${lcm ? `LCM student (${lcm.steps} steps)` : 'no LCM student (lcmIterations 0: DDIM on the teacher)'}, ${refiner ? `refiner (${refiner.steps} steps)` : 'no refiner'}`);
      return { losses };
    },
  },
  render: {
    after: 'distill',
    body: async (s) => {
      const fcsd = (await fcsdOf(s)).model;
      const lcm = await lcmOf(s);
      const refiner = await refinerOf(s);
      const rows = stages.renderRows(s.plan, await fcsdDataOf(s), { fcsd, student: lcm?.student ?? null, refiner: refiner?.refiner ?? null }, (name) => s.run.log(`render: ${name}`));
      writeRenderArtifact(s.run.stageDir('render'), s.plan.split.test.map((i) => s.plan.dataset.frames[i]!.id), rows);
      return { rows: rows.map((r) => ({ name: r.name, msPerFrame: r.msPerFrame })) };
    },
  },
  eval: {
    after: 'render',
    body: async (s) => {
      const rendered = readRenderArtifact(path.join(s.run.outputs, 'render'));
      const scored = await stages.scoreRows(s.plan, await fcsdDataOf(s), rendered, ({ name, scores }) =>
        s.run.log(`eval: ${name.padEnd(12)} PSNR ${scores.whole.psnr.toFixed(2)} dB (face ${scores.face.psnr.toFixed(2)})  SSIM ${scores.whole.ssim.toFixed(3)}`));
      const align = readAlignArtifact(path.join(s.run.outputs, 'align'));
      const results = {
        split: s.plan.split,
        size: s.plan.fcsdConfig.size,
        estimator: scored.estimator,
        backbone: s.plan.options.backbone ?? 'embedded',
        rows: scored.rows.map((r) => ({ name: r.name, label: r.label, msPerFrame: r.msPerFrame, scores: r.scores })),
        tsd: align.tsd,
      };
      writeJsonAtomic(path.join(s.run.stageDir('eval'), 'results.json'), results);
      return { rows: results.rows.map((r) => ({ name: r.name, psnr: r.scores.whole.psnr, ssim: r.scores.whole.ssim })) };
    },
  },
  report: {
    after: 'eval',
    body: async (s) => {
      const result = await methodResult(s);
      const written = await writeMethodOutputs(s.run.stageDir('report'), result, {
        title: `ConsistentAvatar run ${path.basename(s.run.dir)}`,
        label: `${s.plan.options.data} (${s.plan.options.layout ?? 'insta'} layout), backbone ${result.backbone}`,
        manifest: readJson(path.join(s.run.dir, 'manifest.json')),
        browserCheck: s.flags.browserCheck ?? true,
      });
      s.run.log(`report: ${written.report}${written.browserCheck ? ` (browser check: ${written.browserCheck})` : ''}`);
      return { report: path.relative(s.run.dir, written.report), browserCheck: written.browserCheck };
    },
  },
};

/** The result `runMethod` would return, rebuilt from a run folder whose `eval` has finished. */
async function methodResult(s: MethodSession): Promise<RunMethodResult> {
  const evalResults = readJson<{ rows: Omit<MethodRow, 'frames'>[]; estimator: string; backbone: string; tsd: RunMethodResult['tsd'] }>(path.join(s.run.outputs, 'eval', 'results.json'));
  const rendered = new Map(readRenderArtifact(path.join(s.run.outputs, 'render')).map((r) => [r.name, r.frames]));
  const data = await fcsdDataOf(s);
  const S = data.size;
  const losses: RunMethodResult['losses'] = {};
  const timings: Record<string, number> = {};
  for (const stage of METHOD_STAGES) {
    const done = s.run.finished(stage);
    if (!done) continue;
    timings[stage] = done.ms;
    Object.assign(losses, (done.extra?.losses as RunMethodResult['losses'] | undefined) ?? {});
  }
  const { plan } = s;
  return {
    split: plan.split,
    size: S,
    reference: plan.split.test.map((i) => ({ data: data.frames[i]!.gt, height: S, width: S, channels: 3 })),
    rows: evalResults.rows.map((r) => ({ ...r, frames: rendered.get(r.name) ?? [] })),
    tsd: evalResults.tsd,
    data,
    losses,
    timings,
    config: { tsdm: plan.tsdmConfig, fcsd: plan.fcsdConfig, alignEnsemble: plan.alignEnsemble, validationFrames: plan.split.validation.length },
    estimator: evalResults.estimator,
    backbone: evalResults.backbone,
  };
}

/**
 * Run one stage in an open session: a no-op (saying so) when it has finished, an error naming the missing stage
 * when the one before it has not, else the stage, its artifacts and its `done.json`.
 * @param session - from {@link openMethodRun}.
 * @param stage - one of {@link METHOD_STAGES}.
 * @returns `'done'` when it ran, `'skipped'` when it had finished before.
 * @example
 * ```ts
 * await runStage(session, 'train-fcsd');
 * ```
 */
export async function runStage(session: MethodSession, stage: MethodStage): Promise<'done' | 'skipped'> {
  const spec = STAGES[stage];
  if (!spec) throw new ValidationError('runStage', 'stage', `one of ${METHOD_STAGES.join(', ')}`, stage);
  const finished = session.run.finished(stage);
  if (finished) {
    session.run.log(`${stage}: already finished (${finished.finished}, ${path.join('outputs', stage, 'done.json')}); nothing to do`);
    return 'skipped';
  }
  if (spec.after) requireStage(session, spec.after, stage);
  session.run.log(`${stage}: running`);
  const t0 = performance.now();
  const extra = await spec.body(session);
  const record = session.run.finish(stage, { ms: performance.now() - t0, extra });
  session.run.log(`${stage}: finished in ${(record.ms / 1000).toFixed(1)} s`);
  return 'done';
}

/** What an eval shard writes (`outputs/eval-shards/part-i-of-n.json`). */
interface EvalShardFile {
  index: number;
  count: number;
  header: { split: unknown; size: number; estimator: string; backbone: string; tsd: unknown };
  rows: stages.ShardScoredRow[];
}

const evalShardFile = (outputs: string, index: number, count: number) => path.join(outputs, 'eval-shards', `part-${index}-of-${count}.json`);

/**
 * Run shard `shard` of `render` or `eval` in an open session (`ca render --shard i/n`, `ca eval --shard i/n`):
 * - render: the held-out frames of the shard's whole render batches (`renderShardRange`), every row, into
 *   `outputs/render-shards/part-i-of-n/` (`shard.json` last);
 * - eval: needs the whole render (`outputs/render/`, e.g. merged from render shards); scores the shard's frames
 *   (`shardRange`) into `outputs/eval-shards/part-i-of-n.json` with per-frame and per-pair values.
 * Neither marks its stage finished: `ca merge --stage render|eval` does, from all the shards.
 * @param session - from {@link openMethodRun}.
 * @param stage - `'render'` or `'eval'`.
 * @param shard - from `parseShard`.
 * @returns the file or folder written.
 * @example
 * ```ts
 * await runStageShard(session, 'render', parseShard('0/2')!);
 * ```
 */
export async function runStageShard(session: MethodSession, stage: 'render' | 'eval', shard: Shard): Promise<string> {
  const s = session;
  const test = s.plan.split.test;
  const ids = test.map((i) => s.plan.dataset.frames[i]!.id);
  const t0 = performance.now();
  if (stage === 'render') {
    requireStage(s, 'distill', 'render');
    const batchSize = s.plan.options.renderBatchSize ?? RENDER_BATCH_SIZE;
    const range = renderShardRange(test.length, batchSize, shard);
    const dir = renderShardDir(s.run.outputs, shard.index, shard.count);
    let rows: stages.RenderedRow[] = [];
    if (range.end > range.start) {
      const fcsd = (await fcsdOf(s)).model;
      const lcm = await lcmOf(s);
      const refiner = await refinerOf(s);
      rows = stages.renderRows(s.plan, await fcsdDataOf(s), { fcsd, student: lcm?.student ?? null, refiner: refiner?.refiner ?? null }, (name) => s.run.log(`render shard ${shard.index}/${shard.count}: ${name}`), range);
    }
    writeRenderShard(dir, { index: shard.index, count: shard.count, start: range.start, end: range.end, total: test.length, batchSize, ids }, rows);
    s.run.log(`render shard ${shard.index}/${shard.count}: held-out frames [${range.start}, ${range.end}) of ${test.length} (batches of ${batchSize}) in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${dir}`);
    return dir;
  }
  requireStage(s, 'render', 'eval');
  const rendered = readRenderArtifact(path.join(s.run.outputs, 'render'));
  const range = shardRange(test.length, shard);
  const scored = await stages.scoreRowsShard(s.plan, await fcsdDataOf(s), rendered, range);
  const align = readAlignArtifact(path.join(s.run.outputs, 'align'));
  const file = evalShardFile(s.run.outputs, shard.index, shard.count);
  const out: EvalShardFile = {
    index: shard.index,
    count: shard.count,
    header: { split: s.plan.split, size: s.plan.fcsdConfig.size, estimator: scored.estimator, backbone: s.plan.options.backbone ?? 'embedded', tsd: align.tsd },
    rows: scored.rows,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeJsonAtomic(file, out);
  s.run.log(`eval shard ${shard.index}/${shard.count}: held-out frames [${range.start}, ${range.end}) of ${test.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${file}`);
  return file;
}

/**
 * Merge the shards of `render` or `eval` into the session's run folder as the unsharded stage's outputs, then mark
 * the stage finished (`ca merge --stage render|eval`): render shards' frames into `outputs/render/` (the same npy
 * and PNG files an unsharded `ca render` writes), eval shards into `outputs/eval/results.json` (the same numbers).
 * @param session - from {@link openMethodRun} (the run folder to write into).
 * @param stage - `'render'` or `'eval'`.
 * @param sources - run folders holding the shards (`outputs/render-shards/`, `outputs/eval-shards/`).
 * @returns the number of shards merged.
 * @example
 * ```ts
 * await mergeStageShards(session, 'render', ['runs/a']);
 * ```
 */
export async function mergeStageShards(session: MethodSession, stage: 'render' | 'eval', sources: string[]): Promise<number> {
  const s = session;
  const FN = `ca merge --stage ${stage}`;
  const t0 = performance.now();
  const found = (dir: string, sub: string, pattern: RegExp) => {
    const base = path.join(dir, 'outputs', sub);
    return fs.existsSync(base) ? fs.readdirSync(base).filter((f) => pattern.test(f)).sort().map((f) => path.join(base, f)) : [];
  };
  if (stage === 'render') {
    const dirs = sources.flatMap((d) => found(d, 'render-shards', /^part-\d+-of-\d+$/));
    if (dirs.length === 0) throw new ValidationError(FN, 'parts', 'run folders with render shards (outputs/render-shards/part-i-of-n/)', sources);
    const { ids, rows } = mergeRenderShards(dirs.map(readRenderShard));
    const expected = s.plan.split.test.map((i) => s.plan.dataset.frames[i]!.id);
    if (ids.join('\n') !== expected.join('\n')) throw new ValidationError(FN, 'parts', `render shards of this run's ${expected.length} held-out frames`, ids);
    writeRenderArtifact(s.run.stageDir('render'), ids, rows);
    s.run.finish('render', { ms: performance.now() - t0, extra: { rows: rows.map((r) => ({ name: r.name, msPerFrame: r.msPerFrame })), shards: dirs.length } });
    s.run.log(`merged ${dirs.length} render shards (${ids.length} held-out frames, ${rows.length} rows) into ${path.join(s.run.outputs, 'render')}`);
    return dirs.length;
  }
  const files = sources.flatMap((d) => found(d, 'eval-shards', /^part-\d+-of-\d+\.json$/));
  if (files.length === 0) throw new ValidationError(FN, 'parts', 'run folders with eval shards (outputs/eval-shards/part-i-of-n.json)', sources);
  const parts = files.map((f) => readJson<EvalShardFile>(f)).sort((a, b) => a.index - b.index);
  const first = parts[0]!;
  parts.forEach((p, k) => {
    if (p.count !== first.count || p.index !== k || JSON.stringify(p.header) !== JSON.stringify(first.header) || p.rows.map((r) => r.name).join() !== first.rows.map((r) => r.name).join()) {
      throw new ValidationError(FN, 'parts', `shards 0 … ${first.count - 1} of one eval (same header and rows), each once`, files);
    }
  });
  if (parts.length !== first.count) throw new ValidationError(FN, 'parts', `all ${first.count} eval shards`, parts.map((p) => p.index));
  const results = {
    ...first.header,
    rows: first.rows.map((r, j) => ({ name: r.name, label: r.label, msPerFrame: r.msPerFrame, scores: mergeScoreShards(parts.map((p) => p.rows[j]!.part)) })),
  };
  writeJsonAtomic(path.join(s.run.stageDir('eval'), 'results.json'), results);
  s.run.finish('eval', { ms: performance.now() - t0, extra: { rows: results.rows.map((r) => ({ name: r.name, psnr: r.scores.whole.psnr, ssim: r.scores.whole.ssim })), shards: parts.length } });
  s.run.log(`merged ${parts.length} eval shards into ${path.join(s.run.outputs, 'eval', 'results.json')}`);
  return parts.length;
}
