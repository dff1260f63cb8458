import { describe, expect, it } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';
import { ExpressionDatabase } from './database.js';
import { vocabulary } from './vocabulary.js';

function small(): ExpressionDatabase {
  return ExpressionDatabase.fromArrays({
    dimension: 2,
    vectors: [1, 0, 0, 1, 0.5, 0.5, 2, 2],
    labels: ['happy', 'sad', 'sad', 'angry'],
    clipIds: ['a', 'b', 'b', 'c'],
    actors: ['M003', 'W009', 'W009', 'M003'],
    intensities: [3, 3, 3, 3],
  });
}

describe('ExpressionDatabase', () => {
  it('stores vectors contiguously with per-row metadata', () => {
    const db = small();
    expect(db.size).toBe(4);
    expect(db.vectors).toBeInstanceOf(Float32Array);
    expect(db.vocabulary.name).toBe('mead8');
    const r = db.row(2);
    expect([...r.vector]).toEqual([0.5, 0.5]);
    expect(r).toMatchObject({ label: 'sad', clipId: 'b', actor: 'W009', intensity: 3, frameIndex: 1 });
    expect(db.labels()).toEqual(['happy', 'sad', 'sad', 'angry']);
    expect(db.classCounts()).toEqual({ angry: 1, disgusted: 0, contempt: 0, fear: 0, happy: 1, neutral: 0, sad: 2, surprised: 0 });
    expect(db.clips.length).toBe(3);
  });

  it('accepts any dimension and class indices with a vocabulary', () => {
    for (const d of [50, 53, 100]) {
      const db = ExpressionDatabase.fromArrays({
        dimension: d, vectors: new Float32Array(3 * d).fill(1), labels: Int32Array.from([0, 6, 2]), vocabulary: vocabulary('mead7'),
      });
      expect(db.dimension).toBe(d);
      expect(db.labels()).toEqual(['angry', 'surprised', 'fear']);
    }
    const custom = ExpressionDatabase.fromArrays({ dimension: 1, vectors: [1, 2], labels: ['calm', 'excited'] });
    expect(custom.vocabulary.labels).toEqual(['calm', 'excited']);
  });

  it('subset, filter and merge keep metadata consistent', () => {
    const db = small();
    const w = db.filter((_, clip) => clip.actor === 'W009');
    expect(w.size).toBe(2);
    expect(w.clips.map((c) => c.clipId)).toEqual(['b']);
    const other = ExpressionDatabase.fromArrays({
      dimension: 2, vectors: [3, 4], labels: ['calm'], clipIds: ['z'], actors: ['X'],
    });
    const merged = db.merge(other, w);
    expect(merged.size).toBe(7);
    expect(merged.vocabulary.labels).toContain('calm');
    expect(merged.labels()).toEqual(['happy', 'sad', 'sad', 'angry', 'calm', 'sad', 'sad']);
    expect(merged.clips.length).toBe(4); // clip 'b' appears in db and w: one entry
    expect([...merged.vectors.subarray(8, 10)]).toEqual([3, 4]);
  });

  it('rejects mismatched dimensions and malformed input', () => {
    const db = small();
    const d3 = ExpressionDatabase.fromArrays({ dimension: 3, vectors: [1, 2, 3], labels: ['sad'] });
    expect(() => db.merge(d3)).toThrow(/merge: argument 'others\[0\].dimension' expected D = 2/);
    expect(() => ExpressionDatabase.fromArrays({ dimension: 3, vectors: [1, 2, 3, 4], labels: ['sad'] })).toThrow(
      /multiple of D = 3/,
    );
    expect(() => ExpressionDatabase.fromArrays({ dimension: 2, vectors: [1, 2], labels: ['sad', 'sad'] })).toThrow(ValidationError);
    expect(() => ExpressionDatabase.fromArrays({ dimension: 1, vectors: [NaN], labels: ['sad'] })).toThrow(/finite/);
    expect(() =>
      ExpressionDatabase.fromArrays({ dimension: 1, vectors: [1, 2], labels: ['sad', 'happy'], clipIds: ['a', 'a'] }),
    ).toThrow(/clip 'a'/);
    expect(() => ExpressionDatabase.fromArrays({ dimension: 1, vectors: [1], labels: [9] })).toThrow(/vocabulary/);
    expect(() => db.row(4)).toThrow(ValidationError);
    const other = ExpressionDatabase.fromArrays({ dimension: 2, vectors: [1, 1], labels: ['fear'], clipIds: ['a'], actors: ['M003'], intensities: [3] });
    expect(() => db.merge(other)).toThrow(/clip id 'a'/);
  });
});
