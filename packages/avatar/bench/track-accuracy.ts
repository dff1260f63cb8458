/**
 * Accuracy and speed of `ca track` (src/track/track-video.ts) on renders with known parameters, and a run on a real
 * clip with its overlay strip.
 *
 * 1. Synthetic clips: the synthetic head under identities the tracker's landmark embedding never saw (it was made on
 *    identity 0 at a neutral expression), a seeded head motion (yaw up to ±20°, pitch ±10°, roll ±6°), jaw opening
 *    up to 11° and MEAD-emotion expressions (renderSyntheticClip), written as PNG frames and tracked by the full
 *    pipeline (face mesh → fit → crop → INSTA writer). Against the truth:
 *    - head-rotation error: the geodesic angle between fitted and true global rotations (degrees);
 *    - jaw error: ‖θ_fit − θ_true‖ of the jaw axis-angle (degrees);
 *    - expression correlation: Pearson r over frames × the 16 named expression components (the ones the emotions
 *      move), fitted vs true;
 *    - landmark error: fitted landmark pixels vs the true ones (the embedding's points on the true mesh, projected
 *      by the render camera and mapped into the crop), in output pixels;
 *    each against the **mean-pose baseline**: every frame predicted as the clip's true mean (rotation, jaw,
 *    expression, landmark positions) — an oracle constant that knows the truth's average.
 * 2. A real clip (default: `Megamind.avi` of Debian's opencv-doc, one shot): tracked with the synthetic head (no
 *    FLAME files here), the mean landmark reprojection error against human's detected face mesh, and an overlay
 *    strip (top: the crop with detected (green) and fitted (red) landmarks; bottom: the fitted synthetic mesh).
 * 3. Speed per frame (detect, fit, write) of each run, on this machine, with its load average.
 *
 *   node --conditions=source --import tsx packages/avatar/bench/track-accuracy.ts \
 *     [--identities 1,2,3] [--frames 40] [--size 256] [--out-size 256] [--clip FILE|none] [--clip-first 160] [--clip-frames 40]
 *     [--config '{"fullSteps": 300}'] (TrackConfig overrides)
 *
 * Writes `packages/avatar/bench/results/track-accuracy.json` and `docs/learn/img/track-overlay-strip.png`.
 */
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson, readPng, tf, useBackend, writeJsonAtomic, writePng } from '@consistent-avatar/core';
import {
  LandmarkRig, axisAngleToMatrix, createSyntheticHead, projectPoints, rasterize, readInstaDataset, syntheticIdentityShape,
  syntheticMediapipeEmbedding, trackingCamera,
} from '@consistent-avatar/proxy';
import { renderSyntheticClip, trackVideo, type TrackConfig } from '@consistent-avatar/avatar';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const IDENTITIES = flag('--identities', '1,2,3').split(',').map(Number);
const FRAMES = Number(flag('--frames', '40'));
const SIZE = Number(flag('--size', '256'));
const OUT_SIZE = Number(flag('--out-size', '256'));
const CLIP = flag('--clip', '/usr/share/doc/opencv-doc/examples/data/Megamind.avi');
const CLIP_FIRST = Number(flag('--clip-first', '160'));
const CLIP_FRAMES = Number(flag('--clip-frames', '40'));
const RESULT = fileURLToPath(new URL('./results/track-accuracy.json', import.meta.url));
const STRIP = fileURLToPath(new URL('../../../docs/learn/img/track-overlay-strip.png', import.meta.url));
const NAMED = 16; // the synthetic head's named expression components

await useBackend('wasm');
const tmp = fs.mkdtempSync(join(tmpdir(), 'track-accuracy-'));
const DEG = 180 / Math.PI;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
/** Geodesic angle (degrees) between two axis-angle rotations. */
function angleBetween(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = axisAngleToMatrix(Array.from(a)), rb = axisAngleToMatrix(Array.from(b));
  let trace = 0;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) trace += ra[k * 3 + i]! * rb[k * 3 + i]!; // tr(Raᵀ Rb)
  return Math.acos(Math.min(1, Math.max(-1, (trace - 1) / 2))) * DEG;
}
function pearson(x: number[], y: number[]): number {
  const mx = mean(x), my = mean(y);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) { sxy += (x[i]! - mx) * (y[i]! - my); sxx += (x[i]! - mx) ** 2; syy += (y[i]! - my) ** 2; }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}
