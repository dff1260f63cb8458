/**
 * Emotion vocabularies: MEAD's eight labels, the seven-class variant used by published MEAD databases (contempt
 * excluded, as in NED's `reconstruct_MEAD.py` database), and the AffectNet-8 class order that EMOCA's
 * emotion-recognition heads output (`AffectNetExpressions`: 0 Neutral … 7 Contempt). Labels are lower-case MEAD
 * folder names everywhere in this package; AffectNet classes are converted at the boundary with
 * {@link meadToAffectNet} / {@link affectNetToMead}.
 *
 * @example
 * ```ts
 * import { MEAD_EMOTIONS, meadToAffectNet, affectNetToMead } from '@consistent-avatar/emotion';
 * MEAD_EMOTIONS.length;          // 8
 * meadToAffectNet('disgusted');  // 5
 * affectNetToMead(3);            // 'surprised'
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * MEAD's eight emotions, in the order the MEAD paper lists them and the folder names of the dataset
 * (`{actor}/video/front/{emotion}/level_{n}/…`). The one source of the vocabulary (the synthetic head in
 * `@consistent-avatar/proxy` acts the same eight as `SYNTHETIC_EMOTIONS`; a test checks they agree).
 *
 * @example
 * ```ts
 * MEAD_EMOTIONS.indexOf('happy'); // 4
 * ```
 */
export const MEAD_EMOTIONS = ['angry', 'disgusted', 'contempt', 'fear', 'happy', 'neutral', 'sad', 'surprised'] as const;
/**
 * One of {@link MEAD_EMOTIONS}.
 * @example
 * ```ts
 * const label: MeadEmotion = 'happy';
 * ```
 */
export type MeadEmotion = (typeof MEAD_EMOTIONS)[number];

/**
 * The seven-class MEAD vocabulary (MEAD order without `contempt`), the label set of NED's MEAD database.
 *
 * @example
 * ```ts
 * MEAD_EMOTIONS_7.includes('contempt' as never); // false
 * ```
 */
export const MEAD_EMOTIONS_7 = ['angry', 'disgusted', 'fear', 'happy', 'neutral', 'sad', 'surprised'] as const;

/**
 * AffectNet's eight expression classes in AffectNet/EMOCA index order (0 Neutral, 1 Happy, 2 Sad, 3 Surprise,
 * 4 Fear, 5 Disgust, 6 Anger, 7 Contempt), with AffectNet's own names.
 *
 * @example
 * ```ts
 * AFFECTNET_8[6]; // 'Anger'
 * ```
 */
export const AFFECTNET_8 = ['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger', 'Contempt'] as const;

/**
 * An AffectNet-8 class name.
 *
 * @example
 * ```ts
 * const name: AffectNetEmotion = 'Surprise';
 * ```
 */
export type AffectNetEmotion = (typeof AFFECTNET_8)[number];

/** MEAD label of each AffectNet-8 index (index i → MEAD label). */
const AFFECTNET_TO_MEAD: readonly MeadEmotion[] = [
  'neutral',
  'happy',
  'sad',
  'surprised',
  'fear',
  'disgusted',
  'angry',
  'contempt',
];

/**
 * A named, ordered label set: maps labels to class indices and back. Retrieval and the text encoders work with
 * any vocabulary (MEAD-8, MEAD-7 or user-defined labels).
 *
 * @example
 * ```ts
 * const v = vocabulary('mead7');
 * v.indexOf('fear'); // 2
 * v.labels[2];       // 'fear'
 * ```
 */
export interface EmotionVocabulary {
  /** A short identifier (`'mead8'`, `'mead7'`, `'affectnet8'` or a user name). */
  readonly name: string;
  /** Labels in class-index order. */
  readonly labels: readonly string[];
  /** Class index of a label; throws a ValidationError for an unknown label. */
  indexOf(label: string): number;
  /** True when the label belongs to this vocabulary. */
  has(label: string): boolean;
}

/**
 * Build a vocabulary from an ordered list of distinct labels, or get a built-in one by name
 * (`'mead8'`, `'mead7'`, `'affectnet8'` — the latter uses MEAD label names in AffectNet index order, so it can be
 * used directly with EMOCA class indices).
 *
 * @example
 * ```ts
 * vocabulary('affectnet8').labels; // ['neutral', 'happy', 'sad', 'surprised', 'fear', 'disgusted', 'angry', 'contempt']
 * vocabulary(['calm', 'excited'], 'mine').indexOf('excited'); // 1
 * ```
 */
