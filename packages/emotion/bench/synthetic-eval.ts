/**
 * Evaluation of the emotion retriever (Eq. 7) on the synthetic MEAD-like database with held-out identities:
 * per-frame accuracy and macro-F1 of Eq. 7 (k = 1), of a k-NN vote, and of temporal smoothing (the ablation).
 * Actors are split into 4 folds; each fold's actors are the queries and the other actors form the database.
 * Second table: the labels the retriever gives the demo's own scripted talking performance (proxy's
 * `scriptPerformance` + `trackPerformance`, 8 emotions incl. contempt, ground-truth label per frame) against an
 * 8-class synthetic database — a different generator, so this is a domain-shift check.
 *
 *   node --conditions=source --import tsx packages/emotion/bench/synthetic-eval.ts [--write FILE.md] [--json FILE]
 *
 * `--write FILE.md` replaces the block between `<!-- synthetic-eval:start -->` and `<!-- synthetic-eval:end -->` of
 * that Markdown file with the tables (numbers are never typed by hand; the record of 2026-11-24 is
 * docs/experiments/2026-11-24-emotion-synthetic-eval.md). `--json FILE` writes every fold's and seed's scores.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { initBackend, writeJsonAtomic } from '@consistent-avatar/core';
import { scriptPerformance, trackPerformance } from '@consistent-avatar/proxy';
import {
  EmotionRetriever,
  classificationReport,
  syntheticMeadDatabase,
  type RetrievalOptions,
  type SyntheticMeadOptions,
} from '../src/index.js';

/** The value after `--name` on the command line (undefined when the flag is absent; an error when it has none). */
function flagValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a file name`);
  return value;
}

const markdownFile = flagValue('write');
const jsonFile = flagValue('json');
const BLOCK_START = '<!-- synthetic-eval:start -->';
const BLOCK_END = '<!-- synthetic-eval:end -->';

/** Where the table block of `--write`'s file starts and ends (checked before the run, used after it). */
function tableBlock(file: string): { text: string; i: number; j: number } {
  const text = readFileSync(file, 'utf8');
  const i = text.indexOf(BLOCK_START);
  const j = text.indexOf(BLOCK_END);
  if (i < 0 || j < i) throw new Error(`${file} has no ${BLOCK_START} … ${BLOCK_END} block`);
  return { text, i, j };
}
if (markdownFile !== undefined) tableBlock(markdownFile);

const DATA: SyntheticMeadOptions = { actors: 16, classes: 7, clipsPerLevel: 2, framesPerClip: 40, seed: 7 };
const FOLDS = 4;
const CONFIGS: Array<{ name: string; options: RetrievalOptions }> = [
  { name: 'Eq. 7: nearest neighbour, per frame (k = 1)', options: { k: 1 } },
  { name: 'k-NN vote, per frame (k = 7, similarity-weighted)', options: { k: 7, vote: 'weighted' } },
  { name: 'k = 1 + temporal smoothing, majority, 9 frames', options: { k: 1, smoothingWindow: 9, smoothingMode: 'majority' } },
  { name: 'k = 1 + temporal smoothing, similarity-weighted, 9 frames', options: { k: 1, smoothingWindow: 9, smoothingMode: 'weighted' } },
  { name: 'k = 7 + temporal smoothing, similarity-weighted, 15 frames', options: { k: 7, smoothingWindow: 15, smoothingMode: 'weighted' } },
];

await initBackend();
const t0 = performance.now();
const db = syntheticMeadDatabase(DATA);
const actorOfRow = db.actors();
const actorIds = [...new Set(actorOfRow)];
const numClasses = db.vocabulary.labels.length;

const results = CONFIGS.map(() => ({ accuracy: [] as number[], macroF1: [] as number[] }));
for (let fold = 0; fold < FOLDS; fold++) {
  const heldOut = new Set(actorIds.filter((_, i) => i % FOLDS === fold));
  const database = db.filter((_, clip) => !heldOut.has(clip.actor));
  const queries = db.filter((_, clip) => heldOut.has(clip.actor));
  const segments = Array.from(queries.clipIndices);
  const retriever = new EmotionRetriever(database);
  for (const [c, config] of CONFIGS.entries()) {
    const out = await retriever.retrieve(queries.vectors, { ...config.options, segments });
    const report = classificationReport(queries.labelIndices, out.labelIndices, numClasses);
    results[c]!.accuracy.push(report.accuracy);
    results[c]!.macroF1.push(report.macroF1);
  }
  retriever.dispose();
  console.error(`fold ${fold + 1}/${FOLDS}: held out ${[...heldOut].join(', ')} (${queries.size} query frames vs ${database.size})`);
}

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const pct = (xs: number[]) => `${(100 * mean(xs)).toFixed(1)} ± ${(100 * std(xs)).toFixed(1)}`;
const base = results[0]!;
const rows = CONFIGS.map((config, c) => {
  const r = results[c]!;
  const gain = r.macroF1.map((v, i) => v - base.macroF1[i]!);
  const better = gain.filter((g) => g > 0).length;
  return `| ${config.name} | ${pct(r.accuracy)} | ${pct(r.macroF1)} | ${c === 0 ? '—' : `${gain.every((g) => g >= 0) ? '+' : ''}${(100 * mean(gain)).toFixed(1)} (better in ${better}/${FOLDS} folds)`} |`;
});
const table = [
  `Synthetic MEAD-like database (\`syntheticMeadDatabase(${JSON.stringify(DATA)})\`: ${db.size.toLocaleString('en')} frames, ` +
    `${actorIds.length} actors, 7 classes, D = 100); ${FOLDS}-fold split by actor, queries = the held-out actors' frames, ` +
    `smoothing inside each clip. Mean ± std over folds, in %. Produced by \`node --conditions=source --import tsx packages/emotion/bench/synthetic-eval.ts\`.`,
  '',
  '| retrieval | accuracy | macro-F1 | Δ macro-F1 vs Eq. 7 (points) |',
  '|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
// Demo performance: proxy's scripted talking head (different generator), 8 classes.
const DEMO = { frames: 1500, seeds: [1, 2, 3] };
const db8 = syntheticMeadDatabase({ ...DATA, classes: 8 });
const demoRetriever = new EmotionRetriever(db8);
const demoResults = CONFIGS.map(() => ({ accuracy: [] as number[], macroF1: [] as number[] }));
for (const seed of DEMO.seeds) {
  const performance = scriptPerformance(DEMO.frames, seed);
  const tracked = trackPerformance(performance, seed);
  const frames = new Float32Array(tracked.length * db8.dimension); // [T, 100]
  tracked.forEach((f, i) => frames.set(f.expression, i * db8.dimension));
  const truth = Int32Array.from(performance.map((f) => db8.vocabulary.indexOf(f.emotion)));
  for (const [c, config] of CONFIGS.entries()) {
    const out = await demoRetriever.retrieve(frames, config.options);
    const report = classificationReport(truth, out.labelIndices, db8.vocabulary.labels.length);
    demoResults[c]!.accuracy.push(report.accuracy);
    demoResults[c]!.macroF1.push(report.macroF1);
  }
}
demoRetriever.dispose();
const demoTable = [
  '',
  `Labels of the demo's scripted performance (\`scriptPerformance(${DEMO.frames}, seed)\` + \`trackPerformance\` from proxy, ` +
    `seeds ${DEMO.seeds.join(', ')}; 8 classes) retrieved from \`syntheticMeadDatabase({...same, classes: 8})\` ` +
    `(${db8.size.toLocaleString('en')} frames). Mean ± std over seeds, in %.`,
  '',
  '| retrieval | accuracy | macro-F1 |',
  '|---|---|---|',
  ...CONFIGS.map((config, c) => `| ${config.name} | ${pct(demoResults[c]!.accuracy)} | ${pct(demoResults[c]!.macroF1)} |`),
].join('\n');
console.log(demoTable);

const seconds = (performance.now() - t0) / 1000;
console.error(`total ${seconds.toFixed(1)} s`);

if (markdownFile !== undefined) {
  const { text, i, j } = tableBlock(markdownFile);
  writeFileSync(markdownFile, `${text.slice(0, i + BLOCK_START.length)}\n${table}\n${demoTable}\n${text.slice(j)}`);
  console.error(`wrote the tables into ${markdownFile}`);
}
if (jsonFile !== undefined) {
  const scores = (r: Array<{ accuracy: number[]; macroF1: number[] }>) =>
    CONFIGS.map((config, c) => ({ ...config, accuracy: r[c]!.accuracy, macroF1: r[c]!.macroF1 }));
  writeJsonAtomic(jsonFile, {
    date: new Date().toISOString(),
    command: `node --conditions=source --import tsx packages/emotion/bench/synthetic-eval.ts ${process.argv.slice(2).join(' ')}`,
    heldOutIdentities: { data: DATA, frames: db.size, folds: FOLDS, perFold: scores(results) },
    demoPerformance: { frames: DEMO.frames, seeds: DEMO.seeds, databaseFrames: db8.size, perSeed: scores(demoResults) },
    seconds,
  });
  console.error(`wrote the scores into ${jsonFile}`);
}
