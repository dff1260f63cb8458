/**
 * Test helper: decode an 8-bit PNG into a float [0, 1] MetricImage.
 *
 * Core's `readPng` was not available when these tests were written; `pngjs` is a dependency of core (not of
 * metrics), so it is required through core's package path.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MetricImage } from '../src/image.js';

const requireFromCore = createRequire(fileURLToPath(new URL('../../core/package.json', import.meta.url)));
const { PNG } = requireFromCore('pngjs') as {
  PNG: { sync: { read(buf: Buffer): { width: number; height: number; data: Buffer } } };
};

/** Path of a file under `packages/metrics/test/fixtures/`. */
export function fixture(rel: string): string {
  return fileURLToPath(new URL(`./fixtures/${rel}`, import.meta.url));
}

/** Read a PNG as `[H, W, channels]` float32 in [0, 1] (pngjs expands to RGBA; keep the first `channels`). */
export function readPngImage(path: string, channels: 1 | 3 = 3): MetricImage {
  const png = PNG.sync.read(readFileSync(path));
  const n = png.width * png.height;
  const data = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = png.data[i * 4 + c]! / 255;
  return { data, height: png.height, width: png.width, channels };
}
