/**
 * Emotion prototypes for the **synthetic** head: one 100-d expression vector (and a jaw opening) per acted emotion,
 * built from the named synthetic expression components (see `blendshapes.ts`). Intensity 1 is a clear expression;
 * MEAD's levels 1–3 map naturally to 0.5 / 1 / 1.5.
 *
 * @example
 * ```ts
 * import { SYNTHETIC_EMOTION_PROTOTYPES, syntheticEmotionExpression } from '@consistent-avatar/proxy';
 * const happy = syntheticEmotionExpression('happy', 1.5); // Float32Array(100)
 * console.log(SYNTHETIC_EMOTION_PROTOTYPES.surprised.jaw); // jaw opening (radians about x) that goes with it
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * The eight emotions the synthetic head acts: MEAD's eight, in MEAD's order. The emotion vocabulary itself (MEAD,
 * AffectNet, the mappings between them) lives in `@consistent-avatar/emotion` as `SYNTHETIC_EMOTIONS`; this list is the
 * synthetic head's own, and a test there checks that the two agree.
 * @example
 * ```ts
 * for (const e of SYNTHETIC_EMOTIONS) console.log(e); // angry, disgusted, contempt, fear, happy, neutral, sad, surprised
 * ```
 */
export const SYNTHETIC_EMOTIONS = ['angry', 'disgusted', 'contempt', 'fear', 'happy', 'neutral', 'sad', 'surprised'] as const;
/** One of {@link SYNTHETIC_EMOTIONS}. */
export type SyntheticEmotion = (typeof SYNTHETIC_EMOTIONS)[number];

const C = {
  lipsPart: 0, smile: 1, frown: 2, browRaise: 3, browLower: 4, blink: 5, lipPress: 6, pucker: 7, cheekPuff: 8,
  innerBrowRaise: 9, noseWrinkle: 10, upperLipRaise: 11, lipStretch: 12, eyeWiden: 13, smirk: 14, cornerPullIn: 15,
} as const;

function proto(weights: Partial<Record<keyof typeof C, number>>, jaw: number): { expression: Float32Array; jaw: number } {
  const expression = new Float32Array(100);
  for (const [k, w] of Object.entries(weights)) expression[C[k as keyof typeof C]] = w!;
  return { expression, jaw };
}

/**
 * Expression (100-d) and jaw opening (axis-angle x, radians) per emotion at intensity 1.
 * @example
 * ```ts
 * const { expression, jaw } = SYNTHETIC_EMOTION_PROTOTYPES.happy; // Float32Array(100), radians
 * ```
 */
export const SYNTHETIC_EMOTION_PROTOTYPES: Record<SyntheticEmotion, { expression: Float32Array; jaw: number }> = {
  angry: proto({ browLower: 1.8, lipPress: 1.0, noseWrinkle: 0.4, eyeWiden: 0.5, frown: 0.4 }, 0),
  disgusted: proto({ noseWrinkle: 1.6, upperLipRaise: 1.3, browLower: 0.8, frown: 0.6, lipsPart: 0.3 }, 0.02),
  contempt: proto({ smirk: 1.6, browLower: 0.3, lipPress: 0.4 }, 0),
  fear: proto({ browRaise: 1.0, innerBrowRaise: 1.3, eyeWiden: 1.5, lipStretch: 1.4, lipsPart: 0.6 }, 0.07),
  happy: proto({ smile: 1.7, lipsPart: 0.4, eyeWiden: -0.3 }, 0.04),
  neutral: proto({}, 0),
  sad: proto({ frown: 1.3, innerBrowRaise: 1.6, browLower: 0.3, lipPress: 0.3, blink: 0.12 }, 0),
  surprised: proto({ browRaise: 1.9, eyeWiden: 1.4, lipsPart: 1.0, cornerPullIn: 0.5 }, 0.16),
};

/**
 * The prototype expression of `emotion` scaled by `intensity`.
 *
 * @example
 * ```ts
 * const sad = syntheticEmotionExpression('sad', 0.5);
 * ```
 */
export function syntheticEmotionExpression(emotion: SyntheticEmotion, intensity = 1): Float32Array {
  const p = SYNTHETIC_EMOTION_PROTOTYPES[emotion];
  if (!p) throw new ValidationError('syntheticEmotionExpression', 'emotion', `one of ${SYNTHETIC_EMOTIONS.join(', ')}`, emotion);
  if (!Number.isFinite(intensity)) throw new ValidationError('syntheticEmotionExpression', 'intensity', 'a finite number', intensity);
  return p.expression.map((v) => v * intensity);
}
