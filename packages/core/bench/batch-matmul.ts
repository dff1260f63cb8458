/**
 * Batched matmul on the wasm backend: our SIMD kernel (`src/kernels/wasm-batch-matmul.ts`) against tfjs-wasm 4.22's
 * own BatchMatMul (`setWasmBatchMatMulKernel(false)`), numpy and PyTorch (1 thread each, `bench/batch_matmul_ref.py`
 * via Debian's /usr/bin/python3), on the products of a small diffusion UNet's attention (the TSDM's: 4 images × 4
 * heads, 256 tokens, head size 8) and of the diffusion fixture UNet at a 32² latent (head size 4, 1,024 tokens).
 * Median ms per product (kernel time: wasm kernels run synchronously, the output is not read back); the SD-size rows
 * take 3 repeats. The reference script gets the same shapes and repeats.
 *
 *   node --conditions=source --import tsx packages/core/bench/batch-matmul.ts [--repeats 15]
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/init.js';
import { tf } from '../src/backend/tf.js';
import { setWasmBatchMatMulKernel } from '../src/kernels/register.js';
import { Rng } from '../src/random.js';
import { medianMs } from '../../../scripts/bench/timing.js';

const repeatsArg = process.argv.indexOf('--repeats');
const repeats = repeatsArg > 0 ? Number(process.argv[repeatsArg + 1]) : 15;
await initBackend('wasm');

// [batch, M, K, N], what it is, and whether it is heavy (3 repeats: tfjs-wasm's own kernel takes seconds)
const cases: [number, number, number, number, string, boolean?][] = [
  [16, 256, 8, 256, 'TSDM attention scores q·kᵀ'],
  [16, 256, 256, 8, 'TSDM attention output P·v'],
  [16, 8, 256, 256, 'TSDM gradient vᵀ·P-like'],
  [32, 1024, 4, 1024, 'fixture UNet at 32²: scores'],
  [32, 1024, 1024, 4, 'fixture UNet at 32²: P·v'],
  [1, 1024, 32, 32, 'a 2-D projection'],
  [1, 4096, 32, 128, 'a 2-D projection'],
  [1, 1024, 128, 32, 'a 2-D projection'],
  [1, 1024, 256, 256, 'a 2-D product, B = 256 KiB'],
  [1, 4096, 320, 1280, 'SD feed-forward, B = 1.6 MiB: XNNPACK route', true],
  [8, 4096, 40, 4096, 'SD 1.5 at 512², 8 heads: scores q·kᵀ', true],
  [8, 4096, 4096, 40, 'SD 1.5 at 512², 8 heads: P·v', true],
];

const rng = new Rng(0);
const rows: { label: string; shape: string; ours: number; tfjs: number; maxDiff: number; gflop: number }[] = [];
for (const [B, M, K, N, label, heavy] of cases) {
  const a = tf.tensor3d(Float32Array.from(rng.normal(B * M * K)), [B, M, K]);
  const b = tf.tensor3d(Float32Array.from(rng.normal(B * K * N)), [B, K, N]);
  const run = () => tf.tidy(() => { tf.matMul(a, b); }); // wasm kernels run synchronously: no read-back needed
  const value = () => {
    const c = tf.matMul(a, b);
    const data = c.dataSync().slice();
    c.dispose();
    return data;
  };
  const reps = heavy ? Math.min(3, repeats) : repeats;
  const ours = medianMs(run, reps);
  const mine = value();
  setWasmBatchMatMulKernel(false);
  const tfjs = medianMs(run, reps);
  const theirs = value();
  setWasmBatchMatMulKernel(true);
  let maxDiff = 0;
  for (let i = 0; i < mine.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i]! - theirs[i]!));
  rows.push({ label, shape: `[${B},${M},${K}]·[${B},${K},${N}]`, ours, tfjs, maxDiff, gflop: (2 * B * M * K * N) / 1e9 });
  tf.dispose([a, b]);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ref = spawnSync('/usr/bin/python3', [path.join(here, 'batch_matmul_ref.py'), JSON.stringify(cases.map((c) => c.slice(0, 4))), String(repeats)], { encoding: 'utf8' });
const py = ref.status === 0 ? (JSON.parse(ref.stdout.trim().split('\n').at(-1)!) as { numpy: number[]; torch: number[] }) : null;
if (!py) console.log(`reference failed: ${ref.stderr}`);

console.log(`${os.cpus().length} cores, load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}, median of ${repeats}`);
console.log('| product | shape | ours (ms, GFLOP/s) | tfjs-wasm own (ms) | numpy 1 thr (ms) | torch 1 thr (ms) | ours ÷ tfjs | ours ÷ numpy | ours ÷ torch | max \\|ours − tfjs\\| |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
rows.forEach((r, i) => {
  const np = py?.numpy[i], pt = py?.torch[i];
  console.log(`| ${r.label} | ${r.shape} | ${r.ours.toFixed(2)} (${(r.gflop / r.ours * 1e3).toFixed(1)}) | ${r.tfjs.toFixed(2)} | ${np?.toFixed(2) ?? '—'} | ${pt?.toFixed(2) ?? '—'} | ${(r.ours / r.tfjs).toFixed(2)} | ${np ? (r.ours / np).toFixed(2) : '—'} | ${pt ? (r.ours / pt).toFixed(2) : '—'} | ${r.maxDiff.toExponential(1)} |`);
});
