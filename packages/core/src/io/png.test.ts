import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../backend/tf.js';
import { initBackend } from '../backend/init.js';
import { FormatError, ValidationError } from '../errors.js';
import { readNpy } from './npy.js';
import { encodePng, readPng, readPngTensor, writePng } from './png.js';

// PNGs written by Pillow 9.4 / OpenCV 4.6 with the values numpy decoded, saved next to them as .npy
// (test/fixtures/io/png/make_fixtures.py).
const PNG_DIR = fileURLToPath(new URL('../../test/fixtures/io/png', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-png-'));

beforeAll(async () => {
  await initBackend('cpu');
});

/** Deterministic values in [0, 1] (a fixed LCG; no Math.random). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

describe('readPng on files from other encoders', () => {
  const cases: Array<[string, number, number, number]> = [
    // name, channels, bit depth, max sample value
    ['rgb8', 3, 8, 255],
    ['rgba8', 4, 8, 255],
    ['gray8', 1, 8, 255],
    ['graya8', 2, 8, 255],
    ['rgb16', 3, 16, 65535],
    ['rgba16', 4, 16, 65535],
    ['gray16', 1, 16, 65535],
    ['palette_trns', 4, 4, 255],
    ['palette', 3, 2, 255],
    ['gray1', 1, 1, 1],
  ];
  for (const [name, channels, bitDepth, max] of cases) {
    it(`${name}: ${channels} channels, ${bitDepth}-bit, values = numpy's / ${max}`, () => {
      const image = readPng(path.join(PNG_DIR, `${name}.png`));
      const expected = readNpy(path.join(PNG_DIR, `${name}.npy`));
      expect(image.width).toBe(5);
      expect(image.height).toBe(4);
      expect(image.channels).toBe(channels);
      expect(image.bitDepth).toBe(bitDepth);
      expect(expected.shape).toEqual([4, 5, channels]);
      const want = Float32Array.from(expected.data as ArrayLike<number>, (v) => v / max);
      // The reader multiplies by 1/max in float64 before rounding to float32: identical to float32(v / max) here.
      expect(Array.from(image.data)).toEqual(Array.from(want));
    });
  }

  it('Adam7-interlaced files (hand-written, checked against Pillow), including a 1×1 image with empty passes', () => {
    for (const [name, shape, max] of [
      ['interlaced_rgb8', [5, 7, 3], 255],
      ['interlaced_gray16', [6, 9, 1], 65535],
      ['interlaced_1x1_rgba8', [1, 1, 4], 255],
    ] as const) {
      const image = readPng(path.join(PNG_DIR, `${name}.png`));
      const expected = readNpy(path.join(PNG_DIR, `${name}.npy`));
      expect([image.height, image.width, image.channels], name).toEqual([...shape]);
      expect(Array.from(image.data), name).toEqual(Array.from(expected.data as ArrayLike<number>, (v) => Math.fround(v / max)));
    }
  });

  it('keeps 16-bit precision (values that differ below 1/255 stay distinct)', () => {
    const image = readPng(path.join(PNG_DIR, 'gray16.png'));
    const raw = readNpy(path.join(PNG_DIR, 'gray16.npy')).data as Uint16Array;
    for (let i = 0; i < raw.length; i++) expect(Math.round(image.data[i]! * 65535)).toBe(raw[i]);
  });

  it('converts channels: RGB → gray (BT.601), gray → RGB, RGB → RGBA, RGBA → RGB', () => {
    const rgb = readPng(path.join(PNG_DIR, 'rgb8.png'));
    const gray = readPng(path.join(PNG_DIR, 'rgb8.png'), { channels: 1 });
    expect(gray.channels).toBe(1);
    for (let p = 0; p < 20; p++) {
      const luma = 0.299 * rgb.data[3 * p]! + 0.587 * rgb.data[3 * p + 1]! + 0.114 * rgb.data[3 * p + 2]!;
      expect(gray.data[p]).toBeCloseTo(luma, 6);
    }
    const g3 = readPng(path.join(PNG_DIR, 'gray8.png'), { channels: 3 });
    const g1 = readPng(path.join(PNG_DIR, 'gray8.png'));
    for (let p = 0; p < 20; p++) expect([g3.data[3 * p], g3.data[3 * p + 1], g3.data[3 * p + 2]]).toEqual([g1.data[p], g1.data[p], g1.data[p]]);
    const rgba = readPng(path.join(PNG_DIR, 'rgb8.png'), { channels: 4 });
    for (let p = 0; p < 20; p++) expect(rgba.data[4 * p + 3]).toBe(1);
    const dropped = readPng(path.join(PNG_DIR, 'rgba8.png'), { channels: 3 });
    const full = readPng(path.join(PNG_DIR, 'rgba8.png'));
    for (let p = 0; p < 20; p++) expect(dropped.data[3 * p + 2]).toBe(full.data[4 * p + 2]);
    expect(() => readPng(path.join(PNG_DIR, 'rgb8.png'), { channels: 2 as never })).toThrow(ValidationError);
  });

  it('readPngTensor gives [H, W, C] float32', () => {
    const t = readPngTensor(path.join(PNG_DIR, 'rgba16.png'));
    expect(t.shape).toEqual([4, 5, 4]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.dataSync())).toEqual(Array.from(readPng(path.join(PNG_DIR, 'rgba16.png')).data));
    t.dispose();
  });
});

describe('writePng', () => {
  for (const bitDepth of [8, 16] as const) {
    for (const channels of [1, 2, 3, 4]) {
      it(`round-trips ${channels} channels at ${bitDepth} bits to within half a quantisation step`, () => {
        const max = bitDepth === 16 ? 65535 : 255;
        const data = values(7 * 3 * channels, 11 * channels + bitDepth);
        const file = path.join(tmp, `rt-${channels}-${bitDepth}.png`);
        writePng(file, { width: 7, height: 3, channels, data }, { bitDepth });
        const back = readPng(file);
        expect([back.width, back.height, back.channels, back.bitDepth]).toEqual([7, 3, channels, bitDepth]);
        for (let i = 0; i < data.length; i++) {
          expect(back.data[i]).toBeCloseTo(Math.round(data[i]! * max) / max, 6);
          expect(Math.abs(back.data[i]! - data[i]!)).toBeLessThanOrEqual(0.5 / max + 1e-7);
        }
      });
    }
  }

  it('clamps to [0, 1] and rounds half up', () => {
    const bytes = encodePng({ width: 4, height: 1, channels: 1, data: [-0.5, 0.5, 1.7, 1 / 255] });
    const back = readPng(bytes);
    expect(Array.from(back.data, (v) => Math.round(v * 255))).toEqual([0, 128, 255, 1]);
  });

  it('accepts tensors [H, W, C] and [H, W]', () => {
    const t = tf.tensor3d(values(2 * 3 * 3, 3), [2, 3, 3]);
    const file = path.join(tmp, 'tensor.png');
    writePng(file, t, { bitDepth: 16 });
    const back = readPngTensor(file);
    expect(back.shape).toEqual([2, 3, 3]);
    const diff = tf.tidy(() => back.sub(t).abs().max().dataSync()[0]!);
    expect(diff).toBeLessThanOrEqual(0.5 / 65535 + 1e-7);
    const g = tf.zeros([2, 2]);
    writePng(file, g);
    expect(readPng(file).channels).toBe(1);
    tf.dispose([t, back, g]);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('validates its inputs', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Float32Array(5) })).toThrow(/12 values/);
    expect(() => encodePng({ width: 1, height: 1, channels: 5, data: new Float32Array(5) })).toThrow(ValidationError);
    expect(() => encodePng({ width: 1, height: 1, channels: 1, data: [NaN] })).toThrow(/NaN/);
    expect(() => encodePng(tf.zeros([2, 2, 5]))).toThrow(ValidationError);
    expect(() => encodePng({ width: 1, height: 1, channels: 1, data: [0] }, { bitDepth: 4 as never })).toThrow(ValidationError);
  });
});

/** Bitwise CRC-32 (PNG / ISO 3309), written out here as an independent check of the reader's table version. */
function crc32Reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('readPng malformed files', () => {
  const good = () => fs.readFileSync(path.join(PNG_DIR, 'rgb8.png'));
  function expectPngError(bytes: Uint8Array, pattern: RegExp = /corrupt or truncated PNG/): void {
    let caught: unknown;
    try {
      readPng(bytes);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).format).toBe('png');
    expect((caught as Error).message).toMatch(pattern);
  }
  it('wrong signature', () => {
    const bytes = Buffer.from(good());
    bytes[1] = 0x41;
    expectPngError(bytes, /signature/i);
  });
  it('truncated file', () => {
    const bytes = good();
    expectPngError(bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated inside chunk 'IDAT'/);
    expectPngError(bytes.subarray(0, bytes.length - 12), /IEND missing/);
  });
  it('CRC mismatch in a chunk', () => {
    const bytes = Buffer.from(good());
    bytes[20] ^= 0xff; // inside the IHDR width/height field, so its CRC no longer matches
    expectPngError(bytes, /CRC mismatch in chunk 'IHDR' at byte 8/);
  });
  it('valid chunks around undecodable image data', () => {
    // Replace the IDAT payload with bytes that are not a zlib stream, with a correct CRC: only the decoder can tell.
    const bytes = Buffer.from(good());
    const idat = bytes.indexOf('IDAT') - 4;
    const length = bytes.readUInt32BE(idat);
    bytes.fill(0x55, idat + 8, idat + 8 + length);
    bytes.writeUInt32BE(crc32Reference(bytes.subarray(idat + 4, idat + 8 + length)), idat + 8 + length);
    expectPngError(bytes, /image data is not a valid zlib stream/);
  });
  it('a cut-short zlib stream inside a well-formed IDAT chunk', () => {
    // Rebuild the IDAT chunk with only the first half of its compressed bytes (length and CRC made consistent).
    const bytes = good();
    const idat = bytes.indexOf('IDAT') - 4;
    const length = bytes.readUInt32BE(idat);
    const half = bytes.subarray(idat + 8, idat + 8 + Math.floor(length / 2));
    const header = Buffer.alloc(8);
    header.writeUInt32BE(half.length, 0);
    header.write('IDAT', 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32Reference(Buffer.concat([header.subarray(4), half])));
    const rebuilt = Buffer.concat([bytes.subarray(0, idat), header, half, crc, bytes.subarray(idat + 12 + length)]);
    expectPngError(rebuilt, /image data (is not a valid zlib stream|truncated)/);
  });
  it('an unknown scanline filter type inside a valid zlib stream', () => {
    const bytes = good();
    const idat = bytes.indexOf('IDAT') - 4;
    const length = bytes.readUInt32BE(idat);
    const raw = inflateSync(bytes.subarray(idat + 8, idat + 8 + length));
    raw[0] = 9; // filter types are 0..4
    const data = deflateSync(raw);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(data.length, 0);
    header.write('IDAT', 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32Reference(Buffer.concat([header.subarray(4), data])));
    const rebuilt = Buffer.concat([bytes.subarray(0, idat), header, data, crc, bytes.subarray(idat + 12 + length)]);
    expectPngError(rebuilt, /filter type/i);
  });
  it('chunk order: IHDR must come first', () => {
    const bytes = Buffer.from(good());
    bytes.write('IHDX', 12, 'latin1');
    expectPngError(bytes, /first chunk is 'IHDX'/);
  });
  it('empty input', () => {
    expectPngError(new Uint8Array(0), /bad signature/);
  });
  it('a missing file names it', () => {
    expect(() => readPng(path.join(tmp, 'nope.png'))).toThrow(/nope\.png: cannot read/);
  });
});
