/**
 * bench/sampling-schedulers: the scheduler's own cost per sampling step — DDIM-50 (η = 0), LCM-4 and DDPM-50
 * (fixed_small, noise drawn every step) — with a fixed model output, so no network runs. Ours on the wasm and cpu
 * backends; the reference is diffusers' step math written out in PyTorch and NumPy (float32, `/usr/bin/python3`,
 * `bench/sampling_schedulers_ref.py`), run in the same invocation. Also prints the DDIM-50 result's distance to the
 * PyTorch loop as a sanity check.
 *
 *   node --conditions=source --import tsx packages/diffusion/bench/sampling-schedulers.ts [--reps 5] [--threads 1] [--no-cpu]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, backendReport, initBackend, tf, useBackend } from '@consistent-avatar/core';
import { DDIMScheduler, DDPMScheduler, LCMScheduler, type Scheduler } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const REPS = flag('--reps', 5);
const THREADS = flag('--threads', 1);
const here = dirname(fileURLToPath(import.meta.url));

/** SD 1.5 latent (512² image) and SDXL latent (1024² image), NHWC. */
const SHAPES: number[][] = [
  [1, 64, 64, 4],
  [1, 128, 128, 4],
];
const SD = { beta_schedule: 'scaled_linear' as const, beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 };

interface Case {
  name: string;
  kind: 'ddim' | 'lcm' | 'ddpm';
  make: () => Scheduler;
  steps: number;
}
const CASES: Case[] = [
  { name: 'DDIM-50', kind: 'ddim', make: () => new DDIMScheduler(SD), steps: 50 },
  { name: 'LCM-4', kind: 'lcm', make: () => new LCMScheduler(), steps: 4 },
  { name: 'DDPM-50', kind: 'ddpm', make: () => new DDPMScheduler({ ...SD, variance_type: 'fixed_small' }), steps: 50 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One full sampling loop with a constant model output; returns the final sample. */
function sample(scheduler: Scheduler, x0: tf.Tensor, eps: tf.Tensor, rng: Rng): tf.Tensor {
  let x = tf.clone(x0);
  for (const t of scheduler.timesteps) {
    const { prevSample, denoised } = scheduler.step(eps, t, x, { rng });
    tf.dispose([x, denoised]);
    x = prevSample;
  }
  return x;
}

async function timeOurs(backend: 'wasm' | 'cpu', reps: number): Promise<Record<string, number>> {
  await useBackend(backend);
  const out: Record<string, number> = {};
  for (const shape of SHAPES) {
    const size = shape.reduce((a, b) => a * b, 1);
    const x0 = tf.tensor(new Rng(0).normal(size), shape, 'float32');
    const eps = tf.tidy(() => tf.mul(0.5, tf.tanh(x0)));
    for (const c of CASES) {
      const scheduler = c.make();
      const times: number[] = [];
      for (let rep = 0; rep <= reps; rep++) {
        scheduler.setTimesteps(c.steps);
        const t0 = performance.now();
        const x = sample(scheduler, x0, eps, new Rng(rep));
        x.dataSync(); // wait for the backend
        const dt = performance.now() - t0;
        x.dispose();
        if (rep > 0) times.push(dt / c.steps); // rep 0 warms up
      }
      out[`${c.name} ${shape.join('x')}`] = median(times);
    }
    tf.dispose([x0, eps]);
  }
  return out;
}

async function main() {
  await initBackend('wasm');
  console.log(backendReport());
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);

  const wasm = await timeOurs('wasm', REPS);
  const cpu = args.includes('--no-cpu') ? null : await timeOurs('cpu', Math.max(1, Math.floor(REPS / 2)));

  // Reference: the same loops in PyTorch / NumPy.
  await useBackend('wasm');
  const first = SHAPES[0]!;
  const xValues = Array.from(new Rng(11).normal(first.reduce((a, b) => a * b, 1)));
  const cases = CASES.map((c) => {
    const s = c.make();
    s.setTimesteps(c.steps);
    return { name: c.name, kind: c.kind, timesteps: [...s.timesteps], T_over_n: Math.floor(1000 / c.steps) };
  });
  const dir = mkdtempSync(join(tmpdir(), 'ca-sched-bench-'));
  let ref: { torch: Record<string, number>; numpy: Record<string, number>; torch_version: string; numpy_version: string; threads: number; ddim_final: number[] };
  try {
    const configPath = join(dir, 'config.json');
    const alphas = Array.from(new LCMScheduler().alphasCumprod);
    writeFileSync(configPath, JSON.stringify({ shapes: SHAPES, reps: REPS, threads: THREADS, cases, alphas_cumprod: alphas, x: xValues }));
    const stdout = execFileSync('/usr/bin/python3', [join(here, 'sampling_schedulers_ref.py'), configPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
    ref = JSON.parse(stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Sanity: the deterministic DDIM-50 loop matches the PyTorch loop (the scheduler fixtures are the real parity test).
  const ddim = new DDIMScheduler(SD);
  ddim.setTimesteps(50);
  const x = tf.tensor(xValues, first, 'float32');
  const eps = tf.tidy(() => tf.mul(0.5, tf.tanh(x)));
  const final = sample(ddim, x, eps, new Rng(0));
  const ours = final.dataSync();
  let maxDiff = 0;
  let maxRef = 0;
  ref.ddim_final.forEach((v, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - v));
    maxRef = Math.max(maxRef, Math.abs(v));
  });
  tf.dispose([x, eps, final]);

  console.log(`reference: torch ${ref.torch_version} (${ref.threads} thread), numpy ${ref.numpy_version}; ${REPS} timed loops, median`);
  console.log(`DDIM-50 final sample vs the PyTorch loop: max |diff| ${maxDiff.toExponential(2)} (max |x| ${maxRef.toFixed(1)})`);
  console.log('');
  console.log('| scheduler, latent [B,H,W,C] | ours wasm ms/step | ours cpu ms/step | torch ms/step | numpy ms/step | wasm ÷ torch |');
  console.log('|---|---|---|---|---|---|');
  for (const key of Object.keys(wasm)) {
    const t = ref.torch[key]!;
    const n = ref.numpy[key]!;
    const c = cpu ? cpu[key]!.toFixed(3) : '—';
    console.log(`| ${key} | ${wasm[key]!.toFixed(3)} | ${c} | ${t.toFixed(3)} | ${n.toFixed(3)} | ${(wasm[key]! / t).toFixed(2)} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
