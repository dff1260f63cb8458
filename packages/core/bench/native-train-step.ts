/**
 * bench/native-train-step: one AdamW training step of `TinyUNet` (test/tiny-unet.ts, 2.1 M parameters, batch 4,
 * 64²) on wasm with the native kernel provider off, on with 1 ONNX Runtime thread and on with 2, against PyTorch CPU
 * with 1 and 2 threads (train_step_torch.py: same architecture, weights and inputs), all in one run — plus the
 * provider on with 2 threads and core's fused group-norm kernels off (the composition from tf ops), to show what the
 * fused kernels (src/kernels/group-norm.ts) changed side by side; then a
 * per-kernel profile (`tf.profile`) of one step with the provider on (2 threads), and the cost of the native
 * binding's output copy. Writes everything to a JSON result file.
 *
 *   node --conditions=source --import tsx packages/core/bench/native-train-step.ts [--steps 3] [--out packages/core/bench/results/native-train-step.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  tf,
  initBackend,
  AdamW,
  Rng,
  writeSafetensors,
  writeJsonAtomic,
  gitState,
  enableNativeKernels,
  disableNativeKernels,
  nativeKernelStatus,
  resetNativeKernelStats,
  setFusedGroupNorm,
  encodeOnnxModel,
  loadOrtBinding,
} from '../src/index.js';
import { TinyUNet } from '../test/tiny-unet.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const STEPS = Number(option('--steps', '3'));
const here = dirname(fileURLToPath(import.meta.url));
const OUT = option('--out', join(here, 'results', 'native-train-step.json'));
const SEED = 2024;
const B = 4;
const S = 64;
const rng = new Rng(SEED);
const noiseValues = rng.normal(B * S * S * 3);
const cleanValues = rng.normal(B * S * S * 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loads: number[][] = [];

interface Row {
  implementation: string;
  stepMs: number;
  cpuMs: number;
  losses: number[];
}

function input() {
  const noise = tf.tensor4d(noiseValues, [B, S, S, 3]);
  const noisy = tf.add(tf.tensor4d(cleanValues, [B, S, S, 3]), noise) as tf.Tensor4D;
  return { noise, noisy };
}

/** One untimed warm-up step then `STEPS` timed ones; a fresh network from the same seed each time. */
function runTfjs(label: string, dir?: string): Row {
  const net = new TinyUNet(1);
  const { noise, noisy } = input();
  if (dir) {
    writeSafetensors(join(dir, 'weights.safetensors'), net.stateDict({ layout: 'torch' }));
    writeSafetensors(join(dir, 'inputs.safetensors'), { noisy, noise });
  }
  const opt = new AdamW(net, { lr: 1e-4 });
  const times: number[] = [], cpuTimes: number[] = [], losses: number[] = [];
  for (let i = 0; i < STEPS + 1; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { loss } = opt.step(() => tf.mean(tf.square(tf.sub(net.forward(noisy), noise))) as tf.Scalar);
    const dt = performance.now() - t0;
    const dc = process.cpuUsage(c0);
    if (i > 0) {
      times.push(dt);
      cpuTimes.push((dc.user + dc.system) / 1000);
    }
    losses.push(loss);
    console.log(`  ${label} step ${i + 1}/${STEPS + 1}${i === 0 ? ' (warm-up)' : ''}: ${dt.toFixed(0)} ms wall, ${((dc.user + dc.system) / 1000).toFixed(0)} ms CPU, loss ${loss.toFixed(5)}`);
  }
  loads.push(loadavg());
  opt.dispose();
  net.dispose();
  tf.dispose([noise, noisy]);
  return { implementation: label, stepMs: median(times), cpuMs: median(cpuTimes), losses };
}

function runTorch(dir: string, threads: number): Row {
  const out = execFileSync('/usr/bin/python3', [join(here, 'train_step_torch.py'), join(dir, 'weights.safetensors'), join(dir, 'inputs.safetensors'), String(threads), String(STEPS)], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { step_ms: number[]; cpu_ms: number[]; losses: number[] };
  loads.push(loadavg());
  console.log(`  PyTorch ${threads} thread(s): ${median(r.step_ms).toFixed(0)} ms wall per step, losses ${r.losses.map((l) => l.toFixed(5)).join(', ')}`);
  return { implementation: `PyTorch ${torchVersion()} CPU, ${threads} thread${threads > 1 ? 's' : ''}`, stepMs: median(r.step_ms), cpuMs: median(r.cpu_ms), losses: r.losses };
}

function torchVersion(): string {
  return execFileSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
}

/** Kernel time of one step by kernel name (provider on, 2 threads), from tf.profile. */
async function profileStep(): Promise<Array<{ kernel: string; ms: number; calls: number; share: number }>> {
  const net = new TinyUNet(1);
  const { noise, noisy } = input();
  const opt = new AdamW(net, { lr: 1e-4 });
  opt.step(() => tf.mean(tf.square(tf.sub(net.forward(noisy), noise))) as tf.Scalar); // warm-up
  const profile = await tf.profile(() => {
    opt.step(() => tf.mean(tf.square(tf.sub(net.forward(noisy), noise))) as tf.Scalar);
  });
  const byName = new Map<string, { ms: number; calls: number }>();
  let total = 0;
  for (const k of profile.kernels) {
    const ms = Number(k.kernelTimeMs);
    total += ms;
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    byName.set(k.name, e);
  }
  opt.dispose();
  net.dispose();
  tf.dispose([noise, noisy]);
  return [...byName.entries()]
    .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: e.ms / total }))
    .sort((a, b) => b.ms - a.ms);
}

