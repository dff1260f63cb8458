/**
 * The demo (`pnpm demo`): stages 1 → 2 of ConsistentAvatar end to end on the embedded **synthetic** head, with
 * small models trained here on the CPU.
 *
 * 1. pick the tensor backend and report it;
 * 2. synthesise an INSTA-layout talking-head dataset (scripted speech + MEAD emotions, ground-truth frames and
 *    "tracked" FLAME parameters with tracker noise and lag); the last frames are held out;
 * 3. stage 1: fit the coarse proxy avatar (UV texture + SH lighting) and score it on the held-out frames
 *    (PSNR / SSIM, scikit-image-compatible);
 * 4. stage 2: the Temporally-Sensitive Detail (TSD, Fourier high-pass) of the real frames and of the proxy renders;
 *    train the TSDM (diffusion UNet with IP-Adapter conditioning on f_c = [E(TSD_proxy), Linear(P), Linear(E)],
 *    Eq. 4), checkpointed — a re-run resumes;
 * 5. generate aligned TSD for the held-out frames (DDIM, ensemble of shared-noise samples) and compare it and the
 *    proxy's TSD with the ground-truth TSD (MSE, frame-to-frame ΔMSE, change-curve correlation);
 * 6. write an image strip (GT | proxy | GT TSD | proxy TSD | aligned TSD) and a run manifest.
 *
 * Everything runs offline from fixed seeds; outputs go to `.runs/demo/` (override with `--out DIR`). About 4 minutes
 * on a 2-core CPU (wasm); `--quick` is a 1-minute smoke version with too little training to mean anything.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { backendReport, initBackend, readPng, tf, writePng, writeRunManifest } from '@consistent-avatar/core';
import { evaluateProxy, fitProxyAvatar, frameParams, readInstaDataset, renderProxy, synthesizeDataset } from '@consistent-avatar/proxy';
import { alignTsd, prepareTsdmData, resolveTsdmConfig, trainTsdm, tsdErrors } from '@consistent-avatar/tsd';
import { ssim } from '@consistent-avatar/metrics';

const args = process.argv.slice(2);
const outDir = resolve(args.includes('--out') ? args[args.indexOf('--out') + 1]! : '.runs/demo');
const QUICK = args.includes('--quick');
const SEED = 0;
const SIZE = 64; // frame side
const FRAMES = QUICK ? 48 : 320;
const TEST = QUICK ? 8 : 48;
const TSDM_STEPS = QUICK ? 20 : 400;
const timings: Record<string, number> = {};
const time = async <T>(name: string, f: () => T | Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const out = await f();
  timings[name] = Math.round(performance.now() - t0);
  return out;
};
const secs = (name: string) => `${(timings[name]! / 1000).toFixed(1)} s`;

mkdirSync(outDir, { recursive: true });
console.log(`ConsistentAvatar-TS demo — stages 1 → 2 on the SYNTHETIC head, small models trained here${QUICK ? ' (--quick: smoke run)' : ''}\n`);

// 1. Backend.
const backend = await time('backend', () => initBackend());
console.log(backendReport(backend), '\n');

// 2. A synthetic dataset (regenerated each run: it is seeded, so identical).
const dataDir = join(outDir, 'dataset');
rmSync(dataDir, { recursive: true, force: true });
const { root } = await time('dataset', () => synthesizeDataset({ out: dataDir, frames: FRAMES, size: SIZE, testFrames: TEST, seed: 1 }));
const ds = readInstaDataset(root);
console.log(`dataset: ${ds.frames.length} frames ${SIZE}², train ${ds.split.train.length}, held out ${ds.split.test.length} (${secs('dataset')})`);

// 3. Stage 1: the proxy avatar.
const proxy = await time('stage1', () => fitProxyAvatar(ds, { seed: SEED, steps: QUICK ? 40 : undefined }));
const held = ds.split.test;
const heldPsnr = evaluateProxy(proxy, ds).psnr;
const proxyRenders = held.map((i) => renderProxy(proxy, frameParams(ds.frames[i]!), { supersample: 2 }).rgb);
const gtFrames = held.map((i) => readPng(ds.frames[i]!.imagePath, { channels: 3 }).data);
const heldSsim = proxyRenders.reduce((s, r, k) => s + ssim({ data: r, height: SIZE, width: SIZE, channels: 3 }, { data: gtFrames[k]!, height: SIZE, width: SIZE, channels: 3 }), 0) / held.length;
console.log(`stage 1 proxy fitted in ${secs('stage1')}: held-out PSNR ${heldPsnr.toFixed(2)} dB, SSIM ${heldSsim.toFixed(3)}`);

// 4. Stage 2: TSD pairs and the TSDM (default CPU config except the number of steps).
const config = resolveTsdmConfig({ iterations: TSDM_STEPS, seed: SEED, checkpointEvery: 50, logEvery: 25 });
const data = await time('tsd', () => prepareTsdmData(ds, proxy, config));
console.log(`TSD (${config.size}², ω = ${config.tsdRadius}) of ${data.frames.length} real frames and proxy renders in ${secs('tsd')}`);
console.log(`training the TSDM for ${TSDM_STEPS} steps (checkpoints in ${join(outDir, 'tsdm')}; a re-run resumes) …`);
const trained = await time('stage2', () =>
  trainTsdm(data, config, {
    checkpointDir: join(outDir, 'tsdm'),
    onProgress: ({ step, iterations, loss }) => console.log(`  step ${step}/${iterations}  loss ${loss.toFixed(4)}`),
  }),
);
console.log(`TSDM trained in ${secs('stage2')}${trained.resumedFrom ? ` (resumed from ${trained.resumedFrom})` : ''}`);

// 5. Aligned TSD for the held-out frames vs the ground truth.
const test = data.split.test.map((i) => data.frames[i]!);
const truth = test.map((f) => f.gt!);
const aligned = await time('align', () => alignTsd(trained.model, test, { seed: SEED })); // DDIM 10, ensemble 8
const summary = (r: ReturnType<typeof tsdErrors>) => ({ mse: r.mse, deltaMse: r.deltaMse, changeCorrelation: r.changeCorrelation });
const results = { proxy: summary(tsdErrors(test.map((f) => f.proxy), truth)), tsdm: summary(tsdErrors(aligned, truth)) };
const row = (name: string, r: typeof results.proxy) => console.log(`  ${name.padEnd(12)} MSE ${r.mse.toFixed(5)}   ΔMSE ${r.deltaMse.toFixed(5)}   change corr. ${r.changeCorrelation.toFixed(3)}`);
console.log(`aligned TSD of ${test.length} held-out frames in ${secs('align')} — error vs the ground-truth TSD (lower / lower / higher is better):`);
row('proxy TSD', results.proxy);
row('TSDM', results.tsdm);

// 6. The strip (4 held-out frames × GT | proxy | GT TSD | proxy TSD | aligned TSD) and the manifest.
const shown = [0, 1, 2, 3].map((k) => Math.round((k * (held.length - 1)) / 3));
const cols = 5, W = SIZE * cols;
const strip = new Float32Array(shown.length * SIZE * W * 3);
const up = SIZE / config.size; // TSD maps are config.size²: nearest-neighbour upscaled, shown as 0.5 + 0.5·TSD
shown.forEach((k, r) => {
  const maps = [truth[k]!, test[k]!.proxy, aligned[k]!];
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++)
      for (let c = 0; c < 3; c++) {
        const o = ((r * SIZE + y) * W + x) * 3 + c, i = (y * SIZE + x) * 3 + c;
        strip[o] = gtFrames[k]![i]!;
        strip[o + SIZE * 3] = proxyRenders[k]![i]!;
        const j = (Math.floor(y / up) * config.size + Math.floor(x / up)) * 3 + c;
        maps.forEach((m, col) => (strip[o + (2 + col) * SIZE * 3] = Math.min(1, Math.max(0, 0.5 + 0.5 * m[j]!))));
      }
});
writePng(join(outDir, 'strip.png'), { width: W, height: shown.length * SIZE, channels: 3, data: strip });
writeRunManifest(outDir, {
  config: { label: 'demo on the SYNTHETIC head (embedded default)', quick: QUICK, size: SIZE, frames: FRAMES, heldOut: TEST, tsdm: config },
  seed: SEED,
  backend: backendReport(backend),
  timings,
  extra: { results: { stage1: { psnr: heldPsnr, ssim: heldSsim }, stage2: results, tsdmLossLog: trained.lossLog } },
});
console.log(`\nwrote ${join(outDir, 'strip.png')} (GT | proxy | GT TSD | proxy TSD | aligned TSD) and ${join(outDir, 'manifest.json')}`);
trained.model.dispose();
proxy.dispose();
if (tf.memory().numTensors > 0) console.log(`(tensors still held: ${tf.memory().numTensors})`);
