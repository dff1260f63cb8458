import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend, readPng, writePng } from '@consistent-avatar/core';
import { SYNTHETIC_EMOTIONS } from '../head/emotions.js';
import { headRotationFromCamera, readInstaDataset, writeInstaDataset } from './insta.js';
import { invertRigid } from '../raster/camera.js';
import { readNerfaceDataset, writeNerfaceDataset } from './nerface.js';
import { readImavatarDataset, writeImavatarDataset } from './imavatar.js';
import { splitLastFrames, type AvatarDataset } from './common.js';
import { readFrameMask } from './masks.js';
import { synthesizeDataset, readSyntheticTruth, scriptPerformance, trackPerformance } from './synthesize.js';

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `ca-ds-${name}-`));

/** Everything a reader returns, with the root-relative image path instead of the absolute one. */
function comparable(ds: AvatarDataset) {
  return {
    width: ds.width, height: ds.height, split: ds.split,
    frames: ds.frames.map((f) => ({
      id: f.id, image: path.relative(ds.root, f.imagePath), mask: f.maskPath ? path.relative(ds.root, f.maskPath) : null,
      camera: { ...f.camera, cameraToWorld: Array.from(f.camera.cameraToWorld) },
      expression: f.expression ? Array.from(f.expression) : null, pose: f.pose ? Array.from(f.pose) : null, emotion: f.emotion ?? null,
    })),
  };
}

