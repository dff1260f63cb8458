import { describe, expect, it } from 'vitest';
import { SYNTHETIC_EMOTIONS } from '@consistent-avatar/proxy';
import { ValidationError } from '@consistent-avatar/core';
import {
  AFFECTNET_8,
  MEAD_EMOTIONS,
  MEAD_EMOTIONS_7,
  affectNetIndicesToMead,
  affectNetNameToMead,
  affectNetToMead,
  meadIndicesToAffectNet,
  meadToAffectNet,
  meadToAffectNetName,
  vocabulary,
} from './vocabulary.js';

describe('emotion vocabularies', () => {
  it('MEAD-8 and MEAD-7 follow the MEAD folder names', () => {
    expect([...MEAD_EMOTIONS]).toEqual(['angry', 'disgusted', 'contempt', 'fear', 'happy', 'neutral', 'sad', 'surprised']);
    expect([...MEAD_EMOTIONS_7]).toEqual(MEAD_EMOTIONS.filter((e) => e !== 'contempt'));
    // The synthetic head (proxy) acts exactly MEAD's eight, in MEAD's order.
    expect([...SYNTHETIC_EMOTIONS]).toEqual([...MEAD_EMOTIONS]);
  });

  it('maps to the AffectNet-8 order of EMOCA (docs/sources.md §mead)', () => {
    // Written out from EMOCA's AffectNetExpressions enum (radekd91/emoca gdl/datasets/AffectNetDataModule.py), not
    // computed from our table.
    const expected: Record<string, number> = {
      neutral: 0, happy: 1, sad: 2, surprised: 3, fear: 4, disgusted: 5, angry: 6, contempt: 7,
    };
    for (const [label, idx] of Object.entries(expected)) {
      expect(meadToAffectNet(label)).toBe(idx);
      expect(affectNetToMead(idx)).toBe(label);
    }
    expect(meadToAffectNetName('surprised')).toBe('Surprise');
    expect(affectNetNameToMead('anger')).toBe('angry');
    expect([...AFFECTNET_8]).toEqual(['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger', 'Contempt']);
  });

  it('index mappings are inverse permutations', () => {
    const all = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, -1]);
    expect([...affectNetIndicesToMead(meadIndicesToAffectNet(all))]).toEqual([...all]);
    expect([...meadIndicesToAffectNet([0, 5])]).toEqual([6, 0]);
  });

  it('vocabulary objects', () => {
    const v7 = vocabulary('mead7');
    expect(v7.indexOf('fear')).toBe(2);
    expect(v7.has('contempt')).toBe(false);
    expect(() => v7.indexOf('contempt')).toThrow(ValidationError);
    expect(vocabulary('affectnet8').labels[3]).toBe('surprised');
    expect(vocabulary(['a', 'b'], 'x').indexOf('b')).toBe(1);
  });

  it('rejects bad input with named errors', () => {
    expect(() => meadToAffectNet('Happy')).toThrow(/meadToAffectNet: argument 'label'/);
    expect(() => affectNetToMead(8)).toThrow(/affectNetToMead: argument 'index'/);
    expect(() => affectNetToMead(1.5)).toThrow(ValidationError);
    expect(() => affectNetNameToMead('joy')).toThrow(ValidationError);
    expect(() => meadIndicesToAffectNet([9])).toThrow(/indices\[0\]/);
    expect(() => vocabulary(['a', 'a'])).toThrow(/distinct/);
    expect(() => vocabulary([])).toThrow(ValidationError);
    expect(() => vocabulary('mead9' as never)).toThrow(ValidationError);
  });
});
