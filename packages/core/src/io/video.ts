/**
 * Writing frame sequences: as numbered PNG files ({@link writeFrames}, always available), or as an MP4 / GIF
 * ({@link writeVideo}). Video encoding spawns the `ffmpeg` executable when it is on PATH (a fixed argument list,
 * raw RGB frames over stdin, nothing passed through a shell); without ffmpeg, GIFs are encoded in JavaScript with
 * `gifenc` and MP4 raises a {@link BackendUnavailableError} that says how to proceed.
 *
 * Frames are float images in [0, 1]: tensors [H, W, C] / [H, W] or `{width, height, channels, data}` (as
 * `readPng` returns), all the same size. Gray is replicated to RGB and alpha is dropped (no compositing).
 *
 * @example
 * ```ts
 * import { writeFrames, writeVideo, hasFfmpeg, tf } from '@consistent-avatar/core';
 * const frames = [0, 1, 2, 3].map((i) => tf.fill([64, 64, 3], i / 3));
 * writeFrames('out/frames', frames);                      // out/frames/00000.png … 00003.png
 * const result = await writeVideo('out/clip.gif', frames, { fps: 10 });
 * console.log(result.encoder, hasFfmpeg());                // 'ffmpeg' true   (or 'gifenc' false)
 * ```
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as gifencModule from 'gifenc';
import { BackendUnavailableError, IoError, ValidationError, asIoError } from '../errors.js';
import { firstNonFinite } from '../finite.js';
import { temporarySibling, writeFileAtomic } from './atomic.js';
import { encodePng, imageFromInput, type PngInput } from './png.js';

type Gifenc = typeof gifencModule.default;

/**
 * gifenc is CommonJS: under Node's ESM loader its exports sit on `default`; bundlers and vitest may instead expose
 * them as named exports (and make `default` the GIFEncoder function). Accept both.
 */
function gifencLibrary(): Gifenc {
  const candidates = [gifencModule as unknown as Gifenc, (gifencModule as { default?: Gifenc }).default];
  const lib = candidates.find((m) => m && typeof m.quantize === 'function' && typeof m.GIFEncoder === 'function');
  if (!lib) throw new BackendUnavailableError('writeVideo: the gifenc package did not load (no GIFEncoder / quantize export)');
  return lib;
}

/** Options for {@link writeFrames}. */
export interface WriteFramesOptions {
  /** File name pattern with one `%d` / `%0Nd` for the frame number. Default `'%05d.png'`. */
  pattern?: string;
  /** Number of the first frame. Default 0. */
  start?: number;
  /** PNG bit depth. Default 8. */
  bitDepth?: 8 | 16;
}

/** Options for {@link writeVideo}. */
export interface WriteVideoOptions {
  /** Frames per second. Default 25. */
  fps?: number;
  /** `auto` (default): ffmpeg when found, else gifenc for GIF; or force one. */
  encoder?: 'auto' | 'ffmpeg' | 'gifenc';
  /** MP4 (libx264) constant rate factor, 0 (lossless luma) … 51. Default 18 (visually lossless). */
  crf?: number;
  /** GIF: 0 loops forever (default), -1 plays once. */
  loop?: number;
}

/** What {@link writeVideo} wrote. */
export interface WriteVideoResult {
  file: string;
  encoder: 'ffmpeg' | 'gifenc';
  frames: number;
  width: number;
  height: number;
}

/** Format `pattern`'s single `%d` / `%0Nd` with `n`. */
function frameFileName(pattern: string, n: number): string {
  return pattern.replace(/%(0(\d+))?d/, (_, __, width: string | undefined) => String(n).padStart(Number(width ?? 0), '0'));
}

/**
 * Write frames as numbered PNG files in `dir` (created if needed; each file written atomically). Returns the paths.
 */
export function writeFrames(dir: string, frames: Iterable<PngInput>, options: WriteFramesOptions = {}): string[] {
  const fn = 'writeFrames';
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError(fn, 'dir', 'a non-empty path', dir);
  if (frames === null || typeof (frames as Iterable<PngInput>)[Symbol.iterator] !== 'function') {
    throw new ValidationError(fn, 'frames', 'an iterable of images or tensors', frames);
  }
  const pattern = options.pattern ?? '%05d.png';
  if (typeof pattern !== 'string' || (pattern.match(/%(0\d+)?d/g) ?? []).length !== 1 || pattern.includes('/')) {
    throw new ValidationError(fn, 'options.pattern', "a file name with exactly one %d or %0Nd (e.g. '%05d.png')", pattern);
  }
  const start = options.start ?? 0;
  if (!Number.isSafeInteger(start) || start < 0) throw new ValidationError(fn, 'options.start', 'an integer >= 0', start);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw asIoError(error, 'mkdir', dir);
  }
  const written: string[] = [];
  let n = start;
  for (const frame of frames) {
    const file = path.join(dir, frameFileName(pattern, n++));
    writeFileAtomic(file, encodePng(frame, { bitDepth: options.bitDepth ?? 8 }));
    written.push(file);
  }
  return written;
}