/**
 * The pinned binding copies every output into a fresh ArrayBuffer after writing it in place (its result object);
 * measured here as the run time of a one-node `Neg` graph on the 4 MiB activation size of TinyUNet's 64² layers.
 */
function outputCopyCost(): { bytes: number; medianMs: number } {
  const ort = loadOrtBinding();
  if (!ort.available) return { bytes: 0, medianMs: NaN };
  const n = B * S * S * 64;
  const session = ort.createSession(encodeOnnxModel({ opset: 17, inputs: [{ name: 'x', dims: [n] }], outputs: [{ name: 'y', dims: [n] }], nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['y'] }] }), { intraOpThreads: 1 });
  const x = new Float32Array(n), y = new Float32Array(n);
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    session.run({ x: { dims: [n], data: x } }, { y: { dims: [n], data: y } });
    times.push(performance.now() - t0);
  }
  session.dispose();
  return { bytes: n * 4, medianMs: median(times) };
}

async function main() {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'ca-native-bench-'));
  const rows: Row[] = [];
  try {
    disableNativeKernels();
    rows.push(runTfjs('tfjs wasm (SIMD, 1 thread), native provider off', dir));
    for (const threads of [1, 2]) {
      const status = enableNativeKernels({ threads });
      if (!status.active) throw new Error(`native provider inactive: ${status.reason}`);
      resetNativeKernelStats();
      const row = runTfjs(`tfjs wasm + ONNX Runtime kernels, ${threads} thread${threads > 1 ? 's' : ''}`);
      const counters = nativeKernelStatus().counters;
      console.log(`  native calls over ${STEPS + 1} steps: ${JSON.stringify(counters)}`);
      rows.push(row);
    }
    for (const threads of [1, 2]) rows.push(runTorch(dir, threads));
    enableNativeKernels({ threads: 2 });
    setFusedGroupNorm(false);
    const unfused = runTfjs('tfjs wasm + ONNX Runtime kernels, 2 threads, fused group norm off');
    setFusedGroupNorm(true);
    rows.push(unfused);
    const profile = await profileStep();
    const copy = outputCopyCost();
    const torch = (threads: number) => rows.find((r) => r.implementation.endsWith(`${threads} thread${threads > 1 ? 's' : ''}`) && r.implementation.startsWith('PyTorch'))!;
    const ratios = {
      nativeVsTorch1Thread: rows[1]!.stepMs / torch(1).stepMs,
      nativeVsTorch2Threads: rows[2]!.stepMs / torch(2).stepMs,
      wasmVsTorch1Thread: rows[0]!.stepMs / torch(1).stepMs,
      nativeSpeedupOverWasm1Thread: rows[0]!.stepMs / rows[1]!.stepMs,
      nativeSpeedupOverWasm2Threads: rows[0]!.stepMs / rows[2]!.stepMs,
      fusedGroupNormSpeedup2Threads: unfused.stepMs / rows[2]!.stepMs,
      unfusedVsTorch2Threads: unfused.stepMs / torch(2).stepMs,
    };
    const maxLossDiff = Math.max(...rows.slice(1).flatMap((r) => r.losses.map((l, i) => Math.abs(l - rows[0]!.losses[i]!))));
    const result = {
      bench: 'packages/core/bench/native-train-step.ts',
      command: `node --conditions=source --import tsx packages/core/bench/native-train-step.ts --steps ${STEPS}`,
      commit: gitState(process.cwd()),
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', memoryGiB: totalmem() / 2 ** 30, node: process.version },
      loadAverage: { note: 'os.loadavg() (1, 5, 15 min) after each configuration; above ~1 the 2-core machine was busy with other work and wall times are inflated', samples: loads },
      seeds: { inputs: SEED, network: 1 },
      network: { name: 'TinyUNet (packages/core/test/tiny-unet.ts)', batch: B, size: S },
      stepsTimed: STEPS,
      warmupSteps: 1,
      ortVersion: nativeKernelStatus().ortVersion,
      rows,
      ratios,
      maxLossDiffVsWasm: maxLossDiff,
      fusedGroupNorm: 'on in every row except the one labelled "fused group norm off"',
      profile: { configuration: 'native provider on, 2 threads, fused group norm on; tf.profile of one step after one warm-up', kernels: profile },
      bindingOutputCopy: copy,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeJsonAtomic(OUT, result);
    console.log('\n| implementation | median step wall (ms) | median step CPU (ms) | losses, steps 1–4 |');
    console.log('|---|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.implementation} | ${r.stepMs.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${r.losses.map((l) => l.toFixed(5)).join(', ')} |`);
    console.log(JSON.stringify(ratios), 'max loss diff', maxLossDiff);
    console.log('profile (top 12):');
    for (const k of profile.slice(0, 12)) console.log(`  ${k.kernel}: ${k.ms.toFixed(0)} ms in ${k.calls} calls (${(100 * k.share).toFixed(0)} %)`);
    console.log(`wrote ${OUT}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
