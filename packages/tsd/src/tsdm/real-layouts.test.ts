/**
 * Stage 2's data preparation on the three real layouts (INSTA, IMAvatar, NeRFace fixtures written by the Python
 * scripts in packages/proxy/test/fixtures/datasets, following each project's writer): the readers give every frame
 * the 6-value P and an expression, so `prepareTsdmData` builds the pairs with the dataset's own split.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@consistent-avatar/core';
import { createSyntheticHead, fitProxyAvatar, readImavatarDataset, readInstaDataset, readNerfaceDataset, type AvatarDataset, type SyntheticHead } from '@consistent-avatar/proxy';
import { prepareTsdmData, resolveTsdmConfig } from '../index.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../proxy/test/fixtures/datasets');
const LAYOUTS: [string, () => AvatarDataset][] = [
  ['INSTA', () => readInstaDataset(path.join(FIXTURES, 'insta', 'actor'))],
  ['IMAvatar', () => readImavatarDataset(path.join(FIXTURES, 'imavatar', 'subject1', 'subject1'), { trainDirs: ['MVI_1810'], testDirs: ['MVI_1812'] })],
  ['NeRFace', () => readNerfaceDataset(path.join(FIXTURES, 'nerface', 'person'))],
];

describe('prepareTsdmData on the real layouts', () => {
  let head: SyntheticHead;
  beforeAll(async () => {
    await useBackend('wasm');
    head = createSyntheticHead({ identity: 0, textureSize: 64 });
  });
  afterAll(() => head.dispose());

  for (const [name, read] of LAYOUTS) {
    it(`${name}: TSD pairs with the dataset's P, E and split`, async () => {
      const ds = read();
      const proxy = await fitProxyAvatar(ds, { model: head.model, shape: head.shape, steps: 2, textureSize: 8, batchPixels: 256, pixelsPerFrame: 200 });
      const config = resolveTsdmConfig({ size: 16, tsdRadius: 1, expressionDim: 50 });
      const data = prepareTsdmData(ds, proxy, config);
      proxy.dispose();
      expect(data.frames.map((f) => f.id)).toEqual(ds.frames.map((f) => f.id));
      expect(data.split).toEqual({ train: ds.split.train, test: ds.split.test });
      for (const [i, f] of data.frames.entries()) {
        expect(Array.from(f.pose)).toEqual(Array.from(ds.frames[i]!.pose!));
        expect(Array.from(f.expression)).toEqual(Array.from(ds.frames[i]!.expression!.slice(0, 50)));
        expect(f.gt!.length).toBe(16 * 16 * 3);
        expect(f.proxy.length).toBe(16 * 16 * 3);
        expect(f.gt!.some((v) => v !== 0)).toBe(true);
      }
    }, 120_000);
  }
});
