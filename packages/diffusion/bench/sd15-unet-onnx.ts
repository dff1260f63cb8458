/**
 * bench/sd15-unet-onnx: the Stable Diffusion 1.5 UNet forward at 512² (64² latent, batch 1, text 77×768) on CPU —
 * impossible on tfjs-wasm (3.4 GB of float32 weights against a 4 GiB heap) — through ONNX Runtime, against PyTorch 1.13
 * on the same weights, timed with each process's peak RSS (ru_maxrss). Three phases, each in its own process so peak RSS is its own:
 *
 *   1. export (this process): the SD 1.5 config UNet built on tfjs's cpu backend with zero init (no 860 M draws in
 *      tfjs), exported with `exportUNetOnnx`; every named initializer is then filled with seeded random values
 *      (weights U(±1/√fan_in) as PyTorch's default init, norm scales 1 + U(±0.1), biases U(±0.05); `Rng(seed).fork
 *      (name)`), and the model written with external data (`unet.onnx` + `unet.onnx.data`) plus an index of where each
 *      tensor lies; inputs are seeded normals written as `inputs.npz`.
 *   2. `--phase ort`: ONNX Runtime session from the file (`createSessionFromFile`), one warm-up, `--repeats` timed.
 *   3. `sd15_unet_torch.py`: the PyTorch UNet of `unet_torch.py` (diffusers' layout and key names), weights memory-
 *      mapped from the same `.data` file by the index, same inputs, one warm-up, `--repeats` timed.
 * The result file records times, peak RSS, max |ORT − PyTorch| and the provenance (load average before and after).
 *
 *   node --conditions=source --import tsx packages/diffusion/bench/sd15-unet-onnx.ts [--threads 1] [--repeats 2] [--dir /tmp/sd15-onnx] [--out packages/diffusion/bench/results/sd15-unet-onnx.json] [--tiny] [--keep]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpz, loadOrtBinding, readNpy, Rng, tf, useBackend, writeFileAtomic, writeJsonAtomic, writeOnnxModel } from '@consistent-avatar/core';
import { exportUNetOnnx, SD15_UNET_CONFIG, UNet2DConditionModel } from '../src/index.js';
import { withFastCpuTranspose } from '../test/fast-cpu-transpose.js';
import { resultMeta } from '../../../scripts/bench/result-meta.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const here = dirname(fileURLToPath(import.meta.url));
const PHASE = option('--phase', 'all');
const THREADS = Number(option('--threads', '1'));
const REPEATS = Number(option('--repeats', '2'));
const DIR = option('--dir', '/tmp/sd15-onnx');
const OUT = option('--out', join(here, 'results', 'sd15-unet-onnx.json'));
const SEED = 1505;
// --tiny: the fixture-sized UNet ([32, 48] channels, 16² latent, 7×32 text), to check the pipeline in seconds.
const TINY = args.includes('--tiny');
const CONFIG = TINY
  ? { block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32, attention_head_dim: 8, down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] } as const
  : SD15_UNET_CONFIG;
const [B, C, S, L, D] = TINY ? [1, 4, 16, 7, 32] : [1, 4, 64, 77, 768];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const rssMiB = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

/** Phase 1: export with seeded weights, external data, the index and the inputs. */
async function exportPhase(): Promise<Record<string, unknown>> {
  await useBackend('cpu');
  mkdirSync(DIR, { recursive: true });
  const t0 = performance.now();
  let config: object = {};
  const spec = withFastCpuTranspose(() => {
    const unet = new UNet2DConditionModel(CONFIG as typeof SD15_UNET_CONFIG, { init: 'zeros' });
    config = unet.config;
    const s = exportUNetOnnx(unet).graph.spec('unet');
    unet.dispose();
    return s;
  });
  const exportMs = performance.now() - t0;
  const root = new Rng(SEED);
  let parameters = 0;
  for (const init of spec.initializers!) {
    if (init.name.startsWith('const_')) continue; // the graph's own constants (frequencies, unit scales)
    const data = init.data!;
    parameters += data.length;
    const rng = root.fork(init.name);
    const fanIn = init.dims.slice(1).reduce((p, q) => p * q, 1);
    const [low, high] = init.dims.length > 1 ? [-1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)] : /norm.*\.weight$/.test(init.name) ? [0.9, 1.1] : [-0.05, 0.05];
    const span = high - low;
    for (let i = 0; i < data.length; i++) data[i] = low + span * rng.next();
  }
  const t1 = performance.now();
  const written = writeOnnxModel(join(DIR, 'unet.onnx'), spec, { externalData: true, sizeThreshold: 0 }); // every tensor in the side file, indexed
  writeJsonAtomic(join(DIR, 'index.json'), { data: 'unet.onnx.data', config, tensors: written.tensors });
  const inputs = new Rng(SEED + 1);
  writeFileAtomic(join(DIR, 'inputs.npz'), encodeNpz({
    sample: { dtype: 'float32', shape: [B, C, S, S], data: inputs.normal(B * C * S * S) },
    timestep: { dtype: 'float32', shape: [B], data: Float32Array.from([999]) },
    text: { dtype: 'float32', shape: [B, L, D], data: inputs.normal(B * L * D) },
  }));
  return { exportMs: Math.round(exportMs), writeMs: Math.round(performance.now() - t1), parameters, modelBytes: written.modelBytes, dataBytes: written.dataBytes, peakRssMiB: Math.round(rssMiB()) };
}

