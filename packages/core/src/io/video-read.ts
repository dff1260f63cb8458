/**
 * Read a video's frames through the `ffmpeg` executable (decoded to 8-bit RGB, streamed: one frame in memory at a
 * time) and its size / frame rate through `ffprobe` (installed with ffmpeg). Without ffmpeg on PATH,
 * {@link readVideoFrames} and {@link probeVideo} throw a {@link BackendUnavailableError} saying how to install it or to
 * pass a folder of PNG frames instead.
 *
 * @example
 * ```ts
 * import { probeVideo, readVideoFrames } from '@consistent-avatar/core';
 * const info = probeVideo('talk.mp4');                         // { width: 720, height: 528, fps: 23.976, frames: 270 }
 * for await (const frame of readVideoFrames('talk.mp4', { maxFrames: 10 })) console.log(frame.width, frame.data.length);
 * ```
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendUnavailableError, FormatError, IoError, ValidationError } from '../errors.js';
import type { ByteImage } from '../image.js';
import { findExecutable } from './video.js';

/**
 * What {@link probeVideo} reports.
 * @example
 * ```ts
 * const { width, height, fps, frames }: VideoInfo = probeVideo('talk.mp4');
 * ```
 */
export interface VideoInfo {
  /** Frame size in pixels. */
  width: number;
  height: number;
  /** Frames per second (the stream's `r_frame_rate`). */
  fps: number;
  /** Frame count when the container records it, else null. */
  frames: number | null;
}

/**
 * Options of {@link readVideoFrames}.
 * @example
 * ```ts
 * const options: ReadVideoOptions = { every: 2, maxFrames: 100 };
 * ```
 */
export interface ReadVideoOptions {
  /** Stop after this many frames (after `every`). Default: all. */
  maxFrames?: number;
  /** Keep every n-th frame (1 = all). Default 1. */
  every?: number;
}

function tool(name: 'ffmpeg' | 'ffprobe'): string {
  const found = findExecutable(name);
  if (found) return found;
  throw new BackendUnavailableError(
    `reading a video needs the ${name} executable (part of ffmpeg), which was not found on PATH. Install ffmpeg ` +
      '(Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg), or extract the frames yourself and pass the folder of PNG frames instead.',
  );
}

function checkReadable(fn: string, file: string): void {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError(fn, 'file', 'a video file path', file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
    fs.accessSync(file, fs.constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
    throw new IoError('read', file, code, code === 'ENOENT' ? 'no such file' : (error as Error).message);
  }
  if (!stat.isFile()) throw new IoError('read', file, 'EISDIR', 'not a regular file');
}

/**
 * Size, frame rate and frame count of a video's first video stream (ffprobe).
 * @throws IoError when the file cannot be read, FormatError when it holds no decodable video stream,
 *   BackendUnavailableError without ffprobe.
 * @example
 * ```ts
 * const { width, height, fps } = probeVideo('/usr/share/doc/opencv-doc/examples/data/Megamind.avi');
 * ```
 */
export function probeVideo(file: string): VideoInfo {
  const fn = 'probeVideo';
  checkReadable(fn, file);
  const ffprobe = tool('ffprobe');
  const result = spawnSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate,nb_frames', '-of', 'json', file], { encoding: 'utf8' });
  if (result.error) throw new IoError('run ffprobe on', file, (result.error as NodeJS.ErrnoException).code ?? 'UNKNOWN', result.error.message);
  let stream: { width?: number; height?: number; r_frame_rate?: string; nb_frames?: string } | undefined;
  try {
    stream = (JSON.parse(result.stdout) as { streams?: (typeof stream)[] }).streams?.[0];
  } catch {
    stream = undefined;
  }
  if (result.status !== 0 || !stream || !Number.isInteger(stream.width) || !Number.isInteger(stream.height)) {
    throw new FormatError('video', file, `no decodable video stream (ffprobe: ${(result.stderr || 'no video stream').trim().slice(0, 300)})`);
  }
  const [num, den] = (stream.r_frame_rate ?? '0/1').split('/').map(Number);
  const fps = den ? num! / den : num!;
  const frames = stream.nb_frames !== undefined && /^\d+$/.test(stream.nb_frames) ? Number(stream.nb_frames) : null;
  return { width: stream.width!, height: stream.height!, fps: Number.isFinite(fps) && fps > 0 ? fps : 0, frames };
}

/**
 * Decode a video's frames as 8-bit RGB images, streamed (ffmpeg `-f rawvideo -pix_fmt rgb24`).
 * @throws as {@link probeVideo}; a FormatError when ffmpeg fails mid-stream.
 * @example
 * ```ts
 * for await (const frame of readVideoFrames('talk.mp4', { every: 2, maxFrames: 100 })) analyse(frame); // ByteImage
 * ```
 */
export async function* readVideoFrames(file: string, options: ReadVideoOptions = {}): AsyncGenerator<ByteImage> {
  const fn = 'readVideoFrames';
  const maxFrames = options.maxFrames ?? Infinity;
  const every = options.every ?? 1;
  if (maxFrames !== Infinity && (!Number.isInteger(maxFrames) || maxFrames < 1)) throw new ValidationError(fn, 'options.maxFrames', 'an integer ≥ 1', maxFrames);
  if (!Number.isInteger(every) || every < 1) throw new ValidationError(fn, 'options.every', 'an integer ≥ 1', every);
  const { width, height } = probeVideo(file);
  const ffmpeg = tool('ffmpeg');
  const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const frameBytes = width * height * 3;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  let emitted = 0;
  try {
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= frameBytes) {
        const data = new Uint8Array(pending.subarray(0, frameBytes)); // a copy: the buffer is reused
        pending = pending.subarray(frameBytes);
        if (index++ % every === 0) {
          yield { width, height, channels: 3, data };
          if (++emitted >= maxFrames) return;
        }
      }
    }
    const code = await exited;
    if (code !== 0) throw new FormatError('video', file, `ffmpeg failed decoding frame ${index} (exit code ${code}): ${stderr.trim().slice(0, 300)}`);
    if (emitted === 0) throw new FormatError('video', file, 'no frames decoded');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited.catch(() => null);
  }
}
