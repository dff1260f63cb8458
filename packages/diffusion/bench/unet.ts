/**
 * UNet benchmark: forward and forward+backward of (a) the diffusers fixture UNet (546,724 params, 2×4×16×16 latent)
 * and (b) a ~10 M-parameter SD-style UNet at a 32×32 latent, ours on tfjs-wasm (SIMD, 1 thread) against the PyTorch
 * CPU reference in bench/unet_torch.py (same architecture, same safetensors weights) at 1 and 2 threads, run in the
 * same process tree. Also: the outputs of both sides are compared, a per-kernel profile of our forward with achieved
 * GFLOP/s, and the bare-matmul peak of each side.
 *
 * Run: `node --conditions=source --import tsx packages/diffusion/bench/unet.ts` (env REPEATS=5 by default).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, useBackend, writeNpz } from '@consistent-avatar/core';
import { UNet2DConditionModel, type UNet2DConditionConfig } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPEATS = Number(process.env.REPEATS ?? 5);
const PYTHON = '/usr/bin/python3';

interface Case {
  name: string;
  build: () => UNet2DConditionModel;
  batch: number;
  size: number;
  textLen: number;
}

const MEDIUM: Partial<UNet2DConditionConfig> = {
  block_out_channels: [64, 128, 256],
  layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  cross_attention_dim: 256,
  attention_head_dim: 8,
  norm_num_groups: 32,
};

const cases: Case[] = [
  { name: 'fixture UNet (0.55 M params, 2×4×16×16)', build: () => UNet2DConditionModel.fromPretrained(join(here, '../test/fixtures/models/unet')), batch: 2, size: 16, textLen: 7 },
  { name: 'medium UNet (~10 M params, 1×4×32×32)', build: () => new UNet2DConditionModel(MEDIUM, { seed: 0 }), batch: 1, size: 32, textLen: 8 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  fn(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** FLOPs of a profiled kernel (multiply-adds × 2) for the kernels that dominate; 0 for the rest. */
function kernelFlops(k: { name: string; inputShapes: number[][]; outputShapes: number[][] }): number {
  const out = k.outputShapes[0] ?? [];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (k.name === 'Conv2D' || k.name === 'FusedConv2D') {
    const f = k.inputShapes[1]!; // [kh, kw, in, out]
    return 2 * size(out) * f[0]! * f[1]! * f[2]!;
  }
  if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
    const a = k.inputShapes[0]!;
    const b = k.inputShapes[1]!;
    const inner = a.length === b.length && a[a.length - 1] === b[b.length - 2] ? a[a.length - 1]! : a[a.length - 1] === b[b.length - 1] ? a[a.length - 1]! : a[a.length - 2]!;
    return 2 * size(out) * inner;
  }
  return 0;
}

function wasmMatmulPeak(): number {
  const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2) as tf.Tensor2D;
  const ms = time(() => tf.matMul(a, b).dataSync());
  tf.dispose([a, b]);
  return (2 * 1024 ** 3) / (ms / 1000) / 1e9;
}

await useBackend('wasm');
const lines: string[] = [];
const log = (s: string) => {
  console.log(s);
  lines.push(s);
};
const peak = wasmMatmulPeak();
log(`wasm bare matmul 1024³: ${peak.toFixed(1)} GFLOP/s (1 thread, SIMD)`);

