/**
 * bench/native-controlnet-sampling: one sampling step of the stage-3 FCSD at its default sizes — what
 * `FcsdModel.denoise` runs per step (ConsistentAvatar Eq. 8): the ControlNet on z_c = concat(normal, TSD′) and the
 * backbone UNet with the ControlNet's residuals and the decoupled (IP-Adapter) cross-attention on the 4 tokens f_d —
 * for `new FcsdModel(resolveFcsdConfig())` (32², [16, 32], x_t ⊕ proxy = 6 input channels, conditioning embedding
 * [16], tokens of 64), batch 8 (as bench/native-unet-sampling.ts), timed in one run as:
 *   - tfjs wasm, core's ONNX Runtime kernel provider off, then on with 1 and 2 threads (`model.denoise` itself);
 *   - `OrtControlNet` + `OrtUNet` (both whole models in ONNX Runtime sessions), 1 and 2 intra-op threads;
 *   - the PyTorch twin (packages/diffusion/bench/controlnet_torch.py: diffusers' ControlNetModel and the UNet of
 *     unet_torch.py with residuals and IP-Adapter processors, loading our exported weights by diffusers' names), 1 and
 *     2 threads.
 * The conditions (f_d, z_c, the proxy) are computed once before the loop, as `renderFcsd`'s sampler does. The
 * ControlNet's zero convolutions and conditioning embedding's `conv_out` get seeded random weights (a trained
 * ControlNet's are not zero), so the outputs compared also check the ControlNet path. Writes a JSON result file with
 * the times, the ratios and the max abs differences between the outputs, and the cost of the residuals' NHWC → NCHW
 * crossing into the UNet's session (diffusion's `nhwcToOrt`, and its previous form that returned the values from a
 * `tf.tidy`).
 *
 *   node --conditions=source --import tsx packages/avatar/bench/native-controlnet-sampling.ts [--repeats 5] [--out packages/avatar/bench/results/native-controlnet-sampling.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, enableNativeKernels, disableNativeKernels, nativeKernelStatus, readNpz, Rng, writeNpz, writeJsonAtomic } from '@consistent-avatar/core';
import { nhwcToOrt, OrtControlNet, OrtUNet, type ControlNetOutput } from '@consistent-avatar/diffusion';
import { MEAD_EMOTIONS } from '@consistent-avatar/emotion';
import { FcsdModel, resolveFcsdConfig } from '../src/index.js';
import { medianMs } from '../../../scripts/bench/timing.js';
import { resultMeta } from '../../../scripts/bench/result-meta.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const REPEATS = Number(option('--repeats', '5'));
const OUT = option('--out', join(here, 'results', 'native-controlnet-sampling.json'));
const TORCH_SCRIPT = join(here, '../../diffusion/bench/controlnet_torch.py');
const BATCH = 8;
const SEED = 7;
const meta = resultMeta('packages/avatar/bench/native-controlnet-sampling.ts');

await initBackend('wasm');
const config = resolveFcsdConfig(); // the stage-3 defaults
const model = new FcsdModel(config, MEAD_EMOTIONS);
model.attachConditions(); // ControlNet copied from the backbone, IP-Adapter processors on the backbone's attn2
// A trained ControlNet's zero convolutions are not zero: seeded random weights so every path reaches the output.
const wakeRng = new Rng(SEED);
for (const [name, v] of model.namedParameters()) {
  if (/^controlnet\.(controlnet_(down|mid)_block|controlnet_cond_embedding\.conv_out)/.test(name)) v.assign(tf.tensor(wakeRng.normal(v.size, 0, 0.2), v.shape, 'float32'));
}
const controlnet = model.controlnet!;
const backbone = model.backbone;
const S = config.size;

// The per-frame conditions (random maps and vectors in their ranges), computed once as the sampler does.
const inputs = {
  tsd: tf.randomUniform([BATCH, S, S, 3], -1, 1, 'float32', SEED + 1) as tf.Tensor4D,
  normal: tf.randomUniform([BATCH, S, S, 3], 0, 1, 'float32', SEED + 2) as tf.Tensor4D,
  pose: tf.randomNormal([BATCH, config.poseDim], 0, 0.2, 'float32', SEED + 3) as tf.Tensor2D,
  expression: tf.randomNormal([BATCH, config.expressionDim], 0, 1, 'float32', SEED + 4) as tf.Tensor2D,
  emotion: tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % MEAD_EMOTIONS.length), 'int32'),
};
const proxyRgb = tf.randomUniform([BATCH, S, S, 3], 0, 1, 'float32', SEED + 5) as tf.Tensor4D;
const cond = model.conditions(inputs, proxyRgb);
const xt = tf.randomNormal([BATCH, S, S, 3], 0, 1, 'float32', SEED) as tf.Tensor4D;
const timesteps = Array.from({ length: BATCH }, (_, i) => 100 + 100 * i);
const nchw = (t: tf.Tensor4D) => tf.tidy(() => tf.transpose(t, [0, 3, 1, 2])); // [B, C, H, W]
const npy = (t: tf.Tensor) => ({ dtype: 'float32' as const, shape: t.shape, data: t.dataSync() as Float32Array });

const time = (fn: () => void): number => medianMs(fn, REPEATS); // one untimed warm-up (and the sessions' first run), then the median
/** Run one step, read its output back to JavaScript (as a sampler's next step would need it), free it. */
const timed = (step: () => tf.Tensor4D) => time(() => {
  const y = step();
  y.dataSync();
  y.dispose();
});
/** The step's output and the ControlNet's residuals, NCHW, as flat arrays. */
const snapshot = (step: () => tf.Tensor4D, residuals: () => ControlNetOutput) => tf.tidy(() => {
  const r = residuals();
  return { output: nchw(step()).dataSync() as Float32Array, residuals: [...r.downBlockResSamples, r.midBlockResSample].map((t) => nchw(t).dataSync() as Float32Array) };
});
const tfjsStep = () => model.denoise(xt, timesteps, cond);
const text = () => tf.tile(model.null_text, [BATCH, 1, 1]) as tf.Tensor3D; // [B, 1, tokenDim]: stage 3's null text token
const unetInput = () => tf.concat([xt, cond.proxy!], 3) as tf.Tensor4D; // [B, S, S, 6]: x_t ⊕ proxy (proxyConcat)
const tfjsResiduals = () => controlnet.forward(unetInput(), timesteps, text(), cond.controlImage!, { conditioningScale: config.conditioningScale });

