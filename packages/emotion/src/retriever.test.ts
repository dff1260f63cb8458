import { describe, expect, it } from 'vitest';
import { Rng, ValidationError, initBackend, tf } from '@consistent-avatar/core';
import { ExpressionDatabase } from './database.js';
import { EmotionRetriever, retrieveEmotions } from './retriever.js';
import { smoothLabels } from './temporal-smoothing.js';

function db2d(): ExpressionDatabase {
  // D = 2; happy near +x, sad near +y, angry near -x.
  return ExpressionDatabase.fromArrays({
    dimension: 2,
    vectors: [1, 0, 1, 0.1, 1, -0.1, 0, 1, 0.1, 1, -1, 0],
    labels: ['happy', 'happy', 'happy', 'sad', 'sad', 'angry'],
  });
}

describe('EmotionRetriever (Eq. 7)', () => {
  it('k = 1 returns the label of the float64 nearest neighbour', async () => {
    await initBackend('wasm');
    const rng = new Rng(11);
    const d = 20;
    const n = 800;
    const labels = Array.from({ length: n }, (_, i) => (['happy', 'sad', 'fear', 'neutral'] as const)[i % 4]);
    const db = ExpressionDatabase.fromArrays({ dimension: d, vectors: rng.normal(n * d), labels });
    const frames = rng.normal(50 * d);
    const out = await retrieveEmotions(frames, db, { kernel: 'tf' });
    for (let i = 0; i < 50; i++) {
      let best = -1;
      let bestSim = -Infinity;
      for (let r = 0; r < n; r++) {
        let dot = 0, qq = 0, bb = 0;
        for (let t = 0; t < d; t++) {
          dot += frames[i * d + t]! * db.vectors[r * d + t]!;
          qq += frames[i * d + t]! ** 2;
          bb += db.vectors[r * d + t]! ** 2;
        }
        const s = dot / Math.sqrt(qq * bb);
        if (s > bestSim) [best, bestSim] = [r, s];
      }
      expect(out.labels[i]).toBe(labels[best]);
      expect(out.neighbours.indices[i]).toBe(best);
      expect(Math.abs(out.similarity[i]! - bestSim)).toBeLessThan(1e-6);
      // (confidence is 1 by definition at k = 1; the k-NN test below checks it where it can differ.)
    }
  });

  it('k-NN majority and weighted votes, confidence and class scores', async () => {
    const db = db2d();
    const retriever = new EmotionRetriever(db);
    // Query along +x: the 3 nearest are the happy rows.
    let out = await retriever.retrieve(Float32Array.from([1, 0.05]), { k: 3, vote: 'majority' });
    expect(out.labels).toEqual(['happy']);
    expect(out.confidence[0]).toBe(1);
    // Query between happy and sad, closer to sad: k = 4 → 2 happy + 2 sad (tie in counts) → summed similarity decides.
    out = await retriever.retrieve(Float32Array.from([0.6, 1]), { k: 4, vote: 'majority' });
    expect(out.labels).toEqual(['sad']);
    expect(out.confidence[0]).toBe(0.5);
    const sad = db.vocabulary.indexOf('sad');
    const c = db.vocabulary.labels.length;
    expect(out.classScores[sad]).toBe(0.5);
    out = await retriever.retrieve(Float32Array.from([0.6, 1]), { k: 4, vote: 'weighted' });
    expect(out.labels).toEqual(['sad']);
    const scoreSum = out.classScores.slice(0, c).reduce((a, b) => a + b, 0);
    expect(scoreSum).toBeCloseTo(1, 12);
    expect(out.confidence[0]).toBeGreaterThan(0.5);
    retriever.dispose();
  });

  it('temporal smoothing removes isolated outliers and respects segments', async () => {
    const db = db2d();
    const x = [1, 0.02];
    const y = [0.02, 1];
    // frames: 5 happy-like with one sad-like outlier in the middle, then a sad segment.
    const frames = Float32Array.from([...x, ...x, ...y, ...x, ...x, ...y, ...y]);
    const segments = [0, 0, 0, 0, 0, 1, 1];
    const perFrame = await retrieveEmotions(frames, db);
    expect(perFrame.labels).toEqual(['happy', 'happy', 'sad', 'happy', 'happy', 'sad', 'sad']);
    for (const mode of ['majority', 'weighted'] as const) {
      const smooth = await retrieveEmotions(frames, db, { k: 1, smoothingWindow: 5, smoothingMode: mode, segments });
      expect(smooth.labels).toEqual(['happy', 'happy', 'happy', 'happy', 'happy', 'sad', 'sad']);
      expect([...smooth.perFrameLabelIndices]).toEqual([...perFrame.labelIndices]);
    }
    // Without segments, the window at frame 4 sees 2 sad frames of the next sequence and 1 outlier.
    const crossing = await retrieveEmotions(frames, db, { smoothingWindow: 5, smoothingMode: 'majority' });
    expect(crossing.labels[4]).toBe('sad');
  });

  it('smoothLabels ties prefer the centre frame', () => {
    const labels = Int32Array.from([0, 1, 1, 0]);
    const evidence = new Float64Array(8);
    labels.forEach((l, t) => (evidence[t * 2 + l] = 1));
    const s = smoothLabels({ labelIndices: labels, evidence, numClasses: 2 }, { window: 3, mode: 'majority' });
    expect([...s.labelIndices]).toEqual([0, 1, 1, 0]); // frame 0: window [0,1] tie → centre label 0
    expect(s.confidence[0]).toBe(0.5);
    expect(() => smoothLabels({ labelIndices: labels, evidence, numClasses: 2 }, { window: 2 })).toThrow(/odd/);
    expect(() => smoothLabels({ labelIndices: labels, evidence: new Float64Array(3), numClasses: 2 }, { window: 1 })).toThrow(
      /evidence/,
    );
  });

  it('accepts tensors, leaks nothing across calls and validates input', async () => {
    const db = db2d();
    const retriever = new EmotionRetriever(db, { resident: true });
    const frames = tf.tensor2d([1, 0, 0, 1], [2, 2]);
    const first = await retriever.retrieve(frames, { kernel: 'tf' });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await retriever.retrieve(frames, { k: 2, kernel: 'tf', smoothingWindow: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(first.labels).toEqual(['happy', 'sad']);
    await expect(retriever.retrieve(tf.zeros([2, 3]) as tf.Tensor2D)).rejects.toThrow(/D = 2/);
    await expect(retriever.retrieve(new Float32Array(3))).rejects.toThrow(ValidationError);
    await expect(retriever.retrieve(Float32Array.from([1, 0]), { vote: 'x' as never })).rejects.toThrow(/vote/);
    await expect(retriever.retrieve(Float32Array.from([1, 0]), { smoothingWindow: 4 })).rejects.toThrow(/odd/);
    frames.dispose();
    retriever.dispose();
  });
});
