import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, FormatError, IoError } from '../errors.js';
import { hasFfmpeg, writeVideo } from './video.js';
import { probeVideo, readVideoFrames } from './video-read.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'video-read-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const COLOURS: [number, number, number][] = [[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9], [0.7, 0.7, 0.1]];

describe.skipIf(!hasFfmpeg())('readVideoFrames / probeVideo (ffmpeg)', () => {
  it('decodes the frames of an MP4 written by ffmpeg: count, size and colours', async () => {
    const file = path.join(dir, 'colours.mp4');
    const frames = COLOURS.map((c) => ({ width: 32, height: 24, channels: 3, data: Float32Array.from({ length: 32 * 24 * 3 }, (_, i) => c[i % 3]!) }));
    await writeVideo(file, frames, { fps: 10, crf: 0 });
    expect(probeVideo(file)).toMatchObject({ width: 32, height: 24, fps: 10, frames: 4 });
    const decoded = [];
    for await (const f of readVideoFrames(file)) decoded.push(f);
    expect(decoded).toHaveLength(4);
    decoded.forEach((f, k) => {
      expect([f.width, f.height, f.channels]).toEqual([32, 24, 3]);
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let p = 0; p < 32 * 24; p++) sum += f.data[3 * p + c]!;
        expect(Math.abs(sum / (32 * 24) / 255 - COLOURS[k]![c]!)).toBeLessThan(0.06); // yuv420p round trip
      }
    });
    const every = [];
    for await (const f of readVideoFrames(file, { every: 2, maxFrames: 1 })) every.push(f);
    expect(every).toHaveLength(1);
  });

  it('says which file is not a video', async () => {
    const file = path.join(dir, 'text.mp4');
    fs.writeFileSync(file, 'not a video');
    expect(() => probeVideo(file)).toThrow(FormatError);
    await expect(readVideoFrames(file).next()).rejects.toThrow(/text\.mp4/);
  });
});

describe('readVideoFrames errors without a decoder or a file', () => {
  it('an absent file is an IoError (ENOENT) naming it', () => {
    expect(() => probeVideo(path.join(dir, 'absent.mp4'))).toThrow(IoError);
    expect(() => probeVideo(path.join(dir, 'absent.mp4'))).toThrow(/absent\.mp4.*ENOENT/);
  });

  it('without ffmpeg on PATH: BackendUnavailableError saying how to install it or pass PNG frames', () => {
    const file = path.join(dir, 'exists.mp4');
    fs.writeFileSync(file, 'x');
    const saved = process.env.PATH;
    process.env.PATH = '';
    try {
      expect(() => probeVideo(file)).toThrow(BackendUnavailableError);
      expect(() => probeVideo(file)).toThrow(/apt-get install ffmpeg.*PNG frames/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
