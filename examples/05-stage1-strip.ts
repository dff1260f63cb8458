/**
 * Stage 1 on the embedded **synthetic** head: synthesise an INSTA-layout talking-head dataset, fit the coarse proxy
 * avatar (low-resolution UV texture + SH lighting) to its training frames, report PSNR on the held-out frames, and
 * write an image strip — one row per emotion segment of the performance: GT | proxy | normal map | TSD of the proxy (paper preset, ω = 10,
 * shown as 0.5 + 2·TSD).
 *
 * Run: `node --conditions=source --import tsx examples/05-stage1-strip.ts [--out .runs/05-stage1] [--frames 300] [--size 256] [--steps 300]`
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, backendReport, readPng, writeJsonAtomic, writePng } from '@consistent-avatar/core';
import { evaluateProxy, fitProxyAvatar, frameParams, readInstaDataset, renderProxy, synthesizeDataset } from '@consistent-avatar/proxy';
import { extractTsd } from '@consistent-avatar/tsd';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const out = resolve(arg('out', '.runs/05-stage1'));
const frames = Number(arg('frames', '300'));
const size = Number(arg('size', '256'));
const steps = Number(arg('steps', '300'));
const identity = Number(arg('identity', '0'));

await initBackend();
console.log(backendReport());
mkdirSync(out, { recursive: true });
rmSync(join(out, 'proxy'), { recursive: true, force: true }); // a fresh fit (checkpoints resume only the same run)

// 1. A synthetic INSTA-layout dataset (ground truth + tracked parameters + MEAD emotion labels).
let t0 = performance.now();
const { root } = await synthesizeDataset({ out: join(out, 'dataset'), frames, size, identity, seed: 1 });
const ds = readInstaDataset(root);
console.log(`synthetic dataset: ${ds.frames.length} frames ${size}², train ${ds.split.train.length}, test ${ds.split.test.length} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

// 2. Fit the proxy (texture 64², SH) with checkpoints and a loss log.
t0 = performance.now();
const proxy = await fitProxyAvatar(ds, {
  steps, textureSize: 64, checkpointDir: join(out, 'proxy'), seed: 0,
  onProgress: ({ step, loss }) => { if (step % 50 === 0) console.log(`  step ${step}/${steps}  L1 ${loss.toFixed(4)}`); },
});
console.log(`proxy fitted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// 3. PSNR on the held-out frames.
const { psnr, perFrame } = evaluateProxy(proxy, ds);
console.log(`proxy PSNR on ${perFrame.length} held-out frames: ${psnr.toFixed(2)} dB`);

// 4. The strip: one row per emotion segment (middle frame; up to 6 rows) × [GT | proxy | normal | TSD(proxy)].
//    Rows from the held-out split are marked "test" in the report; the others are training frames.
const middles = new Map<string, number[]>();
ds.frames.forEach((f, i) => middles.set(f.emotion ?? '?', [...(middles.get(f.emotion ?? '?') ?? []), i]));
const picks = [...middles.values()].map((idx) => idx[Math.floor(idx.length / 2)]!).sort((a, b) => a - b).slice(0, 6);
const cols = 4;
const W = size * cols, H = size * picks.length;
const strip = new Float32Array(W * H * 3);
const put = (row: number, col: number, rgb: Float32Array) => {
  for (let y = 0; y < size; y++) strip.set(rgb.subarray(y * size * 3, (y + 1) * size * 3), ((row * size + y) * W + col * size) * 3);
};
picks.forEach((i, row) => {
  const frame = ds.frames[i]!;
  const gt = readPng(frame.imagePath, { channels: 3 }).data;
  const r = renderProxy(proxy, frameParams(frame), { supersample: 2 });
  const tsd = extractTsd({ data: r.rgb, height: size, width: size, channels: 3 }, { preset: 'paper' });
  const tsdView = Float32Array.from(tsd.data, (v) => Math.min(1, Math.max(0, 0.5 + 2 * v)));
  put(row, 0, gt);
  put(row, 1, r.rgb);
  put(row, 2, r.normal);
  put(row, 3, tsdView);
  console.log(`  row ${row}: frame ${frame.id} (${frame.emotion}, ${ds.split.test.includes(i) ? 'test' : 'train'})`);
});
writePng(join(out, 'stage1-strip.png'), { width: W, height: H, channels: 3, data: strip });
writePng(join(out, 'proxy-texture.png'), proxy.texture);
writeJsonAtomic(join(out, 'stage1-report.json'), {
  label: 'synthetic', frames, size, steps, textureSize: 64, psnrHeldOut: psnr, perFrame, lossLog: proxy.lossLog,
  rows: picks.map((i) => ({ frame: ds.frames[i]!.id, emotion: ds.frames[i]!.emotion, split: ds.split.test.includes(i) ? 'test' : 'train' })),
});
console.log(`wrote ${join(out, 'stage1-strip.png')}`);
proxy.dispose();
