/**
 * Metrics benchmark: ours vs the references in the same run.
 *
 *   node --conditions=source --import tsx packages/metrics/bench/metrics.ts [repeats=5]
 *
 * - SSIM (both variants, RGB) at 256² and 512² vs scikit-image 0.19 `structural_similarity` (target ≤ 1×).
 * - Farnebäck (OpenCV.js 4.12 wasm) vs OpenCV-native 4.6 `cv2.calcOpticalFlowFarneback` on the 4 flow fixtures
 *   (target ≤ 3×).
 * - LPIPS alex / vgg (tfjs wasm, single thread) vs PyTorch CPU (1 thread) with the same weights, 2 pairs at 64² and 256².
 *
 * The reference side is bench/metrics_reference.py run with Debian's /usr/bin/python3 (torch with 1 thread).
 * Times are the median process CPU time of `repeats` calls on each side.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { initBackend, readNpy, readPng, tf, type FloatImage } from '@consistent-avatar/core';
import { ssim, type SsimVariant } from '../src/ssim.js';
import { FarnebackFlow } from '../src/farneback.js';
import { meanFlowMagnitude } from '../src/flow-curve.js';
import { Lpips } from '../src/lpips.js';

const repeats = Number(process.argv[2] ?? 5);
const fixtures = fileURLToPath(new URL('../test/fixtures', import.meta.url));
const script = fileURLToPath(new URL('./metrics_reference.py', import.meta.url));

/**
 * Median process CPU time (user + system) of `n` calls. On the shared 2-core machine wall time swings with other
 * jobs; CPU time of single-threaded work on both sides does not (ours: JS + single-threaded wasm, plus whatever
 * V8's helper threads add, which only counts against us).
 */
function medianTime<T>(fn: () => T, n = repeats): { seconds: number; value: T } {
  const times: number[] = [];
  let value!: T;
  for (let i = 0; i < n; i++) {
    const t0 = process.cpuUsage();
    value = fn();
    const d = process.cpuUsage(t0);
    times.push((d.user + d.system) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(n / 2)]!, value };
}

const rgb = (name: string, scale: number): FloatImage => {
  const png = readPng(`${fixtures}/metrics/${name}`, { channels: 3 });
  if (scale === 1) return { data: png.data, height: png.height, width: png.width, channels: 3 };
  const [h, w] = [png.height * scale, png.width * scale];
  const data = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (Math.floor(y / scale) * png.width + Math.floor(x / scale)) * 3;
      data.set(png.data.subarray(src, src + 3), (y * w + x) * 3);
    }
  }
  return { data, height: h, width: w, channels: 3 };
};

console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}; repeats ${repeats}`);
console.log('running the Python reference (scikit-image, OpenCV, PyTorch)…');
const ref = JSON.parse(execFileSync('/usr/bin/python3', [script, fixtures, String(repeats)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  }));
const lines: string[] = ['| measure | ours (CPU s) | reference (CPU s) | ratio | agreement |', '|---|---|---|---|---|'];
const row = (name: string, ours: number, theirs: number, agree: string) => {
  const line = `| ${name} | ${ours.toFixed(4)} | ${theirs.toFixed(4)} | ${(ours / theirs).toFixed(2)}× | ${agree} |`;
  lines.push(line);
  console.log(line);
};

// 1. SSIM.
for (const [size, scale] of [[256, 1], [512, 2]] as const) {
  const a = rgb('astronaut256_noise005.png', scale);
  const b = rgb('astronaut256_ref.png', scale);
  for (const variant of ['wang', 'skimage-default'] as SsimVariant[]) {
    ssim(a, b, { variant }); // warm-up (JIT)
    const ours = medianTime(() => ssim(a, b, { variant }));
    const theirs = ref.ssim[String(size)][variant];
    row(`SSIM ${variant} ${size}² RGB`, ours.seconds, theirs.seconds, `|Δ| = ${Math.abs(ours.value - theirs.value).toExponential(1)}`);
  }
}

// 2. Farnebäck.
const flow = await FarnebackFlow.create();
const spec = JSON.parse(readFileSync(`${fixtures}/flow/astronaut_cases.json`, 'utf8')) as { cases: { frame1: string; frame2: string; gt: string }[] };
const gray = (name: string): FloatImage => {
  const png = readPng(`${fixtures}/flow/${name}`, { channels: 1 });
  return { data: png.data, height: png.height, width: png.width, channels: 1 };
};
for (const c of spec.cases) {
  const f1 = gray(c.frame1);
  const f2 = gray(c.frame2);
  flow.compute(f1, f2);
  const ours = medianTime(() => flow.compute(f1, f2));
  const theirs = ref.farneback[c.gt];
  const mag = meanFlowMagnitude(ours.value);
  row(`Farnebäck 256² (${c.gt.replace('_gt.npy', '')})`, ours.seconds, theirs.seconds, `mean |flow| ${mag.toFixed(5)} vs ${theirs.mean_magnitude.toFixed(5)}`);
}
flow.dispose();

// 3. LPIPS on wasm.
await initBackend('wasm');
const nhwc = (name: string, size: number): tf.Tensor4D =>
  tf.tidy(() => {
    const a = readNpy(`${fixtures}/lpips/${name}`);
    const x = tf.transpose(tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D;
    return size === 64 ? x : tf.image.resizeBilinear(x, [size, size], false, true); // = F.interpolate(bilinear, align_corners=False)
  });
for (const net of ['alex', 'vgg'] as const) {
  const lpips = Lpips.fromSafetensors(`${fixtures}/lpips/${net}/model.safetensors.gz`);
  for (const size of [64, 256]) {
    const x0 = nhwc('batch0_in0.npy', size);
    const x1 = nhwc('batch0_in1.npy', size);
    lpips.compute(x0, x1);
    const ours = medianTime(() => lpips.compute(x0, x1).distance);
    const theirs = ref.lpips[`${net}_${size}`];
    const diff = Math.max(...Array.from(ours.value, (v, i) => Math.abs(v - theirs.values[i])));
    row(`LPIPS ${net}, 2 pairs ${size}²`, ours.seconds, theirs.seconds, `max |Δ| = ${diff.toExponential(1)}`);
    x0.dispose();
    x1.dispose();
  }
  lpips.dispose();
}
console.log(`\nload average at the end: ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log('\n' + lines.join('\n'));
