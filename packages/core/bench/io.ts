/**
 * I/O throughput: safetensors read/write (256 MiB of F32), .npz / .npy read (64 MiB of float32), PNG decode/encode
 * (1024² RGB, 8- and 16-bit) — ours against numpy / OpenCV / Pillow in the same run (bench/io_reference.py via
 * Debian's /usr/bin/python3).
 *
 *   node --conditions=source --import tsx packages/core/bench/io.ts [--repeats 3]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/init.js';
import { tf } from '../src/backend/tf.js';
import { readSafetensors, loadSafetensorsAsTensors, writeSafetensors } from '../src/io/safetensors.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { readNpz, writeNpz } from '../src/io/npz.js';
import { encodePng, readPng, writePng } from '../src/io/png.js';

const repeatsArg = process.argv.indexOf('--repeats');
const repeats = repeatsArg > 0 ? Number(process.argv[repeatsArg + 1]) : 3;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-io-bench-'));

function medianSeconds(fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** Deterministic float data (no Math.random). */
function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

await initBackend('cpu');
// Inputs: 64 tensors × 1 Mi floats (256 MiB), a 64 MiB npz / npy, 1024² PNGs.
const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
for (let i = 0; i < 64; i++) tensors[`block.${i}.weight`] = { dtype: 'F32', shape: [1024, 1024], data: fill(1 << 20, i + 1) };
const bigFile = path.join(work, 'big.safetensors');
writeSafetensors(bigFile, tensors);
const npzArrays: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
for (let i = 0; i < 16; i++) npzArrays[`a${i}`] = { dtype: 'float32', shape: [1024, 1024], data: tensors[`block.${i}.weight`]!.data };
writeNpz(path.join(work, 'big.npz'), npzArrays);
writeNpy(path.join(work, 'big.npy'), { dtype: 'float32', shape: [4096, 4096], data: fill(4096 * 4096, 99) });
const imageData = fill(1024 * 1024 * 3, 5).map((v) => v + 0.5);
const image = { width: 1024, height: 1024, channels: 3, data: imageData };
writePng(path.join(work, 'rgb8.png'), image, { bitDepth: 8 });
writePng(path.join(work, 'rgb16.png'), image, { bitDepth: 16 });

const ours: Record<string, number> = {};
ours.safetensors_read = medianSeconds(() => readSafetensors(bigFile));
ours.safetensors_load_tensors = medianSeconds(() => tf.dispose(Object.values(loadSafetensorsAsTensors(bigFile))));
ours.safetensors_write = medianSeconds(() => writeSafetensors(path.join(work, 'ts-out.safetensors'), tensors));
ours.npz_read = medianSeconds(() => readNpz(path.join(work, 'big.npz')));
ours.npy_read = medianSeconds(() => readNpy(path.join(work, 'big.npy')));
for (const name of ['rgb8', 'rgb16']) {
  const file = path.join(work, `${name}.png`);
  ours[`png_read_${name}`] = medianSeconds(() => readPng(file));
  ours[`png_write_${name}`] = medianSeconds(() => encodePng(image, { bitDepth: name === 'rgb16' ? 16 : 8 }));
}

const script = fileURLToPath(new URL('./io_reference.py', import.meta.url));
const python = spawnSync('/usr/bin/python3', [script, work, String(repeats)], { encoding: 'utf8', maxBuffer: 1 << 20 });
if (python.status !== 0) throw new Error(`reference failed: ${python.stderr}`);
const ref = JSON.parse(python.stdout) as Record<string, number>;
fs.rmSync(work, { recursive: true, force: true });

const rows: Array<[string, number, string, number]> = [
  ['safetensors read 256 MiB F32 → typed arrays', ours.safetensors_read!, 'numpy fromfile at offsets', ref.safetensors_read!],
  ['safetensors read 256 MiB → tf tensors (cpu)', ours.safetensors_load_tensors!, 'numpy fromfile at offsets', ref.safetensors_read!],
  ['safetensors write 256 MiB F32', ours.safetensors_write!, 'numpy tofile', ref.safetensors_write!],
  ['npz read 64 MiB (stored)', ours.npz_read!, 'np.load, all arrays', ref.npz_read!],
  ['npy read 64 MiB', ours.npy_read!, 'np.load', ref.npy_read!],
  ['PNG decode 1024² RGB 8-bit', ours.png_read_rgb8!, 'cv2.imread', ref.png_read_rgb8_cv2!],
  ['PNG decode 1024² RGB 8-bit', ours.png_read_rgb8!, 'Pillow', ref.png_read_rgb8_pil!],
  ['PNG decode 1024² RGB 16-bit', ours.png_read_rgb16!, 'cv2.imread', ref.png_read_rgb16_cv2!],
  ['PNG encode 1024² RGB 8-bit', ours.png_write_rgb8!, 'cv2.imwrite', ref.png_write_rgb8_cv2!],
  ['PNG encode 1024² RGB 16-bit', ours.png_write_rgb16!, 'cv2.imwrite', ref.png_write_rgb16_cv2!],
];
console.log(`median of ${repeats} (seconds); load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log('| workload | ours s | reference | ref s | ours ÷ ref |');
console.log('|---|---|---|---|---|');
for (const [what, oursSeconds, refName, refSeconds] of rows) {
  console.log(`| ${what} | ${oursSeconds.toFixed(3)} | ${refName} | ${refSeconds.toFixed(3)} | ${(oursSeconds / refSeconds).toFixed(2)} |`);
}
