/**
 * `ca track` end to end (quick): a short rendered video of the synthetic head → `ca track` → `readInstaDataset` → the
 * fitted head rotation is close to the truth. The clip is encoded to a lossless video file through ffmpeg when ffmpeg
 * is installed (CI installs it: there the video path is required), else tracked as a folder of PNG frames.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axisAngleToMatrix, readInstaDataset } from '@consistent-avatar/proxy';
import { ValidationError, hasFfmpeg, initBackend, writePng } from '@consistent-avatar/core';
import { trackVideo } from './track-video.js';
import { main } from '../cli/ca.js';
import { renderSyntheticClip } from './synthetic-clip.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-track-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('wasm');
});

async function ca(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const log = console.log;
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n`; };
  try {
    const code = await main(args, { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
    return { code, out, err };
  } finally {
    console.log = log;
  }
}

/** Geodesic angle (degrees) between two axis-angle rotations. */
function angleDeg(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = axisAngleToMatrix(Array.from(a)), rb = axisAngleToMatrix(Array.from(b));
  let trace = 0;
  for (let i = 0; i < 9; i++) trace += ra[i]! * rb[i]!; // tr(Raᵀ Rb)
  return (Math.acos(Math.min(1, Math.max(-1, (trace - 1) / 2))) * 180) / Math.PI;
}