for (const c of cases) {
  const unet = c.build();
  const dir = mkdtempSync(join(tmpdir(), 'ca-unet-bench-'));
  unet.savePretrained(dir);
  const cfg = unet.config;
  const sample = tf.randomNormal([c.batch, c.size, c.size, cfg.in_channels], 0, 1, 'float32', 7) as tf.Tensor4D;
  const t = tf.tensor1d(Array.from({ length: c.batch }, (_, i) => 100 + 400 * i), 'float32');
  const text = tf.randomNormal([c.batch, c.textLen, cfg.cross_attention_dim], 0, 1, 'float32', 8);
  const nchw = tf.transpose(sample, [0, 3, 1, 2]);
  writeNpz(join(dir, 'inputs.npz'), {
    sample: { dtype: 'float32', shape: nchw.shape, data: nchw.dataSync() as Float32Array },
    timestep: { dtype: 'float32', shape: t.shape, data: t.dataSync() as Float32Array },
    text: { dtype: 'float32', shape: text.shape, data: text.dataSync() as Float32Array },
  });
  const fwd = () => tf.tidy(() => unet.forward(sample, t, text)).dataSync();
  const fwdBwd = () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(unet.forward(sample, t, text))) as tf.Scalar);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const ours = { forward: time(fwd), backward: time(fwdBwd) };
  // Output of ours in NCHW for the parity check against torch.
  const oursOut = tf.tidy(() => tf.transpose(unet.forward(sample, t, text), [0, 3, 1, 2]).reshape([-1]).slice(0, 4096)).dataSync();

  const torch: Record<number, { forward_ms: number; forward_backward_ms: number; params: number; output: number[]; matmul_gflops: number }> = {};
  for (const threads of [1, 2]) {
    const out = join(dir, `torch-${threads}.json`);
    const r = spawnSync(PYTHON, [join(here, 'unet_torch.py'), dir, join(dir, 'inputs.npz'), out, String(threads), String(REPEATS)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr}`);
    torch[threads] = JSON.parse(readFileSync(out, 'utf8'));
  }
  let maxDiff = 0;
  let maxRef = 0;
  torch[1]!.output.forEach((v, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - oursOut[i]!));
    maxRef = Math.max(maxRef, Math.abs(v));
  });

  // Per-kernel profile of one forward.
  const prof = await tf.profile(() => {
    tf.tidy(() => unet.forward(sample, t, text)).dataSync();
  });
  const agg = new Map<string, { ms: number; n: number; flops: number }>();
  let totalFlops = 0;
  let totalMs = 0;
  for (const k of prof.kernels) {
    const e = agg.get(k.name) ?? { ms: 0, n: 0, flops: 0 };
    const ms = Number(k.kernelTimeMs) || 0;
    const fl = kernelFlops(k as unknown as { name: string; inputShapes: number[][]; outputShapes: number[][] });
    e.ms += ms;
    e.n++;
    e.flops += fl;
    totalFlops += fl;
    totalMs += ms;
    agg.set(k.name, e);
  }

  log(`\n### ${c.name}: ${unet.parameterCount().toLocaleString('en-US')} params (torch ${torch[1]!.params.toLocaleString('en-US')}), output max |ours − torch| = ${maxDiff.toExponential(2)} (max |torch| ${maxRef.toFixed(3)})`);
  log('| pass | ours wasm 1 thread (ms) | torch 1 thread (ms) | ratio | torch 2 threads (ms) | ratio |');
  log('|---|---|---|---|---|---|');
  for (const [label, o, key] of [['forward', ours.forward, 'forward_ms'], ['forward+backward', ours.backward, 'forward_backward_ms']] as const) {
    const t1 = torch[1]![key];
    const t2 = torch[2]![key];
    log(`| ${label} | ${o.toFixed(1)} | ${t1.toFixed(1)} | ${(o / t1).toFixed(1)}× | ${t2.toFixed(1)} | ${(o / t2).toFixed(1)}× |`);
  }
  log(`torch bare matmul 1024³: ${torch[1]!.matmul_gflops.toFixed(1)} GFLOP/s (1 thread), ${torch[2]!.matmul_gflops.toFixed(1)} (2 threads)`);
  log(`forward profile: ${prof.kernels.length} kernels, ${totalMs.toFixed(1)} ms kernel time, ${(totalFlops / 1e9).toFixed(3)} GFLOP in conv/matmul → ${(totalFlops / 1e9 / (totalMs / 1000)).toFixed(1)} GFLOP/s over all kernel time (wasm matmul peak ${peak.toFixed(1)})`);
  log('| kernel | calls | ms | share | GFLOP/s |');
  log('|---|---|---|---|---|');
  for (const [name, e] of [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
    log(`| ${name} | ${e.n} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / totalMs).toFixed(0)}% | ${e.flops ? (e.flops / 1e9 / (e.ms / 1000)).toFixed(1) : '–'} |`);
  }
  tf.dispose([sample, t, text, nchw]);
  unet.dispose();
}
console.log('\n(markdown above is what BENCHMARKS.md records)');
void lines;
