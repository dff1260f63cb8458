import { mkdtempSync, mkdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError, ValidationError } from '@consistent-avatar/core';
import { buildMeadDatabase, readExpressionFile } from './mead.js';

const fixture = fileURLToPath(new URL('../test/fixtures/mead-mini', import.meta.url));

/** Value written by make_mead_mini.py: clip code c, frame t, component j → c + t + j/10 (float32). */
const expected = (code: number, t: number, d = 5) => Array.from({ length: d }, (_, j) => Math.fround(code + t + j / 10));

describe('buildMeadDatabase', () => {
  it('applies the published filters: front view, level 3 except neutral, no contempt (7 classes)', () => {
    const db = buildMeadDatabase(fixture);
    expect(db.vocabulary.name).toBe('mead7');
    expect(db.dimension).toBe(5);
    // happy L3 (4 frames) + neutral L1 (3) + sad L3 dir (3) from M003, angry L3 (3) from W009.
    expect(db.size).toBe(13);
    expect(db.classCounts()).toEqual({ angry: 3, disgusted: 0, fear: 0, happy: 4, neutral: 3, sad: 3, surprised: 0 });
    expect(db.clips.map((c) => c.clipId)).toEqual([
      'M003/front/happy/level_3/001',
      'M003/front/neutral/level_1/001',
      'M003/front/sad/level_3/002',
      'W009/front/angry/level_3/003',
    ]);
    const happy = db.row(1);
    expect(happy).toMatchObject({ label: 'happy', actor: 'M003', intensity: 3, frameIndex: 1 });
    expect([...happy.vector]).toEqual(expected(100, 1));
    expect([...db.row(4).vector]).toEqual(expected(300, 0)); // npz: 'exp' chosen by default
    // per-frame directory in numeric order: 00000, 00001, 00010
    expect([...db.row(9).vector].map((v) => Math.round(v * 1e4) / 1e4)).toEqual(expected(602, 0).map((v) => Math.round(v * 1e4) / 1e4));
    expect(db.row(12)).toMatchObject({ label: 'angry', actor: 'W009', frameIndex: 2 });
    expect([...db.row(12).vector]).toEqual(expected(700, 2));
  });

  it('8 classes, all levels and other views on request', () => {
    const db = buildMeadDatabase(fixture, { classes: 8, level: 'all', views: ['front', 'left_30'] });
    expect(db.vocabulary.name).toBe('mead8');
    expect(db.classCounts()).toMatchObject({ contempt: 2, happy: 4 + 2 + 2 });
    expect(buildMeadDatabase(fixture, { actors: ['W009'] }).size).toBe(3);
  });

  it('concatenates named arrays per frame (jaw ⊕ exp)', () => {
    const r = readExpressionFile(join(fixture, 'W009/front/angry/level_3/003.json'), ['jaw', 'exp']);
    expect(r.dim).toBe(8);
    expect(r.frames).toBe(3);
    expect([...r.data.subarray(8, 16)]).toEqual([...expected(751, 0, 3), ...expected(701, 0)]);
    const npz = readExpressionFile(join(fixture, 'M003/video/front/neutral/level_1/001.npz'), ['jaw', 'exp']);
    expect([...npz.data.subarray(0, 8)]).toEqual([...expected(350, 0, 3), ...expected(300, 0)]);
  });

  it('mismatched dimensions and malformed files give clear typed errors', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mead-bad-'));
    cpSync(fixture, tmp, { recursive: true });
    // W009 with jaw ⊕ exp (8-d) while M003's npy files are 5-d.
    expect(() => buildMeadDatabase(tmp, { keys: ['jaw', 'exp'] })).toThrow(FormatError);
    expect(() => buildMeadDatabase(tmp, { dimension: 4 })).toThrow(/has vectors of D = 5, but options.dimension has D = 4/);
    const dir = join(tmp, 'X001', 'front', 'fear', 'level_3');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '001.npy'), 'not a numpy file');
    expect(() => buildMeadDatabase(tmp)).toThrow(FormatError);
    writeFileSync(join(dir, '001.json'), '[[1, 2, 3, 4, 5], [1, 2]]');
    expect(() => readExpressionFile(join(dir, '001.json'))).toThrow(/row 1 has 2 values, expected 5/);
    writeFileSync(join(dir, '001.json'), '{"exp": [[1, "a"]]}');
    expect(() => readExpressionFile(join(dir, '001.json'))).toThrow(/expected a finite number/);
    writeFileSync(join(dir, '001.json'), '{broken');
    expect(() => readExpressionFile(join(dir, '001.json'))).toThrow(/001.json: invalid JSON at line/);
    expect(() => readExpressionFile(join(fixture, 'W009/front/angry/level_3/003.json'), ['pose'])).toThrow(/has no array 'pose'/);
    expect(() => buildMeadDatabase(join(tmp, 'nope'))).toThrow(ValidationError);
    const empty = mkdtempSync(join(tmpdir(), 'mead-empty-'));
    expect(() => buildMeadDatabase(empty)).toThrow(/a MEAD tree/);
    expect(() => buildMeadDatabase(fixture, { classes: 6 as never })).toThrow(/options.classes/);
  });
});
