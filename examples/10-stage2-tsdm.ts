/**
 * Stage 2 on your own data: fit the stage-1 proxy and train the TSDM on an INSTA-layout dataset (a folder with
 * `transforms_{train,val,test}.json`, `images/`, `flame/` — what `pnpm ca synth` writes, or your tracked video),
 * then generate the aligned TSD of its held-out frames and compare it and the proxy's TSD with the real frames' TSD.
 * Without `--data` it synthesises a dataset of the embedded synthetic head first.
 *
 * Run: `node --conditions=source --import tsx examples/10-stage2-tsdm.ts [--data DIR] [--out .runs/10-stage2]
 *       [--steps 800] [--window 1] [--ensemble 8] [--frames 320] (synthetic only)`
 *
 * Both fits checkpoint under `--out`; re-running with the same arguments resumes (a finished run only re-aligns).
 * Writes `aligned-tsd.npy` (`[frames, size, size, 3]` float32 in [−1, 1], the held-out frames in order — the z_c
 * input of stage 3), `tsdm-model/` (`TsdmModel.fromPretrained` reloads it), `report.json` (errors, loss log) and a
 * run manifest.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { acquireRunLock, backendReport, initBackend, writeJsonAtomic, writeNpy, writeRunManifest } from '@consistent-avatar/core';
import { fitProxyAvatar, readInstaDataset, synthesizeDataset } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdErrors } from '@consistent-avatar/tsd';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const out = resolve(arg('out', '.runs/10-stage2'));
const steps = Number(arg('steps', '800'));
const window = Number(arg('window', '1'));
const ensemble = Number(arg('ensemble', '8'));
const frames = Number(arg('frames', '320'));
// Every flag is checked before any work: a typo fails in a second, not after minutes of synthesis and fitting.
const config = resolveTsdmConfig({ iterations: steps, temporalWindow: window, seed: 0 }); // throws naming config.iterations / config.temporalWindow
if (!Number.isInteger(ensemble) || ensemble < 1) throw new Error(`--ensemble expects an integer ≥ 1, got ${arg('ensemble', '8')}`);
if (!Number.isInteger(frames) || frames < 2) throw new Error(`--frames expects an integer ≥ 2, got ${arg('frames', '320')}`);
if (arg('data', '') && !existsSync(arg('data', ''))) throw new Error(`--data ${arg('data', '')} does not exist`);
mkdirSync(out, { recursive: true });
acquireRunLock(out); // one run per folder: a second one fails here naming this process (released on exit)
const t0 = performance.now();
const log = (msg: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${msg}`);

const backend = await initBackend();
console.log(backendReport(backend));

// 1. The dataset: yours (--data) or a synthetic one.
let dataDir = arg('data', '');
if (!dataDir) {
  dataDir = join(out, 'dataset');
  // synthesizeDataset renders into a temporary folder and renames it into place, so both files mean a complete dataset.
  if (!existsSync(join(dataDir, 'transforms.json')) || !existsSync(join(dataDir, 'synthetic.json'))) {
    await synthesizeDataset({ out: dataDir, frames, size: 64, testFrames: 48, seed: 1 });
  }
  console.log('dataset: SYNTHETIC head (pass --data DIR for your own INSTA-layout dataset)');
}
const ds = readInstaDataset(resolve(dataDir));
log(`dataset ${ds.root}: ${ds.frames.length} frames ${ds.width}×${ds.height}, train ${ds.split.train.length}, held out ${ds.split.test.length}`);

// 2. Stage 1: the proxy (checkpointed; resumes).
const proxy = await fitProxyAvatar(ds, { seed: 0, checkpointDir: join(out, 'proxy') });
log('stage-1 proxy fitted');

// 3. Stage 2: pairs and the TSDM (checkpointed; resumes). The TSD size must divide the frame side.
const data = prepareTsdmData(ds, proxy, config);
proxy.dispose();
const trained = await trainTsdm(data, config, {
  checkpointDir: join(out, 'tsdm'),
  onProgress: ({ step, iterations, loss }) => { if (step % 100 === 0 || step === iterations) log(`TSDM step ${step}/${iterations} loss ${loss.toFixed(4)}`); },
});
log(`TSDM ${trained.resumedFrom ? `resumed from ${trained.resumedFrom}` : 'trained'} (${trained.step} steps)`);
trained.model.savePretrained(join(out, 'tsdm-model')); // TsdmModel.fromPretrained(dir) reloads it for new sequences

// 4. Aligned TSD of the held-out frames, each conditioned on its real neighbours in the whole video (`indices`).
const test = data.split.test.map((i) => data.frames[i]!);
const aligned = alignTsd(trained.model, data.frames, { seed: 0, ensemble, indices: data.split.test });
trained.model.dispose();
const S = config.size;
const stacked = new Float32Array(test.length * S * S * 3);
aligned.forEach((m, i) => stacked.set(m, i * S * S * 3));
writeNpy(join(out, 'aligned-tsd.npy'), { data: stacked, shape: [test.length, S, S, 3], dtype: 'float32' });

// 5. Errors against the real frames' TSD.
const truth = test.map((f) => f.gt!);
const summary = (r: ReturnType<typeof tsdErrors>) => ({ mse: r.mse, deltaMse: r.deltaMse, changeCorrelation: r.changeCorrelation });
const report = { frames: test.map((f) => f.id), proxy: summary(tsdErrors(test.map((f) => f.proxy), truth)), tsdm: summary(tsdErrors(aligned, truth)), lossLog: trained.lossLog };
for (const [name, r] of [['proxy TSD', report.proxy], ['TSDM', report.tsdm]] as const) {
  log(`${name.padEnd(9)}: MSE ${r.mse.toFixed(5)}  ΔMSE ${r.deltaMse.toFixed(5)}  change corr. ${r.changeCorrelation.toFixed(3)}`);
}
writeJsonAtomic(join(out, 'report.json'), report);
writeRunManifest(out, { config, seed: config.seed, backend: backendReport(backend), timings: { seconds: (performance.now() - t0) / 1000 }, extra: { dataset: ds.root, ensemble } });
log(`wrote ${join(out, 'aligned-tsd.npy')} and ${join(out, 'report.json')}`);
