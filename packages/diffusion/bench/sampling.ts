/**
 * bench/sampling: wall time per generated sample of the whole denoising loop (`sample()`: UNet + CFG + scheduler)
 * for DDIM-50 and DDIM-10 with classifier-free guidance (2 UNet evaluations per step, batched) and LCM-4 on the LCM
 * student of the same UNet (one evaluation per step, guidance through the w embedding). The UNet is the tiny
 * diffusers-fixture architecture (block_out_channels [32, 48], cross-attention 32) at a 32×32×4 latent; the ratio
 * between the rows is what transfers to SD-sized UNets, where the UNet dominates even more. Prints the machine load
 * (the numbers are only comparable at similar load).
 *
 *   node --conditions=source --import tsx packages/diffusion/bench/sampling.ts [--reps 3] [--size 32] [--backend wasm]
 */
import { loadavg, cpus } from 'node:os';
import { Rng, tf, useBackend, type BackendName } from '@consistent-avatar/core';
import { DDIMScheduler, LCMScheduler, UNet2DConditionModel, lcmStudentFromTeacher, sample, type Scheduler } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const REPS = Number(flag('--reps', '3'));
const SIZE = Number(flag('--size', '32'));
const BACKEND = flag('--backend', 'wasm') as BackendName;

await useBackend(BACKEND);
const SD = { beta_schedule: 'scaled_linear' as const, beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 };
const teacher = new UNet2DConditionModel({
  block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32, attention_head_dim: 8,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
}, { seed: 0 });
const student = lcmStudentFromTeacher(teacher, 32);
const text = tf.randomNormal([1, 7, 32], 0, 1, 'float32', 1);
const empty = tf.zeros([1, 7, 32]);

interface Case { name: string; unet: UNet2DConditionModel; make: () => Scheduler; steps: number; cfg: boolean; evals: number }
const cases: Case[] = [
  { name: 'DDIM-50 (CFG 7.5)', unet: teacher, make: () => new DDIMScheduler(SD), steps: 50, cfg: true, evals: 100 },
  { name: 'DDIM-10 (CFG 7.5)', unet: teacher, make: () => new DDIMScheduler(SD), steps: 10, cfg: true, evals: 20 },
  { name: 'LCM-4 (w embedding)', unet: student, make: () => new LCMScheduler(SD), steps: 4, cfg: false, evals: 4 },
];

const run = (c: Case, seed: number) => tf.dispose(sample({
  unet: c.unet, scheduler: c.make(), numInferenceSteps: c.steps, shape: [1, SIZE, SIZE, 4], rng: new Rng(seed),
  encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 7.5,
}));

console.log(`tfjs backend: ${tf.getBackend()}`);
console.log(`${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, latent ${SIZE}×${SIZE}×4, reps ${REPS}`);
const rows: Array<{ name: string; ms: number; cpuMs: number; evals: number }> = [];
for (const c of cases) {
  run(c, 0); // warm-up (kernel compilation, constant caches)
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    run(c, r + 1);
    const dc = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpuTimes.push((dc.user + dc.system) / 1000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  rows.push({ name: c.name, ms: median(times), cpuMs: median(cpuTimes), evals: c.evals });
}
const base = rows[0]!.ms;
const baseCpu = rows[0]!.cpuMs;
console.log('| sampler | UNet evaluations (batch items) | wall ms / sample (median) | CPU ms / sample (median) | speed-up vs DDIM-50 (wall / CPU) |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${r.evals} | ${r.ms.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${(base / r.ms).toFixed(1)}× / ${(baseCpu / r.cpuMs).toFixed(1)}× |`);
console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
teacher.dispose();
student.dispose();
tf.dispose([text, empty]);
