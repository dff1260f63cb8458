/**
 * Foreground masks of dataset frames, decoded from what the folder holds:
 *
 * - **INSTA face-parsing label maps** (`seg_mask/ID.png`). INSTA's patched face-parsing.PyTorch (`scripts/patches/
 *   face-parsing`, `vis_parsing_maps`) writes one colour per BiSeNet class with the class code in the **red**
 *   channel (green = blue = 0): background 0, skin 250, brows 240 / 230, eyes 210 / 200, glasses 190, ears 180 / 170,
 *   earring 160, nose 150, mouth 140, lips 130 / 120, neck 110, necklace 100, cloth 90, hair 80, hat 70
 *   ({@link INSTA_FACE_PARSING_LABELS}). INSTA's own loader reads the red channel (`read_seg_mask`); its
 *   `postprocess.py` removes cloth (90) from the alpha. A pixel is foreground when its class is in the configurable
 *   `classes` list (default {@link INSTA_HEAD_CLASSES}: the head — face, ears, neck and hair — without cloth,
 *   necklace and background).
 * - **RGBA alpha**: INSTA's `images/ID.png` are RGBA (Robust Video Matting's alpha, cloth removed): the alpha is the
 *   soft foreground mask.
 * - **Grey masks** (IMAvatar `mask/ID.png`, MODNet mattes): the grey value in [0, 1] (IMAvatar thresholds at 0.5).
 *
 * When a frame has several, the mask is their product (alpha × label membership).
 *
 * @example
 * ```ts
 * import { readInstaDataset, readFrameMask } from '@consistent-avatar/proxy';
 * const ds = readInstaDataset('data/obama');
 * const mask = readFrameMask(ds.frames[0]); // Float32Array [H*W] in [0, 1], or null without a mask
 * ```
 */
import { FormatError, ValidationError, readPng } from '@consistent-avatar/core';
import type { AvatarFrame } from './common.js';

/**
 * The class codes (red channel) of INSTA's face-parsing label maps.
 * @example
 * ```ts
 * INSTA_FACE_PARSING_LABELS.skin; // 250
 * ```
 */
export const INSTA_FACE_PARSING_LABELS = {
  background: 0, skin: 250, leftBrow: 240, rightBrow: 230, leftEye: 210, rightEye: 200, eyeGlasses: 190,
  leftEar: 180, rightEar: 170, earRing: 160, nose: 150, mouth: 140, upperLip: 130, lowerLip: 120, neck: 110,
  necklace: 100, cloth: 90, hair: 80, hat: 70,
} as const;

/** A class name of {@link INSTA_FACE_PARSING_LABELS}. */
export type FaceParsingClass = keyof typeof INSTA_FACE_PARSING_LABELS;

/**
 * The default head classes: everything the FLAME head covers (face, ears, neck) plus hair and hat.
 * @example
 * ```ts
 * readInstaDataset('data/obama', { maskClasses: INSTA_HEAD_CLASSES.filter((c) => c !== 'hair') });
 * ```
 */
export const INSTA_HEAD_CLASSES: readonly FaceParsingClass[] = [
  'skin', 'leftBrow', 'rightBrow', 'leftEye', 'rightEye', 'eyeGlasses', 'leftEar', 'rightEar', 'earRing', 'nose',
  'mouth', 'upperLip', 'lowerLip', 'neck', 'hair', 'hat',
];

/** Where a frame's mask comes from (see the module docs). */
export interface FrameMaskSource {
  /** Multiply by the alpha channel of the frame's image. */
  alpha?: boolean;
  /** A face-parsing label map and the class codes counted as foreground. */
  labelMap?: { path: string; keep: number[] };
  /** A grey mask image (value in [0, 1]). */
  gray?: string;
}

/**
 * The class codes of a list of class names (validated).
 * @example
 * ```ts
 * faceParsingCodes(['skin', 'nose']); // [250, 150]
 * ```
 */
