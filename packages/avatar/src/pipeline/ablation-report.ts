/**
 * The ablation's outputs in its run folder (base name `ablation` by default): `ablation.json` (settings, mean ± std tables, every per-identity number,
 * and the provenance: command, commit, date, machine, load average, backend, seeds, wall time), `ablation.md`
 * (Tables 1–2 style and the temporal table, from `ablationMarkdown`) and `ablation-fig7.svg` (Fig. 7: the mean flow-magnitude
 * curve of every row against the real video's, averaged over identities), plus `ablation-fig7-identity-<k>.svg` per identity.
 *
 * @example
 * ```ts
 * import { runAblation, writeAblationOutputs } from '@consistent-avatar/avatar';
 * const result = await runAblation({ out: 'runs/ablate' });
 * writeAblationOutputs('runs/ablate', result, { command: 'ca ablate --config ablate.json', wallMs: 1_200_000 });
 * ```
 *
 * @packageDocumentation
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { currentBackend, gitState, ValidationError, writeFileAtomic, writeJsonAtomic } from '@consistent-avatar/core';
import { flowCurveSvg } from '@consistent-avatar/metrics';
import { ablationMarkdown, meanCurves } from './ablation-tables.js';
import type { AblationResult } from './ablate.js';

/** Options of {@link writeAblationOutputs}. */
export interface AblationOutputOptions {
  /** The command line that produced the result (recorded). */
  command: string;
  /** Wall time of the command in ms (recorded), or, with `timeKind: 'summed'`, the shards' stage times summed. */
  wallMs: number;
  /** `'wall'` (default): `wallMs` is this command's wall time. `'summed'`: the stage times of every identity added up (a merge of shards that ran elsewhere, in parallel). */
  timeKind?: 'wall' | 'summed';
  /** A title line for the Markdown. Default "Ablation on the synthetic head". */
  title?: string;
  /** Base name of the files: `<name>.json`, `<name>.md`, `<name>-fig7*.svg`. Default `'ablation'`. */
  name?: string;
}

/** What {@link writeAblationOutputs} wrote. */
export interface AblationOutputs {
  json: string;
  markdown: string;
  /** The Fig. 7 plots (null entries: curves missing, e.g. one held-out frame). */
  figures: string[];
}

/**
 * The provenance recorded with every result file: commit, date, machine and load.
 * @example
 * ```ts
 * const { commit, machine } = runProvenance(); // machine.loadAverage: os.loadavg()
 * ```
 */
export function runProvenance(): { commit: string | null; dirty: boolean | null; date: string; machine: { cpus: number; cpuModel: string | null; memoryGiB: number; loadAverage: number[]; node: string }; backend: string | null } {
  const git = gitState();
  return {
    commit: git?.commit ?? null,
    dirty: git?.dirty ?? null,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version },
    backend: currentBackend()?.name ?? null,
  };
}

/**
 * Write `ablation.json`, `ablation.md` and the Fig. 7 SVGs of a complete (unsharded or merged) result into `dir`.
 * @param dir - the run folder.
 * @param result - from `runAblation` (all identities) or `mergeAblation`.
 * @example
 * ```ts
 * const { json, markdown } = writeAblationOutputs('runs/ablate', mergeAblation(parts), { command: 'ca merge …', wallMs });
 * ```
 */
export function writeAblationOutputs(dir: string, result: AblationResult, options: AblationOutputOptions): AblationOutputs {
  const FN = 'writeAblationOutputs';
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError(FN, 'dir', 'a folder path', dir);
  if (!result || !result.summary) throw new ValidationError(FN, 'result', 'a result covering every identity (run unsharded, or merge the parts)', result?.shard);
  if (!options || typeof options.command !== 'string' || !Number.isFinite(options.wallMs)) throw new ValidationError(FN, 'options', '{ command, wallMs }', options);
  const name = options.name ?? 'ablation';
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) throw new ValidationError(FN, 'options.name', 'a file base name ([A-Za-z0-9._-])', name);
  const provenance = runProvenance();
  const s = result.settings;
  // 1. Every number, with where and how it was measured.
  const json = join(dir, `${name}.json`);
  writeJsonAtomic(json, {
    command: options.command,
    ...provenance,
    ...(options.timeKind === 'summed' ? { summedStageMs: Math.round(options.wallMs) } : { wallMs: Math.round(options.wallMs) }),
    seeds: { method: s.seed, datasets: result.identities.map((id) => ({ identity: id.identity, seed: id.datasetSeed })) },
    settings: s,
    summary: result.summary,
    identities: result.identities,
  });
  // 2. Fig. 7: mean curves over identities, and per identity.
  const figures: string[] = [];
  const plot = (file: string, title: string, reference: number[], rows: { name: string; values: number[] }[]) => {
    writeFileAtomic(file, flowCurveSvg([{ label: 'real video', values: reference }, ...rows.map((r) => ({ label: r.name, values: r.values }))], { title, xLabel: 'held-out frame pair', yLabel: 'mean flow magnitude (px / frame)' }));
    figures.push(file);
  };
  const mean = meanCurves(result.identities);
  if (mean) plot(join(dir, `${name}-fig7.svg`), `Fig. 7 style: flow magnitude, mean over ${result.identities.length} identities`, mean.reference, mean.rows);
  for (const id of result.identities) {
    if (id.referenceCurve && id.rows.every((r) => r.curve)) plot(join(dir, `${name}-fig7-identity-${id.identity}.svg`), `Fig. 7 style: flow magnitude, identity ${id.identity}`, id.referenceCurve, id.rows.map((r) => ({ name: r.name, values: r.curve! })));
  }
  // 3. The Markdown tables, with the provenance under them.
  const first = result.identities[0]!;
  const load = provenance.machine.loadAverage.map((v) => v.toFixed(2)).join(' ');
  const md = [
    `## ${options.title ?? 'Ablation on the synthetic head'}`,
    '',
    `Written by \`${options.command}\` at commit ${provenance.commit ?? 'unknown'}${provenance.dirty ? ' (with uncommitted changes)' : ''} on ${provenance.date}; every number is in [${name}.json](${name}.json).`,
    `${result.identities.length} synthetic identities (${result.identities.map((id) => `${id.identity}: dataset seed ${id.datasetSeed}`).join(', ')}), method seed ${s.seed}; ${s.dataset.frames} frames of ${s.dataset.size}² each, the last ${first.split.test} held out and scored once at ${first.size}² (train ${first.split.train}, validation ${first.split.validation} — carved, not used: nothing is tuned here).`,
    `${options.timeKind === 'summed' ? `Stage times of the ${result.identities.length} identities summed (their shards ran elsewhere, possibly in parallel; not a wall time): ${(options.wallMs / 60000).toFixed(1)} min; written` : `Wall time ${(options.wallMs / 60000).toFixed(1)} min`} on ${provenance.machine.cpus} cores (${provenance.machine.cpuModel ?? 'unknown CPU'}), backend ${provenance.backend ?? 'none initialised (no tensor work in this command)'}, load average at the end ${load}.`,
    '',
    ablationMarkdown(result.summary),
    `Fig. 7 style plots: ${figures.map((f) => `[${f.split('/').pop()}](${f.split('/').pop()})`).join(', ') || 'none (fewer than 2 held-out frames)'}.`,
    '',
  ].join('\n');
  const markdown = join(dir, `${name}.md`);
  writeFileAtomic(markdown, md);
  return { json, markdown, figures };
}
