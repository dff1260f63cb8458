/**
 * Issue 19 (reliability), item 10 in stage 1: a NaN test per public numeric entry point not covered by
 * `datasets/reliability.test.ts` §10 (FLAME, projectPoints, rasterize, bilinearPlan) or the rotation / camera tests:
 * the synthetic head, shading defaults, mesh helpers, camera inversion, the proxy render, landmark embedding and the
 * split. The per-pixel and per-step tensor helpers (`sampleTextureBilinear`, `shBasis`, `sampleTexture`,
 * `batchRodrigues`, `paperPoseToFull`) carry NaN to the outputs that depend on it (documented; their callers check).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@consistent-avatar/core';
import {
  LandmarkRig, ProxyAvatar, SYNTHETIC_NUM_SHAPE, axisAngleToMatrix, batchRodrigues, headCameraToWorld, matrixToAxisAngle, matrixToRotation6d, rotation6dToMatrix, trackingCamera, fitLandmarkSequence, fitProxyAvatar, bilinearPlan, createSyntheticHead, defaultShCoefficients, embeddedPoints, headRotationFromCamera, invertRigid,
  lookAtCamera, paperPoseToFull, renderProxy, sampleTexture, sampleTextureBilinear, shBasis, splitLastFrames, syntheticEmotionExpression, syntheticMediapipeEmbedding,
  syntheticSurfacePoint, vertexNormals, wrinkledTexture, barycentricLandmarks, fullPoseToPaper, linearBlendSkinning, type SyntheticHead,
} from './index.js';

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const EXPECTED = 'finite numbers (no NaN or ±Infinity)';
let head: SyntheticHead;
beforeAll(async () => {
  await initBackend('cpu');
  head = createSyntheticHead({ textureSize: 64 });
});
afterAll(() => head.dispose());

describe('10. stage-1 entry points reject NaN / ±Infinity naming the argument', () => {
  it('the synthetic head: surface points, wrinkles (SyntheticHead.albedo), emotion intensity', () => {
    for (const bad of BAD) {
      expect(() => syntheticSurfacePoint(0, bad)).toThrow(`syntheticSurfacePoint: argument 'y' expected ${EXPECTED}, got ${bad}`);
      const expression = new Float32Array(8);
      expression[3] = bad;
      expect(() => wrinkledTexture(head.texture, expression)).toThrow(`wrinkledTexture: argument 'expression' expected ${EXPECTED}, got "${bad} at index 3"`);
      expect(() => head.albedo(expression)).toThrow(/wrinkledTexture: argument 'expression'/);
      expect(() => syntheticEmotionExpression('happy', bad)).toThrow(/syntheticEmotionExpression: argument 'intensity' expected a finite number/);
      expect(() => head.vertices({ expression: expression })).toThrow(/argument 'params\.expression' expected finite numbers/);
    }
  });

  it('shading defaults, vertex normals, rigid inversion, head rotation from a camera', () => {
    for (const bad of BAD) {
      expect(() => defaultShCoefficients(0.75, bad)).toThrow(`defaultShCoefficients: argument 'frontal' expected ${EXPECTED}, got ${bad}`);
      expect(() => vertexNormals(Float32Array.from([0, 0, 0, 1, 0, 0, 0, bad, 0]), Uint32Array.from([0, 1, 2]))).toThrow(`vertexNormals: argument 'positions' expected ${EXPECTED}, got "${bad} at index 7"`);
      const c2w = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, bad, 0, 0, 0, 1];
      expect(() => invertRigid(c2w)).toThrow(`invertRigid: argument 'm' expected ${EXPECTED}, got "${bad} at index 11"`);
      expect(() => headRotationFromCamera(c2w)).toThrow(/headRotationFromCamera: argument 'cameraToWorld' expected finite .*index 11/);
      expect(() => lookAtCamera({ eye: [0, 0, bad], target: [0, 0, 0], fx: 10, fy: 10, width: 8, height: 8 })).toThrow(/lookAtCamera: argument/);
    }
  });

  it('the rotation conversions and the tracking camera', () => {
    for (const bad of BAD) {
      expect(() => axisAngleToMatrix([0, bad, 0])).toThrow(/axisAngleToMatrix: argument 'axisAngle' expected 3 finite numbers/);
      expect(() => matrixToAxisAngle([1, 0, 0, 0, 1, 0, 0, 0, bad])).toThrow(/matrixToAxisAngle: argument 'matrix' expected 9 finite numbers/);
      expect(() => rotation6dToMatrix([1, 0, 0, 0, 1, bad])).toThrow(/rotation6dToMatrix: argument 'd6' expected 6 finite numbers/);
      expect(() => matrixToRotation6d([1, 0, 0, 0, 1, 0, 0, 0, bad])).toThrow(/matrixToRotation6d: argument 'matrix' expected 9 finite numbers/);
      expect(() => trackingCamera(8, 8, bad)).toThrow(/trackingCamera: argument 'focal'/);
      expect(() => headCameraToWorld([0, 0, bad])).toThrow(/headCameraToWorld: argument 'translation' expected 3 finite numbers/);
    }
  });

  it('renderProxy names the frame parameter before any tensor exists', () => {
    const camera = lookAtCamera({ eye: [0, 0, 0.6], target: [0, 0, 0], fx: 40, fy: 40, width: 16, height: 16 });
    const proxy = new ProxyAvatar(head.model, new Float32Array(SYNTHETIC_NUM_SHAPE), head.texture.albedo, defaultShCoefficients(), camera, [], false);
    const before = tf.memory().numTensors;
    for (const bad of BAD) {
      expect(() => renderProxy(proxy, { paperPose: [0, bad, 0, 0, 0, 0] })).toThrow(`renderProxy: argument 'params.paperPose' expected ${EXPECTED}, got "${bad} at index 1"`);
      expect(() => renderProxy(proxy, { expression: [bad] })).toThrow(/renderProxy: argument 'params\.expression'/);
      expect(() => renderProxy(proxy, { pose: new Array<number>(15).fill(bad) })).toThrow(/renderProxy: argument 'params\.pose'/);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(renderProxy(proxy, {}).mask.some((m) => m > 0)).toBe(true);
  });

  it('embeddedPoints names the mesh point an embedded landmark reads; an unused NaN point is fine', () => {
    const embedding = syntheticMediapipeEmbedding();
    const mesh = new Float32Array(478 * 3).fill(0.5);
    const used = embedding.landmarkIndices[4]!;
    const unused = Array.from({ length: 478 }, (_, i) => i).find((i) => !embedding.landmarkIndices.includes(i))!;
    mesh[unused * 3] = Number.NaN;
    expect(embeddedPoints(mesh, 3, embedding).every(Number.isFinite)).toBe(true);
    mesh[used * 3 + 1] = Number.POSITIVE_INFINITY;
    expect(() => embeddedPoints(mesh, 3, embedding)).toThrow(`embeddedPoints: argument 'mesh' expected finite numbers (no NaN or ±Infinity) at the embedded points, got "Infinity at point ${used}"`);
  });

  it('fitProxyAvatar names options.shape / options.lr; fitLandmarkSequence the frame of a NaN landmark and an infinite focal', async () => {
    const dataset = { root: '/nonexistent', frames: [], split: { train: [0], test: [], val: [] } } as never;
    await expect(fitProxyAvatar(dataset, { shape: [0, Number.NaN] })).rejects.toThrow(`fitProxyAvatar: argument 'options.shape' expected ${EXPECTED}, got "NaN at index 1"`);
    await expect(fitProxyAvatar(dataset, { lr: Number.POSITIVE_INFINITY })).rejects.toThrow(/fitProxyAvatar: argument 'options\.lr' expected a finite number > 0/);
    const rig = new LandmarkRig(head.model, syntheticMediapipeEmbedding(), { shape: 1, expression: 1 }); // few components: fast to build
    const camera = lookAtCamera({ eye: [0, 0, 0.6], target: [0, 0, 0], fx: 40, fy: 40, width: 16, height: 16 });
    const points = [new Float32Array(2 * rig.numLandmarks).fill(8), new Float32Array(2 * rig.numLandmarks).fill(8)];
    points[1]![3] = Number.NaN;
    expect(() => fitLandmarkSequence(rig, camera, points)).toThrow(/fitLandmarkSequence: argument 'points\[1\]' expected finite pixel coordinates/);
    expect(() => fitLandmarkSequence(rig, { ...camera, fx: Number.POSITIVE_INFINITY }, [points[0]!])).toThrow(/fitLandmarkSequence: argument 'camera'/);
    // LandmarkRig.forward runs once per fitting step: it carries a NaN pose row to that frame's landmarks only.
    const pose = tf.tensor2d([[0, 0, 0, 0, 0, 0], [Number.NaN, 0, 0, 0, 0, 0]]); // [B = 2, 6]
    const landmarks = rig.forward({ paperPose: pose }); // [2, K, 3]
    const values = Array.from(landmarks.dataSync());
    const k3 = rig.numLandmarks * 3;
    expect(values.slice(0, k3).every(Number.isFinite)).toBe(true);
    expect(values.slice(k3).some(Number.isNaN)).toBe(true);
    tf.dispose([pose, landmarks]);
    rig.dispose();
  });

  it('splitLastFrames refuses a NaN frame count or val count (it returned empty splits)', () => {
    expect(() => splitLastFrames(Number.NaN, 1, 1)).toThrow(/splitLastFrames: argument 'numFrames' expected a positive integer, got NaN/);
    expect(() => splitLastFrames(10, 2, Number.NaN)).toThrow(/splitLastFrames: argument 'valFrames'/);
  });
});

describe('10. per-pixel and per-step helpers carry NaN to what depends on it (documented; rasterize and FLAME check first)', () => {
  it('sampleTextureBilinear and shBasis', () => {
    const out = new Float32Array(3);
    sampleTextureBilinear({ width: 2, height: 2, channels: 3, data: new Float32Array(12).fill(0.5) }, Number.NaN, 0.5, out, 0);
    expect(Array.from(out).every(Number.isNaN)).toBe(true);
    const basis = shBasis(Number.NaN, 0, 1); // [1, x, y, z, xy, xz, yz, x²−y², 3z²−1]
    expect(basis.map(Number.isFinite)).toEqual([true, false, true, true, false, false, true, false, true]);
  });

  it('sampleTexture, batchRodrigues and paperPoseToFull keep the NaN in its own row', () => {
    const texture = tf.tensor2d([[Number.NaN, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]); // [2·2 texels, 3]
    const sampled = sampleTexture(texture, bilinearPlan(Float32Array.from([0.25, 0.75, 0.75, 0.25]), 2, 2)); // texel 0, texel 3
    expect(Array.from(sampled.dataSync()).map(Number.isFinite)).toEqual([false, true, true, true, true, true]);
    const rotations = batchRodrigues(tf.tensor2d([[0.1, 0, 0], [Number.NaN, 0, 0]])); // [2, 3, 3]
    const r = Array.from(rotations.dataSync());
    expect(r.slice(0, 9).every(Number.isFinite)).toBe(true);
    expect(r.slice(9).some(Number.isNaN)).toBe(true);
    const full = paperPoseToFull(tf.tensor2d([[0, 0, 0, Number.NaN, 0, 0]])); // [1, 15]: jaw at 6..8
    expect(Array.from(full.dataSync()).map(Number.isFinite).indexOf(false)).toBe(6);
    tf.dispose([texture, sampled, rotations, full]);
  });

  it('linearBlendSkinning, barycentricLandmarks and fullPoseToPaper (inside FlameModel.forward, which checks) keep it in its row', () => {
    const L = head.model.tensors.shapedirsT.shape[0];
    const betas = tf.tensor2d(Float32Array.from({ length: 2 * L }, (_, i) => (i === L ? Number.NaN : 0)), [2, L]); // row 1 poisoned
    const pose = tf.zeros([2, 15]) as tf.Tensor2D;
    const { vertices, joints } = linearBlendSkinning(betas, pose, head.model.tensors); // [2, V, 3], [2, J, 3]
    const v = vertices.dataSync(), half = v.length / 2;
    expect(v.subarray(0, half).every(Number.isFinite)).toBe(true);
    expect(v.subarray(half).some(Number.isNaN)).toBe(true);
    const triangle = tf.tensor3d([[[0, 0, 0], [1, 0, 0], [0, Number.NaN, 0]]]); // [1, 3 vertices, 3]
    const landmarks = barycentricLandmarks(triangle, Uint32Array.from([0, 1, 2]), Int32Array.from([0]), Float32Array.from([0.2, 0.3, 0.5])); // [1, 1, 3]
    expect(Array.from(landmarks.dataSync()).map(Number.isFinite)).toEqual([true, false, true]);
    // global | neck | jaw | eyes → global | jaw: the jaw's NaN is carried, the neck's is not part of the paper pose.
    const paper = fullPoseToPaper(tf.tensor2d([[0, 0, 0, Number.NaN, 0, 0, Number.NaN, 0, 0, 0, 0, 0, 0, 0, 0]]));
    expect(Array.from(paper.dataSync()).map(Number.isFinite)).toEqual([true, true, true, false, true, true]);
    tf.dispose([betas, pose, vertices, joints, triangle, landmarks, paper]);
  });
});
