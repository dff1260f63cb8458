/**
 * Test helpers: read the committed fixtures in `packages/tsd/test/fixtures/` (copied from the shared reference
 * fixtures; tests never read the shared folder).
 *
 * PNG and NPY through core's `readPng` (float [0, 1]) and `readNpy` (C and Fortran order; the luma fixtures are
 * Fortran-ordered).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readNpy, readPng, type ByteImage, type FloatImage } from '@consistent-avatar/core';

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

/** An 8-bit PNG as a core `FloatImage`: RGB float32 in [0, 1] `[H, W, 3]` (the fixtures' input convention). */
export function readPngFloat(name: string): FloatImage {
  const png = readPng(fixture(name), { channels: 3 });
  return { data: png.data, height: png.height, width: png.width, channels: 3 };
}

/** An 8-bit PNG as a core `ByteImage`: interleaved RGB bytes `[H, W, 3]`. */
export function readPngBytes(name: string): ByteImage {
  const { data, height, width } = readPngFloat(name);
  return { data: Uint8Array.from(data, (v) => Math.round(v * 255)), height, width, channels: 3 };
}

/** A float32 `.npy` fixture in C order. */
export function readNpyFloat(name: string): { data: Float32Array; shape: number[] } {
  const array = readNpy(fixture(name));
  if (!(array.data instanceof Float32Array)) throw new Error(`${name}: expected float32, got ${array.dtype}`);
  return { data: array.data, shape: array.shape };
}

/** max |a − b| and max |b|. */
export function maxErrors(actual: ArrayLike<number>, expected: ArrayLike<number>): { err: number; ref: number } {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i]! - expected[i]!));
    ref = Math.max(ref, Math.abs(expected[i]!));
  }
  return { err, ref };
}