/** Absolute path of `name` on PATH (with `.exe` on Windows), or null. */
export function findExecutable(name: string): string | null {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of dirs) {
    for (const candidate of names) {
      const full = path.join(dir, candidate);
      try {
        fs.accessSync(full, fs.constants.X_OK);
        if (fs.statSync(full).isFile()) return full;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** Whether an `ffmpeg` executable is on PATH (checked on every call; no process is started). */
export function hasFfmpeg(): boolean {
  return findExecutable('ffmpeg') !== null;
}

/** A frame as packed 8-bit RGB or RGBA (alpha 255), clamped and rounded. */
function frameBytes(fn: string, arg: string, frame: PngInput, channelsOut: 3 | 4): { width: number; height: number; bytes: Uint8Array } {
  const { width, height, channels, data } = imageFromInput(fn, frame);
  // The non-finite policy (as encodePng): NaN was written as black and ±Infinity clamped, silently.
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new ValidationError(fn, arg, 'finite values (no NaN or ±Infinity)', `${data[bad]} at sample ${bad}`);
  const pixels = width * height;
  const bytes = new Uint8Array(pixels * channelsOut);
  const q = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  for (let p = 0; p < pixels; p++) {
    const i = p * channels;
    const o = p * channelsOut;
    const r = q(data[i]!);
    bytes[o] = r;
    bytes[o + 1] = channels >= 3 ? q(data[i + 1]!) : r;
    bytes[o + 2] = channels >= 3 ? q(data[i + 2]!) : r;
    if (channelsOut === 4) bytes[o + 3] = 255;
  }
  return { width, height, bytes };
}

async function* asAsync(frames: Iterable<PngInput> | AsyncIterable<PngInput>): AsyncGenerator<PngInput> {
  yield* frames as AsyncIterable<PngInput>;
}

function ffmpegArgs(kind: 'mp4' | 'gif', width: number, height: number, fps: number, crf: number, loop: number, out: string): string[] {
  const input = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24'];
  input.push('-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0', '-an');
  if (kind === 'mp4') {
    // yuv420p (what players expect) needs even sizes: pad odd ones by one black pixel.
    return [...input, '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
      '-crf', String(crf), '-movflags', '+faststart', '-f', 'mp4', out];
  }
  // One palette for the whole clip (palettegen over all frames), no dithering: stable colours across frames.
  return [...input, '-vf', 'split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=none',
    '-loop', String(loop), '-f', 'gif', out];
}

async function encodeWithFfmpeg(
  ffmpeg: string,
  kind: 'mp4' | 'gif',
  file: string,
  frames: Iterable<PngInput> | AsyncIterable<PngInput>,
  fps: number,
  crf: number,
  loop: number,
): Promise<WriteVideoResult> {
  const tmp = temporarySibling(file);
  let child: ReturnType<typeof spawn> | null = null;
  let exited: Promise<number | null> | null = null;
  let stderr = '';
  let count = 0;
  let width = 0;
  let height = 0;
  try {
    for await (const frame of asAsync(frames)) {
      const rgb = frameBytes('writeVideo', `frames[${count}]`, frame, 3);
      if (!child) {
        ({ width, height } = rgb);
        child = spawn(ffmpeg, ffmpegArgs(kind, width, height, fps, crf, loop, tmp), { stdio: ['pipe', 'ignore', 'pipe'] });
        child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
        child.stdin!.on('error', () => {}); // EPIPE when ffmpeg exits early; reported through the exit code
        exited = new Promise((resolve, reject) => {
          child!.on('error', reject);
          child!.on('close', (code) => resolve(code));
        });
      } else if (rgb.width !== width || rgb.height !== height) {
        throw new ValidationError('writeVideo', `frames[${count}]`, `the size of frame 0 (${width}x${height})`, `${rgb.width}x${rgb.height}`);
      }
      if (!child.stdin!.write(rgb.bytes)) await Promise.race([once(child.stdin!, 'drain'), exited]);
      count++;
    }
    if (!child || !exited) throw new ValidationError('writeVideo', 'frames', 'at least one frame', 'none');
    child.stdin!.end();
    const code = await exited;
    if (code !== 0) {
      // ffmpeg reports a full disk (or quota) in its own words: the same typed error as our own writes give.
      const errno = /No space left on device/i.test(stderr) ? 'ENOSPC' : /Disk quota exceeded/i.test(stderr) ? 'EDQUOT' : null;
      if (errno) throw new IoError('write', file, errno, stderr.trim().slice(-300));
      throw new Error(`writeVideo: ffmpeg failed (exit code ${code}) writing ${file}: ${stderr.trim()}`);
    }
    fs.renameSync(tmp, file);
    return { file, encoder: 'ffmpeg', frames: count, width, height };
  } catch (error) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (exited) await exited.catch(() => null);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

async function encodeGifInJs(
  file: string,
  frames: Iterable<PngInput> | AsyncIterable<PngInput>,
  fps: number,
  loop: number,
): Promise<WriteVideoResult> {
  const gifenc = gifencLibrary();
  const gif = gifenc.GIFEncoder();
  let count = 0;
  let width = 0;
  let height = 0;
  for await (const frame of asAsync(frames)) {
    const rgba = frameBytes('writeVideo', `frames[${count}]`, frame, 4);
    if (count === 0) ({ width, height } = rgba);
    else if (rgba.width !== width || rgba.height !== height) {
      throw new ValidationError('writeVideo', `frames[${count}]`, `the size of frame 0 (${width}x${height})`, `${rgba.width}x${rgba.height}`);
    }
    const palette = gifenc.quantize(rgba.bytes, 256); // per-frame palette (rgb565 binning)
    const index = gifenc.applyPalette(rgba.bytes, palette);
    gif.writeFrame(index, width, height, { palette, delay: 1000 / fps, repeat: loop });
    count++;
  }
  if (count === 0) throw new ValidationError('writeVideo', 'frames', 'at least one frame', 'none');
  gif.finish();
  writeFileAtomic(file, gif.bytes());
  return { file, encoder: 'gifenc', frames: count, width, height };
}

/**
 * Encode frames as an MP4 (H.264, yuv420p; needs ffmpeg) or a GIF (ffmpeg, else gifenc), chosen by the file
 * extension. The file appears atomically when encoding is complete. Tensors are read, not disposed.
 * Throws {@link BackendUnavailableError} when the required ffmpeg is missing.
 */
export async function writeVideo(
  file: string,
  frames: Iterable<PngInput> | AsyncIterable<PngInput>,
  options: WriteVideoOptions = {},
): Promise<WriteVideoResult> {
  const fn = 'writeVideo';
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError(fn, 'file', 'a non-empty path', file);
  const extension = path.extname(file).toLowerCase();
  if (extension !== '.mp4' && extension !== '.gif') throw new ValidationError(fn, 'file', 'a path ending in .mp4 or .gif', file);
  const kind = extension === '.mp4' ? 'mp4' : 'gif';
  if (frames === null || typeof frames !== 'object' || !(Symbol.iterator in frames || Symbol.asyncIterator in frames)) {
    throw new ValidationError(fn, 'frames', 'an iterable (or async iterable) of images or tensors', frames);
  }
  const fps = options.fps ?? 25;
  if (typeof fps !== 'number' || !(fps > 0) || fps > 1000) throw new ValidationError(fn, 'options.fps', 'a number in (0, 1000]', fps);
  const crf = options.crf ?? 18;
  if (!Number.isInteger(crf) || crf < 0 || crf > 51) throw new ValidationError(fn, 'options.crf', 'an integer in [0, 51]', crf);
  const loop = options.loop ?? 0;
  if (!Number.isInteger(loop) || loop < -1) throw new ValidationError(fn, 'options.loop', 'an integer >= -1', loop);
  const encoder = options.encoder ?? 'auto';
  if (!['auto', 'ffmpeg', 'gifenc'].includes(encoder)) throw new ValidationError(fn, 'options.encoder', "'auto', 'ffmpeg' or 'gifenc'", encoder);
  if (encoder === 'gifenc' && kind !== 'gif') throw new ValidationError(fn, 'options.encoder', "'ffmpeg' or 'auto' for MP4", encoder);
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  } catch (error) {
    throw asIoError(error, 'mkdir', path.dirname(path.resolve(file)));
  }

  const ffmpeg = encoder === 'gifenc' ? null : findExecutable('ffmpeg');
  if (ffmpeg) return encodeWithFfmpeg(ffmpeg, kind, file, frames, fps, crf, loop);
  if (kind === 'gif' && encoder !== 'ffmpeg') return encodeGifInJs(file, frames, fps, loop);
  throw new BackendUnavailableError(
    `writeVideo: writing ${kind.toUpperCase()} (${file}) needs the ffmpeg executable, which was not found on PATH. ` +
      'Install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg), or write the frames as a PNG ' +
      'image sequence with writeFrames(), which always works' +
      (kind === 'mp4' ? ' (a .gif path is also written without ffmpeg).' : '.'),
  );
}