/** Phase 2 (own process): ONNX Runtime from the file. */
function ortPhase(): void {
  const ort = loadOrtBinding();
  if (!ort.available) throw new Error(ort.reason);
  const read = (name: string) => readNpy(join(DIR, `${name}.npy`));
  const t0 = performance.now();
  const session = ort.createSessionFromFile(join(DIR, 'unet.onnx'), { intraOpThreads: THREADS });
  const loadMs = performance.now() - t0;
  const [sample, timestep, text] = [read('sample'), read('timestep'), read('text')];
  const out = new Float32Array(B * C * S * S);
  const run = () => session.run(
    { sample: { dims: sample.shape, data: sample.data as Float32Array }, timestep: { dims: timestep.shape, data: timestep.data as Float32Array }, encoder_hidden_states: { dims: text.shape, data: text.data as Float32Array } },
    { out_sample: { dims: [B, C, S, S], data: out } },
  );
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i <= REPEATS; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    run();
    if (i > 0) {
      times.push(performance.now() - t);
      const dc = process.cpuUsage(c0);
      cpu.push((dc.user + dc.system) / 1000);
    }
  }
  session.dispose();
  writeFileAtomic(join(DIR, 'ort_out.bin'), new Uint8Array(out.buffer));
  process.stdout.write(JSON.stringify({ threads: THREADS, loadMs: Math.round(loadMs), forwardMs: times.map(Math.round), medianForwardMs: Math.round(median(times)), medianCpuMs: Math.round(median(cpu)), peakRssMiB: Math.round(rssMiB()) }));
}

async function main(): Promise<void> {
  if (PHASE === 'ort') return ortPhase();
  const meta = resultMeta('packages/diffusion/bench/sd15-unet-onnx.ts');
  const loadBefore = loadavg();
  const exported = existsSync(join(DIR, 'index.json')) && args.includes('--reuse') ? { reused: true } : await exportPhase();
  // The inputs as .npy files too (the ORT phase reads them without unzipping).
  execFileSync('/usr/bin/python3', ['-c', `import numpy as np; d=np.load('${DIR}/inputs.npz'); [np.save('${DIR}/'+k+'.npy', d[k]) for k in d.files]`]);
  const node = process.execPath;
  const ort = JSON.parse(execFileSync(node, ['--conditions=source', '--import', 'tsx', fileURLToPath(import.meta.url), '--phase', 'ort', '--dir', DIR, '--threads', String(THREADS), '--repeats', String(REPEATS), ...(TINY ? ['--tiny'] : [])], { maxBuffer: 1 << 26 }).toString());
  const torch = JSON.parse(execFileSync('/usr/bin/python3', [join(here, 'sd15_unet_torch.py'), DIR, String(THREADS), String(REPEATS)], { maxBuffer: 1 << 26 }).toString());
  const a = new Float32Array(readFileSync(join(DIR, 'ort_out.bin')).buffer.slice(0));
  const b = new Float32Array(readFileSync(join(DIR, 'torch_out.bin')).buffer.slice(0));
  let err = 0, ref = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    ref = Math.max(ref, Math.abs(b[i]!));
  }
  const result = {
    ...meta,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg(),
    model: TINY ? 'tiny (fixture-sized) UNet' : 'Stable Diffusion 1.5 UNet config, seeded random weights',
    seeds: { weights: SEED, inputs: SEED + 1 },
    shapes: { sample: [B, C, S, S], timestep: [B], encoderHiddenStates: [B, L, D] },
    export: exported,
    onnxruntime: ort,
    pytorch: torch,
    ortOverTorchWall: ort.medianForwardMs / torch.medianForwardMs,
    maxAbsDiffOrtVsTorch: err,
    maxAbsTorchOutput: ref,
    note: 'Wall times on a shared 2-core machine: see the load averages. Peak RSS is per process (ORT: node + session; PyTorch: python + model; the weights are memory-mapped from the same .data file on the PyTorch side).',
  };
  writeJsonAtomic(OUT, result);
  console.log(JSON.stringify(result, null, 2));
  if (!args.includes('--keep')) rmSync(DIR, { recursive: true, force: true });
}

await main();