type Row = { implementation: string; stepMs: number };
const rows: Row[] = [];
const loads: number[][] = [];
const record = (implementation: string, stepMs: number) => {
  rows.push({ implementation, stepMs });
  loads.push(loadavg());
  console.log(`${implementation}: ${stepMs.toFixed(1)} ms`);
};
const threadsLabel = (n: number) => `${n} thread${n > 1 ? 's' : ''}`;

// 1. tfjs wasm, provider off, then on.
disableNativeKernels();
record('tfjs wasm (SIMD, 1 thread), native provider off', timed(tfjsStep));
const tfjs = snapshot(tfjsStep, tfjsResiduals);
// Without the residuals: how much the ControlNet moves the output (so the comparison below covers its path).
const withoutControlNet = tf.tidy(() => nchw(backbone.forward(unetInput(), timesteps, { text: text(), ipTokens: [cond.tokens!] })).dataSync() as Float32Array);
let tfjsNative: ReturnType<typeof snapshot> | null = null;
for (const threads of [1, 2]) {
  if (!enableNativeKernels({ threads }).active) throw new Error(`native provider inactive: ${nativeKernelStatus().reason}`);
  record(`tfjs wasm + ONNX Runtime kernels, ${threadsLabel(threads)}`, timed(tfjsStep));
  tfjsNative ??= snapshot(tfjsStep, tfjsResiduals);
}
const ortVersion = nativeKernelStatus().ortVersion;
disableNativeKernels();

// 2. Both networks as ONNX Runtime sessions, the step as FcsdModel.denoise composes it.
let ort: ReturnType<typeof snapshot> | null = null;
for (const threads of [1, 2]) {
  const ortControlNet = new OrtControlNet(controlnet, { intraOpThreads: threads });
  const ortUnet = new OrtUNet(backbone, { controlnet: true, intraOpThreads: threads });
  try {
    const residuals = () => ortControlNet.forward(unetInput(), timesteps, text(), cond.controlImage!, { conditioningScale: config.conditioningScale });
    const ortStep = () => tf.tidy(() => {
      const r = residuals();
      return ortUnet.forward(unetInput(), timesteps, { text: text(), ipTokens: [cond.tokens!] }, { downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample });
    });
    record(`OrtControlNet + OrtUNet (whole models in ONNX Runtime), ${threadsLabel(threads)}`, timed(ortStep));
    ort ??= snapshot(ortStep, residuals);
  } finally {
    ortControlNet.dispose();
    ortUnet.dispose();
  }
}

