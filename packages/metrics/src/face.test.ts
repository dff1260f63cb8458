import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, ValidationError, type FloatImage } from '@consistent-avatar/core';
import { FaceAnalyzer, FACE_EMOTIONS, type FaceAnalysis } from './face-analyzer.js';
import { compareFaces, cosineSimilarity, faceConsistency } from './face-consistency.js';
import { applySimilarity2d, procrustes2d } from './procrustes.js';
import { fixture, readPngImage } from '../test/png.js';

// scikit-image's astronaut (Eileen Collins, public domain), 256², copied from the shared metrics fixtures.
const ref = readPngImage(fixture('metrics/astronaut256_ref.png'));

function flipHorizontal(img: FloatImage): FloatImage {
  const { height, width, channels } = img;
  const data = new Float32Array(img.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = img.data[(y * width + (width - 1 - x)) * channels + c]!;
    }
  }
  return { data, height, width, channels };
}
/** Shift right/down by (dx, dy) pixels, edge-replicated. */
function shift(img: FloatImage, dx: number, dy: number): FloatImage {
  const { height, width, channels } = img;
  const data = new Float32Array(img.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.min(width - 1, Math.max(0, x - dx));
      const sy = Math.min(height - 1, Math.max(0, y - dy));
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = img.data[(sy * width + sx) * channels + c]!;
    }
  }
  return { data, height, width, channels };
}

let analyzer: FaceAnalyzer;
beforeAll(async () => {
  await initBackend('wasm');
  analyzer = await FaceAnalyzer.create();
}, 120_000);
afterAll(() => analyzer.dispose());

describe('FaceAnalyzer (@vladmandic/human, offline, wasm)', () => {
  let face: FaceAnalysis;
  it('finds one face with pose angles, emotion, mesh and embedding on a real photograph', async () => {
    const faces = await analyzer.analyze(ref);
    expect(faces).toHaveLength(1);
    face = faces[0]!;
    expect(face.score).toBeGreaterThan(0.5);
    for (const a of [face.rotation.pitch, face.rotation.yaw, face.rotation.roll]) {
      expect(Number.isFinite(a)).toBe(true);
      expect(Math.abs(a)).toBeLessThan(45); // a frontal portrait
    }
    expect(FACE_EMOTIONS).toContain(face.emotion.label);
    expect(face.mesh.length).toBe(478 * 3);
    expect(face.embedding.length).toBe(1024);
    // The face box lies inside the image and around the face (the astronaut's face is left of centre, upper half).
    const [x, y, w, h] = face.box;
    expect(x).toBeGreaterThanOrEqual(0);
    expect(x + w).toBeLessThanOrEqual(256);
    expect(y + h).toBeLessThanOrEqual(256);
  });

  it('identity similarity: ≈ 1 with itself, high with flipped and shifted copies', async () => {
    const again = (await analyzer.analyze(ref))[0]!;
    const flipped = (await analyzer.analyze(flipHorizontal(ref)))[0]!;
    const shifted = (await analyzer.analyze(shift(ref, 9, 6)))[0]!;
    const self = cosineSimilarity(face.embedding, again.embedding);
    const flip = cosineSimilarity(face.embedding, flipped.embedding);
    const shiftSim = cosineSimilarity(face.embedding, shifted.embedding);
    expect(self).toBeGreaterThan(0.9999);
    expect(flip).toBeGreaterThan(0.8);
    expect(shiftSim).toBeGreaterThan(0.8);
  });

  it('reports detection failures honestly (no face in a flat gray image)', async () => {
    const gray: FloatImage = { data: new Float32Array(128 * 128 * 3).fill(0.5), height: 128, width: 128, channels: 3 };
    const none = await analyzer.analyze(gray);
    expect(none).toEqual([]);
    const shifted = await analyzer.analyze(shift(ref, 4, 0));
    const r = faceConsistency([face, none, shifted], [face, face, null]);
    expect(r.failures).toEqual({ generated: [1], reference: [2] });
    expect(r.comparedFrames).toBe(1);
    expect(r.perFrame[1]).toBeNull();
    expect(r.headPoseErrorDeg!.mean).toBe(0);
    expect(r.meshDistance!.mouth).toBeCloseTo(0, 10);
    expect(r.identitySimilarity).toBeCloseTo(1, 6);
    expect(r.emotionAgreement).toBe(1);
    const allFail = faceConsistency([null], [face]);
    expect(allFail.headPoseErrorDeg).toBeNull();
    expect(allFail.identitySimilarity).toBeNull();
  });

  it('accepts tensors and validates input; leaves the tensor count unchanged', async () => {
    const before = tf.memory().numTensors;
    const t = tf.tensor3d(ref.data as Float32Array, [256, 256, 3]);
    const [fromTensor] = await analyzer.analyze(t);
    t.dispose();
    expect(fromTensor!.embedding.length).toBe(1024);
    expect(tf.memory().numTensors).toBe(before);
    await expect(analyzer.analyze({ ...ref, channels: 1, data: new Float32Array(256 * 256) })).rejects.toThrow(
      /FaceAnalyzer.analyze: argument 'image.channels'/,
    );
    await expect(FaceAnalyzer.create({ maxFaces: 0 })).rejects.toThrow(ValidationError);
  });
});

describe('mesh geometry', () => {
  it('procrustes recovers a similarity transform; compareFaces is invariant to it', () => {
    const p = new Float64Array([0, 0, 1, 0, 0, 1, 2, 3]);
    const t = { scale: 1.7, angle: 0.4, tx: 3, ty: -2 };
    const q = applySimilarity2d(t, p);
    const fit = procrustes2d(p, q);
    expect(fit.scale).toBeCloseTo(1.7, 10);
    expect(fit.angle).toBeCloseTo(0.4, 10);
    expect(fit.tx).toBeCloseTo(3, 10);
    expect(fit.ty).toBeCloseTo(-2, 10);
    // A synthetic face whose mesh is a moved copy: zero landmark distance; moving only the mouth: positive.
    const mesh = new Float32Array(478 * 3).map((_, i) => ((i * 7919) % 997) / 10);
    const moved = new Float32Array(mesh);
    const m2 = applySimilarity2d(t, Array.from({ length: 478 * 2 }, (_, i) => mesh[3 * (i >> 1) + (i & 1)]!));
    for (let i = 0; i < 478; i++) [moved[3 * i], moved[3 * i + 1]] = [m2[2 * i]!, m2[2 * i + 1]!];
    const base: FaceAnalysis = {
      box: [0, 0, 1, 1], score: 1, rotation: { pitch: 1, yaw: 2, roll: 3 }, mesh,
      emotion: { label: 'happy', scores: { happy: 0.9 } }, embedding: new Float32Array([1, 0]),
    };
    const same = compareFaces({ ...base, mesh: moved }, base);
    expect(same.mouthDistance).toBeLessThan(1e-5);
    expect(same.eyesDistance).toBeLessThan(1e-5);
    const openMouth = new Float32Array(mesh);
    for (const i of [13, 14, 78, 308]) openMouth[3 * i + 1]! += 5;
    const opened = compareFaces({ ...base, mesh: openMouth }, base);
    expect(opened.mouthDistance).toBeGreaterThan(1e-3); // 4 of 40 mouth points moved 5 px, IOD ≈ 70 px
    expect(opened.eyesDistance).toBeLessThan(opened.mouthDistance);
  });
});
