import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError, initBackend, Rng, tf, ValidationError } from '@consistent-avatar/core';
import { barycentricLandmarks } from '../flame/landmarks.js';
import { createSyntheticHead, syntheticIdentityShape } from '../head/synthetic-head.js';
import { embeddedPoints, readMediapipeEmbedding, syntheticMediapipeEmbedding } from './landmark-embedding.js';
import { LandmarkRig } from './landmark-rig.js';
import { fitLandmarkSequence, headCameraToWorld, trackingCamera } from './fit-landmarks.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/track/${name}`, import.meta.url));

beforeAll(async () => {
  await initBackend('wasm');
});

describe('MediaPipe landmark embeddings', () => {
  it("reads FLAME's mediapipe_landmark_embedding.npz layout (numpy-written fixture) and names a missing key", () => {
    const e = readMediapipeEmbedding(fixture('mediapipe_embedding_small.npz'));
    expect(Array.from(e.landmarkIndices)).toEqual([1, 33, 61, 199, 263, 291, 4]);
    expect(Array.from(e.faceIndices)).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(e.barycentrics[5]).toBeCloseTo(0.5, 6);
    expect(() => readMediapipeEmbedding(fixture('mediapipe_embedding_no_bary.npz'))).toThrow(FormatError);
    expect(() => readMediapipeEmbedding(fixture('mediapipe_embedding_no_bary.npz'))).toThrow(/missing 'lmk_b_coords'/);
    expect(() => readMediapipeEmbedding(fixture('absent.npz'))).toThrow(ValidationError);
  });

  it('the synthetic embedding has valid MediaPipe indices, in-range triangles and barycentrics summing to 1', () => {
    const e = syntheticMediapipeEmbedding();
    const head = createSyntheticHead({ textureSize: 64 });
    const numFaces = head.faces.length / 3;
    head.dispose();
    expect(e.landmarkIndices.length).toBeGreaterThan(100);
    expect(new Set(e.landmarkIndices).size).toBe(e.landmarkIndices.length);
    for (let k = 0; k < e.faceIndices.length; k++) {
      expect(e.landmarkIndices[k]).toBeLessThan(468);
      expect(e.faceIndices[k]).toBeLessThan(numFaces);
      expect(e.barycentrics[3 * k]! + e.barycentrics[3 * k + 1]! + e.barycentrics[3 * k + 2]!).toBeCloseTo(1, 4);
    }
  });

  it('embeddedPoints picks (x, y) of the embedding’s MediaPipe indices, in order, and checks the mesh size', () => {
    const mesh = Float32Array.from({ length: 478 * 3 }, (_, i) => i);
    const e = readMediapipeEmbedding(fixture('mediapipe_embedding_small.npz'));
    const p = embeddedPoints(mesh, 3, e);
    expect(Array.from(p.slice(0, 4))).toEqual([3, 4, 99, 100]); // point 1 → (3, 4), point 33 → (99, 100)
    expect(() => embeddedPoints(new Float32Array(10), 3, e)).toThrow(/at least 468 points/);
  });
});

