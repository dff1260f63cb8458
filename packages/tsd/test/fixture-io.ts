/**
 * Test helpers: read the committed fixtures in `packages/tsd/test/fixtures/` (copied from the shared reference
 * fixtures; tests never read the shared folder).
 *
 * PNG: core's `readPng` was not available when these tests were written; `pngjs` is a dependency of core (not of
 * tsd), so it is required through core's package path (as the metrics tests do). NPY: core's `readNpy`
 * (C and Fortran order; the luma fixtures are Fortran-ordered).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readNpy } from '@consistent-avatar/core';

const requireFromCore = createRequire(fileURLToPath(new URL('../../core/package.json', import.meta.url)));
const { PNG } = requireFromCore('pngjs') as {
  PNG: { sync: { read(buf: Buffer): { width: number; height: number; data: Buffer } } };
};

/** Path of a file under `packages/tsd/test/fixtures/`. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** One case of `cases.json`. */
export interface TsdCase {
  mask?: 'gaussian' | 'circle' | 'box';
  radius?: number;
  channels?: 'luma' | 'rgb';
  output?: 'abs' | 'real';
  preset?: 'release';
  input: string;
  expected: string;
  numpy_seconds?: number;
  min?: number;
  max?: number;
}

/** The fixture cases. */
export function readCases(): TsdCase[] {
  return (JSON.parse(readFileSync(fixture('cases.json'), 'utf8')) as { cases: TsdCase[] }).cases;
}

/** An 8-bit PNG as interleaved RGB bytes `[H, W, 3]` (pngjs expands to RGBA; alpha dropped). */
export function readPngBytes(name: string): { data: Uint8Array; shape: [number, number, number] } {
  const png = PNG.sync.read(readFileSync(fixture(name)));
  const n = png.width * png.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = png.data[i * 4 + c]!;
  return { data, shape: [png.height, png.width, 3] };
}

/** An 8-bit PNG as float32 RGB in [0, 1] `[H, W, 3]` (the fixtures' input convention). */
export function readPngFloat(name: string): { data: Float32Array; shape: [number, number, number] } {
  const { data, shape } = readPngBytes(name);
  return { data: Float32Array.from(data, (v) => v / 255), shape };
}

/** A float32 `.npy` fixture in C order. */
export function readNpyFloat(name: string): { data: Float32Array; shape: number[] } {
  const array = readNpy(fixture(name));
  if (!(array.data instanceof Float32Array)) throw new Error(`${name}: expected float32, got ${array.dtype}`);
  return { data: array.data, shape: array.shape };
}
