/**
 * The frames of `ca track`'s input: a video file (decoded by ffmpeg, see core's `readVideoFrames`) or a folder of
 * PNG frames (sorted by name, numbers compared as numbers: `2.png` before `10.png`). Iterable more than once, so
 * the tracker detects in one pass and writes in another without holding the video in memory.
 *
 * @example
 * ```ts
 * import { openFrameSource } from '@consistent-avatar/avatar';
 * const source = openFrameSource('talk.mp4', { every: 1, maxFrames: 100 });
 * for await (const { index, name, image } of source.frames()) console.log(index, name, image.width);
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IoError, ValidationError, readPng, readVideoFrames, type Image } from '@consistent-avatar/core';

/**
 * One input frame.
 * @example
 * ```ts
 * for await (const { index, name, image }: SourceFrame of source.frames()) console.log(index, name, image.width);
 * ```
 */
export interface SourceFrame {
  /** 0-based position among the frames kept. */
  index: number;
  /** Where it came from: the PNG's file name, or `frame <n>` of the video (n counts every decoded frame, from 0). */
  name: string;
  /** RGB image (bytes for videos, floats in [0, 1] for PNGs). */
  image: Image;
}

/**
 * A re-iterable frame source.
 * @example
 * ```ts
 * const source: FrameSource = openFrameSource('frames/', { every: 1, maxFrames: null });
 * ```
 */
export interface FrameSource {
  readonly kind: 'video' | 'folder';
  readonly path: string;
  /** The frames (a new pass each call). */
  frames(): AsyncGenerator<SourceFrame>;
}

/**
 * Open a video or a folder of PNG frames.
 * @param input - a video file (any format ffmpeg reads) or a folder of `.png` frames.
 * @param options - skip the first `firstFrame` frames, then keep every `every`-th frame, at most `maxFrames` (null: all).
 * @throws IoError when the path does not exist or cannot be read; ValidationError for a folder without PNG frames.
 * @example
 * ```ts
 * const source = openFrameSource('frames/', { every: 2, maxFrames: null });
 * ```
 */
export function openFrameSource(input: string, options: { every: number; maxFrames: number | null; firstFrame?: number }): FrameSource {
  const fn = 'openFrameSource';
  if (typeof input !== 'string' || input.length === 0) throw new ValidationError(fn, 'input', 'a video file or a folder of PNG frames', input);
  if (!Number.isInteger(options?.every) || options.every < 1) throw new ValidationError(fn, 'options.every', 'an integer ≥ 1', options?.every);
  const maxFrames = options.maxFrames;
  const firstFrame = options.firstFrame ?? 0;
  if (!Number.isInteger(firstFrame) || firstFrame < 0) throw new ValidationError(fn, 'options.firstFrame', 'an integer ≥ 0', firstFrame);
  if (maxFrames !== null && (!Number.isInteger(maxFrames) || maxFrames < 1)) throw new ValidationError(fn, 'options.maxFrames', 'null or an integer ≥ 1', maxFrames);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(input);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
    throw new IoError('read', input, code, code === 'ENOENT' ? 'no such file or folder' : (error as Error).message);
  }
  const every = options.every;
  if (stat.isDirectory()) {
    const names = fs.readdirSync(input).filter((n) => /\.png$/i.test(n)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (names.length === 0) throw new ValidationError(fn, 'input', 'a folder holding PNG frames (*.png) or a video file', `${input} (no .png files)`);
    const kept = names.slice(firstFrame).filter((_, i) => i % every === 0).slice(0, maxFrames ?? undefined);
    return {
      kind: 'folder',
      path: input,
      async *frames() {
        for (const [index, name] of kept.entries()) {
          const png = readPng(path.join(input, name), { channels: 3 });
          yield { index, name, image: { width: png.width, height: png.height, channels: 3, data: png.data } };
        }
      },
    };
  }
  return {
    kind: 'video',
    path: input,
    async *frames() {
      let decoded = 0;
      let index = 0;
      for await (const image of readVideoFrames(input)) {
        const n = decoded++;
        if (n < firstFrame || (n - firstFrame) % every !== 0) continue;
        yield { index, name: `frame ${n}`, image };
        if (++index === maxFrames) return;
      }
    },
  };
}