export function faceParsingCodes(classes: readonly string[], fn = 'faceParsingCodes', arg = 'classes'): number[] {
  if (!Array.isArray(classes) || classes.length === 0) throw new ValidationError(fn, arg, `a non-empty list of class names (${Object.keys(INSTA_FACE_PARSING_LABELS).join(', ')})`, classes);
  return classes.map((c) => {
    if (typeof c !== 'string' || !Object.prototype.hasOwnProperty.call(INSTA_FACE_PARSING_LABELS, c)) {
      throw new ValidationError(fn, arg, `class names of INSTA's face parsing (${Object.keys(INSTA_FACE_PARSING_LABELS).join(', ')})`, c);
    }
    return INSTA_FACE_PARSING_LABELS[c as FaceParsingClass];
  });
}

const KNOWN_CODES = new Set<number>(Object.values(INSTA_FACE_PARSING_LABELS));

/**
 * Decode a label map (red channel = class code) into a 0/1 mask of the `keep` codes. A red value that is no class
 * code of the table (e.g. a grey 0–255 mask written by an older tool) raises a FormatError naming the pixel.
 * @example
 * ```ts
 * const head = decodeLabelMap('data/obama/seg_mask/00000.png', faceParsingCodes(['skin']));
 * ```
 */
export function decodeLabelMap(path: string, keep: readonly number[]): Float32Array {
  if (typeof path !== 'string' || path.length === 0) throw new ValidationError('decodeLabelMap', 'path', 'a label-map PNG path', path);
  if (!Array.isArray(keep) || keep.some((c) => !KNOWN_CODES.has(c))) throw new ValidationError('decodeLabelMap', 'keep', `class codes of INSTA's table (${[...KNOWN_CODES].join(', ')})`, keep);
  const img = readPng(path, { channels: 3 });
  const keepSet = new Set(keep);
  const out = new Float32Array(img.width * img.height);
  for (let p = 0; p < out.length; p++) {
    const code = Math.round(img.data[p * 3]! * 255);
    if (!KNOWN_CODES.has(code)) {
      throw new FormatError('insta', path, `not a face-parsing label map: red value ${code} at pixel (${p % img.width}, ${Math.floor(p / img.width)}) is no class code of INSTA's table (${[...KNOWN_CODES].join(', ')})`);
    }
    out[p] = keepSet.has(code) ? 1 : 0;
  }
  return out;
}

/**
 * A frame's foreground mask `[H*W]` in [0, 1], or null when the dataset has none for it.
 * @example
 * ```ts
 * const mask = readFrameMask(ds.frames[3]);
 * if (mask) console.log(mask.reduce((a, b) => a + b, 0)); // foreground area in pixels
 * ```
 */
export function readFrameMask(frame: AvatarFrame): Float32Array | null {
  if (!frame || typeof frame.imagePath !== 'string') throw new ValidationError('readFrameMask', 'frame', 'a dataset frame', frame);
  const source = frame.mask ?? (frame.maskPath ? { gray: frame.maskPath } : undefined);
  if (!source) return null;
  let mask: Float32Array | null = null;
  const times = (m: Float32Array, label: string) => {
    if (mask && m.length !== mask.length) throw new FormatError('dataset', label, `mask size ${m.length} differs from the image's ${mask.length} pixels`);
    if (!mask) mask = m;
    else for (let p = 0; p < m.length; p++) mask[p] = mask[p]! * m[p]!;
  };
  if (source.alpha) {
    const img = readPng(frame.imagePath, { channels: 4 });
    times(Float32Array.from({ length: img.width * img.height }, (_, p) => img.data[p * 4 + 3]!), frame.imagePath);
  }
  if (source.labelMap) times(decodeLabelMap(source.labelMap.path, source.labelMap.keep), source.labelMap.path);
  if (source.gray) times(readPng(source.gray, { channels: 1 }).data, source.gray);
  return mask;
}
