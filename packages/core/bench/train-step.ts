/**
 * bench/train-step: one training step (forward + backward + AdamW) of a ~2.1 M-parameter UNet-like network
 * (conv, group norm, self-attention, nearest upsampling, skips) on a 64×64 batch of 4, on the wasm and cpu backends
 * and in PyTorch CPU with the same weights and inputs, measured side by side in one run.
 *
 *   node --conditions=source --import tsx packages/core/bench/train-step.ts [--steps 3] [--cpu-steps 1] [--no-cpu] [--no-torch]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, useBackend, AdamW, Rng, writeSafetensors, backendReport } from '../src/index.js';
import { TinyUNet } from '../test/tiny-unet.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const STEPS = flag('--steps', 3);
const CPU_STEPS = flag('--cpu-steps', 1);
const here = dirname(fileURLToPath(import.meta.url));

const B = 4;
const S = 64;
const rng = new Rng(2024);
const noiseValues = rng.normal(B * S * S * 3);
const cleanValues = rng.normal(B * S * S * 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** `warmup` steps are run but not timed (wasm compiles and allocates on the first one; the pure-JS cpu backend does not). */
async function runTfjs(backend: 'wasm' | 'cpu', steps: number, dir: string, warmup = 1) {
  await useBackend(backend);
  const net = new TinyUNet(1);
  if (backend === 'wasm') {
    writeSafetensors(join(dir, 'weights.safetensors'), net.stateDict({ layout: 'torch' }));
  }
  const noise = tf.tensor4d(noiseValues, [B, S, S, 3]);
  const noisy = tf.add(tf.tensor4d(cleanValues, [B, S, S, 3]), noise) as tf.Tensor4D;
  if (backend === 'wasm') writeSafetensors(join(dir, 'inputs.safetensors'), { noisy, noise });
  const opt = new AdamW(net, { lr: 1e-4 });
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps + warmup; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { loss } = opt.step(() => tf.mean(tf.square(tf.sub(net.forward(noisy), noise))) as tf.Scalar);
    const dt = performance.now() - t0;
    const dc = process.cpuUsage(c0);
    if (i >= warmup) {
      times.push(dt);
      cpuTimes.push((dc.user + dc.system) / 1000);
    }
    losses.push(loss);
    console.log(`  ${backend} step ${i + 1}/${steps + warmup}${i < warmup ? ' (warm-up)' : ''}: ${dt.toFixed(0)} ms wall, ${((dc.user + dc.system) / 1000).toFixed(0)} ms CPU, loss ${loss.toFixed(5)}`);
  }
  const params = net.parameterCount();
  opt.dispose();
  net.dispose();
  tf.dispose([noise, noisy]);
  return { backend, params, stepMs: median(times), cpuMs: median(cpuTimes), losses };
}

function runTorch(dir: string, threads: number, steps: number) {
  const out = execFileSync('/usr/bin/python3', [join(here, 'train_step_torch.py'), join(dir, 'weights.safetensors'), join(dir, 'inputs.safetensors'), String(threads), String(steps)], {
    encoding: 'utf8',
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { step_ms: number[]; cpu_ms: number[]; losses: number[] };
  return { stepMs: median(r.step_ms), cpuMs: median(r.cpu_ms), losses: r.losses };
}

async function main() {
  await initBackend('wasm');
  console.log(backendReport());
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  const dir = mkdtempSync(join(tmpdir(), 'ca-bench-'));
  try {
    const wasm = await runTfjs('wasm', STEPS, dir);
    console.log(`network: TinyUNet, ${wasm.params.toLocaleString('en')} parameters, batch ${B}, ${S}×${S}`);
    const rows: Array<[string, number, number, number[]]> = [['tfjs wasm (SIMD, 1 thread)', wasm.stepMs, wasm.cpuMs, wasm.losses]];
    if (!args.includes('--no-cpu')) {
      const cpu = await runTfjs('cpu', CPU_STEPS, dir, 0);
      rows.push(['tfjs cpu (pure JS)', cpu.stepMs, cpu.cpuMs, cpu.losses]);
    }
    if (!args.includes('--no-torch')) {
      for (const threads of [1, 2]) {
        const t = runTorch(dir, threads, STEPS);
        console.log(`  PyTorch ${threads} thread(s): ${t.stepMs.toFixed(0)} ms wall, ${t.cpuMs.toFixed(0)} ms CPU per step`);
        rows.push([`PyTorch CPU (${threads} thread${threads > 1 ? 's' : ''})`, t.stepMs, t.cpuMs, t.losses]);
      }
    }
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(', ')}`);
    console.log('\n| implementation | median step wall (ms) | median step CPU (ms) | wall ÷ wasm wall | CPU ÷ wasm CPU | losses (first two steps) |');
    console.log('|---|---:|---:|---:|---:|---|');
    for (const [name, ms, cpuMs, losses] of rows) {
      console.log(
        `| ${name} | ${ms.toFixed(0)} | ${cpuMs.toFixed(0)} | ${(ms / wasm.stepMs).toFixed(2)} | ${(cpuMs / wasm.cpuMs).toFixed(2)} | ${losses.slice(0, 2).map((l) => l.toFixed(5)).join(', ')} |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
