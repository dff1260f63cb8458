/**
 * Test helpers: fixture paths and PNG reading through core's `readPng` (float [0, 1], as the fixtures define).
 */
import { fileURLToPath } from 'node:url';
import { readPng, type FloatImage } from '@consistent-avatar/core';

/** Path of a file under `packages/metrics/test/fixtures/`. */
export function fixture(rel: string): string {
  return fileURLToPath(new URL(`./fixtures/${rel}`, import.meta.url));
}

/** Read a PNG as `[H, W, channels]` float32 in [0, 1]. */
export function readPngImage(path: string, channels: 1 | 3 = 3): FloatImage {
  const png = readPng(path, { channels });
  return { data: png.data, height: png.height, width: png.width, channels };
}
