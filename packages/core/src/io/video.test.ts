import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../backend/tf.js';
import { initBackend } from '../backend/init.js';
import { BackendUnavailableError, ValidationError } from '../errors.js';
import { readPng } from './png.js';
import { hasFfmpeg, writeFrames, writeVideo } from './video.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-video-'));
const FFMPEG = hasFfmpeg();
const originalPath = process.env.PATH;

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => {
  process.env.PATH = originalPath;
});

/** Frame k of a small test clip: a smooth colour ramp moving right by k pixels. [H, W, 3] float in [0, 1]. */
function frame(k: number, width = 32, height = 24): { width: number; height: number; channels: 3; data: Float32Array } {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x + k) / (width + 6); // no wrap-around edge: keeps the ramp smooth for lossy codecs
      data[o + 1] = y / (height - 1);
      data[o + 2] = 0.5;
    }
  }
  return { width, height, channels: 3, data };
}

/** Frames of a few flat colours (a GIF palette holds them exactly). */
function flatFrame(k: number): { width: number; height: number; channels: 3; data: Float32Array } {
  const colours = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 1],
  ];
  const data = new Float32Array(16 * 8 * 3);
  for (let p = 0; p < 16 * 8; p++) data.set(colours[(Math.floor((p % 16) / 4) + k) % 4]!, p * 3);
  return { width: 16, height: 8, channels: 3, data };
}

/** Decode a video with ffmpeg into rgb24 frames (test oracle; only when ffmpeg exists). */
function decode(file: string, width: number, height: number): Uint8Array[] {
  const out = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    maxBuffer: 1 << 28,
  });
  expect(out.status, out.stderr?.toString()).toBe(0);
  const size = width * height * 3;
  expect(out.stdout.length % size).toBe(0);
  return Array.from({ length: out.stdout.length / size }, (_, i) => new Uint8Array(out.stdout.subarray(i * size, (i + 1) * size)));
}

/** Walk a GIF's block structure: screen size, image count, first frame delay (centiseconds), loop count. */
function parseGif(bytes: Uint8Array): { width: number; height: number; images: number; delay: number | null; loop: number | null } {
  const text = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  expect(text(0, 6)).toBe('GIF89a');
  const u16 = (i: number) => bytes[i]! | (bytes[i + 1]! << 8);
  const width = u16(6);
  const height = u16(8);
  let pos = 13;
  if (bytes[10]! & 0x80) pos += 3 * 2 ** ((bytes[10]! & 7) + 1); // global colour table
  const skipSubBlocks = () => {
    while (bytes[pos] !== 0) pos += bytes[pos]! + 1;
    pos++;
  };
  let images = 0;
  let delay: number | null = null;
  let loop: number | null = null;
  for (;;) {
    const block = bytes[pos];
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      const label = bytes[pos + 1];
      if (label === 0xf9 && delay === null) delay = u16(pos + 4);
      if (label === 0xff && text(pos + 3, pos + 14) === 'NETSCAPE2.0') loop = u16(pos + 16);
      pos += 2;
      skipSubBlocks();
    } else if (block === 0x2c) {
      images++;
      const packed = bytes[pos + 9]!;
      pos += 10;
      if (packed & 0x80) pos += 3 * 2 ** ((packed & 7) + 1); // local colour table
      pos++; // LZW minimum code size
      skipSubBlocks();
    } else {
      throw new Error(`unexpected GIF block 0x${block?.toString(16)} at ${pos}`);
    }
  }
  return { width, height, images, delay, loop };
}

describe('writeFrames', () => {
  it('writes numbered PNGs that read back as the frames', () => {
    const dir = path.join(tmp, 'frames');
    const t = tf.tensor3d(frame(2).data, [24, 32, 3]);
    const files = writeFrames(dir, [frame(0), frame(1), t]);
    expect(files.map((f) => path.basename(f))).toEqual(['00000.png', '00001.png', '00002.png']);
    const back = readPng(files[2]!);
    expect([back.width, back.height, back.channels]).toEqual([32, 24, 3]);
    const want = frame(2).data;
    for (let i = 0; i < want.length; i++) expect(Math.abs(back.data[i]! - want[i]!)).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
    t.dispose();
  });

  it('honours pattern, start and bit depth, and validates the pattern', () => {
    const dir = path.join(tmp, 'frames16');
    const files = writeFrames(dir, [frame(0)], { pattern: 'f_%03d.png', start: 7, bitDepth: 16 });
    expect(path.basename(files[0]!)).toBe('f_007.png');
    expect(readPng(files[0]!).bitDepth).toBe(16);
    expect(() => writeFrames(dir, [frame(0)], { pattern: 'frame.png' })).toThrow(ValidationError);
    expect(() => writeFrames(dir, [frame(0)], { pattern: '%d_%d.png' })).toThrow(ValidationError);
    expect(() => writeFrames(dir, [frame(0)], { pattern: '../%d.png' })).toThrow(ValidationError);
  });
});

