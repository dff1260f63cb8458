/**
 * bench/native-unet-sampling: one UNet evaluation — the cost of each sampling step — at the default sizes of the
 * stage-2 TSDM (`resolveTsdmConfig()`: 32², [16, 32], 12 input channels, 3 tokens of 256) and the stage-3 FCSD
 * backbone (`fcsdBackboneConfig(resolveFcsdConfig())`: 32², [16, 32], 6 input channels, 3 tokens of 64), batch 8
 * (alignTsd's default sampling batch), on wasm with core's ONNX Runtime kernel provider off / on with 1 and 2
 * threads, against the PyTorch twin (packages/diffusion/bench/unet_torch.py, same weights and inputs) with 1 and 2
 * threads, and the whole UNet exported to one ONNX Runtime session (`OrtUNet`, inference only) with 1 and 2 threads,
 * in one run. The conditions reach the bare UNet as 3 cross-attention tokens (the TSDM / FCSD add them
 * through IP-Adapter processors and the ControlNet's residuals, which this bench leaves out). Also times
 * forward + backward. Writes a JSON result file.
 *
 *   node --conditions=source --import tsx packages/avatar/bench/native-unet-sampling.ts [--repeats 5] [--out packages/avatar/bench/results/native-unet-sampling.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, enableNativeKernels, disableNativeKernels, writeNpz, writeJsonAtomic, gitState, nativeKernelStatus } from '@consistent-avatar/core';
import { OrtUNet, UNet2DConditionModel, type UNet2DConditionConfig } from '@consistent-avatar/diffusion';
import { TsdmModel, resolveTsdmConfig } from '@consistent-avatar/tsd';
import { fcsdBackboneConfig, resolveFcsdConfig } from '../src/index.js';
import { medianMs } from '../../../scripts/bench/timing.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const REPEATS = Number(option('--repeats', '5'));
const OUT = option('--out', join(here, 'results', 'native-unet-sampling.json'));
const TORCH_SCRIPT = join(here, '../../diffusion/bench/unet_torch.py');
const BATCH = 8;
const TOKENS = 3;
const SEED = 7;

const time = (fn: () => void): number => medianMs(fn, REPEATS); // one untimed warm-up (and the provider's sessions), then the median

await initBackend('wasm');
const tsdm = resolveTsdmConfig();
const cases: Array<{ name: string; build: () => UNet2DConditionModel }> = [
  {
    name: `TSDM default UNet (stage 2; ${tsdm.size}², [${tsdm.unetChannels}])`,
    build: () => {
      const model = new TsdmModel(tsdm);
      const config = model.unet.config as Partial<UNet2DConditionConfig>;
      model.dispose();
      return new UNet2DConditionModel(config, { seed: SEED });
    },
  },
  { name: `FCSD default backbone (stage 3; ${resolveFcsdConfig().size}², [${resolveFcsdConfig().unetChannels}])`, build: () => new UNet2DConditionModel(fcsdBackboneConfig(resolveFcsdConfig()), { seed: SEED }) },
];

const results = [];
const loads: number[][] = [];
for (const c of cases) {
  const unet = c.build();
  const cfg = unet.config;
  const dir = mkdtempSync(join(tmpdir(), 'ca-native-unet-'));
  try {
    unet.savePretrained(dir);
    const side = cfg.sample_size ?? 32;
    const sample = tf.randomNormal([BATCH, side, side, cfg.in_channels], 0, 1, 'float32', SEED) as tf.Tensor4D;
    const t = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => 100 + 100 * i), 'float32');
    const text = tf.randomNormal([BATCH, TOKENS, cfg.cross_attention_dim], 0, 1, 'float32', SEED + 1);
    const nchw = tf.transpose(sample, [0, 3, 1, 2]);
    writeNpz(join(dir, 'inputs.npz'), {
      sample: { dtype: 'float32', shape: nchw.shape, data: nchw.dataSync() as Float32Array },
      timestep: { dtype: 'float32', shape: t.shape, data: t.dataSync() as Float32Array },
      text: { dtype: 'float32', shape: text.shape, data: text.dataSync() as Float32Array },
    });
    const forward = () => void tf.tidy(() => unet.forward(sample, t, text)).dataSync();
    const forwardBackward = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(unet.forward(sample, t, text))) as tf.Scalar);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    };
    const rows: Array<{ implementation: string; forwardMs: number; forwardBackwardMs: number | null }> = [];
    disableNativeKernels();
    rows.push({ implementation: 'tfjs wasm (SIMD, 1 thread), native provider off', forwardMs: time(forward), forwardBackwardMs: time(forwardBackward) });
    loads.push(loadavg());
    let oursOut: Float32Array | null = null;
    for (const threads of [1, 2]) {
      if (!enableNativeKernels({ threads }).active) throw new Error(`native provider inactive: ${nativeKernelStatus().reason}`);
      rows.push({ implementation: `tfjs wasm + ONNX Runtime kernels, ${threads} thread${threads > 1 ? 's' : ''}`, forwardMs: time(forward), forwardBackwardMs: time(forwardBackward) });
      loads.push(loadavg());
      oursOut ??= tf.tidy(() => tf.transpose(unet.forward(sample, t, text), [0, 3, 1, 2]).reshape([-1]).slice(0, 4096)).dataSync() as Float32Array;
    }
    disableNativeKernels();
    // The whole UNet as one ONNX Runtime session (inference only: no backward).
    let ortOut: Float32Array | null = null;
    for (const threads of [1, 2]) {
      const session = new OrtUNet(unet, { intraOpThreads: threads });
      try {
        const ortForward = () => void tf.tidy(() => session.forward(sample, t, text)).dataSync();
        rows.push({ implementation: `whole UNet in ONNX Runtime (OrtUNet), ${threads} thread${threads > 1 ? 's' : ''}`, forwardMs: time(ortForward), forwardBackwardMs: null });
        loads.push(loadavg());
        ortOut ??= tf.tidy(() => tf.transpose(session.forward(sample, t, text), [0, 3, 1, 2]).reshape([-1]).slice(0, 4096)).dataSync() as Float32Array;
      } finally {
        session.dispose();
      }
    }
    let maxDiff = 0, maxRef = 0, maxDiffOrt = 0;
    for (const threads of [1, 2]) {
      const out = join(dir, `torch-${threads}.json`);
      const r = spawnSync('/usr/bin/python3', [TORCH_SCRIPT, dir, join(dir, 'inputs.npz'), out, String(threads), String(REPEATS)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`PyTorch twin failed: ${r.stderr}`);
      const torch = JSON.parse(readFileSync(out, 'utf8')) as { forward_ms: number; forward_backward_ms: number; output: number[] };
      rows.push({ implementation: `PyTorch CPU, ${threads} thread${threads > 1 ? 's' : ''}`, forwardMs: torch.forward_ms, forwardBackwardMs: torch.forward_backward_ms });
      loads.push(loadavg());
      if (threads === 1) torch.output.forEach((v, i) => ((maxDiff = Math.max(maxDiff, Math.abs(v - oursOut![i]!))), (maxDiffOrt = Math.max(maxDiffOrt, Math.abs(v - ortOut![i]!))), (maxRef = Math.max(maxRef, Math.abs(v)))));
    }
    const torch2 = rows.find((r) => r.implementation === 'PyTorch CPU, 2 threads')!;
    const torch1 = rows.find((r) => r.implementation === 'PyTorch CPU, 1 thread')!;
    results.push({
      case: c.name,
      parameters: unet.parameterCount(),
      batch: BATCH,
      tokens: TOKENS,
      rows,
      forwardRatioNative2VsTorch2: rows[2]!.forwardMs / torch2.forwardMs,
      forwardRatioNative1VsTorch1: rows[1]!.forwardMs / torch1.forwardMs,
      forwardRatioOrtUNet1VsTorch1: rows[3]!.forwardMs / torch1.forwardMs,
      forwardRatioOrtUNet2VsTorch2: rows[4]!.forwardMs / torch2.forwardMs,
      outputMaxAbsDiffVsTorch: maxDiff,
      outputMaxAbsDiffOrtUNetVsTorch: maxDiffOrt,
      outputMaxAbsTorch: maxRef,
    });
    console.log(`\n### ${c.name}: ${unet.parameterCount().toLocaleString('en')} parameters, batch ${BATCH}; output max |ours (native) − torch| ${maxDiff.toExponential(2)} (max |torch| ${maxRef.toFixed(3)})`);
    console.log('| implementation | forward (sampling step) ms | forward + backward ms |');
    console.log('|---|---:|---:|');
    for (const r of rows) console.log(`| ${r.implementation} | ${r.forwardMs.toFixed(1)} | ${r.forwardBackwardMs === null ? '—' : r.forwardBackwardMs.toFixed(1)} |`);
    tf.dispose([sample, t, text, nchw]);
  } finally {
    unet.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync(dirname(OUT), { recursive: true });
writeJsonAtomic(OUT, {
  bench: 'packages/avatar/bench/native-unet-sampling.ts',
  command: `node --conditions=source --import tsx packages/avatar/bench/native-unet-sampling.ts --repeats ${REPEATS}`,
  commit: gitState(process.cwd()),
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', memoryGiB: totalmem() / 2 ** 30, node: process.version },
  loadAverage: { note: 'os.loadavg() after each configuration; the 2-core machine was shared with other developers, so wall times are inflated and noisy', samples: loads },
  seeds: { weights: SEED, sample: SEED, tokens: SEED + 1 },
  repeats: REPEATS,
  ortVersion: nativeKernelStatus().ortVersion,
  results,
});
console.log(`wrote ${OUT}`);
