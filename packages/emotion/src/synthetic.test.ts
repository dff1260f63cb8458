import { describe, expect, it } from 'vitest';
import { ValidationError, initBackend } from '@consistent-avatar/core';
import { SYNTHETIC_EMOTION_PROTOTYPES } from '@consistent-avatar/proxy';
import { classificationReport } from './classification-metrics.js';
import { retrieveEmotions } from './retriever.js';
import { syntheticMeadDatabase } from './synthetic.js';

describe('syntheticMeadDatabase', () => {
  it('is deterministic from the seed and MEAD-shaped', () => {
    const a = syntheticMeadDatabase({ actors: 3, framesPerClip: 10, seed: 4 });
    const b = syntheticMeadDatabase({ actors: 3, framesPerClip: 10, seed: 4 });
    const c = syntheticMeadDatabase({ actors: 3, framesPerClip: 10, seed: 5 });
    expect([...a.vectors]).toEqual([...b.vectors]);
    expect([...a.vectors]).not.toEqual([...c.vectors]);
    expect(a.dimension).toBe(100);
    expect(a.vocabulary.name).toBe('mead7');
    // 3 actors × (6 emotions × 3 levels × 2 clips + 6 neutral clips) × 10 frames
    expect(a.size).toBe(3 * (6 * 3 * 2 + 6) * 10);
    expect(a.clips[0]!.clipId).toBe('S001/front/angry/level_1/001');
    expect(a.clips.filter((cl) => cl.label === 'neutral').every((cl) => cl.intensity === 1)).toBe(true);
    expect(syntheticMeadDatabase({ actors: 1, classes: 8, framesPerClip: 2 }).classCounts().contempt).toBe(3 * 2 * 2);
  });

  it('expressions follow the prototypes: mean happy apex correlates with the happy prototype', () => {
    const db = syntheticMeadDatabase({ actors: 4, framesPerClip: 20, seed: 1 });
    const mean = new Float64Array(100);
    let n = 0;
    for (let i = 0; i < db.size; i++) {
      const r = db.row(i);
      if (r.label !== 'happy' || r.intensity !== 3) continue;
      r.vector.forEach((v, j) => (mean[j] += v));
      n++;
    }
    const proto = SYNTHETIC_EMOTION_PROTOTYPES.happy.expression;
    let dot = 0, mm = 0, pp = 0;
    for (let j = 0; j < 100; j++) {
      dot += (mean[j]! / n) * proto[j]!;
      mm += (mean[j]! / n) ** 2;
      pp += proto[j]! ** 2;
    }
    expect(dot / Math.sqrt(mm * pp)).toBeGreaterThan(0.8);
  });

  it('retrieval on held-out actors is far above chance but not perfect; smoothing helps', async () => {
    await initBackend('wasm');
    const db = syntheticMeadDatabase({ actors: 6, seed: 2 });
    const query = db.filter((_, clip) => clip.actor === 'S006');
    const base = db.filter((_, clip) => clip.actor !== 'S006');
    const perFrame = await retrieveEmotions(query.vectors, base);
    const smooth = await retrieveEmotions(query.vectors, base, { smoothingWindow: 9, segments: Array.from(query.clipIndices) });
    const a = classificationReport(query.labelIndices, perFrame.labelIndices, 7).accuracy;
    const s = classificationReport(query.labelIndices, smooth.labelIndices, 7).accuracy;
    expect(a).toBeGreaterThan(0.4); // chance is 1/7
    expect(a).toBeLessThan(0.95);
    expect(s).toBeGreaterThan(a);
  });

  it('validates options', () => {
    expect(() => syntheticMeadDatabase({ actors: 0 })).toThrow(ValidationError);
    expect(() => syntheticMeadDatabase({ frameNoiseStd: -1 })).toThrow(/frameNoiseStd/);
    expect(() => syntheticMeadDatabase({ levels: [] })).toThrow(/levels/);
  });
});

describe('classificationReport', () => {
  it('accuracy and macro-F1 by hand', () => {
    // truth 0,0,1,1,2 ; predicted 0,1,1,1,0 → class0: tp1 actual2 pred2 → F1 .5; class1: tp2 actual2 pred3 → .8; class2: 0
    const r = classificationReport([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 4);
    expect(r.accuracy).toBeCloseTo(0.6, 12);
    expect(r.perClassF1.slice(0, 3)).toEqual([0.5, 0.8, 0]);
    expect(Number.isNaN(r.perClassF1[3])).toBe(true);
    expect(r.macroF1).toBeCloseTo((0.5 + 0.8 + 0) / 3, 12);
    expect(() => classificationReport([0], [5], 2)).toThrow(/predicted\[0\]/);
    expect(() => classificationReport([0], [], 2)).toThrow(ValidationError);
  });
});
