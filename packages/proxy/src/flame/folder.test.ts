/**
 * `readFlameFolder`: a user's FLAME folder (model `.npz` + `head_template_mesh.obj`) loads with the UVs of the OBJ,
 * missing files are named, and stage 1 fitted with the folder's model on a dataset without `synthetic.json` equals
 * the fit with the synthetic head on the same dataset with it (the folder holds the synthetic head's FLAME arrays,
 * written here: the model a user converts from FLAME's pkl has the same keys).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, tf, useBackend, ValidationError, writeNpz, type NpyDtype } from '@consistent-avatar/core';
import { syntheticFlameArrays } from '../head/synthetic-head.js';
import { buildSyntheticTopology } from '../head/geometry.js';
import { readInstaDataset } from '../datasets/insta.js';
import { synthesizeDataset } from '../datasets/synthesize.js';
import { fitProxyAvatar } from '../proxy/proxy-avatar.js';
import { SYNTHETIC_NUM_SHAPE } from '../head/synthetic-head.js';
import { readFlameFolder, readObjUvs } from './folder.js';

let tmp: string;
const topology = buildSyntheticTopology();

/** The synthetic head as a user's FLAME folder: `flame2020.npz` without UVs, and the UVs as an OBJ. */
function writeFlameFolder(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const arrays = syntheticFlameArrays(topology);
  const dtype = (data: ArrayLike<number>): NpyDtype => (data instanceof Float32Array ? 'float32' : data instanceof Uint32Array ? 'uint32' : 'int32');
  const model = Object.fromEntries(Object.entries(arrays).filter(([k]) => k !== 'vt' && k !== 'ft').map(([k, a]) => [k, { dtype: dtype(a.data as ArrayLike<number>), shape: [...a.shape], data: a.data as Float32Array }]));
  writeNpz(path.join(dir, 'flame2020.npz'), model);
  const uv = topology.uvs, faces = topology.faces;
  const lines = ['# FLAME-like template: vt and f v/vt', ...Array.from({ length: uv.length / 2 }, (_, i) => `vt ${uv[2 * i]} ${uv[2 * i + 1]}`)];
  for (let f = 0; f < faces.length; f += 3) lines.push(`f ${[0, 1, 2].map((c) => `${faces[f + c]! + 1}/${faces[f + c]! + 1}`).join(' ')}`);
  fs.writeFileSync(path.join(dir, 'head_template_mesh.obj'), lines.join('\n'));
}

beforeAll(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flame-folder-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('readFlameFolder', () => {
  it('loads the model with the OBJ UVs; names a missing model or OBJ; refuses a malformed OBJ', () => {
    const dir = path.join(tmp, 'flame');
    writeFlameFolder(dir);
    const before = tf.memory().numTensors;
    const { model, modelFile, uvFile } = readFlameFolder(dir);
    expect(modelFile).toBe(path.join(dir, 'flame2020.npz'));
    expect(uvFile).toBe(path.join(dir, 'head_template_mesh.obj'));
    expect(model.numShape).toBe(SYNTHETIC_NUM_SHAPE);
    expect(Array.from(model.uvs!.uv)).toEqual(Array.from(topology.uvs));
    expect(Array.from(model.uvs!.uvFaces)).toEqual(Array.from(topology.faces));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    fs.renameSync(path.join(dir, 'head_template_mesh.obj'), path.join(dir, 'other.obj'));
    expect(() => readFlameFolder(dir)).toThrow(/head_template_mesh\.obj/);
    fs.renameSync(path.join(dir, 'flame2020.npz'), path.join(dir, 'model.txt'));
    expect(() => readFlameFolder(dir)).toThrow(ValidationError);
    expect(() => readFlameFolder(dir)).toThrow(/missing .*flame2020\.npz/);
    expect(() => readFlameFolder(path.join(tmp, 'nowhere'))).toThrow(/readFlameFolder: argument 'dir'/);

    const bad = path.join(tmp, 'quad.obj');
    fs.writeFileSync(bad, 'vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nf 1/1 2/2 3/3 4/4\n');
    expect(() => readObjUvs(bad)).toThrow(FormatError);
    fs.writeFileSync(bad, 'vt 0 0\nf 1/1 2/1 3/9\n');
    expect(() => readObjUvs(bad)).toThrow(/texture index 9 above the 1 'vt' lines/);
  });

  it('stage 1 on a dataset without synthetic.json, with the folder\'s model, equals the synthetic-head fit', async () => {
    const flame = path.join(tmp, 'flame-fit');
    writeFlameFolder(flame);
    const { root } = await synthesizeDataset({ out: path.join(tmp, 'ds'), frames: 6, size: 32, identity: 1, seed: 4, testFrames: 2 });
    const opts = { steps: 4, batchPixels: 256, textureSize: 8, pixelsPerFrame: 200, seed: 1, shape: new Float32Array(SYNTHETIC_NUM_SHAPE) };
    const synthetic = await fitProxyAvatar(readInstaDataset(root), opts);
    fs.rmSync(path.join(root, 'synthetic.json'));
    await expect(fitProxyAvatar(readInstaDataset(root), opts)).rejects.toThrow(/options\.model/);
    const before = tf.memory().numTensors;
    const user = await fitProxyAvatar(readInstaDataset(root), { ...opts, model: readFlameFolder(flame).model, ownModel: true });
    expect(Array.from(user.texture.data)).toEqual(Array.from(synthetic.texture.data));
    expect(user.lossLog).toEqual(synthetic.lossLog);
    user.dispose(); // disposes the model it took over
    expect(tf.memory().numTensors).toBe(before);
    synthetic.dispose();
  });
});
