/**
 * bench/tsd: the Fourier TSD filter, ours (extractTsd) against numpy's FFT (pocketfft, float64) running the same
 * filter in the same run, through /usr/bin/python3 and bench/tsd_numpy.py.
 *
 * Workloads: one 512×512 RGB image (the astronaut fixture) and a 100-frame 256×256 sequence (a crop sliding over
 * the same photograph, given to extractTsd as one batch, an array of images, so the mask and FFT buffers are built
 * once), plus a 500×500 crop (not a power of two: Bluestein's algorithm in ndarray-fft, mixed radix in pocketfft),
 * each with the `paper` settings (gaussian ω = 10, rgb, real) and the released code's filter (gaussian ω = 10,
 * luma, abs). Reports the median seconds per frame over repeats and the ratio ours ÷ numpy (lower is better), and
 * the same paper filter on our FFT plan vs the ndarray-fft engine (the optimisation, measured). Prints the tables
 * and writes them as JSON to `--out` (default `bench/results/tsd-filter.json`).
 *
 *   node --conditions=source --import tsx packages/tsd/bench/tsd.ts [--repeats 5] [--python /usr/bin/python3] [--out FILE]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPng, type FloatImage } from '@consistent-avatar/core';
import { extractTsd, highPassMask, TSD_PAPER_PRESET, type TsdOptions } from '../src/index.js';
import { filterPlanes } from '../src/extract-tsd.js';
import { Fft2d, type FftEngine } from '../src/fft2d.js';

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));
const args = process.argv.slice(2);
const repeatsArg = args.indexOf('--repeats');
const repeats = repeatsArg >= 0 ? Number(args[repeatsArg + 1]) : 5;
const option = (name: string, fallback: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const python = option('--python', '/usr/bin/python3');
const out = option('--out', here('./results/tsd-filter.json'));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// 1. Inputs: the 512² photograph and 100 sliding 256² crops of it.
const png = readPng(here('../test/fixtures/astronaut_512.png'), { channels: 3 }); // [512, 512, 3] in [0, 1]
const photo: FloatImage = { data: png.data, height: 512, width: 512, channels: 3 };
const frames: FloatImage[] = Array.from({ length: 100 }, (_, k) => {
  const data = new Float32Array(256 * 256 * 3); // [256, 256, 3]
  const top = 2 * k;
  const left = k;
  for (let i = 0; i < 256; i++) {
    data.set(photo.data.subarray(((top + i) * 512 + left) * 3, ((top + i) * 512 + left + 256) * 3), i * 256 * 3);
  }
  return { data, height: 256, width: 256, channels: 3 };
});

const crop500: FloatImage = { data: new Float32Array(500 * 500 * 3), height: 500, width: 500, channels: 3 }; // [500, 500, 3]
for (let i = 0; i < 500; i++) crop500.data.set(photo.data.subarray(i * 512 * 3, (i * 512 + 500) * 3), i * 500 * 3);

const settings: { name: string; options: TsdOptions; numpy: string[] }[] = [
  { name: 'paper (gaussian ω=10, rgb, real)', options: { preset: 'paper' }, numpy: ['gaussian', '10', 'rgb', 'real'] },
  {
    name: 'released filter (gaussian ω=10, luma, abs)',
    options: { mask: 'gaussian', radius: 10, channels: 'luma', output: 'abs' },
    numpy: ['gaussian', '10', 'luma', 'abs'],
  },
];

/** Seconds per frame: wall clock and CPU time of this process (user + system). */
interface Timing {
  wall: number;
  cpu: number;
}

/** Median seconds per frame of `run` (which processes `count` frames), after one warm-up run. */
function timeOurs(run: () => void, count: number): Timing {
  run();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wall.push((performance.now() - t0) / 1000 / count);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6 / count);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