export function vocabulary(
  spec: 'mead8' | 'mead7' | 'affectnet8' | readonly string[],
  name?: string,
): EmotionVocabulary {
  let labels: readonly string[];
  let vocabName: string;
  if (spec === 'mead8') [labels, vocabName] = [MEAD_EMOTIONS, 'mead8'];
  else if (spec === 'mead7') [labels, vocabName] = [MEAD_EMOTIONS_7, 'mead7'];
  else if (spec === 'affectnet8') [labels, vocabName] = [AFFECTNET_TO_MEAD, 'affectnet8'];
  else if (Array.isArray(spec)) {
    if (spec.length === 0 || spec.some((l) => typeof l !== 'string' || l.length === 0)) {
      throw new ValidationError('vocabulary', 'spec', 'a non-empty array of non-empty label strings', spec);
    }
    if (new Set(spec).size !== spec.length) {
      throw new ValidationError('vocabulary', 'spec', 'distinct labels', spec);
    }
    [labels, vocabName] = [[...spec], name ?? 'custom'];
  } else {
    throw new ValidationError('vocabulary', 'spec', "'mead8', 'mead7', 'affectnet8' or an array of labels", spec);
  }
  const index = new Map(labels.map((l, i) => [l, i] as const));
  return {
    name: vocabName,
    labels,
    has: (label: string) => index.has(label),
    indexOf(label: string): number {
      const i = index.get(label);
      if (i === undefined) {
        throw new ValidationError(`${vocabName}.indexOf`, 'label', `one of ${labels.join(', ')}`, label);
      }
      return i;
    },
  };
}

/**
 * True when `label` is one of MEAD's eight folder names.
 *
 * @example
 * ```ts
 * isMeadEmotion('happy'); // true
 * isMeadEmotion('Happy'); // false (labels are lower-case folder names)
 * ```
 */
export function isMeadEmotion(label: unknown): label is MeadEmotion {
  return typeof label === 'string' && (MEAD_EMOTIONS as readonly string[]).includes(label);
}

/**
 * AffectNet-8 index of a MEAD label.
 *
 * @example
 * ```ts
 * meadToAffectNet('neutral');  // 0
 * meadToAffectNet('contempt'); // 7
 * ```
 */
export function meadToAffectNet(label: MeadEmotion | string): number {
  const i = isMeadEmotion(label) ? AFFECTNET_TO_MEAD.indexOf(label) : -1;
  if (i < 0) throw new ValidationError('meadToAffectNet', 'label', `one of ${MEAD_EMOTIONS.join(', ')}`, label);
  return i;
}

/**
 * MEAD label of an AffectNet-8 class index (0 Neutral … 7 Contempt). AffectNet's extra codes (8 None,
 * 9 Uncertain, 10 Non-face) have no MEAD label and are rejected.
 *
 * @example
 * ```ts
 * affectNetToMead(6); // 'angry'
 * ```
 */
export function affectNetToMead(index: number): MeadEmotion {
  if (!Number.isInteger(index) || index < 0 || index > 7) {
    throw new ValidationError('affectNetToMead', 'index', 'an integer class index in [0, 7]', index);
  }
  return AFFECTNET_TO_MEAD[index]!;
}

/**
 * AffectNet class name (`'Surprise'`) of a MEAD label (`'surprised'`).
 *
 * @example
 * ```ts
 * meadToAffectNetName('disgusted'); // 'Disgust'
 * ```
 */
export function meadToAffectNetName(label: MeadEmotion | string): AffectNetEmotion {
  return AFFECTNET_8[meadToAffectNet(label)]!;
}

/**
 * MEAD label of an AffectNet class name (case-insensitive: `'Anger'`, `'anger'`).
 *
 * @example
 * ```ts
 * affectNetNameToMead('Surprise'); // 'surprised'
 * ```
 */
export function affectNetNameToMead(name: string): MeadEmotion {
  const i = typeof name === 'string' ? AFFECTNET_8.findIndex((n) => n.toLowerCase() === name.toLowerCase()) : -1;
  if (i < 0) throw new ValidationError('affectNetNameToMead', 'name', `one of ${AFFECTNET_8.join(', ')}`, name);
  return AFFECTNET_TO_MEAD[i]!;
}

/**
 * Map MEAD-8 class indices (MEAD order) to AffectNet-8 indices; `-1` entries stay `-1`.
 *
 * @example
 * ```ts
 * meadIndicesToAffectNet(Int32Array.from([0, 5])); // Int32Array [6, 0] (angry → Anger, neutral → Neutral)
 * ```
 */
export function meadIndicesToAffectNet(indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const m = indices[i]!;
    if (m === -1) out[i] = -1;
    else if (Number.isInteger(m) && m >= 0 && m < 8) out[i] = meadToAffectNet(MEAD_EMOTIONS[m]!);
    else throw new ValidationError('meadIndicesToAffectNet', `indices[${i}]`, 'an integer in [0, 7] or -1', m);
  }
  return out;
}

/**
 * Map AffectNet-8 class indices to MEAD-8 indices (MEAD order); `-1` entries stay `-1`.
 *
 * @example
 * ```ts
 * affectNetIndicesToMead([6, 0]); // Int32Array [0, 5]
 * ```
 */
export function affectNetIndicesToMead(indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const a = indices[i]!;
    if (a === -1) out[i] = -1;
    else if (Number.isInteger(a) && a >= 0 && a < 8) out[i] = MEAD_EMOTIONS.indexOf(AFFECTNET_TO_MEAD[a]!);
    else throw new ValidationError('affectNetIndicesToMead', `indices[${i}]`, 'an integer in [0, 7] or -1', a);
  }
  return out;
}