interface Tracking { crop: { x0: number; y0: number; side: number; size: number }; frames: { landmarks: number[]; fittedLandmarks: number[] }[]; shape: number[] }
const t0 = performance.now();
const config: Partial<TrackConfig> = { ...(JSON.parse(flag('--config', '{}')) as Partial<TrackConfig>), size: OUT_SIZE, testFrames: 1 };
const clips: Record<string, unknown>[] = [];
try {
  const embedding = syntheticMediapipeEmbedding();
  for (const identity of IDENTITIES) {
    // 1. Render and write the clip as PNG frames; track it.
    const clip = renderSyntheticClip({ identity, frames: FRAMES, size: SIZE, seed: identity });
    const framesDir = join(tmp, `frames-${identity}`);
    fs.mkdirSync(framesDir, { recursive: true });
    clip.images.forEach((image, i) => writePng(join(framesDir, `${i}.png`), image));
    const out = join(tmp, `dataset-${identity}`);
    const result = await trackVideo(framesDir, { out, config });
    const ds = readInstaDataset(out);
    const tracking = readJson(join(out, 'tracking.json')) as Tracking;
    // 2. True landmarks: the embedding's points on the true mesh, through the render camera, into the crop.
    const head = createSyntheticHead({ identity });
    const rig = new LandmarkRig(head.model, embedding);
    const truePoints = clip.truth.map((t) => {
      const world = tf.tidy(() => rig.forward({
        shape: tf.tensor2d(syntheticIdentityShape(identity), [1, 300]), expression: tf.tensor2d(t.expression, [1, 100]),
        paperPose: tf.tensor2d(t.paperPose, [1, 6]), translation: tf.tensor2d([[0, 0.01, -0.62]]),
      }).dataSync() as Float32Array);
      const { pixels } = projectPoints(clip.camera, world);
      const s = tracking.crop.side / tracking.crop.size;
      return Array.from(pixels, (v, i) => (v - (i % 2 === 0 ? tracking.crop.x0 : tracking.crop.y0)) / s);
    });
    rig.dispose();
    head.dispose();
    // 3. Errors, and the mean-pose baseline.
    const n = ds.frames.length;
    const fitPose = ds.frames.map((f) => Array.from(f.pose!));
    const truePose = clip.truth.map((t) => Array.from(t.paperPose));
    const meanOf = (rows: number[][]) => rows[0]!.map((_, k) => mean(rows.map((r) => r[k]!)));
    const meanPose = meanOf(truePose);
    const rotation = truePose.map((p, i) => angleBetween(fitPose[i]!.slice(0, 3), p.slice(0, 3)));
    const rotationBase = truePose.map((p) => angleBetween(meanPose.slice(0, 3), p.slice(0, 3)));
    const jawDiff = (a: number[], b: number[]) => Math.hypot(a[3]! - b[3]!, a[4]! - b[4]!, a[5]! - b[5]!) * DEG;
    const jaw = truePose.map((p, i) => jawDiff(fitPose[i]!, p));
    const jawBase = truePose.map((p) => jawDiff(meanPose, p));
    const trueExpr = clip.truth.map((t) => Array.from(t.expression.slice(0, NAMED)));
    const fitExpr = ds.frames.map((f) => Array.from(f.expression!.slice(0, NAMED)));
    const meanExpr = meanOf(trueExpr);
    const exprR = pearson(fitExpr.flat(), trueExpr.flat());
    const exprRBase = pearson(trueExpr.map(() => meanExpr).flat(), trueExpr.flat());
    const meanPoints = meanOf(truePoints);
    const pointError = (a: number[], b: number[]) => mean(Array.from({ length: a.length / 2 }, (_, k) => Math.hypot(a[2 * k]! - b[2 * k]!, a[2 * k + 1]! - b[2 * k + 1]!)));
    const landmark = truePoints.map((p, i) => pointError(tracking.frames[i]!.fittedLandmarks, p));
    const landmarkBase = truePoints.map((p) => pointError(meanPoints, p));
    const detected = truePoints.map((p, i) => pointError(tracking.frames[i]!.landmarks, p));
    const p95 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(0.95 * v.length))]!;
    const row = {
      identity, seed: identity, frames: n, size: SIZE, outSize: OUT_SIZE,
      headRotationErrorDeg: { tracker: mean(rotation), trackerP95: p95(rotation), trackerMax: Math.max(...rotation), meanPoseBaseline: mean(rotationBase) },
      jawErrorDeg: { tracker: mean(jaw), trackerP95: p95(jaw), meanPoseBaseline: mean(jawBase) },
      expressionCorrelation: { tracker: exprR, meanPoseBaseline: exprRBase },
      landmarkErrorPx: { tracker: mean(landmark), detectedFaceMesh: mean(detected), meanPoseBaseline: mean(landmarkBase) },
      reprojectionVsDetectedPx: result.meanReprojectionErrorPx,
      msPerFrame: { detect: result.timings.detectMs / n, fit: result.timings.fitMs / n, write: result.timings.writeMs / n },
    };
    clips.push(row);
    console.log(`identity ${identity}: rotation ${row.headRotationErrorDeg.tracker.toFixed(2)}° (baseline ${row.headRotationErrorDeg.meanPoseBaseline.toFixed(2)}°), jaw ${row.jawErrorDeg.tracker.toFixed(2)}° (${row.jawErrorDeg.meanPoseBaseline.toFixed(2)}°), expression r ${exprR.toFixed(3)} (${exprRBase.toFixed(3)}), landmarks ${row.landmarkErrorPx.tracker.toFixed(2)} px (${row.landmarkErrorPx.meanPoseBaseline.toFixed(2)} px)`);
  }
  // 4. The real clip and its overlay strip.
  let real: Record<string, unknown> | null = null;
  if (CLIP !== 'none' && fs.existsSync(CLIP)) {
    const out = join(tmp, 'dataset-clip');
    const result = await trackVideo(CLIP, { out, config: { ...config, firstFrame: CLIP_FIRST, maxFrames: CLIP_FRAMES } });
    const ds = readInstaDataset(out);
    const tracking = readJson(join(out, 'tracking.json')) as Tracking;
    const head = createSyntheticHead({ identity: 0, textureSize: 64 });
    const camera = trackingCamera(OUT_SIZE, OUT_SIZE);
    const picks = [0, 1, 2, 3, 4, 5].map((k) => Math.round((k * (ds.frames.length - 1)) / 5));
    const tileW = OUT_SIZE, strip = new Float32Array(picks.length * tileW * 2 * OUT_SIZE * 3); // [2·S, 6·S, 3]
    const stripW = picks.length * tileW;
    const put = (tile: number, row: number, x: number, y: number, rgb: [number, number, number]) => {
      if (x < 0 || y < 0 || x >= OUT_SIZE || y >= OUT_SIZE) return;
      strip.set(rgb, ((row * OUT_SIZE + y) * stripW + tile * tileW + x) * 3);
    };
    picks.forEach((frameIndex, tile) => {
      const frame = ds.frames[frameIndex]!;
      const png = readPng(frame.imagePath, { channels: 3 });
      const positions = tf.tidy(() => head.model.forward({
        shape: tf.tensor2d(tracking.shape, [1, tracking.shape.length]), expression: tf.tensor2d(frame.expression!.slice(0, 50), [1, 50]),
        paperPose: tf.tensor2d(frame.pose!, [1, 6]), translation: tf.tensor2d([[-frame.camera.cameraToWorld[3]!, -frame.camera.cameraToWorld[7]!, -frame.camera.cameraToWorld[11]!]]),
      }).vertices.dataSync() as Float32Array);
      const mesh = rasterize({ positions, faces: head.faces }, camera, { shading: 'lambert', color: [0.85, 0.85, 0.9] });
      for (let y = 0; y < OUT_SIZE; y++) {
        for (let x = 0; x < OUT_SIZE; x++) {
          const p = y * OUT_SIZE + x, a = 0.6 * mesh.mask[p]!;
          const src: [number, number, number] = [png.data[3 * p]!, png.data[3 * p + 1]!, png.data[3 * p + 2]!];
          put(tile, 0, x, y, src);
          put(tile, 1, x, y, src.map((v, c) => (1 - a) * v + a * mesh.rgb[3 * p + c]!) as [number, number, number]);
        }
      }
      const dots = (points: number[], rgb: [number, number, number]) => {
        for (let k = 0; k < points.length; k += 2) {
          const cx = Math.round(points[k]!), cy = Math.round(points[k + 1]!);
          for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]]) put(tile, 0, cx + dx!, cy + dy!, rgb);
        }
      };
      dots(tracking.frames[frameIndex]!.landmarks, [0.1, 0.95, 0.2]);
      dots(tracking.frames[frameIndex]!.fittedLandmarks, [1, 0.15, 0.1]);
    });
    head.dispose();
    fs.mkdirSync(resolve(STRIP, '..'), { recursive: true });
    writePng(STRIP, { width: stripW, height: 2 * OUT_SIZE, channels: 3, data: strip });
    const n = ds.frames.length;
    real = {
      file: CLIP, firstFrame: CLIP_FIRST, frames: n, outSize: OUT_SIZE, model: result.model, stripFrames: picks,
      reprojectionVsDetectedPx: result.meanReprojectionErrorPx,
      msPerFrame: { detect: result.timings.detectMs / n, fit: result.timings.fitMs / n, write: result.timings.writeMs / n },
      strip: 'docs/learn/img/track-overlay-strip.png',
    };
    console.log(`clip ${CLIP}: ${n} frames, reprojection ${result.meanReprojectionErrorPx.toFixed(2)} px → ${STRIP}`);
  }
  const avg = (pick: (r: Record<string, any>) => number) => mean(clips.map(pick)); // eslint-disable-line @typescript-eslint/no-explicit-any
  const summary = {
    headRotationErrorDeg: { tracker: avg((r) => r.headRotationErrorDeg.tracker), trackerMaxFrame: Math.max(...clips.map((r: Record<string, any>) => r.headRotationErrorDeg.trackerMax)), meanPoseBaseline: avg((r) => r.headRotationErrorDeg.meanPoseBaseline) }, // eslint-disable-line @typescript-eslint/no-explicit-any
    jawErrorDeg: { tracker: avg((r) => r.jawErrorDeg.tracker), meanPoseBaseline: avg((r) => r.jawErrorDeg.meanPoseBaseline) },
    expressionCorrelation: { tracker: avg((r) => r.expressionCorrelation.tracker), meanPoseBaseline: avg((r) => r.expressionCorrelation.meanPoseBaseline) },
    landmarkErrorPx: { tracker: avg((r) => r.landmarkErrorPx.tracker), detectedFaceMesh: avg((r) => r.landmarkErrorPx.detectedFaceMesh), meanPoseBaseline: avg((r) => r.landmarkErrorPx.meanPoseBaseline) },
    msPerFrame: { detect: avg((r) => r.msPerFrame.detect), fit: avg((r) => r.msPerFrame.fit), write: avg((r) => r.msPerFrame.write) },
  };
  const commit = (() => { try { return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return null; } })();
  writeJsonAtomic(RESULT, {
    command: `node --conditions=source --import tsx packages/avatar/bench/track-accuracy.ts ${args.join(' ')}`.trim(),
    commit, date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version, note: 'a shared machine: 2 cores used by several developers at once (see loadAverage); timings are upper bounds' },
    backend: tf.getBackend(), seeds: IDENTITIES,
    setup: `synthetic identities ${IDENTITIES.join(', ')} (the embedding was made on identity 0), ${FRAMES} frames at ${SIZE}² each, tracked to ${OUT_SIZE}² with the default config; clip seed = identity`,
    config,
    summary, clips, real, seconds: (performance.now() - t0) / 1000,
  });
  console.log(`summary ${JSON.stringify(summary)} → ${RESULT}`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
