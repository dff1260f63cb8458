/**
 * Issue 19 (reliability), stage 1's items: confinement by real path and the IMAvatar mask (6), metadata checked
 * against the files (7), a kill during dataset synthesis (8), the proxy fit's size check and leak (1, 11), and the
 * non-finite policy of FLAME, projectPoints and rasterize (10).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ValidationError, initBackend, tf } from '@consistent-avatar/core';
import { fitProxyAvatar } from '../proxy/proxy-avatar.js';
import { lookAtCamera, projectPoints } from '../raster/camera.js';
import { rasterize } from '../raster/rasterize.js';
import { bilinearPlan } from '../proxy/texture-sampler.js';
import { createSyntheticHead } from '../head/synthetic-head.js';
import { readImavatarDataset, writeImavatarDataset } from './imavatar.js';
import { readInstaDataset, writeInstaDataset } from './insta.js';
import { readNerfaceDataset, writeNerfaceDataset } from './nerface.js';
import { synthesizeDataset } from './synthesize.js';

const ROOT = path.resolve(__dirname, '../../../..');
let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-proxy-rel-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const S = 8;
const image = () => ({ width: S, height: S, channels: 3, data: new Float32Array(S * S * 3).fill(0.5) });
const c2w = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0.6, 0, 0, 0, 1];
function insta(dir: string): string {
  writeInstaDataset(dir, {
    width: S, height: S, fx: 12, fy: 12, cx: 4, cy: 4, testFrames: 1, valFrames: 1,
    frames: [0, 1, 2].map((k) => ({ id: `0000${k}`, image: image(), cameraToWorld: c2w, expression: [0.1, 0.2], pose: [0, 0, 0, 0.1, 0, 0] })),
  });
  return dir;
}
const editTransforms = (dir: string, edit: (json: Record<string, unknown>) => void) => {
  const file = path.join(dir, 'transforms.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json));
};
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('6. confinement by real path', () => {
  it('a symlink inside the dataset that leads outside it is refused', () => {
    const dir = insta(path.join(tmp, 'symlink'));
    const outside = path.join(tmp, 'outside.png');
    fs.copyFileSync(path.join(dir, 'images', '00000.png'), outside);
    fs.rmSync(path.join(dir, 'images', '00001.png'));
    fs.symlinkSync(outside, path.join(dir, 'images', '00001.png'));
    expect(thrown(() => readInstaDataset(dir)).message).toMatch(/leads outside the dataset folder .* through a symlink/);
  });

  it('a FIFO or a /dev/zero symlink as the dataset JSON is refused without blocking', () => {
    const dir = insta(path.join(tmp, 'fifo'));
    fs.rmSync(path.join(dir, 'transforms.json'));
    require('node:child_process').execFileSync('mkfifo', [path.join(dir, 'transforms.json')]);
    expect(thrown(() => readInstaDataset(dir)).message).toMatch(/not a regular file/);
    fs.rmSync(path.join(dir, 'transforms.json'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'transforms.json'));
    expect(thrown(() => readInstaDataset(dir))).toBeInstanceOf(FormatError);
  });

  it('IMAvatar: an image at the root has no mask outside the root; images in image/ get mask/', () => {
    const dir = path.join(tmp, 'imavatar');
    writeImavatarDataset(dir, {
      width: S, height: S, fx: 12, fy: 12, cx: 4, cy: 4,
      frames: [1, 2].map((k) => ({ id: `${k}`, image: image(), mask: image(), cameraToWorld: c2w, expression: [0], pose: new Array(15).fill(0) })),
    });
    fs.copyFileSync(path.join(dir, 'image', '1.png'), path.join(dir, '9.png'));
    fs.mkdirSync(path.join(tmp, 'mask'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'image', '1.png'), path.join(tmp, 'mask', '9.png')); // the old code found this one
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'flame_params.json'), 'utf8')) as { frames: Record<string, unknown>[] };
    json.frames.push({ ...json.frames[0], file_path: './9' });
    fs.writeFileSync(path.join(dir, 'flame_params.json'), JSON.stringify(json));
    const ds = readImavatarDataset(dir, { testFrames: 1 });
    const atRoot = ds.frames.find((f) => f.id === '9')!;
    expect(atRoot.maskPath).toBeUndefined();
    expect(ds.frames.find((f) => f.id === '1')!.maskPath).toBe(path.join(dir, 'mask', '1.png'));
  });
});

describe('7. metadata checked against the files', () => {
  it('INSTA w/h must be the images\' size; fx > 0; rigid matrices; pose of 6 or 15 values', () => {
    const dir = insta(path.join(tmp, 'meta'));
    editTransforms(dir, (j) => ((j.w = 65536), (j.h = 65536)));
    expect(thrown(() => readInstaDataset(dir)).message).toMatch(/8×8 image, but 'w' × 'h' is 65536×65536/);
    editTransforms(dir, (j) => ((j.w = S), (j.h = S), (j.fl_x = 0)));
    expect(thrown(() => readInstaDataset(dir)).message).toMatch(/fl_x.*> 0/);
    editTransforms(dir, (j) => {
      j.fl_x = 12;
      (j.frames as Record<string, unknown>[])[0]!.transform_matrix = [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    });
    expect(thrown(() => readInstaDataset(dir)).message).toMatch(/not a rigid transform: RᵀR differs/);
    editTransforms(dir, (j) => ((j.frames as Record<string, unknown>[])[0]!.transform_matrix = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0.6], [0, 0, 0, 1]]));
    fs.writeFileSync(path.join(dir, 'flame', 'pose', '00000.txt'), '0 0 0 0.1\n');
    expect(thrown(() => readInstaDataset(dir)).message).toMatch(/6 values .* or 15 .*, got 4/);
  });

  it('NeRFace: a truncated PNG header or a zero focal length is refused', () => {
    const dir = path.join(tmp, 'nerface');
    writeNerfaceDataset(dir, { width: S, height: S, fx: -12, fy: 12, cx: 4, cy: 4, frames: [{ id: 'f_0000', split: 'train', image: image(), cameraToWorld: c2w, expression: [0] }] });
    const png = path.join(dir, 'train', 'f_0000.png');
    const bytes = fs.readFileSync(png);
    fs.writeFileSync(png, bytes.subarray(0, 20));
    expect(thrown(() => readNerfaceDataset(dir)).message).toMatch(/not a PNG file \(no IHDR header\)/);
    bytes.writeUInt32BE(0, 20); // height 0
    fs.writeFileSync(png, bytes);
    expect(thrown(() => readNerfaceDataset(dir)).message).toMatch(/size 8x0 is not a valid image size/);
  });
});

describe('8. a kill during dataset synthesis leaves nothing that looks complete', () => {
  it('SIGKILL mid-render: no dataset folder and nothing half-written; the re-run completes', async () => {
    const out = path.join(tmp, 'synth', 'dataset');
    const script = `import { synthesizeDataset } from '@consistent-avatar/proxy'; import { initBackend } from '@consistent-avatar/core';
await initBackend('cpu');
await synthesizeDataset({ out: ${JSON.stringify(out)}, frames: 24, size: 16, testFrames: 4, seed: 1, supersample: 1, onProgress: (done) => { if (done === 20) process.kill(process.pid, 'SIGKILL'); } });`;
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: 'inherit' });
    const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
    expect(signal).toBe('SIGKILL');
    expect(fs.existsSync(out)).toBe(false);
    const leftovers = fs.readdirSync(path.dirname(out));
    expect(leftovers.length).toBe(0); // nothing was written yet: frames are rendered before any file
    const { root } = await synthesizeDataset({ out, frames: 24, size: 16, testFrames: 4, seed: 1, supersample: 1 });
    expect(readInstaDataset(root).frames.length).toBe(24);
    expect(fs.existsSync(path.join(root, 'synthetic.json'))).toBe(true);
  }, 120_000);

  it('a temporary folder of a killed run (dead pid) is removed by the next run', async () => {
    const out = path.join(tmp, 'synth2', 'dataset');
    fs.mkdirSync(`${out}.tmp-999999-0/images`, { recursive: true });
    fs.writeFileSync(`${out}.tmp-999999-0/transforms_train.json`, '{}');
    await synthesizeDataset({ out, frames: 8, size: 16, testFrames: 2, seed: 1, supersample: 1 });
    expect(fs.readdirSync(path.dirname(out))).toEqual(['dataset']);
  }, 60_000);
});

describe('1, 11. fitProxyAvatar checks sizes before rasterizing and leaks nothing on failure', () => {
  it('a camera of 65536² for 16² images fails at once with a ValidationError; no tensor is left behind', async () => {
    const { root } = await synthesizeDataset({ out: path.join(tmp, 'fit'), frames: 8, size: 16, testFrames: 2, seed: 1, supersample: 1 });
    const ds = readInstaDataset(root);
    ds.frames.forEach((f) => ((f.camera as { width: number }).width = 65536, (f.camera as { height: number }).height = 65536));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      await expect(fitProxyAvatar(ds, { steps: 1 })).rejects.toThrow(/images of the cameras' size \(65536×65536\)/);
    }
    expect(tf.memory().numTensors).toBe(before);
    await expect(fitProxyAvatar(ds, { steps: 1, shape: [1, 2] })).rejects.toThrow(ValidationError);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});

describe('10. non-finite inputs to FLAME and projectPoints', () => {
  it('NaN pose / points are refused naming the argument', () => {
    const head = createSyntheticHead({ identity: 0, textureSize: 64 });
    const pose = tf.tensor2d([[0, Number.NaN, 0, 0, 0, 0]]);
    expect(thrown(() => head.model.forward({ paperPose: pose as tf.Tensor2D })).message).toMatch(/params\.paperPose.*finite/);
    pose.dispose();
    head.dispose();
    const camera = lookAtCamera({ eye: [0, 0, 1], target: [0, 0, 0], fx: 100, fy: 100, width: 64, height: 64 });
    expect(thrown(() => projectPoints(camera, [0, 0, Number.NaN])).message).toMatch(/projectPoints: argument 'points' expected finite numbers/);
    expect(thrown(() => projectPoints({ ...camera, cameraToWorld: [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1] }, [0, 0, 0])).message).toMatch(/rigid/);
  });

  it('rasterize refuses NaN / ±Infinity in vertex positions, normals, UVs, the camera and the options (a NaN vertex made its triangles vanish)', () => {
    const camera = lookAtCamera({ eye: [0, 0, 2], target: [0, 0, 0], fx: 20, fy: 20, width: 16, height: 16 });
    const quad = () => ({
      positions: new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]), faces: new Uint32Array([0, 1, 2, 0, 2, 3]),
      uvs: new Float32Array([0, 0, 1, 0, 1, 1, 0, 1]), normals: new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1]),
    });
    expect(rasterize(quad(), camera).mask.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const poisoned = quad();
    poisoned.positions[4] = Number.NaN;
    expect(thrown(() => rasterize(poisoned, camera)).message).toBe("rasterize: argument 'mesh.positions' expected finite numbers (no NaN or ±Infinity), got \"NaN at index 4\"");
    for (const field of ['normals', 'uvs'] as const) {
      const mesh = quad();
      mesh[field][1] = Number.POSITIVE_INFINITY;
      expect(thrown(() => rasterize(mesh, camera)).message).toMatch(new RegExp(`'mesh\\.${field}'.*Infinity at index 1`));
    }
    expect(thrown(() => rasterize(quad(), { ...camera, cx: Number.NaN })).message).toMatch(/rasterize: argument 'camera\.cx' expected a finite number/);
    expect(thrown(() => rasterize(quad(), { ...camera, pixelCenter: Number.NaN })).message).toMatch(/'camera\.pixelCenter' expected finite/);
    const c2w = Array.from(camera.cameraToWorld);
    c2w[3] = Number.NaN;
    expect(thrown(() => rasterize(quad(), { ...camera, cameraToWorld: c2w })).message).toMatch(/'camera\.cameraToWorld'.*value 3 is NaN/);
    const options: [string, Parameters<typeof rasterize>[2]][] = [
      ['color', { color: [1, Number.NaN, 0] }], ['background', { background: [0, 0, Number.NaN] }], ['ambient', { shading: 'lambert', ambient: Number.NaN }],
      ['lightDirection', { shading: 'lambert', lightDirection: [0, Number.NaN, 1] }], ['near', { near: Number.NaN }],
      ['sh', { shading: 'sh', sh: new Array<number>(27).fill(Number.NaN) }],
      ['texture.data', { texture: { width: 1, height: 1, channels: 3, data: Float32Array.from([0, Number.NaN, 0]) } }],
    ];
    expect(thrown(() => bilinearPlan(Float32Array.from([0.5, Number.NaN]), 4, 4)).message).toMatch(/bilinearPlan: argument 'uvs' expected finite numbers .*NaN at index 1/);
    for (const [name, option] of options) {
      const error = thrown(() => rasterize(quad(), camera, option));
      expect(error, name).toBeInstanceOf(ValidationError);
      expect(error.message, name).toMatch(new RegExp(`'options\\.${name.replace('.', '\\.')}' expected finite`));
    }
  });
});
