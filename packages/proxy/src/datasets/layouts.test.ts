/**
 * The three real layouts, on fixtures written by Python scripts that follow each project's own writer
 * (packages/proxy/test/fixtures/datasets/<layout>/make_<layout>.py, around the synthetic head of head.npz): the
 * readers must recover the split, the time order, P, E, the camera and the mask the scripts wrote, and the stage-1
 * proxy rendered from the loaded camera must cover the pixels the scripts' own ray casting found.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatError, readNpz, readPng, useBackend, ValidationError, writeNpy, writePng } from '@consistent-avatar/core';
import { createSyntheticHead, type SyntheticHead } from '../head/synthetic-head.js';
import { fitProxyAvatar, frameParams, renderProxy, type ProxyAvatar } from '../proxy/proxy-avatar.js';
import type { AvatarDataset } from './common.js';
import { readImavatarDataset } from './imavatar.js';
import { readInstaDataset } from './insta.js';
import { readFrameMask } from './masks.js';
import { readNerfaceDataset } from './nerface.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/datasets');
const INSTA = path.join(FIXTURES, 'insta', 'actor');
const IMAVATAR = path.join(FIXTURES, 'imavatar', 'subject1', 'subject1');
const NERFACE = path.join(FIXTURES, 'nerface', 'person');
const truthOf = (layout: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, layout, 'truth.json'), 'utf8'));
const npz = readNpz(path.join(FIXTURES, 'head.npz'));
const rows = (name: string, i: number) => {
  const a = npz[name]!;
  const w = a.shape[1]!;
  return Array.from(a.data as Float32Array).slice(i * w, (i + 1) * w);
};
const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string) => {
  expect(got.length, label).toBe(want.length);
  for (let k = 0; k < want.length; k++) expect(Math.abs(Number(got[k]) - Number(want[k])), `${label}[${k}]`).toBeLessThan(tol);
};
/** Intersection over union of a rendered coverage (≥ 0.5) and the fixture's pixel list. */
const iou = (mask: ArrayLike<number>, pixels: number[]) => {
  const want = new Set(pixels);
  let inter = 0, union = want.size;
  for (let p = 0; p < mask.length; p++) {
    if (mask[p]! < 0.5) continue;
    if (want.has(p)) inter++;
    else union++;
  }
  return inter / union;
};
const copy = (src: string) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-layout-'));
  fs.cpSync(src, out, { recursive: true });
  return out;
};
describe('real layouts (fixtures from the projects\' own writer conventions)', () => {
  let head: SyntheticHead;
  const proxies: ProxyAvatar[] = [];
  /** The stage-1 proxy on the synthetic head the fixtures were made with (a short real fit). */
  const proxyOf = async (ds: AvatarDataset) => {
    const proxy = await fitProxyAvatar(ds, { model: head.model, shape: head.shape, steps: 2, textureSize: 8, batchPixels: 256, pixelsPerFrame: 200, seed: 0 });
    proxies.push(proxy);
    return proxy;
  };
  beforeAll(async () => {
    await useBackend('wasm');
    head = createSyntheticHead({ identity: 0, textureSize: 64 });
  });
  afterAll(() => {
    for (const p of proxies) p.dispose();
    head.dispose();
  });

  it('INSTA: split files, label-map × alpha masks, P from the camera and the tracker\'s 6D jaw, proxy coverage', async () => {
    const truth = truthOf('insta');
    const ds = readInstaDataset(INSTA);
    expect(ds.frames.map((f) => f.id)).toEqual(['00000', '00001', '00002', '00003', '00004']);
    expect(ds.split).toEqual({ train: [0, 1, 2], test: [3, 4], val: [0, 1, 2, 3, 4] }); // transforms.py: val = frames[-20:]
    expect(ds.splitSource).toBe('transforms_train.json / transforms_test.json / transforms_val.json');
    expect(ds.poseSource).toBe('camera + flame/jaw');
    const proxy = await proxyOf(ds);
    for (const [i, f] of ds.frames.entries()) {
      const t = truth.frames[i];
      expect(f.camera).toMatchObject({ width: 64, height: 64, fx: 125, fy: 125, cx: 32, cy: 32, convention: 'opencv' });
      expectClose(f.pose!, [...t.global, ...t.jaw], 2e-6, `P of ${f.id}`);
      expectClose(f.expression!, rows('insta_expression', t.set), 5e-8, `E of ${f.id}`); // np.savetxt '%.8f', read as float32
      expect(Array.from(f.renderPose!.subarray(0, 6)), `global/neck of the mesh of ${f.id}`).toEqual([0, 0, 0, 0, 0, 0]);
      expectClose(f.renderPose!.subarray(9, 15), t.eyes, 2e-6, `eyes of ${f.id}`);
      expect(f.extra).toMatchObject({ meshPath: path.join(INSTA, 'meshes', `${f.id}.obj`), depthPath: path.join(INSTA, 'depth', `${f.id}.png`), depthScale: 0.001 });
      // The mask: alpha (cloth removed by postprocess.py) × head classes of the label map — cloth pixels are out.
      const mask = readFrameMask(f)!;
      expect(Array.from(mask.keys()).filter((p) => mask[p]! > 0)).toEqual(t.head_mask);
      const labels = readPng(f.maskPath!, { channels: 3 }).data;
      expect(Array.from({ length: 64 * 64 }, (_, p) => Math.round(labels[p * 3]! * 255)).filter((v) => v === 90).length).toBeGreaterThan(0);
      // The proxy from the loaded camera covers the ray-cast head; posing the mesh with P as well (the rotation
      // twice: once in the camera, once in the mesh) does not, on the rotated frames.
      const r = renderProxy(proxy, frameParams(f));
      const good = iou(r.mask, t.coverage);
      expect(good, `coverage of ${f.id}`).toBeGreaterThan(0.95);
      if (Math.hypot(...t.global) > 0.1) {
        const twice = renderProxy(proxy, { camera: f.camera, expression: f.expression!, paperPose: f.pose! });
        expect(iou(twice.mask, t.coverage), `double rotation on ${f.id}`).toBeLessThan(good - 0.03);
      }
    }
  });

  it('INSTA: a missing split file, mismatched frame counts, a missing jaw and a wrong layout are named', () => {
    let dir = copy(INSTA);
    fs.rmSync(path.join(dir, 'transforms_test.json'));
    expect(() => readInstaDataset(dir)).toThrow(FormatError);
    expect(() => readInstaDataset(dir)).toThrow(/transforms_test.json: missing split file/);
    dir = copy(INSTA);
    const train = JSON.parse(fs.readFileSync(path.join(dir, 'transforms_train.json'), 'utf8'));
    train.frames.pop();
    fs.writeFileSync(path.join(dir, 'transforms_train.json'), JSON.stringify(train));
    expect(() => readInstaDataset(dir)).toThrow(/transforms.json: mismatched frame counts: transforms.json has 5 frames, transforms_train.json 2 \+ transforms_test.json 2 = 4/);
    dir = copy(INSTA);
    fs.rmSync(path.join(dir, 'flame', 'jaw', '00002.txt'));
    expect(() => readInstaDataset(dir)).toThrow(/frames\[2\] \(images\/00002.png\): no head pose: .*flame\/jaw\/00002.txt .* or flame\/pose\/00002.txt/);
    dir = copy(INSTA);
    fs.writeFileSync(path.join(dir, 'flame', 'jaw', '00001.txt'), '1\n0\n0\n0\n1\n');
    expect(() => readInstaDataset(dir)).toThrow(/00001.txt: should hold a rotation: 6 values .* got 5/);
    dir = copy(INSTA);
    writePng(path.join(dir, 'seg_mask', '00000.png'), { width: 64, height: 64, channels: 1, data: new Float32Array(64 * 64).fill(1) });
    expect(() => readFrameMask(readInstaDataset(dir).frames[0]!)).toThrow(/00000.png: not a face-parsing label map: red value 255 at pixel \(0, 0\)/);
    expect(() => readInstaDataset(NERFACE)).toThrow(/transforms_train.json: .*NeRFace folder/);
    expect(() => readInstaDataset(IMAVATAR)).toThrow(/not an INSTA folder/);
    expect(() => readInstaDataset(INSTA, { maskClasses: ['skin', 'torso' as never] })).toThrow(ValidationError);
  });

  it('IMAvatar: train / test sub-folders, numeric %d order, world_mat ×4 / −z / −fx converted, P = global ⊕ jaw', async () => {
    const truth = truthOf('imavatar');
    expect(() => readImavatarDataset(IMAVATAR)).toThrow(/sub-folders with a flame_params.json: \[MVI_1810, MVI_1812\]: pass options.trainDirs and options.testDirs/);
    const ds = readImavatarDataset(IMAVATAR, { trainDirs: ['MVI_1810'], testDirs: ['MVI_1812'] });
    const want = [...truth.videos.MVI_1810, ...truth.videos.MVI_1812];
    expect(ds.frames.map((f) => f.id)).toEqual(want.map((t: { id: string }) => t.id)); // 1, 2, …, 10, 11: numeric
    expect(ds.frames[9]!.id).toBe('MVI_1810-10');
    expect(ds.split).toEqual({ train: Array.from({ length: 11 }, (_, i) => i), test: [11, 12], val: [] });
    expectClose(ds.shape!, truth.shape, 1e-7, 'shape');
    const proxy = await proxyOf(ds);
    for (const [i, f] of ds.frames.entries()) {
      const t = want[i];
      expect(f.camera).toMatchObject({ width: 32, height: 32, fx: 62, fy: 62, convention: 'opengl', pixelCenter: 0 });
      expect(f.camera.cx).toBeCloseTo(15.7, 12);
      expectClose(f.pose!, [...t.global, ...t.jaw], 1e-7, `P of ${f.id}`);
      expectClose(f.renderPose!, t.pose, 1e-7, `full pose of ${f.id}`);
      expectClose(f.expression!, rows('imavatar_expression', t.set), 1e-7, `E of ${f.id}`);
      const mask = readFrameMask(f)!;
      expect(Array.from(mask.keys()).filter((p) => mask[p]! > 0.5)).toEqual(t.coverage);
      expect(iou(renderProxy(proxy, frameParams(f)).mask, t.coverage), `coverage of ${f.id}`).toBeGreaterThan(0.93);
    }
    const dir = copy(path.join(FIXTURES, 'imavatar'));
    fs.rmSync(path.join(dir, 'subject1', 'subject1', 'MVI_1812', 'flame_params.json'));
    expect(() => readImavatarDataset(path.join(dir, 'subject1', 'subject1'), { trainDirs: ['MVI_1810'], testDirs: ['MVI_1812'] })).toThrow(/MVI_1812\/flame_params.json: missing/);
  });

  it('NeRFace: unique ids, time order from index_map.npy, integer pixel centres with a negative fx, P from the camera', async () => {
    const truth = truthOf('nerface');
    const ds = readNerfaceDataset(NERFACE);
    // Video frames 0..3 were drawn into train / val by a permutation; 4..5 are the test sequence.
    const byId = new Map<string, { global: number[]; set: number; coverage: number[]; n: number }>(truth.frames.map((t: { id: string }, n: number) => [t.id, { ...t, n }]));
    const trainIds = [...byId.keys()].filter((id) => id.startsWith('train_')).sort((a, b) => byId.get(a)!.n - byId.get(b)!.n);
    expect(ds.frames.map((f) => f.id)).toEqual([...trainIds, 'val_f_0000', 'test_f_0000', 'test_f_0001']);
    expect(new Set(ds.frames.map((f) => f.id)).size).toBe(6);
    expect(ds.split).toEqual({ train: [0, 1, 2], val: [3], test: [4, 5] });
    const proxy = await proxyOf(ds);
    for (const f of ds.frames) {
      const t = byId.get(f.id)!;
      expect(f.camera).toMatchObject({ fx: 62, fy: 62, convention: 'opengl', pixelCenter: 0 });
      expect(f.camera.cx).toBeCloseTo(0.49 * 32, 9);
      expectClose(f.pose!, [...t.global, 0, 0, 0], 1e-6, `P of ${f.id}`);
      expectClose(f.expression!, rows('nerface_expression', t.set), 1e-7, `E of ${f.id}`);
      const r = renderProxy(proxy, frameParams(f));
      expect(iou(r.mask, t.coverage), `coverage of ${f.id}`).toBeGreaterThan(0.93);
      // Sampling at pixel centres (+0.5) instead of NeRFace's integer indices shifts the head by half a pixel.
      const shifted = renderProxy(proxy, { ...frameParams(f), camera: { ...f.camera, pixelCenter: 0.5 } });
      expect(iou(shifted.mask, t.coverage)).toBeLessThan(iou(r.mask, t.coverage));
    }
    const dir = copy(NERFACE);
    writeNpy(path.join(dir, 'index_map.npy'), { dtype: 'float64', shape: [4, 2], data: Float64Array.from([0, -1, 1, 0, 2, -1, 3, -1]) });
    expect(() => readNerfaceDataset(dir)).toThrow(/index_map.npy: mismatched frame counts: no row for train frame 1 \(transforms_train.json has 3 frames\)/);
    fs.rmSync(path.join(dir, 'train', 'f_0002.png'));
    expect(() => readNerfaceDataset(dir)).toThrow(/transforms_train.json: frames\[2\].file_path refers to a missing file/);
    expect(() => readNerfaceDataset(INSTA)).toThrow(/'intrinsics' should be .*an INSTA folder/);
  });
});