// The residuals' NHWC → NCHW crossing into the UNet's session: nhwcToOrt against its previous form, which read the
// values inside tf.tidy and returned the typed array (tidy then walks every element looking for tensors).
const shapes = tf.tidy(() => {
  const r = tfjsResiduals();
  return [...r.downBlockResSamples, r.midBlockResSample].map((t) => t.shape);
});
const residualTensors = shapes.map((shape, k) => tf.randomNormal(shape, 0, 1, 'float32', SEED + 10 + k) as tf.Tensor4D);
const layoutConversionMs = {
  note: 'median ms to convert the 5 ControlNet residuals of one step (batch 8) from NHWC tensors to NCHW values',
  residualShapesNhwc: shapes,
  nhwcToOrt: time(() => residualTensors.forEach((t) => nhwcToOrt(t))),
  tidyReturningValues: time(() => residualTensors.forEach((t) => tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync()))),
  tidyReturningValuesNote: 'the previous nhwcToOrt: tf.tidy(() => tf.transpose(x, [0, 3, 1, 2]).dataSync())',
};
tf.dispose(residualTensors);
loads.push(loadavg());
console.log(layoutConversionMs);

// 3. The PyTorch twin on the same weights (diffusers folders) and inputs.
const dir = mkdtempSync(join(tmpdir(), 'ca-native-controlnet-'));
let torch: { output: Float32Array; residuals: Float32Array[]; version: string; params: number } | null = null;
try {
  controlnet.savePretrained(join(dir, 'controlnet'));
  backbone.savePretrained(join(dir, 'unet'));
  const inputsFile = join(dir, 'inputs.npz');
  tf.tidy(() => writeNpz(inputsFile, {
    sample: npy(nchw(xt)),
    proxy: npy(nchw(cond.proxy!)),
    control: npy(nchw(cond.controlImage!)),
    timestep: npy(tf.tensor1d(timesteps, 'float32')),
    null_text: npy(model.null_text),
    ip_tokens: npy(cond.tokens!),
    ip_scale: npy(tf.tensor1d([config.ipScale], 'float32')),
    conditioning_scale: npy(tf.tensor1d([config.conditioningScale], 'float32')),
  }));
  for (const threads of [1, 2]) {
    const prefix = join(dir, `torch-${threads}`);
    const r = spawnSync('/usr/bin/python3', [TORCH_SCRIPT, dir, inputsFile, prefix, String(threads), String(REPEATS)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`PyTorch twin failed: ${r.stderr}`);
    const result = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as { step_ms: number; torch: string; params: number };
    record(`PyTorch ${result.torch} CPU, ${threadsLabel(threads)}`, result.step_ms);
    if (threads === 1) {
      const arrays = readNpz(`${prefix}.npz`);
      const down = Object.keys(arrays).filter((k) => k.startsWith('down_')).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
      torch = { output: arrays.output!.data as Float32Array, residuals: [...down, 'mid'].map((k) => arrays[k]!.data as Float32Array), version: result.torch, params: result.params };
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// 4. Agreement (max abs differences over every value) and ratios.
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  if (a.length !== b.length) throw new Error(`output sizes differ: ${a.length} vs ${b.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};
const residualDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((r, k) => maxAbsDiff(r, b[k]!)));
const ms = (prefix: string) => rows.find((r) => r.implementation.startsWith(prefix))!.stepMs;
const torch1 = ms('PyTorch'), torch2 = rows.filter((r) => r.implementation.startsWith('PyTorch'))[1]!.stepMs;
const ratios = {
  stepRatioWasmVsTorch1: ms('tfjs wasm (SIMD') / torch1,
  stepRatioNative1VsTorch1: ms('tfjs wasm + ONNX Runtime kernels, 1 thread') / torch1,
  stepRatioNative2VsTorch2: ms('tfjs wasm + ONNX Runtime kernels, 2 threads') / torch2,
  stepRatioOrt1VsTorch1: ms('OrtControlNet + OrtUNet (whole models in ONNX Runtime), 1 thread') / torch1,
  stepRatioOrt2VsTorch2: ms('OrtControlNet + OrtUNet (whole models in ONNX Runtime), 2 threads') / torch2,
  // Each side at its faster thread count (PyTorch's two threads can lose to one at this size, and badly on a loaded machine).
  stepRatioNativeBestVsTorchBest: Math.min(ms('tfjs wasm + ONNX Runtime kernels, 1 thread'), ms('tfjs wasm + ONNX Runtime kernels, 2 threads')) / Math.min(torch1, torch2),
  stepRatioOrtBestVsTorchBest: Math.min(ms('OrtControlNet + OrtUNet (whole models in ONNX Runtime), 1 thread'), ms('OrtControlNet + OrtUNet (whole models in ONNX Runtime), 2 threads')) / Math.min(torch1, torch2),
};
const agreement = {
  note: 'max |a − b| over every value of the step output [8, 3, 32, 32] and of the 5 ControlNet residuals (NCHW); PyTorch at 1 thread',
  outputMaxAbsTorch: maxAbs(torch!.output),
  outputMaxAbsDiffTfjsVsTorch: maxAbsDiff(tfjs.output, torch!.output),
  outputMaxAbsDiffTfjsNativeVsTorch: maxAbsDiff(tfjsNative!.output, torch!.output),
  outputMaxAbsDiffOrtVsTorch: maxAbsDiff(ort!.output, torch!.output),
  outputMaxAbsDiffTfjsVsOrt: maxAbsDiff(tfjs.output, ort!.output),
  residualMaxAbsTorch: Math.max(...torch!.residuals.map(maxAbs)),
  residualMaxAbsDiffTfjsVsTorch: residualDiff(tfjs.residuals, torch!.residuals),
  residualMaxAbsDiffOrtVsTorch: residualDiff(ort!.residuals, torch!.residuals),
  controlNetEffectMaxAbs: maxAbsDiff(tfjs.output, withoutControlNet),
};
const parameters = { controlnet: controlnet.parameterCount(), backboneWithIpProcessors: backbone.parameterCount(), torch: torch!.params };
for (const [k, v] of Object.entries({ ...ratios, ...agreement })) if (typeof v === 'number') console.log(`${k}: ${v.toPrecision(3)}`);

mkdirSync(dirname(OUT), { recursive: true });
writeJsonAtomic(OUT, {
  bench: 'packages/avatar/bench/native-controlnet-sampling.ts',
  ...meta,
  loadAverage: {
    note: 'os.loadavg() after each row and after the layout timing (2-core machine shared with other developers, who may have been running tests: wall times are inflated and noisy; the rows run back to back in one process, so their ratios are side by side)',
    samples: loads,
  },
  seeds: { fcsdInit: config.seed, zeroConvWeights: SEED, xt: SEED, tsd: SEED + 1, normal: SEED + 2, pose: SEED + 3, expression: SEED + 4, proxy: SEED + 5 },
  repeats: REPEATS,
  statistic: 'median of `repeats` steps after one untimed warm-up (scripts/bench/timing medianMs; numpy median in the twin)',
  ortVersion,
  torchVersion: torch!.version,
  step: {
    what: 'FcsdModel.denoise: ControlNet(concat[x_t, proxy], t, null text, z_c) then backbone(concat[x_t, proxy], t, {null text, f_d}, residuals); the conditions computed once before',
    fcsdConfig: { size: config.size, unetChannels: config.unetChannels, layersPerBlock: config.layersPerBlock, normGroups: config.normGroups, attentionHeads: config.attentionHeads, tokenDim: config.tokenDim, conditioningChannels: config.conditioningChannels, proxyConcat: config.proxyConcat, useNormal: config.useNormal, useTsd: config.useTsd, tokens: model.tokenNames, conditioningScale: config.conditioningScale, ipScale: config.ipScale },
    batch: BATCH,
    timesteps,
    parameters,
  },
  rows,
  ratios,
  agreement,
  layoutConversionMs,
});
tf.dispose([xt, proxyRgb, ...Object.values(inputs), cond.tokens!, cond.controlImage!, cond.proxy!]);
model.dispose();
console.log(`wrote ${OUT}`);
