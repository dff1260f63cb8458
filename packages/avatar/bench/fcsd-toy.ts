/**
 * Toy task for stage 3: do the ControlNet on z_c and the decoupled-attention tokens f_d lower the error of the
 * generated frames against the same model without them?
 *
 * A small synthetic dataset (96 frames at 32², FCSD at 16²), the proxy fitted from the tracked parameters, TSD pairs
 * (no TSDM: the conditions carry the real frames' TSD, so they hold real information about the target). Three models
 * with the same seed:
 *   - with:            backbone B steps, then ControlNet + processors + tokens B steps (the backbone frozen);
 *   - backbone:        the same backbone (B steps), every condition switched off — the same model without them;
 *   - backbone-longer: every condition off, backbone 2B steps (the same number of optimiser steps as `with`).
 * Held-out frames (the last 16) rendered with DDIM; MSE / PSNR against the real frames, for two seeds.
 *
 *   node --conditions=source --import tsx packages/avatar/bench/fcsd-toy.ts [--steps 200] [--seeds 0,1] [--out FILE]
 *
 * Writes `packages/avatar/bench/results/fcsd-toy.json` (figures, command, commit, date, machine, load, seeds).
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, useBackend, writeJsonAtomic } from '@consistent-avatar/core';
import { psnr } from '@consistent-avatar/metrics';
import { fitProxyAvatar, protocolSplit, readInstaDataset, synthesizeDataset, SYNTHETIC_NUM_SHAPE } from '@consistent-avatar/proxy';
import { prepareTsdmData, resolveTsdmConfig } from '@consistent-avatar/tsd';
import { prepareFcsdData, renderFcsd, trainFcsd, type FcsdConfig } from '@consistent-avatar/avatar';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const STEPS = Number(flag('--steps', '150'));
const SEEDS = flag('--seeds', '0,1').split(',').map(Number);
const OUT = resolve(flag('--out', fileURLToPath(new URL('./results/fcsd-toy.json', import.meta.url))));
if (!Number.isInteger(STEPS) || STEPS < 1 || SEEDS.some((s) => !Number.isInteger(s))) throw new Error('fcsd-toy: --steps N (positive) and --seeds a,b (integers)');

await useBackend('wasm');
const tmp = mkdtempSync(join(tmpdir(), 'fcsd-toy-'));
const t0 = performance.now();
try {
  const { root } = await synthesizeDataset({ out: join(tmp, 'data'), frames: 96, size: 32, testFrames: 16, seed: 1, identity: 1, supersample: 1 });
  const ds = readInstaDataset(root);
  const split = protocolSplit(ds, { validationFrames: 8 });
  const proxy = await fitProxyAvatar({ ...ds, split: { ...ds.split, train: split.train } }, { steps: 100, textureSize: 32, seed: 0, shape: new Float32Array(SYNTHETIC_NUM_SHAPE) });
  const tsdm = prepareTsdmData(ds, proxy, resolveTsdmConfig({ size: 16, tsdRadius: 2 }));
  const base: Partial<FcsdConfig> = { size: 16, unetChannels: [16, 32], tokenDim: 32, textDim: 16, encoderWidth: 8, conditioningChannels: [16], controlLr: 2e-3, lcmIterations: 0, ddimSteps: 10, logEvery: 50, checkpointEvery: 1000 };
  const data = prepareFcsdData(ds, proxy, tsdm, { ...base, poseDim: 6, expressionDim: 100, size: 16 }, { emotions: ds.frames.map((f) => f.emotion ?? 'neutral') });
  proxy.dispose();
  const reference = split.test.map((i) => ({ data: data.frames[i]!.gt, height: 16, width: 16, channels: 3 }));
  const score = (frames: { data: Float32Array; height: number; width: number; channels: number }[]) => {
    const mse = frames.reduce((s, f, k) => s + f.data.reduce((a, v, j) => a + (v - reference[k]!.data[j]!) ** 2, 0) / f.data.length, 0) / frames.length;
    return { mse, psnr: frames.reduce((s, f, k) => s + psnr(f, reference[k]!), 0) / frames.length };
  };
  const runs: Record<string, unknown>[] = [];
  for (const seed of SEEDS) {
    const off: Partial<FcsdConfig> = { controlIterations: 0, useTsd: false, useNormal: false, useEmotion: false, useTsdToken: false, usePoseExpressionTokens: false };
    const variants: [string, Partial<FcsdConfig>][] = [
      ['with', { ...base, seed, backboneIterations: STEPS, controlIterations: STEPS }],
      ['backbone', { ...base, ...off, seed, backboneIterations: STEPS }],
      ['backbone-longer', { ...base, ...off, seed, backboneIterations: 2 * STEPS }],
    ];
    for (const [name, config] of variants) {
      const tr = performance.now();
      const { model, lossLog } = await trainFcsd(data, config, { train: split.train });
      const frames = renderFcsd(model, data, split.test, { sampler: 'ddim', tsdSource: 'gt', seed });
      model.dispose();
      const s = score(frames);
      runs.push({ seed, variant: name, ...s, finalLoss: lossLog.conditions.at(-1)?.loss ?? lossLog.backbone.at(-1)?.loss ?? null, seconds: (performance.now() - tr) / 1000 });
      console.log(`seed ${seed} ${name.padEnd(15)}: held-out MSE ${s.mse.toFixed(5)}, PSNR ${s.psnr.toFixed(2)} dB (${((performance.now() - tr) / 1000).toFixed(0)} s)`);
    }
  }
  const mean = (v: string, k: 'mse' | 'psnr') => runs.filter((r) => r.variant === v).reduce((s, r) => s + (r[k] as number), 0) / SEEDS.length;
  const summary = Object.fromEntries(['with', 'backbone', 'backbone-longer'].map((v) => [v, { mse: mean(v, 'mse'), psnr: mean(v, 'psnr') }]));
  const commit = (() => { try { return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return null; } })();
  writeJsonAtomic(OUT, {
    command: `node --conditions=source --import tsx packages/avatar/bench/fcsd-toy.ts ${args.join(' ')}`.trim(),
    commit, date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version },
    backend: tf.getBackend(), seeds: SEEDS, steps: STEPS,
    setup: 'synthetic identity 1, 96 frames 32² (FCSD 16²), last 16 held out, 8 validation frames; conditions carry the real frames\' TSD; DDIM 10 steps',
    summary, runs, seconds: (performance.now() - t0) / 1000,
  });
  console.log(`${Object.entries(summary).map(([k, v]) => `${k}: MSE ${v.mse.toFixed(5)} (PSNR ${v.psnr.toFixed(2)})`).join(', ')} → ${OUT}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