describe('writeVideo without ffmpeg', () => {
  it('GIF falls back to gifenc: valid GIF89a with every frame, the delay and the loop count', async () => {
    process.env.PATH = path.join(tmp, 'empty-bin'); // no ffmpeg here
    expect(hasFfmpeg()).toBe(false);
    const file = path.join(tmp, 'js.gif');
    const result = await writeVideo(file, [0, 1, 2, 3, 4].map((k) => flatFrame(k)), { fps: 10 });
    expect(result).toEqual({ file, encoder: 'gifenc', frames: 5, width: 16, height: 8 });
    const gif = parseGif(fs.readFileSync(file));
    expect(gif).toEqual({ width: 16, height: 8, images: 5, delay: 10, loop: 0 }); // 100 ms = 10 centiseconds
  });

  it('MP4 raises a clear error naming ffmpeg and image sequences', async () => {
    process.env.PATH = path.join(tmp, 'empty-bin');
    const file = path.join(tmp, 'none.mp4');
    const attempt = writeVideo(file, [frame(0)]);
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(writeVideo(file, [frame(0)])).rejects.toThrow(/ffmpeg executable, which was not found on PATH.*writeFrames\(\)/s);
    await expect(writeVideo(path.join(tmp, 'none.gif'), [frame(0)], { encoder: 'ffmpeg' })).rejects.toThrow(/ffmpeg/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it.skipIf(!FFMPEG)('gifenc frames decode (with ffmpeg as the oracle) to the input colours', async () => {
    const file = path.join(tmp, 'js-check.gif');
    const frames = [0, 1, 2].map((k) => flatFrame(k));
    await writeVideo(file, frames, { encoder: 'gifenc', fps: 5 });
    const decoded = decode(file, 16, 8);
    expect(decoded).toHaveLength(3);
    for (let k = 0; k < 3; k++) {
      const want = frames[k]!.data;
      for (let i = 0; i < want.length; i++) expect(decoded[k]![i]).toBe(Math.round(want[i]! * 255));
    }
  });
});

describe.skipIf(!FFMPEG)('writeVideo with ffmpeg', () => {
  it('MP4: every frame, the size and the pixels (lossy, small error)', async () => {
    const file = path.join(tmp, 'clip.mp4');
    const frames = [0, 1, 2, 3, 4, 5].map((k) => frame(k));
    const result = await writeVideo(file, frames, { fps: 12, crf: 10 });
    expect(result).toEqual({ file, encoder: 'ffmpeg', frames: 6, width: 32, height: 24 });
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
      'stream=nb_read_frames,width,height,codec_name,r_frame_rate', '-of', 'json', file], { encoding: 'utf8' });
    const stream = JSON.parse(probe.stdout).streams[0];
    expect(stream).toMatchObject({ codec_name: 'h264', width: 32, height: 24, nb_read_frames: '6', r_frame_rate: '12/1' });
    const decoded = decode(file, 32, 24);
    for (let k = 0; k < 6; k++) {
      const want = frames[k]!.data;
      let error = 0;
      for (let i = 0; i < want.length; i++) error += Math.abs(decoded[k]![i]! / 255 - want[i]!);
      // The RGB → yuv420p (limited range, 2×2 chroma) → RGB round trip alone costs ~3.0/255 mean on this 32×24
      // two-axis ramp: measured with the plain ffmpeg CLI on the same raw frames even at -crf 0. Allow 4/255.
      expect(error / want.length).toBeLessThan(4 / 255);
    }
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('MP4 pads odd sizes to even ones', async () => {
    const file = path.join(tmp, 'odd.mp4');
    await writeVideo(file, [frame(0, 31, 23), frame(1, 31, 23)], { fps: 5 });
    expect(decode(file, 32, 24)).toHaveLength(2);
  });

  it('GIF via ffmpeg, from tensors and an async iterable', async () => {
    const file = path.join(tmp, 'ffmpeg.gif');
    const tensors = [0, 1, 2].map((k) => tf.tensor3d(flatFrame(k).data, [8, 16, 3]));
    async function* generate() {
      for (const t of tensors) yield t;
    }
    const result = await writeVideo(file, generate(), { fps: 4 });
    expect(result.encoder).toBe('ffmpeg');
    const gif = parseGif(fs.readFileSync(file));
    expect(gif.images).toBe(3);
    expect(gif.delay).toBe(25);
    const decoded = decode(file, 16, 8);
    for (let k = 0; k < 3; k++) {
      const want = flatFrame(k).data;
      for (let i = 0; i < want.length; i++) expect(decoded[k]![i]).toBe(Math.round(want[i]! * 255));
    }
    tf.dispose(tensors);
  });

  it('frames of different sizes are rejected and leave no file behind', async () => {
    const file = path.join(tmp, 'mismatch.mp4');
    await expect(writeVideo(file, [frame(0), frame(1, 16, 16)])).rejects.toThrow(/frames\[1\].*32x24/);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('writeVideo arguments', () => {
  it('validates extension, frames and options', async () => {
    await expect(writeVideo(path.join(tmp, 'a.avi'), [frame(0)])).rejects.toThrow(ValidationError);
    await expect(writeVideo(path.join(tmp, 'a.gif'), [])).rejects.toThrow(/at least one frame/);
    await expect(writeVideo(path.join(tmp, 'a.gif'), [frame(0)], { fps: 0 })).rejects.toThrow(ValidationError);
    await expect(writeVideo(path.join(tmp, 'a.mp4'), [frame(0)], { encoder: 'gifenc' })).rejects.toThrow(ValidationError);
    await expect(writeVideo(path.join(tmp, 'a.mp4'), 5 as never)).rejects.toThrow(ValidationError);
  });
});
