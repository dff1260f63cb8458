/**
 * A synthetic MEAD-like expression database for the demo and for evaluating the retriever without MEAD: 100-d
 * expression vectors (the tracker / INSTA FLAME dimension) of talking actors showing the synthetic head's emotion
 * prototypes (core's `SYNTHETIC_EMOTION_PROTOTYPES`, built on the named leading expression components 0–15:
 * 0 lipsPart, 1 smile, 2 frown, 3 browRaise, 4 browLower, 5 blink, 6 lipPress, 7 pucker, 8 cheekPuff,
 * 9 innerBrowRaise, 10 noseWrinkle, 11 upperLipRaise, 12 lipStretch, 13 eyeWiden, 14 smirk, 15 cornerPullIn;
 * components 16–99 carry no named meaning), at MEAD's intensity levels, with the spread that makes retrieval
 * non-trivial:
 *
 * 1. **Identity style**: each actor expresses each emotion in their own way — the prototype is scaled per actor
 *    (`actorGainStd`) and perturbed by a fixed actor-and-emotion offset (`actorStyleStd`) on the named components.
 * 2. **Intensity**: MEAD level n scales the prototype by 0.5 / 1 / 1.5 (levels 1, 2, 3); neutral has level 1 only.
 * 3. **Temporal envelope**: within a clip the expression rises from a fraction of its apex (onset), holds, and fades
 *    slightly — early frames lie close to neutral, so weak frames of every emotion overlap with neutral.
 * 4. **Speech**: actors talk (MEAD clips are spoken sentences): mouth components (lipsPart, pucker, lipStretch,
 *    cornerPullIn) oscillate at syllable rate (3–6 Hz at 25 fps), independent of the emotion.
 * 5. **Tracker noise**: i.i.d. Gaussian per frame on the named components (`frameNoiseStd`) and a weaker one on the
 *    unnamed components (`residualNoiseStd`).
 *
 * Surprise and fear share brow raise, eye widening and parted lips, angry and disgusted share brow lowering and nose
 * wrinkling, so those pairs are confused most, as on real data. Neutral frames are near zero, so their direction —
 * all that cosine similarity sees — is mostly noise: neutral is the hardest class for Eq. 7, and weak (level-1,
 * onset) frames of other emotions are confused with it. Everything is deterministic from `seed`.
 *
 * @example
 * ```ts
 * import { syntheticMeadDatabase } from '@consistent-avatar/emotion';
 * const db = syntheticMeadDatabase({ actors: 8, seed: 0 });  // ExpressionDatabase, D = 100, 7 classes
 * db.classCounts();
 * const heldOut = db.filter((_, clip) => clip.actor === 'S008');
 * ```
 *
 * @packageDocumentation
 */
import { Rng, ValidationError } from '@consistent-avatar/core';
import { SYNTHETIC_EMOTION_PROTOTYPES } from '@consistent-avatar/proxy';
import { ClipRows } from './clip-rows.js';
import type { ExpressionDatabase } from './database.js';
import { vocabulary } from './vocabulary.js';

/**
 * Options of {@link syntheticMeadDatabase} (flat, JSON round-trip; defaults documented per field).
 *
 * @example
 * ```ts
 * const options: SyntheticMeadOptions = { actors: 16, classes: 7, clipsPerLevel: 2, framesPerClip: 40, seed: 1 };
 * ```
 */
export interface SyntheticMeadOptions {
  /** Number of actors `S001…` (default 12). */
  actors?: number;
  /** 7 (no contempt, default) or 8 classes. */
  classes?: 7 | 8;
  /** Intensity levels for the non-neutral emotions (default [1, 2, 3]; level n scales the prototype by n / 2). */
  levels?: number[];
  /** Clips per emotion and level (default 2); neutral gets `clipsPerLevel × levels.length` clips at level 1. */
  clipsPerLevel?: number;
  /** Frames per clip (default 40, 1.6 s at 25 fps). */
  framesPerClip?: number;
  /** Per-actor gain of the prototype: factor exp(N(0, std)) (default 0.25). */
  actorGainStd?: number;
  /** Per-actor, per-emotion offset on the 16 named components (default 0.45). */
  actorStyleStd?: number;
  /** Speech amplitude on the mouth components (default 0.45). */
  speechAmplitude?: number;
  /** Per-frame noise on the named components (default 0.4). */
  frameNoiseStd?: number;
  /** Per-frame noise on components 16–99 (default 0.05). */
  residualNoiseStd?: number;
  /** Seed (default 0). */
  seed?: number;
}

const DIM = 100;
const NAMED = 16;
/** Mouth components driven by speech: lipsPart 0, pucker 7, lipStretch 12, cornerPullIn 15. */
const MOUTH = [0, 7, 12, 15];

/**
 * Generate the synthetic MEAD-like database (see the module description). Clip ids follow the MEAD builder:
 * `S001/front/happy/level_3/002`.
 *
 * @example
 * ```ts
 * const db = syntheticMeadDatabase({ seed: 3 });
 * db.dimension; // 100
 * ```
 */