/** numpy's median seconds per frame for raw float32 frames [n, h, w, 3]. */
function timeNumpy(dir: string, name: string, data: Float32Array[], h: number, w: number, filter: string[]): Timing {
  const file = join(dir, `${name}.f32`);
  const all = new Float32Array(data.length * h * w * 3);
  data.forEach((d, n) => all.set(d, n * h * w * 3));
  writeFileSync(file, all);
  const result = spawnSync(
    python,
    [here('./tsd_numpy.py'), file, String(data.length), String(h), String(w), ...filter, String(repeats)],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`numpy reference failed: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as { seconds_per_frame: number; cpu_seconds_per_frame: number };
  return { wall: parsed.seconds_per_frame, cpu: parsed.cpu_seconds_per_frame };
}

/** The paper-preset filter of one [H, W, 3] image (its three planes) on the given FFT engine, plan built once. */
function paperWithEngine(image: FloatImage, engine: FftEngine): () => void {
  const { height: h, width: w } = image;
  const mask = highPassMask(h, w, TSD_PAPER_PRESET.mask, TSD_PAPER_PRESET.radius);
  const fft = new Fft2d(h, w, engine);
  const planes = [0, 1, 2].map(() => new Float64Array(h * w)); // 3 × [H, W]
  return () => {
    planes.forEach((plane, p) => {
      for (let t = 0; t < h * w; t++) plane[t] = image.data[3 * t + p]!;
    });
    filterPlanes(planes, mask, TSD_PAPER_PRESET.output, fft);
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tsd-bench-'));
const rows: { workload: string; setting: string; ours: Timing; numpy: Timing }[] = [];
const engineRows: { workload: string; native: Timing; ndarray: Timing }[] = [];
try {
  for (const s of settings) {
    // 2. One 512×512 RGB image.
    const ours512 = timeOurs(() => void extractTsd(photo, s.options), 1);
    const numpy512 = timeNumpy(dir, 'photo', [photo.data], 512, 512, s.numpy);
    rows.push({ workload: '512² image', setting: s.name, ours: ours512, numpy: numpy512 });
    // 3. The 100-frame 256² sequence as one batch.
    const oursSeq = timeOurs(() => void extractTsd(frames, s.options), frames.length);
    const numpySeq = timeNumpy(dir, 'sequence', frames.map((f) => f.data), 256, 256, s.numpy);
    rows.push({ workload: '100 × 256² batch', setting: s.name, ours: oursSeq, numpy: numpySeq });
    // 4. A non-power-of-two size (Bluestein path): a 500×500 crop.
    const oursOdd = timeOurs(() => void extractTsd(crop500, s.options), 1);
    const numpyOdd = timeNumpy(dir, 'crop500', [crop500.data], 500, 500, s.numpy);
    rows.push({ workload: '500² image (not 2ⁿ)', setting: s.name, ours: oursOdd, numpy: numpyOdd });
  }
  // 5. The optimisation, measured: the same paper filter on ndarray-fft vs our FFT plan (no numpy here).
  const engineCases: [string, FloatImage][] = [
    ['512² image', photo],
    ['500² image (not 2ⁿ)', crop500],
  ];
  for (const [name, image] of engineCases) {
    const native = timeOurs(paperWithEngine(image, 'native'), 1);
    const nd = timeOurs(paperWithEngine(image, 'ndarray-fft'), 1);
    engineRows.push({ workload: name, native, ndarray: nd });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ms = (t: number): string => (t * 1e3).toFixed(2);
console.log(`TSD filter, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), Node ${process.version}, repeats ${repeats}`);
console.log('CPU = user + system time of the process (robust to other load on the machine); wall = elapsed time.');
console.log('| workload | setting | ours CPU ms/frame | numpy CPU ms/frame | ours ÷ numpy (CPU) | ours ÷ numpy (wall) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.workload} | ${r.setting} | ${ms(r.ours.cpu)} | ${ms(r.numpy.cpu)} | ${(r.ours.cpu / r.numpy.cpu).toFixed(2)} | ${(r.ours.wall / r.numpy.wall).toFixed(2)} |`,
  );
}
console.log('');
console.log('| workload (paper filter) | FftPlan engine CPU ms | ndarray-fft engine CPU ms | speed-up (CPU) | speed-up (wall) |');
console.log('|---|---|---|---|---|');
for (const r of engineRows) {
  console.log(
    `| ${r.workload} | ${ms(r.native.cpu)} | ${ms(r.ndarray.cpu)} | ${(r.ndarray.cpu / r.native.cpu).toFixed(2)}× | ${(r.ndarray.wall / r.native.wall).toFixed(2)}× |`,
  );
}

const numpyVersion = spawnSync(python, ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' }).stdout.trim();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      command: `node --conditions=source --import tsx packages/tsd/bench/tsd.ts ${args.join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'cpu', node: process.version, numpy: numpyVersion },
      repeats,
      unit: 'seconds per frame (median over repeats); cpu = user + system time of the process',
      rows,
      engineRows,
    },
    null,
    1,
  ) + '\n',
);
console.log(`wrote ${out}`);
