/**
 * Issue 19 (reliability), item 10 in emotion: a NaN test per public numeric entry point — the cosine search (Eq. 7's
 * nearest neighbour), the row norms it caches, the temporal smoothing's evidence, the retriever, the database
 * constructor and the synthetic database's numeric options. The database file is in `reliability.test.ts` §7.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@consistent-avatar/core';
import { CosineIndex, ExpressionDatabase, cosineTopK, inverseRowNorms, retrieveEmotions, smoothLabels, syntheticMeadDatabase, vocabulary } from './index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const DB = Float32Array.from([1, 0, 0, 1, 1, 1]); // [N = 3, D = 2]
const withBad = (values: Float32Array, at: number, bad: number): Float32Array => {
  const out = values.slice();
  out[at] = bad;
  return out;
};

describe('10. cosine search (Eq. 7) rejects non-finite queries and database rows', () => {
  it('cosineTopK and CosineIndex name the array and the index, for every kernel', async () => {
    for (const bad of BAD) {
      for (const kernel of ['js', 'tf'] as const) {
        await expect(cosineTopK(withBad(DB, 1, bad), DB, { dimension: 2, kernel })).rejects.toThrow(`cosineTopK: argument 'queries' expected finite numbers (no NaN or ±Infinity), got "${bad} at index 1"`);
        await expect(cosineTopK(DB, withBad(DB, 4, bad), { dimension: 2, kernel })).rejects.toThrow(/cosineTopK: argument 'database' expected finite numbers .*index 4/);
      }
      expect(() => new CosineIndex(withBad(DB, 5, bad), { dimension: 2 })).toThrow(/CosineIndex: argument 'database\[5\]' expected finite/);
      const index = new CosineIndex(DB, { dimension: 2 });
      await expect(index.search(withBad(DB, 0, bad), { k: 1 })).rejects.toThrow(/CosineIndex\.search: argument 'queries\[0\]' expected finite/);
      index.close();
    }
  });

  it('inverseRowNorms names the matrix (a NaN row gave a NaN norm and NaN similarities) and its shape', () => {
    for (const bad of BAD) {
      expect(() => inverseRowNorms(withBad(DB, 3, bad), 2)).toThrow(`inverseRowNorms: argument 'matrix' expected finite numbers (no NaN or ±Infinity), got "${bad} at index 3"`);
    }
    expect(() => inverseRowNorms(DB, 4)).toThrow(/inverseRowNorms: argument 'matrix' expected a Float32Array \[N, D = 4\]/);
    expect(() => inverseRowNorms(DB, Number.NaN)).toThrow(/inverseRowNorms: argument 'dimension' expected a positive integer/);
    expect(Array.from(inverseRowNorms(Float32Array.from([3, 4, 0, 0]), 2))).toEqual([0.2, 0]);
  });
});

describe('10. smoothing, retrieval and databases', () => {
  it('smoothLabels names the evidence (NaN evidence silently lost every weighted vote)', () => {
    const evidence = Float64Array.from([1, 0, 0, 1, 1, 0]); // [T = 3, C = 2]
    for (const bad of BAD) {
      expect(() => smoothLabels({ labelIndices: Int32Array.from([0, 1, 0]), evidence: Float64Array.from(withBad(Float32Array.from(evidence), 2, bad)), numClasses: 2 }, { window: 3, mode: 'weighted' }))
        .toThrow(`smoothLabels: argument 'perFrame.evidence' expected finite numbers (no NaN or ±Infinity), got "${bad} at index 2"`);
    }
  });

  it('retrieveEmotions names the frame values (array and tensor); the ExpressionDatabase constructor names the row', async () => {
    const database = syntheticMeadDatabase({ actors: 1, clipsPerLevel: 1, framesPerClip: 2, classes: 7, levels: [1] });
    const d = database.dimension;
    const frames = new Float32Array(2 * d).fill(0.1);
    frames[d + 1] = Number.NaN;
    await expect(retrieveEmotions(frames, database)).rejects.toThrow(`EmotionRetriever.retrieve: argument 'frames' expected finite numbers (no NaN or ±Infinity), got "NaN at index ${d + 1}"`);
    const tensor = tf.tensor2d(frames, [2, d]);
    await expect(retrieveEmotions(tensor, database)).rejects.toThrow(/EmotionRetriever\.retrieve: argument 'frames' expected finite/);
    tensor.dispose();
    const vocab = vocabulary('mead7');
    expect(() => new ExpressionDatabase({
      dimension: 2, vocabulary: vocab, vectors: Float32Array.from([0, 1, Number.POSITIVE_INFINITY, 0]), labelIndices: Int32Array.from([0, 0]),
      clipIndices: Int32Array.from([0, 0]), frameIndices: Int32Array.from([0, 1]), clips: [{ actor: 'a', label: vocab.labels[0]!, level: 1, clip: 'c' }] as never,
    })).toThrow(/ExpressionDatabase: argument 'vectors\[1\]' expected finite values \(no NaN or ±Infinity\), got Infinity/);
  });

  it('syntheticMeadDatabase rejects a NaN or infinite noise level (Infinity made every vector non-finite)', () => {
    for (const bad of BAD) {
      expect(() => syntheticMeadDatabase({ frameNoiseStd: bad })).toThrow(`syntheticMeadDatabase: argument 'options.frameNoiseStd' expected a finite number ≥ 0, got ${bad}`);
    }
  });
});