describe('LandmarkRig', () => {
  it('equals the full model’s LBS + barycentric landmarks (the exact reduction), with fewer components too', () => {
    const head = createSyntheticHead({ identity: 1, textureSize: 64 });
    const e = syntheticMediapipeEmbedding();
    const rng = new Rng(3);
    const shape = rng.normal(300, 0, 0.8), expression = rng.normal(100, 0, 0.6);
    const pose = Float32Array.from([0.2, -0.3, 0.1, 0.25, 0.02, -0.01]);
    for (const components of [{}, { shape: 20, expression: 10 }]) {
      const rig = new LandmarkRig(head.model, e, components);
      const ns = rig.numShape, ne = rig.numExpression;
      const [ours, reference] = tf.tidy(() => {
        const params = {
          shape: tf.tensor2d(shape.slice(0, ns), [1, ns]), expression: tf.tensor2d(expression.slice(0, ne), [1, ne]),
          paperPose: tf.tensor2d(pose, [1, 6]), translation: tf.tensor2d([[0.01, -0.02, -0.6]]),
        };
        const full = head.model.forward(params);
        return [rig.forward(params).arraySync(), barycentricLandmarks(full.vertices, head.faces, e.faceIndices, e.barycentrics).arraySync()];
      });
      const a = (ours as number[][][]).flat(2), b = (reference as number[][][]).flat(2);
      expect(a.length).toBe(b.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
      rig.dispose();
    }
    head.dispose();
  });

  it('refuses a bad embedding or component count, naming it', () => {
    const head = createSyntheticHead({ textureSize: 64 });
    const e = syntheticMediapipeEmbedding();
    expect(() => new LandmarkRig(head.model, { ...e, faceIndices: Int32Array.from(e.faceIndices, () => 1e9) })).toThrow(/faceIndices\[0\]/);
    expect(() => new LandmarkRig(head.model, e, { expression: 101 })).toThrow(/components.expression/);
    head.dispose();
  });
});

describe('fitLandmarkSequence', () => {
  it('recovers a known head rotation, jaw and depth from exact landmarks of another identity, without leaking tensors', () => {
    const head = createSyntheticHead({ identity: 2, textureSize: 64 });
    const e = syntheticMediapipeEmbedding();
    const truthRig = new LandmarkRig(head.model, e);
    const camera = trackingCamera(128, 128);
    const truth = [0, 1, 2, 3, 4, 5].map((t) => Float32Array.from([0.1 * Math.sin(t / 2), 0.3 * Math.cos(t / 3), 0.05, 0.12 + 0.02 * t, 0, 0]));
    const points = truth.map((pose) => tf.tidy(() => {
      const world = truthRig.forward({
        shape: tf.tensor2d(syntheticIdentityShape(2), [1, 300]), paperPose: tf.tensor2d(pose, [1, 6]), translation: tf.tensor2d([[0.01, 0, -0.62]]),
      });
      const [x, y, z] = tf.split(world, 3, 2);
      const u = tf.add(tf.mul(tf.div(x!, tf.neg(z!)), camera.fx), camera.cx), v = tf.add(tf.mul(tf.div(y!, z!), camera.fy), camera.cy);
      return tf.concat([u, v], 2).dataSync() as Float32Array; // [1, K, 2]
    }));
    truthRig.dispose();
    const rig = new LandmarkRig(head.model, e, { shape: 50, expression: 20 });
    const before = tf.memory().numTensors;
    const fit = fitLandmarkSequence(rig, camera, points, { shapeComponents: 50, expressionComponents: 20, rigidSteps: 150, fullSteps: 250 });
    expect(tf.memory().numTensors).toBe(before);
    rig.dispose();
    head.dispose();
    truth.forEach((pose, t) => {
      // With 50 free identity components and 6 frames, identity, depth and rotation trade off a little (measured:
      // ≤ 2.9° per axis, the head 6% larger and further away), so: within 3.4° per axis.
      for (let k = 0; k < 3; k++) expect(Math.abs(fit.paperPose[t]![k]! - pose[k]!)).toBeLessThan(0.06);
      expect(Math.abs(fit.paperPose[t]![3]! - pose[3]!)).toBeLessThan(0.05); // jaw within 3°
      // Shape and depth trade off (a larger head further away): depth within 10%.
      expect(Math.abs(fit.translation[t]![2]! + 0.62)).toBeLessThan(0.062);
      expect(fit.reprojectionErrorPx[t]).toBeLessThan(0.5);
    });
    // The dataset camera puts the head at the origin: the camera moves by −translation.
    expect(headCameraToWorld([0.1, 0.2, -0.6]).slice(0, 12)).toEqual([1, 0, 0, -0.1, 0, -1, 0, -0.2, 0, 0, -1, 0.6]);
  }, 120_000);

  it('names a frame of the wrong length and a component count the rig lacks', () => {
    const head = createSyntheticHead({ textureSize: 64 });
    const rig = new LandmarkRig(head.model, syntheticMediapipeEmbedding(), { shape: 10, expression: 10 });
    const k = rig.numLandmarks;
    expect(() => fitLandmarkSequence(rig, trackingCamera(64, 64), [new Float32Array(2 * k), new Float32Array(3)])).toThrow(/points\[1\]/);
    expect(() => fitLandmarkSequence(rig, trackingCamera(64, 64), [new Float32Array(2 * k)], { shapeComponents: 10, expressionComponents: 20 })).toThrow(/config.expressionComponents/);
    expect(() => fitLandmarkSequence(rig, trackingCamera(64, 64), [new Float32Array(2 * k)], { fullSteps: -1 })).toThrow(/config.fullSteps/);
    rig.dispose();
    head.dispose();
  });
});
