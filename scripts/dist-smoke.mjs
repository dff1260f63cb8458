#!/usr/bin/env node
/**
 * Smoke test of the published build: imports every package by its name with Node's default export conditions
 * (so `@consistent-avatar/*` resolve to `dist/`, never to `src/`: no tsx, no `--conditions=source`), checks a few
 * exports and runs one small real call per package against a brute-force JavaScript reference computed here.
 *
 * Run after `pnpm build` (`pnpm smoke:dist` does both). Exits with code 1 when any check fails.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const failures = [];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function section(name, fn) {
  const t0 = performance.now();
  try {
    const detail = await fn();
    console.log(`ok   ${name} (${(performance.now() - t0).toFixed(0)} ms)${detail ? ` — ${detail}` : ''}`);
  } catch (error) {
    failures.push(name);
    console.error(`FAIL ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}

/** Seeded uniform [0, 1) generator (mulberry32), so every run uses the same data. */
function uniform(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function maxAbsDiff(a, b) {
  check(a.length === b.length, `length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectExports(mod, names) {
  const missing = names.filter((n) => mod[n] === undefined);
  check(missing.length === 0, `missing exports: ${missing.join(', ')}`);
}

const names = ['core', 'proxy', 'tsd', 'diffusion', 'emotion', 'metrics', 'avatar'];
const mods = {};

// 1. Resolution: every package resolves to its built dist entry, and the entry exists.
await section('resolve @consistent-avatar/* → dist', async () => {
  for (const name of names) {
    const spec = `@consistent-avatar/${name}`;
    const url = import.meta.resolve(spec);
    const file = fileURLToPath(url);
    check(/[\\/]dist[\\/]index\.js$/.test(file), `${spec} resolved to ${file}, expected …/dist/index.js`);
    check(existsSync(file), `${spec}: ${file} does not exist (run pnpm build)`);
    check(existsSync(file.replace(/index\.js$/, 'index.d.ts')), `${spec}: dist/index.d.ts missing`);
  }
  return `all ${names.length} packages resolve to dist/index.js with dist/index.d.ts`;
});

for (const name of names) {
  await section(`import @consistent-avatar/${name}`, async () => {
    mods[name] = await import(`@consistent-avatar/${name}`);
    return `${Object.keys(mods[name]).length} exports`;
  });
}
if (failures.length > 0) {
  console.error(`\ndist smoke: ${failures.length} failure(s): ${failures.join('; ')}`);
  process.exit(1);
}
const { core, proxy, tsd, diffusion, emotion, metrics, avatar } = mods;
const { tf } = core;

// 2. core: the wasm backend with our training kernels, a matMul and a conv filter gradient (Conv2DBackpropFilter
// is one of the kernels core registers on wasm; tfjs-wasm 4.22 has none).
await section('core: initBackend("wasm") + tensor ops', async () => {
  expectExports(core, ['initBackend', 'backendReport', 'useBackend', 'tf', 'nn', 'Rng', 'ValidationError', 'AdamW']);
  const info = await core.initBackend('wasm');
  check(info.name === 'wasm' && tf.getBackend() === 'wasm', `backend ${info.name} / ${tf.getBackend()}, expected wasm`);
  check(info.registeredKernels.includes('Conv2DBackpropFilter'), `training kernels not registered: ${info.registeredKernels}`);

  const a = [1, 2, 3, 4, 5, 6]; // [2, 3]
  const b = [7, 8, 9, 10, 11, 12]; // [3, 2]
  const expected = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expected.push(a[3 * i] * b[j] + a[3 * i + 1] * b[2 + j] + a[3 * i + 2] * b[4 + j]);
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [2, 3]), tf.tensor2d(b, [3, 2])).dataSync());
  check(maxAbsDiff(product, expected) === 0, `matMul ${Array.from(product)} ≠ ${expected}`);
  // The same product batched (A broadcast against [2, 3, 2]) goes through the SIMD kernel shipped in dist.
  const calls = core.wasmBatchMatMulKernelCalls();
  const batched = tf.tidy(() => tf.matMul(tf.tensor3d(a, [1, 2, 3]), tf.tensor3d([...b, ...b], [2, 3, 2])).dataSync());
  check(core.wasmBatchMatMulKernelCalls() === calls + 1, 'the SIMD batched-matmul kernel did not run');
  check(maxAbsDiff(batched, [...expected, ...expected]) === 0, `batched matMul ${Array.from(batched)} ≠ ${expected} twice`);

  // d/dw Σ conv2d(x, w, valid) = Σ over output positions of the input patch: w[i, j, c, o] ← Σ_{y,x} x[y+i, x+j, c].
  const [h, w, c, k, o] = [5, 6, 2, 3, 2];
  const rand = uniform(1);
  const x = Float32Array.from({ length: h * w * c }, () => rand() - 0.5);
  const filter = Float32Array.from({ length: k * k * c * o }, () => rand() - 0.5);
  const reference = new Float64Array(k * k * c * o);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++)
      for (let ci = 0; ci < c; ci++) {
        let s = 0;
        for (let y = 0; y + k <= h; y++) for (let xx = 0; xx + k <= w; xx++) s += x[((y + i) * w + xx + j) * c + ci];
        for (let oi = 0; oi < o; oi++) reference[((i * k + j) * c + ci) * o + oi] = s;
      }
  const before = tf.memory().numTensors;
  const grad = tf.tidy(() => {
    const xt = tf.tensor4d(x, [1, h, w, c]);
    return tf.grad((wt) => tf.sum(tf.conv2d(xt, wt, 1, 'valid')))(tf.tensor4d(filter, [k, k, c, o])).dataSync();
  });
  check(tf.memory().numTensors === before, `tensors leaked: ${before} → ${tf.memory().numTensors}`);
  const err = maxAbsDiff(grad, reference);
  check(err < 1e-5, `conv2d filter gradient max |Δ| ${err}`);
  return `${core.backendReport().split('\n')[0]}; matMul exact; conv filter grad max |Δ| ${err.toExponential(1)}`;
});

// 3. tsd: extractTsd against a direct O((HW)²) DFT of the same high-pass filter.
await section('tsd: extractTsd vs direct DFT', async () => {
  expectExports(tsd, ['extractTsd', 'releaseTsd', 'highPassMask', 'TSD_DEFAULTS']);
  const [h, w, c] = [8, 10, 3];
  const rand = uniform(2);
  const image = Float32Array.from({ length: h * w * c }, () => rand());
  const radius = 2;
  const out = tsd.extractTsd({ data: image, height: h, width: w, channels: c }, { mask: 'gaussian', radius, channels: 'rgb', output: 'real' });
  check(JSON.stringify(out.shape) === JSON.stringify([h, w, c]), `shape ${out.shape}`);
  // Signed frequency of unshifted bin k when fftshift puts DC at ⌊n/2⌋ (the 'dc' centre).
  const signed = (k, n) => ((k + Math.floor(n / 2)) % n) - Math.floor(n / 2);
  const reference = new Float64Array(h * w * c);
  for (let ch = 0; ch < c; ch++) {
    const re = new Float64Array(h * w);
    const im = new Float64Array(h * w);
    for (let u = 0; u < h; u++)
      for (let v = 0; v < w; v++) {
        let sr = 0;
        let si = 0;
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            const phase = -2 * Math.PI * ((u * y) / h + (v * x) / w);
            const value = image[(y * w + x) * c + ch];
            sr += value * Math.cos(phase);
            si += value * Math.sin(phase);
          }
        const di = signed(u, h);
        const dj = signed(v, w);
        const mask = 1 - Math.exp(-(di * di + dj * dj) / (2 * radius * radius));
        re[u * w + v] = sr * mask;
        im[u * w + v] = si * mask;
      }
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let u = 0; u < h; u++)
          for (let v = 0; v < w; v++) {
            const phase = 2 * Math.PI * ((u * y) / h + (v * x) / w);
            s += re[u * w + v] * Math.cos(phase) - im[u * w + v] * Math.sin(phase);
          }
        reference[(y * w + x) * c + ch] = s / (h * w);
      }
  }
  const got = Array.from({ length: h * w * c }, (_, i) => out.get(Math.floor(i / (w * c)), Math.floor(i / c) % w, i % c));
  const err = maxAbsDiff(got, reference);
  check(err < 1e-6, `max |Δ| ${err}`);
  return `[${out.shape}] max |Δ| ${err.toExponential(1)} vs direct DFT`;
});

// 4. diffusion: a tiny seeded UNet2DConditionModel forward.
await section('diffusion: tiny UNet forward', async () => {
  expectExports(diffusion, ['UNet2DConditionModel', 'AutoencoderKL', 'ControlNetModel', 'DDIMScheduler', 'LCMScheduler', 'sample']);
  // The tests' TINY_UNET config (diffusion/test/toy-tasks.ts); repeated here because this script imports only
  // the published packages, never test files.
  const config = {
    block_out_channels: [16, 32],
    layers_per_block: 1,
    norm_num_groups: 8,
    cross_attention_dim: 16,
    attention_head_dim: 4,
    down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  };
  const unet = new diffusion.UNet2DConditionModel(config, { seed: 1 });
  const twin = new diffusion.UNet2DConditionModel(config, { seed: 1 });
  const x = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1);
  const text = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 2);
  try {
    check(unet.stateDict()['conv_in.weight'] !== undefined, 'stateDict has no diffusers name conv_in.weight');
    const run = (model, t) => tf.tidy(() => model.forward(x, t, text));
    const first = run(unet, 500);
    const before = tf.memory().numTensors;
    const again = run(unet, 500);
    const grown = tf.memory().numTensors - before;
    const fromTwin = run(twin, 500);
    const otherStep = run(unet, 10);
    try {
      check(JSON.stringify(first.shape) === '[1,8,8,4]', `output shape ${first.shape}`);
      const values = first.dataSync();
      check(values.every(Number.isFinite), 'non-finite output');
      check(Math.max(...values) - Math.min(...values) > 1e-3, 'constant output');
      check(grown === 1, `forward kept ${grown} tensors (expected only its output)`);
      check(maxAbsDiff(values, again.dataSync()) === 0, 'same input, different output');
      check(maxAbsDiff(values, fromTwin.dataSync()) === 0, 'same seed, different weights');
      const stepDiff = maxAbsDiff(values, otherStep.dataSync());
      check(stepDiff > 1e-5, 'the timestep has no effect');
      return `[${first.shape}] ${unet.parameterCount()} parameters; deterministic; t=10 vs t=500 max |Δ| ${stepDiff.toFixed(3)}`;
    } finally {
      tf.dispose([first, again, fromTwin, otherStep]);
    }
  } finally {
    tf.dispose([x, text]);
    unet.dispose();
    twin.dispose();
  }
});

// 5. emotion: CosineIndex large enough for 'auto' to pick the 'wasm' kernel (SIMD on worker threads, started from
// dist/retrieval-worker.mjs), against a brute-force float64 cosine top-3.
await section('emotion: CosineIndex wasm worker kernel vs brute force', async () => {
  expectExports(emotion, ['CosineIndex', 'cosineTopK', 'AUTO_WASM_MIN_WORK', 'EmotionRetriever', 'ClipTokenizer']);
  const workerFile = fileURLToPath(new URL('./retrieval-worker.mjs', import.meta.resolve('@consistent-avatar/emotion')));
  check(existsSync(workerFile), `${workerFile} missing`);
  const [n, d, k] = [10_000, 100, 3];
  const q = Math.ceil(emotion.AUTO_WASM_MIN_WORK / (n * d)); // the smallest query count 'auto' sends to wasm
  const rand = uniform(3);
  const database = Float32Array.from({ length: n * d }, () => rand() * 2 - 1);
  // Half the queries are noisy copies of database rows (a clear nearest neighbour), half are random.
  const queries = new Float32Array(q * d);
  for (let i = 0; i < q; i++) {
    const row = Math.floor(rand() * n);
    for (let j = 0; j < d; j++) queries[i * d + j] = i % 2 === 0 ? database[row * d + j] + 0.3 * (rand() - 0.5) : rand() * 2 - 1;
  }
  const norm = (v, o) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += v[o + j] * v[o + j];
    return Math.sqrt(s);
  };
  const rowNorms = Float64Array.from({ length: n }, (_, r) => norm(database, r * d));
  const expected = [];
  for (let i = 0; i < q; i++) {
    const qn = norm(queries, i * d);
    const scored = [];
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += queries[i * d + j] * database[r * d + j];
      scored.push([r, s / (qn * rowNorms[r])]);
    }
    scored.sort((x, y) => y[1] - x[1]);
    expected.push(scored.slice(0, k));
  }
  const index = new emotion.CosineIndex(database, { dimension: d, threads: 2 });
  try {
    const result = await index.search(queries, { k });
    check(result.kernel === 'wasm', `kernel ${result.kernel}, expected 'wasm' (Q·N·D = ${q * n * d})`);
    check(index.runningWorkers === 2, `${index.runningWorkers} worker threads running, expected 2`);
    let maxSimDiff = 0;
    for (let i = 0; i < q; i++) {
      for (let r = 0; r < k; r++) {
        const [row, sim] = expected[i][r];
        check(result.indices[i * k + r] === row, `query ${i} rank ${r}: row ${result.indices[i * k + r]}, brute force ${row}`);
        maxSimDiff = Math.max(maxSimDiff, Math.abs(result.similarities[i * k + r] - sim));
      }
    }
    check(maxSimDiff < 1e-9, `similarities differ by ${maxSimDiff}`);
    return `N=${n} D=${d} Q=${q} k=${k}: kernel '${result.kernel}' on 2 worker threads, all ${q * k} indices equal, max |Δsim| ${maxSimDiff.toExponential(1)}`;
  } finally {
    await index.close();
    check(index.runningWorkers === 0, 'worker threads still running after close()');
  }
});

// 6. metrics: PSNR and SSIM (skimage-default window: 7×7 uniform, sample covariance) against direct formulas.
await section('metrics: psnr / ssim vs direct formulas', async () => {
  expectExports(metrics, ['psnr', 'ssim', 'mse', 'Lpips', 'temporalConsistency', 'evaluate']);
  const [h, w, c] = [16, 12, 3];
  const rand = uniform(4);
  const a = Float32Array.from({ length: h * w * c }, () => rand());
  const b = a.map((v) => Math.min(1, Math.max(0, v + 0.1 * (rand() - 0.5))));
  const imgA = { data: a, height: h, width: w, channels: c };
  const imgB = { data: b, height: h, width: w, channels: c };

  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const psnrRef = 10 * Math.log10(1 / (se / a.length));
  const psnr = metrics.psnr(imgA, imgB);
  check(Math.abs(psnr - psnrRef) < 1e-9, `psnr ${psnr} vs ${psnrRef}`);

  const [c1, c2, r] = [0.01 ** 2, 0.03 ** 2, 3];
  const np = (2 * r + 1) ** 2;
  let total = 0;
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    let count = 0;
    for (let y = r; y < h - r; y++)
      for (let x = r; x < w - r; x++) {
        let [sa, sb, saa, sbb, sab] = [0, 0, 0, 0, 0];
        for (let dy = -r; dy <= r; dy++)
          for (let dx = -r; dx <= r; dx++) {
            const i = ((y + dy) * w + x + dx) * c + ch;
            sa += a[i];
            sb += b[i];
            saa += a[i] * a[i];
            sbb += b[i] * b[i];
            sab += a[i] * b[i];
          }
        const [ma, mb] = [sa / np, sb / np];
        const cov = np / (np - 1);
        const [va, vb, vab] = [cov * (saa / np - ma * ma), cov * (sbb / np - mb * mb), cov * (sab / np - ma * mb)];
        sum += ((2 * ma * mb + c1) * (2 * vab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        count++;
      }
    total += sum / count;
  }
  const ssimRef = total / c;
  const ssim = metrics.ssim(imgA, imgB, { variant: 'skimage-default' });
  check(Math.abs(ssim - ssimRef) < 1e-6, `ssim ${ssim} vs ${ssimRef}`);
  const same = metrics.ssim(imgA, imgA);
  check(Math.abs(same - 1) < 1e-9, `ssim(a, a) = ${same}`);
  return `psnr ${psnr.toFixed(4)} dB (|Δ| ${Math.abs(psnr - psnrRef).toExponential(1)}), ssim ${ssim.toFixed(6)} (|Δ| ${Math.abs(ssim - ssimRef).toExponential(1)}), ssim(a, a) = ${same}`;
});

// 7. proxy: FLAME's batchRodrigues against the closed-form Rodrigues formula R = I + sinθ·K + (1 − cosθ)·K².
await section('proxy: batchRodrigues vs closed-form Rodrigues', async () => {
  const v = [0.3, -0.5, 0.8];
  const theta = Math.hypot(...v);
  const [x, y, z] = v.map((c) => c / theta);
  const K = [[0, -z, y], [z, 0, -x], [-y, x, 0]];
  const ref = [];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let k2 = 0;
      for (let k = 0; k < 3; k++) k2 += K[i][k] * K[k][j];
      ref.push((i === j ? 1 : 0) + Math.sin(theta) * K[i][j] + (1 - Math.cos(theta)) * k2);
    }
  const R = proxy.batchRodrigues(tf.tensor2d([v]));
  const got = R.dataSync();
  R.dispose();
  const err = maxAbsDiff(got, ref);
  check(err < 1e-6, `max |Δ| ${err}`);
  return `max |Δ| ${err.toExponential(1)}`;
});

// 8. avatar: the published `ca` bin runs from dist and prints its usage; runCli is exported.
await section('avatar: ca bin from dist', async () => {
  check(typeof avatar.runCli === 'function', 'runCli is not exported');
  const bin = fileURLToPath(new URL('./cli/ca.js', import.meta.resolve('@consistent-avatar/avatar')));
  check(existsSync(bin), `${bin} missing`);
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  check(run.status === 0 && /Usage: ca /.test(run.stdout) && /\bsynth\b/.test(run.stdout) && /\bablate\b/.test(run.stdout), `ca --help exited ${run.status}: ${run.stdout}${run.stderr}`);
  return 'ca --help from dist/cli/ca.js';
});

if (failures.length > 0) {
  console.error(`\ndist smoke: ${failures.length} failure(s): ${failures.join('; ')}`);
  process.exit(1);
}
console.log('\ndist smoke: all checks passed');
