import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, Rng, readSafetensors, writeSafetensors } from '@consistent-avatar/core';
import { ExpressionDatabase } from './database.js';
import { loadExpressionDatabase, saveExpressionDatabase } from './database-file.js';
import { vocabulary } from './vocabulary.js';

function sample(): ExpressionDatabase {
  const rng = new Rng(5);
  return ExpressionDatabase.fromArrays({
    dimension: 100,
    vectors: rng.normal(6 * 100),
    labels: ['happy', 'happy', 'sad', 'fear', 'fear', 'fear'],
    vocabulary: vocabulary('mead7'),
    clipIds: ['a', 'a', 'b', 'c', 'c', 'c'],
    actors: ['M003', 'M003', 'W009', 'W009', 'W009', 'W009'],
    intensities: [3, 3, 3, 3, 3, 3],
    frameIndices: [10, 11, 0, 5, 6, 7],
  });
}

describe('expression database files', () => {
  it('round-trips through safetensors + JSON bit for bit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exprdb-'));
    const db = sample();
    const paths = saveExpressionDatabase(db, join(dir, 'db.safetensors'));
    expect(paths).toEqual({ tensors: join(dir, 'db.safetensors'), json: join(dir, 'db.json') });
    const { tensors, metadata } = readSafetensors(paths.tensors);
    expect(metadata.format).toBe('consistent-avatar.expression-database');
    expect(tensors.vectors!.shape).toEqual([6, 100]);
    expect(tensors.label_index!.dtype).toBe('I32');
    for (const file of [paths.tensors, paths.json, join(dir, 'db')]) {
      const back = loadExpressionDatabase(file);
      expect(back.vocabulary.name).toBe('mead7');
      expect([...back.vectors]).toEqual([...db.vectors]);
      expect([...back.labelIndices]).toEqual([...db.labelIndices]);
      expect([...back.frameIndices]).toEqual([10, 11, 0, 5, 6, 7]);
      expect(back.clips).toEqual(db.clips);
    }
  });

  it('malformed or inconsistent files raise FormatError naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exprdb-bad-'));
    const db = sample();
    const { tensors, json } = saveExpressionDatabase(db, join(dir, 'db'));
    const meta = JSON.parse(readFileSync(json, 'utf8'));
    expect(() => loadExpressionDatabase(join(dir, 'missing'))).toThrow(FormatError);
    writeFileSync(json, '{not json');
    expect(() => loadExpressionDatabase(json)).toThrow(/db.json: invalid JSON at line 1/);
    writeFileSync(json, JSON.stringify({ ...meta, dimension: 50 }));
    expect(() => loadExpressionDatabase(json)).toThrow(/tensor 'vectors' is F32 \[6, 100\], expected F32 \[6, 50\]/);
    writeFileSync(json, JSON.stringify({ ...meta, format: 'other' }));
    expect(() => loadExpressionDatabase(json)).toThrow(/not an expression database/);
    writeFileSync(json, JSON.stringify({ ...meta, clips: meta.clips.slice(0, 1) }));
    expect(() => loadExpressionDatabase(json)).toThrow(/inconsistent contents/);
    writeFileSync(json, JSON.stringify(meta));
    writeFileSync(tensors, new Uint8Array([1, 2, 3]));
    expect(() => loadExpressionDatabase(json)).toThrow(FormatError);
    writeSafetensors(tensors, { vectors: { dtype: 'F32', shape: [6, 100], data: db.vectors } }, {
      format: 'consistent-avatar.expression-database',
    });
    expect(() => loadExpressionDatabase(json)).toThrow(/missing tensor 'label_index'/);
  });
});
