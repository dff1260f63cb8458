/**
 * TSDM evaluation on the synthetic dataset (issue 6 acceptance): synthesize 640 frames at 64² (every emotion
 * segment of the scripted performance; the last 64 held out),
 * fit the stage-1 proxy, train a TSDM with the default CPU config, generate aligned TSD for the held-out frames,
 * and compare with the ground-truth TSD: MSE of the normalised TSD, MSE of the frame-to-frame differences, and the
 * correlation of the per-frame change curves mean|ΔTSD| — for the TSDM output and for the proxy's own TSD.
 *
 *   node --conditions=source --import tsx packages/tsd/bench/tsdm-eval.ts [outDir=/tmp/tsdm-eval] ['{"target":"residual"}' (config overrides)] ['[1, 2]' (extra alignment seeds)]
 *
 * Re-running on the same outDir reuses the dataset and resumes the finished training from its checkpoint (the
 * proxy is refitted: it is seeded, so identical).
 *
 * Writes `<outDir>/results.json` and prints it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, writeRunManifest } from '@consistent-avatar/core';
import { fitProxyAvatar, readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdErrors } from '../src/index.js';

const out = path.resolve(process.argv[2] ?? '/tmp/tsdm-eval');
const overrides = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>; // config fields, e.g. '{"target":"residual"}'
const extraSeeds = JSON.parse(process.argv[4] ?? '[]') as number[]; // more alignment seeds of the default setting
fs.mkdirSync(out, { recursive: true });
await initBackend('wasm');
const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${msg}`);

// 1. Data: 640 synthetic frames at 64², the last 64 held out.
const dataDir = path.join(out, 'data');
if (!fs.existsSync(path.join(dataDir, 'synthetic.json'))) await synthesizeDataset({ out: dataDir, frames: 640, size: 64, testFrames: 64, seed: 1 });
const ds = readInstaDataset(dataDir);
log(`dataset: ${ds.frames.length} frames, train ${ds.split.train.length}, test ${ds.split.test.length}`);

// 2. The stage-1 proxy (fitProxyAvatar defaults, seed 0).
const proxy = await fitProxyAvatar(ds, { seed: 0 });
log(`proxy fitted (final loss ${proxy.lossLog.at(-1)?.loss.toFixed(4)})`);

// 3. Stage-2 pairs and training with the default CPU config.
const config = resolveTsdmConfig(overrides);
const data = prepareTsdmData(ds, proxy, config);
proxy.dispose();
const meanAbs = (xs: Float32Array[]) => xs.reduce((s, x) => s + x.reduce((a, v) => a + Math.abs(v), 0) / x.length, 0) / xs.length;
log(`pairs: mean|gt TSD| ${meanAbs(data.frames.map((f) => f.gt!)).toFixed(4)}, mean|proxy TSD| ${meanAbs(data.frames.map((f) => f.proxy)).toFixed(4)} (normalised)`);
const trained = await trainTsdm(data, config, {
  checkpointDir: path.join(out, 'checkpoints'),
  onProgress: (p) => log(`step ${p.step}/${p.iterations} loss ${p.loss.toFixed(4)}`),
});
const model = trained.model;

// 4. Aligned TSD for the held-out frames, compared with the ground truth.
const test = data.split.test.map((i) => data.frames[i]!);
const truth = test.map((f) => f.gt!);
const summary = (r: ReturnType<typeof tsdErrors>) => ({ mse: r.mse, deltaMse: r.deltaMse, changeCorrelation: r.changeCorrelation });
const results: Record<string, unknown> = {
  config,
  frames: { train: data.split.train.length, test: test.length },
  lossLog: trained.lossLog,
  proxy: summary(tsdErrors(test.map((f) => f.proxy), truth)),
  zero: summary(tsdErrors(test.map(() => new Float32Array(truth[0]!.length)), truth)),
  // A trivial temporal baseline: the proxy TSD smoothed over time with a [1, 2, 1] / 4 filter (ends repeated).
  proxy_smoothed121: summary(tsdErrors(test.map((f, t) => {
    const a = test[Math.max(0, t - 1)]!.proxy, b = test[Math.min(test.length - 1, t + 1)]!.proxy;
    return f.proxy.map((v, k) => 0.25 * a[k]! + 0.5 * v + 0.25 * b[k]!);
  }), truth)),
};
for (const [name, opts] of [
  ['tsdm_ddim20_single', { sampler: 'ddim', steps: 20, seed: 0, ensemble: 1 }],
  ['tsdm_ddim10_ensemble8', { sampler: 'ddim', steps: 10, seed: 0, ensemble: 8 }],
  ['tsdm_lcm4_ensemble8', { sampler: 'lcm', steps: 4, seed: 0, ensemble: 8 }],
  ['tsdm_ddim10_strength0.5_ensemble8', { sampler: 'ddim', steps: 10, seed: 0, strength: 0.5, ensemble: 8 }],
  // Extra alignment seeds of the default setting (4th argument, e.g. '[1, 2]'): the spread over x_T draws.
  ...extraSeeds.map((seed) => [`tsdm_ddim10_ensemble8_seed${seed}`, { sampler: 'ddim', steps: 10, seed, ensemble: 8 }] as const),
] as const) {
  const aligned = alignTsd(model, test, opts);
  results[name] = summary(tsdErrors(aligned, truth));
  log(`${name}: ${JSON.stringify(results[name])}`);
}
results.seconds = (Date.now() - t0) / 1000;
model.dispose();
fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 2));
writeRunManifest(out, { config, seed: config.seed, backend: 'wasm', timings: { seconds: results.seconds as number }, extra: { command: `node --conditions=source --import tsx packages/tsd/bench/tsdm-eval.ts ${process.argv.slice(2).join(' ')}` } });
console.log(JSON.stringify({ ...results, lossLog: undefined, config: undefined }, null, 2));