describe('ca track', () => {
  it('tracks a rendered synthetic-head clip into an INSTA dataset whose head rotation is close to the truth', async () => {
    // The accuracy bench's setting (192² renders tracked to 128², default fit), identity 2 (the embedding was made
    // on identity 0), 12 frames.
    const clip = renderSyntheticClip({ identity: 2, frames: 12, size: 192, seed: 2 });
    const frames = path.join(dir, 'frames');
    fs.mkdirSync(frames, { recursive: true });
    clip.images.forEach((image, i) => writePng(path.join(frames, `${i}.png`), image));
    // A real video file when ffmpeg is here (FFV1 in Matroska: lossless, so the frames are the renders).
    if (process.env.CI) expect(hasFfmpeg(), 'CI installs ffmpeg (.ci/run) so that ca track reads a video').toBe(true);
    let input = frames;
    if (hasFfmpeg()) {
      input = path.join(dir, 'clip.mkv');
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-framerate', '25', '-i', path.join(frames, '%d.png'), '-c:v', 'ffv1', '-pix_fmt', 'rgb24', input]);
    }
    const config = path.join(dir, 'track.json');
    fs.writeFileSync(config, JSON.stringify({ testFrames: 2 }));
    const out = path.join(dir, 'dataset');
    const r = await ca(['track', input, '--out', out, '--size', '128', '--config', config]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/synthetic head \(embedded default, not FLAME\)/);
    const ds = readInstaDataset(out);
    expect(ds.frames).toHaveLength(12);
    expect([ds.width, ds.height]).toEqual([128, 128]);
    expect(ds.split.test).toHaveLength(2);
    expect(ds.poseSource).toBe('flame/pose files');
    const errors = ds.frames.map((f, i) => angleDeg(f.pose!.slice(0, 3), clip.truth[i]!.paperPose.slice(0, 3)));
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    // Bound from packages/avatar/bench/results/track-accuracy.json (same setting, 24 frames of identities 1–3): the
    // worst single frame was 8.6° (summary.headRotationErrorDeg.trackerMaxFrame), the mean over clips 4.1°.
    expect(mean).toBeLessThan(8.7);
    // The images carry the fitted head's mask as alpha, tracking.json the model and the per-frame landmarks.
    const tracking = JSON.parse(fs.readFileSync(path.join(out, 'tracking.json'), 'utf8')) as { model: string; frames: unknown[] };
    expect(tracking.model).toMatch(/synthetic/);
    expect(tracking.frames).toHaveLength(12);
  }, 240_000);

  it('ca run --data follows on a tracked folder (quick preset), with the synthetic head and the fitted shape as stage 1 model', async () => {
    const frames = path.join(dir, 'frames'); // the first test's clip (rendered here when this test runs alone)
    if (!fs.existsSync(frames)) {
      fs.mkdirSync(frames);
      renderSyntheticClip({ identity: 2, frames: 12, size: 192, seed: 2 }).images.forEach((image, i) => writePng(path.join(frames, `${i}.png`), image));
    }
    const fitConfig = path.join(dir, 'track-quick.json');
    fs.writeFileSync(fitConfig, JSON.stringify({ testFrames: 3, rigidSteps: 60, fullSteps: 100 }));
    const data = path.join(dir, 'dataset-32');
    // The first test's video file when it made one (CI: always), so that `ca track <video>` then `ca run` is tested end to end.
    const video = path.join(dir, 'clip.mkv');
    const input = fs.existsSync(video) ? video : frames;
    expect((await ca(['track', input, '--out', data, '--size', '32', '--config', fitConfig])).code).toBe(0);
    const runConfig = path.join(dir, 'quick.json');
    fs.writeFileSync(runConfig, JSON.stringify({ preset: 'quick', validationFrames: 2 }));
    const run = path.join(dir, 'run');
    const r = await ca(['run', '--run', run, '--data', data, '--config', runConfig, '--backend', 'wasm', '--no-browser-check']);
    expect(r.code).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(run, 'outputs/eval/results.json'), 'utf8')) as { rows: { name?: string; row?: string }[] };
    expect(results.rows.length).toBeGreaterThanOrEqual(2);
    expect(fs.existsSync(path.join(run, 'outputs/report/report.html'))).toBe(true);
  }, 240_000);

  it('a clip without a detectable face names how many frames and which', async () => {
    const gray = path.join(dir, 'gray');
    fs.mkdirSync(gray);
    for (const name of ['a1.png', 'a2.png', 'a10.png']) writePng(path.join(gray, name), { width: 64, height: 64, channels: 3, data: new Float32Array(64 * 64 * 3).fill(0.5) });
    const r = await ca(['track', gray, '--out', path.join(dir, 'none')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no face in 3 of 3 frames/);
    expect(r.err).toMatch(/a1\.png, a2\.png, a10\.png/); // numeric order
    expect(fs.existsSync(path.join(dir, 'none'))).toBe(false);
  }, 120_000);

  it('an unreadable input, a bad config field and an unknown flag are errors naming them', async () => {
    const missing = await ca(['track', path.join(dir, 'absent.mp4'), '--out', path.join(dir, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/absent\.mp4.*ENOENT/);
    const config = path.join(dir, 'bad.json');
    fs.writeFileSync(config, JSON.stringify({ cropScale: 0.5 }));
    const bad = await ca(['track', dir, '--out', path.join(dir, 'x'), '--config', config]);
    expect(bad.err).toMatch(/config\.cropScale/);
    const unknown = await ca(['track', dir, '--out', path.join(dir, 'x'), '--frobnicate']);
    expect(unknown.code).toBe(1);
    const flame = path.join(dir, 'flame');
    fs.mkdirSync(flame);
    const one = path.join(dir, 'one-frame');
    fs.mkdirSync(one);
    writePng(path.join(one, '0.png'), { width: 32, height: 32, channels: 3, data: new Float32Array(32 * 32 * 3).fill(0.5) });
    const noEmbedding = await ca(['track', one, '--out', path.join(dir, 'x'), '--flame', flame]);
    expect(noEmbedding.code).toBe(1);
    expect(noEmbedding.err).toMatch(/mediapipe_landmark_embedding\.npz/);
  });
});

describe('trackVideo: the FLAME folder', () => {
  it('a folder with two model .npz files and neither standard name is refused naming options.flame, before any output is written', async () => {
    const frames = path.join(dir, 'flame-choice-frames');
    fs.mkdirSync(frames, { recursive: true });
    writePng(path.join(frames, '000.png'), { width: 4, height: 4, channels: 3, data: new Float32Array(48).fill(0.5) });
    const flame = path.join(dir, 'flame-choice');
    fs.mkdirSync(flame, { recursive: true });
    for (const name of ['mediapipe_landmark_embedding.npz', 'a.npz', 'b.npz']) fs.writeFileSync(path.join(flame, name), '');
    const out = path.join(dir, 'flame-choice-out');
    const error = await trackVideo(frames, { out, flame }).then(() => null, (e: Error) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toMatch(/trackVideo.*options\.flame.*flame2020\.npz or generic_model\.npz.*holds a\.npz, b\.npz/s);
    expect(fs.existsSync(out)).toBe(false);
  });
});