export function syntheticMeadDatabase(options: SyntheticMeadOptions = {}): ExpressionDatabase {
  const fn = 'syntheticMeadDatabase';
  if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an object', options);
  const o = {
    actors: options.actors ?? 12,
    classes: options.classes ?? 7,
    levels: options.levels ?? [1, 2, 3],
    clipsPerLevel: options.clipsPerLevel ?? 2,
    framesPerClip: options.framesPerClip ?? 40,
    actorGainStd: options.actorGainStd ?? 0.25,
    actorStyleStd: options.actorStyleStd ?? 0.45,
    speechAmplitude: options.speechAmplitude ?? 0.45,
    frameNoiseStd: options.frameNoiseStd ?? 0.4,
    residualNoiseStd: options.residualNoiseStd ?? 0.05,
    seed: options.seed ?? 0,
  };
  for (const key of ['actors', 'clipsPerLevel', 'framesPerClip'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new ValidationError(fn, `options.${key}`, 'a positive integer', o[key]);
  }
  for (const key of ['actorGainStd', 'actorStyleStd', 'speechAmplitude', 'frameNoiseStd', 'residualNoiseStd'] as const) {
    // The non-finite policy: Infinity passed `>= 0` and made every vector non-finite.
    if (typeof o[key] !== 'number' || !(o[key] >= 0 && o[key] < Number.POSITIVE_INFINITY)) throw new ValidationError(fn, `options.${key}`, 'a finite number ≥ 0', o[key]);
  }
  if (o.classes !== 7 && o.classes !== 8) throw new ValidationError(fn, 'options.classes', '7 or 8', o.classes);
  if (!Array.isArray(o.levels) || o.levels.length === 0 || o.levels.some((l) => !Number.isInteger(l) || l < 1)) {
    throw new ValidationError(fn, 'options.levels', 'a non-empty array of integer levels ≥ 1', o.levels);
  }
  const vocab = vocabulary(o.classes === 7 ? 'mead7' : 'mead8');
  const root = new Rng(o.seed);

  const rows = new ClipRows();

  for (let a = 0; a < o.actors; a++) {
    const actor = `S${String(a + 1).padStart(3, '0')}`;
    const actorRng = root.fork(actor);
    const gain = Math.exp(actorRng.normal(1, 0, o.actorGainStd)[0]!);
    for (const emotion of vocab.labels) {
      // 1. This actor's version of the emotion: prototype × gain + a fixed offset on the named components.
      const prototype = SYNTHETIC_EMOTION_PROTOTYPES[emotion as keyof typeof SYNTHETIC_EMOTION_PROTOTYPES].expression;
      const styleRng = actorRng.fork(emotion);
      const offset = styleRng.normal(NAMED, 0, o.actorStyleStd);
      const apex = new Float32Array(DIM);
      const isNeutral = emotion === 'neutral';
      for (let j = 0; j < DIM; j++) apex[j] = prototype[j]! * gain + (j < NAMED && !isNeutral ? offset[j]! : 0);
      const levels = isNeutral ? [1] : o.levels;
      const clipsPerLevel = isNeutral ? o.clipsPerLevel * o.levels.length : o.clipsPerLevel;
      for (const level of levels) {
        // 2. MEAD level n → scale n / 2 (neutral: its apex is ~0 anyway).
        const scale = level / 2;
        for (let c = 0; c < clipsPerLevel; c++) {
          const clipName = String(c + 1).padStart(3, '0');
          const clipId = `${actor}/front/${emotion}/level_${level}/${clipName}`;
          const rng = styleRng.fork(`${level}/${clipName}`);
          const onset = 0.2 + 0.4 * rng.next(); // fraction of the apex at frame 0
          const rise = 0.15 + 0.25 * rng.next(); // fraction of the clip spent rising
          const syllableHz = 3 + 3 * rng.next();
          const phase = 2 * Math.PI * rng.next();
          const mouthWeights = rng.normal(MOUTH.length, 1, 0.3);
          const clipVectors = new Float32Array(o.framesPerClip * DIM); // [T, D]
          for (let t = 0; t < o.framesPerClip; t++) {
            // 3. Envelope: rise from the onset to 1, hold, fade to 0.85 at the end.
            const u = o.framesPerClip === 1 ? 1 : t / (o.framesPerClip - 1);
            const envelope = u < rise ? onset + (1 - onset) * (u / rise) : 1 - 0.15 * ((u - rise) / (1 - rise));
            const v = clipVectors.subarray(t * DIM, (t + 1) * DIM);
            for (let j = 0; j < DIM; j++) v[j] = apex[j]! * scale * envelope;
            // 4. Speech on the mouth components (syllable rate at 25 fps).
            const speech = o.speechAmplitude * Math.max(0, Math.sin(2 * Math.PI * syllableHz * (t / 25) + phase));
            MOUTH.forEach((j, k) => (v[j]! += speech * mouthWeights[k]! * (k === 0 ? 1 : 0.4)));
            // 5. Tracker noise.
            const noise = rng.normal(NAMED, 0, o.frameNoiseStd);
            const residual = rng.normal(DIM - NAMED, 0, o.residualNoiseStd);
            for (let j = 0; j < NAMED; j++) v[j]! += noise[j]!;
            for (let j = NAMED; j < DIM; j++) v[j]! += residual[j - NAMED]!;
          }
          rows.add({ vectors: clipVectors, frames: o.framesPerClip, label: emotion, clipId, actor, intensity: level });
        }
      }
    }
  }
  return rows.build(DIM, vocab);
}