describe('datasets', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = tmp('synth');
    await synthesizeDataset({ out: root, frames: 24, size: 32, identity: 1, seed: 3, testFrames: 6, supersample: 1 });
  }, 120_000);

  it('synthesizes an INSTA-layout dataset with true and tracked parameters and MEAD emotion labels', () => {
    const ds = readInstaDataset(root);
    expect(ds.frames.length).toBe(24);
    expect(ds.split.test).toEqual([18, 19, 20, 21, 22, 23]); // transforms_test.json's frames
    expect(ds.splitSource).toBe('transforms_train.json / transforms_test.json / transforms_val.json');
    expect(ds.poseSource).toBe('flame/pose files');
    // The real INSTA layout: RGBA images, label maps with the skin code, the tracker's 6D jaw, split files.
    for (const f of ['transforms.json', 'transforms_train.json', 'transforms_test.json', 'transforms_val.json', 'flame/jaw/00003.txt', 'seg_mask/00003.png']) {
      expect(fs.existsSync(path.join(root, f)), f).toBe(true);
    }
    expect(readPng(ds.frames[3]!.imagePath).channels).toBe(4);
    const labels = new Set(Array.from(readPng(ds.frames[3]!.maskPath!, { channels: 3 }).data, (v) => Math.round(v * 255)));
    expect([...labels].sort((a, b) => a - b)).toEqual([0, 250]);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'transforms.json'), 'utf8')).test_frames).toBeUndefined();
    expect(ds.frames.map((f) => f.id)).toEqual(Array.from({ length: 24 }, (_, i) => String(i).padStart(5, '0')));
    for (const f of ds.frames) {
      expect(f.expression!.length).toBe(100);
      expect(f.pose!.length).toBe(6);
      expect(SYNTHETIC_EMOTIONS).toContain(f.emotion);
      expect(f.maskPath).toBeDefined();
    }
    const img = readPng(ds.frames[5]!.imagePath, { channels: 3 });
    expect([img.width, img.height]).toEqual([32, 32]);
    const mean = img.data.reduce((a, b) => a + b, 0) / img.data.length;
    expect(mean).toBeGreaterThan(0.05); // a head is in the picture
    const truth = readSyntheticTruth(root);
    expect(truth.label).toBe('synthetic');
    expect(truth.frames[3]!.emotion).toBe(ds.frames[3]!.emotion);
    // Tracked ≠ true, but close.
    let diff = 0;
    for (let k = 0; k < 16; k++) diff += Math.abs(ds.frames[10]!.expression![k]! - truth.frames[10]!.expression[k]!);
    expect(diff).toBeGreaterThan(0);
    expect(diff / 16).toBeLessThan(0.3);
  });

  it('round-trips through the INSTA writer and reader unchanged', () => {
    const a = readInstaDataset(root);
    const out = tmp('rt');
    writeInstaDataset(out, {
      width: a.width, height: a.height, fx: a.frames[0]!.camera.fx, fy: a.frames[0]!.camera.fy, cx: a.frames[0]!.camera.cx, cy: a.frames[0]!.camera.cy,
      testFrames: a.split.test.length,
      frames: a.frames.map((f) => ({
        id: f.id, image: readPng(f.imagePath, { channels: 3 }), cameraToWorld: f.camera.cameraToWorld,
        expression: f.expression!, pose: f.pose!, emotion: f.emotion!,
        mask: { width: a.width, height: a.height, channels: 1, data: readFrameMask(f)! },
      })),
    });
    const b = readInstaDataset(out);
    expect(comparable(b)).toEqual(comparable(a));
    expect([b.splitSource, b.poseSource]).toEqual([a.splitSource, a.poseSource]);
    for (const i of [0, 11, 23]) {
      expect(readPng(b.frames[i]!.imagePath).data).toEqual(readPng(a.frames[i]!.imagePath).data);
      expect(readPng(b.frames[i]!.maskPath!).data).toEqual(readPng(a.frames[i]!.maskPath!).data);
      expect(readFrameMask(b.frames[i]!)).toEqual(readFrameMask(a.frames[i]!));
      for (const dir of ['flame/exp', 'flame/jaw', 'flame/pose']) {
        expect(fs.readFileSync(path.join(out, dir, `${a.frames[i]!.id}.txt`), 'utf8')).toBe(fs.readFileSync(path.join(root, dir, `${a.frames[i]!.id}.txt`), 'utf8'));
      }
    }
  });

  it('sorts frames by path whatever the JSON order; the split is the split files\' membership, else the last N', () => {
    const out = tmp('order');
    fs.cpSync(root, out, { recursive: true });
    for (const name of ['transforms.json', 'transforms_train.json', 'transforms_test.json']) {
      const file = path.join(out, name);
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      json.frames.reverse();
      fs.writeFileSync(file, JSON.stringify(json));
    }
    // Move frame 2 from train to test: membership, not position, decides.
    const train = JSON.parse(fs.readFileSync(path.join(out, 'transforms_train.json'), 'utf8'));
    const test = JSON.parse(fs.readFileSync(path.join(out, 'transforms_test.json'), 'utf8'));
    const moved = train.frames.findIndex((f: { file_path: string }) => f.file_path === 'images/00002.png');
    test.frames.push(...train.frames.splice(moved, 1));
    fs.writeFileSync(path.join(out, 'transforms_train.json'), JSON.stringify(train));
    fs.writeFileSync(path.join(out, 'transforms_test.json'), JSON.stringify(test));
    let ds = readInstaDataset(out, { testFrames: 4 }); // testFrames applies only without split files
    expect(ds.frames[0]!.id).toBe('00000');
    expect(ds.split.test).toEqual([2, 18, 19, 20, 21, 22, 23]);
    expect(ds.split.train).toEqual([0, 1, ...Array.from({ length: 15 }, (_, i) => i + 3)]);
    expect(ds.split.val).toEqual([18, 19, 20, 21, 22, 23]);
    for (const name of ['transforms_train.json', 'transforms_test.json', 'transforms_val.json']) fs.rmSync(path.join(out, name));
    ds = readInstaDataset(out, { testFrames: 4 });
    expect(ds.split.test).toEqual([20, 21, 22, 23]);
    expect(ds.split.train.length).toBe(20);
    expect(ds.splitSource).toBe('last 4 frames (no split files)');
    expect(splitLastFrames(1000)).toMatchObject({ test: expect.any(Array) });
    expect(splitLastFrames(1000).test[0]).toBe(650);
    expect(splitLastFrames(1000).val).toEqual(Array.from({ length: 20 }, (_, i) => 980 + i));
    expect(() => splitLastFrames(100)).toThrow(/splitLastFrames: argument 'testFrames' expected fewer than the 100 frames/);
  });

  it('rejects malformed JSON, missing images and escaping paths with clear errors', () => {
    const broken = (edit: (json: { frames: Record<string, unknown>[] }) => void, raw?: string) => {
      const out = tmp('bad');
      fs.cpSync(root, out, { recursive: true });
      for (const f of ['transforms_train.json', 'transforms_test.json', 'transforms_val.json']) fs.rmSync(path.join(out, f));
      const file = path.join(out, 'transforms.json');
      if (raw !== undefined) fs.writeFileSync(file, raw);
      else {
        const json = JSON.parse(fs.readFileSync(file, 'utf8'));
        edit(json);
        fs.writeFileSync(file, JSON.stringify(json));
      }
      return out;
    };
    expect(() => readInstaDataset(broken(() => {}, '{"w": 32, "frames": [\n  {"file_path": "images/00000.png",}\n]}'))).toThrow(/json file .*transforms.json: invalid JSON at line 2/);
    const missing = broken(() => {});
    fs.rmSync(path.join(missing, 'images', '00007.png'));
    expect(() => readInstaDataset(missing)).toThrow(/insta file .*transforms.json: frames\[7\].file_path refers to a missing file .*00007.png/);
    expect(() => readInstaDataset(broken((j) => { j.frames[2]!.file_path = '../../../etc/passwd'; }))).toThrow(/frames\[2\].file_path '..\/..\/..\/etc\/passwd' escapes the dataset folder/);
    expect(() => readInstaDataset(broken((j) => { j.frames[1]!.exp_path = '/etc/hostname'; }))).toThrow(/frames\[1\].exp_path '\/etc\/hostname' is absolute/);
    expect(() => readInstaDataset(broken((j) => { j.frames[0]!.transform_matrix = [[1, 0], [0, 1]]; }))).toThrow(/frames\[0\].transform_matrix should be a 4×4/);
    expect(() => readInstaDataset(broken((j) => { delete (j as Record<string, unknown>).fl_x; }))).toThrow(/'fl_x' should be a finite number/);
    const badExp = broken(() => {});
    fs.writeFileSync(path.join(badExp, 'flame', 'exp', '00004.txt'), '0.1 zebra 0.3');
    expect(() => readInstaDataset(badExp)).toThrow(/insta file .*00004.txt: expected whitespace-separated numbers/);
    expect(() => readInstaDataset(path.join(root, 'nope'))).toThrow(/readInstaDataset: argument 'root'/);
    const empty = tmp('empty');
    expect(() => readInstaDataset(empty)).toThrow(/no transforms.json/);
  });

  it('NeRFace: round trip — normalised principal point, OpenGL cameras (a negative fx mirrors x), unique ids, P from the camera', () => {
    const a = readInstaDataset(root);
    const c = a.frames[0]!.camera;
    // OpenCV c2w → OpenGL axes (negate the y and z columns).
    const toGl = (m: ArrayLike<number>) => Array.from(m, (v, i) => ((i % 4 === 1 || i % 4 === 2) && i < 12 ? -v : v));
    const write = (out: string, sign: 1 | -1) => writeNerfaceDataset(out, {
      width: a.width, height: a.height, fx: sign * c.fx, fy: c.fy, cx: c.cx, cy: c.cy,
      frames: a.frames.slice(0, 6).map((f, i) => ({
        id: `f_${String(i < 4 ? i : 0).padStart(4, '0')}`, split: i < 4 ? 'train' : i === 4 ? 'val' : 'test',
        image: f.imagePath, expression: Array.from({ length: 76 }, (_, k) => Math.sin(k + i)),
        cameraToWorld: toGl(f.camera.cameraToWorld).map((v, k) => (sign < 0 && k < 12 && k % 4 === 0 ? -v : v)),
      })),
    });
    const out = tmp('nerface');
    write(out, 1);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'transforms_train.json'), 'utf8'));
    expect(json.intrinsics[2]).toBeCloseTo(c.cx / a.width, 12);
    expect(json.frames[0].file_path).toBe('./train/f_0000');
    const ds = readNerfaceDataset(out);
    expect(ds.frames.map((f) => f.id)).toEqual(['train_f_0000', 'train_f_0001', 'train_f_0002', 'train_f_0003', 'val_f_0000', 'test_f_0000']);
    expect(ds.split).toEqual({ train: [0, 1, 2, 3], val: [4], test: [5] });
    const mirrored = tmp('nerface-neg');
    write(mirrored, -1);
    const dm = readNerfaceDataset(mirrored);
    for (const [i, f] of ds.frames.entries()) {
      expect(f.camera).toMatchObject({ convention: 'opengl', pixelCenter: 0, fx: c.fx });
      expect(f.camera.cx).toBeCloseTo(c.cx, 9);
      expect(f.expression!.length).toBe(76);
      expect(f.extra!.bbox).toEqual([0, 1, 0, 1]);
      expect(Array.from(f.camera.cameraToWorld, (v) => v + 0)).toEqual(toGl(a.frames[i]!.camera.cameraToWorld).map((v) => v + 0)); // (+0 and −0 alike)
      expect(Array.from(f.pose!)).toEqual([...Array.from(headRotationFromCamera(a.frames[i]!.camera.cameraToWorld), Math.fround), 0, 0, 0]);
      // fx < 0 with the x column negated casts the same rays: the same camera.
      const plain = (cam: typeof f.camera) => ({ ...cam, cameraToWorld: Array.from(cam.cameraToWorld, (v) => v + 0) });
      expect(plain(dm.frames[i]!.camera)).toEqual(plain(f.camera));
    }
    fs.writeFileSync(path.join(out, 'transforms_val.json'), JSON.stringify({ intrinsics: [1, 2, 3], frames: [] }));
    expect(() => readNerfaceDataset(out)).toThrow(/nerface file .*transforms_val.json: 'intrinsics' should be \[fx, fy, cx, cy\]/);
    // fx < 0 without the mirrored column is a reflection: refused, naming the matrix.
    const json2 = JSON.parse(fs.readFileSync(path.join(mirrored, 'transforms_test.json'), 'utf8'));
    json2.frames[0].transform_matrix = toGl(a.frames[5]!.camera.cameraToWorld);
    fs.writeFileSync(path.join(mirrored, 'transforms_test.json'), JSON.stringify(json2));
    expect(() => readNerfaceDataset(mirrored)).toThrow(/transforms_test.json: frames\[0\].transform_matrix with focal lengths .*\(a reflection\)/);
  });

  it('IMAvatar: round trip — world_mat of the head × 4 in OpenGL axes, −fx, numeric order, P = global ⊕ jaw', () => {
    const a = readInstaDataset(root);
    const out = tmp('imavatar');
    const c = a.frames[0]!.camera;
    const ids = ['1', '2', '3', '10', '11'];
    writeImavatarDataset(out, {
      width: a.width, height: a.height, fx: c.fx, fy: c.fy, cx: c.cx, cy: c.cy, shape: new Float32Array(100).fill(0.25),
      frames: a.frames.slice(0, 5).map((f, i) => ({
        id: ids[4 - i]!, image: f.imagePath, mask: readPng(f.maskPath!), cameraToWorld: f.camera.cameraToWorld,
        expression: Array.from({ length: 50 }, (_, k) => k * 0.01), pose: Array.from({ length: 15 }, (_, k) => k * 0.001 * (4 - i)),
      })),
    });
    const json = JSON.parse(fs.readFileSync(path.join(out, 'flame_params.json'), 'utf8'));
    expect(json.intrinsics[0]).toBeCloseTo(-c.fx / a.width, 12); // IMAvatar stores −fx
    expect(json.frames[0].world_mat[2][3]).toBeCloseTo(-4 * Array.from(invertRigid(c.cameraToWorld))[11]!, 9); // × 4, −z
    const ds = readImavatarDataset(out, { testFrames: 2 });
    expect(ds.frames.map((f) => f.id)).toEqual(['1', '2', '3', '10', '11']); // numeric, not '10' < '2'
    expect(ds.split).toMatchObject({ train: [0, 1, 2], test: [3, 4] });
    expect(ds.shape!.length).toBe(100);
    for (const [i, f] of ds.frames.entries()) {
      expect(Array.from(f.pose!)).toEqual([0, 1, 2, 6, 7, 8].map((k) => Math.fround(k * 0.001 * i)));
      expect(f.renderPose!.length).toBe(15);
      expect(f.expression!.length).toBe(50);
      expect(f.mask).toEqual({ gray: f.maskPath });
      expect(f.camera).toMatchObject({ convention: 'opengl', pixelCenter: 0 });
      expect(f.camera.fx).toBeCloseTo(c.fx, 6);
      expect(f.camera.cy).toBeCloseTo(c.cy, 6);
      // Back in OpenCV axes, the camera of the unscaled head is the one written.
      const cv = Array.from(f.camera.cameraToWorld, (v, k) => ((k % 4 === 1 || k % 4 === 2) && k < 12 ? -v : v));
      const ref = Array.from(a.frames[4 - i]!.camera.cameraToWorld);
      for (let k = 0; k < 16; k++) expect(cv[k]!).toBeCloseTo(ref[k]!, 9);
    }
    // The old format (intrinsics in 512-pixel units, detected by cy > 1).
    json.intrinsics = [json.intrinsics[0] * 512, json.intrinsics[1] * 512, json.intrinsics[2] * 512, json.intrinsics[3] * 512];
    fs.writeFileSync(path.join(out, 'flame_params.json'), JSON.stringify(json));
    expect(readImavatarDataset(out, { testFrames: 2 }).frames[0]!.camera.fx).toBeCloseTo(c.fx, 6);
    json.frames[1].pose = [1, 2, 3];
    fs.writeFileSync(path.join(out, 'flame_params.json'), JSON.stringify(json));
    expect(() => readImavatarDataset(out, { testFrames: 2 })).toThrow(/frames\[1\].pose should have 15 values/);
    json.frames[1].pose = Array.from({ length: 15 }, () => 0);
    json.frames[1].file_path = './image/one';
    fs.writeFileSync(path.join(out, 'flame_params.json'), JSON.stringify(json));
    expect(() => readImavatarDataset(out, { testFrames: 2 })).toThrow(/frames\[1\].file_path should end in an integer frame number/);
    // A frame of another size than the others is refused, naming it.
    json.frames[1].file_path = './image/10';
    fs.writeFileSync(path.join(out, 'flame_params.json'), JSON.stringify(json));
    writePng(path.join(out, 'image', '3.png'), { width: 8, height: 8, channels: 3, data: new Float32Array(8 * 8 * 3) });
    expect(() => readImavatarDataset(out, { testFrames: 2 })).toThrow(new RegExp(`frames\\[2\\]\\.file_path is 8×8, other frames are ${a.width}×${a.height}`));
  });

  it('scripts speech, blinks, head motion and emotion segments deterministically; tracking lags and is noisy', () => {
    const p = scriptPerformance(600, 9);
    expect(scriptPerformance(600, 9)[300]!.expression).toEqual(p[300]!.expression);
    const emotions = new Set(p.map((f) => f.emotion));
    expect(emotions.size).toBeGreaterThanOrEqual(6);
    const jaw = p.map((f) => f.pose[6]!);
    expect(Math.max(...jaw)).toBeGreaterThan(0.1);
    expect(p.filter((f) => f.speaking).length).toBeGreaterThan(200);
    expect(p.filter((f) => f.expression[5]! > 0.9).length).toBeGreaterThan(3); // blinks
    expect(Math.max(...p.map((f) => Math.abs(f.pose[1]!)))).toBeGreaterThan(0.08); // head yaw
    const t = trackPerformance(p, 9);
    // Lag: tracked jaw correlates best with the true jaw shifted by one frame, not zero.
    const corr = (lag: number) => {
      let s = 0;
      for (let i = 5; i < 595; i++) s += t[i]!.paperPose[3]! * jaw[i - lag]!;
      return s;
    };
    expect(corr(1)).toBeGreaterThan(corr(0) * 0.98);
    expect(corr(1)).toBeGreaterThan(corr(3));
  });
});
