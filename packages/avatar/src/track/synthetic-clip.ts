/**
 * A talking-head clip of the **synthetic** head with known parameters, for measuring a tracker: a seeded smooth
 * head motion (global rotation: pitch, yaw, roll), jaw opening and MEAD-emotion expressions, rendered through an
 * axis-aligned camera (the tracking camera's axes, so the true global rotation is the head rotation relative to the
 * camera). Used by `ca track`'s test and by `bench/track-accuracy.ts`.
 *
 * @example
 * ```ts
 * import { renderSyntheticClip } from '@consistent-avatar/avatar';
 * const clip = renderSyntheticClip({ identity: 3, frames: 12, size: 160, seed: 7 });
 * console.log(clip.images.length, clip.truth[0].paperPose); // 12, Float32Array(6)
 * ```
 */
import { Rng, ValidationError, type FloatImage } from '@consistent-avatar/core';
import {
  SYNTHETIC_EMOTIONS, createSyntheticHead, defaultShCoefficients, rasterize, syntheticEmotionExpression, trackingCamera,
  type PinholeCamera,
} from '@consistent-avatar/proxy';

/**
 * Options of {@link renderSyntheticClip}.
 * @example
 * ```ts
 * const options: SyntheticClipOptions = { identity: 2, frames: 24, size: 192, seed: 2, maxRotation: 0.35 };
 * ```
 */
export interface SyntheticClipOptions {
  /** Synthetic identity (the tracker's synthetic embedding was made on identity 0: use others to test). */
  identity: number;
  frames: number;
  /** Square frame size in pixels. */
  size: number;
  /** Seed of the motion and expressions. */
  seed: number;
  /** Peak head rotation in radians (yaw; pitch and roll are 0.5× and 0.3× of it). Default 0.35. */
  maxRotation?: number;
  /** Focal length in pixels. Default 1.95 × size (the synthetic datasets'). */
  focal?: number;
}

/**
 * One frame's truth.
 * @example
 * ```ts
 * const { paperPose, expression, emotion }: SyntheticClipTruth = renderSyntheticClip(options).truth[0];
 * ```
 */
export interface SyntheticClipTruth {
  /** `[6]` P = global ⊕ jaw (axis-angle). */
  paperPose: Float32Array;
  /** `[100]` expression. */
  expression: Float32Array;
  /** The MEAD emotion acted. */
  emotion: string;
}

/**
 * Render the clip (see the module docs).
 * @returns RGB float images, per-frame truth, and the camera (head translated to 0.62 m in front of it).
 * @example
 * ```ts
 * const { images, truth, camera } = renderSyntheticClip({ identity: 1, frames: 8, size: 128, seed: 0 });
 * ```
 */
export function renderSyntheticClip(options: SyntheticClipOptions): { images: FloatImage[]; truth: SyntheticClipTruth[]; camera: PinholeCamera } {
  const fn = 'renderSyntheticClip';
  if (!options || typeof options !== 'object') throw new ValidationError(fn, 'options', '{ identity, frames, size, seed }', options);
  const { identity, frames, size, seed } = options;
  if (!Number.isInteger(frames) || frames < 1) throw new ValidationError(fn, 'options.frames', 'an integer ≥ 1', frames);
  if (!Number.isInteger(size) || size < 32 || size > 2048) throw new ValidationError(fn, 'options.size', 'an integer in [32, 2048]', size);
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError(fn, 'options.seed', 'a non-negative integer', seed);
  const maxRotation = options.maxRotation ?? 0.35;
  if (!(maxRotation >= 0 && maxRotation <= 1)) throw new ValidationError(fn, 'options.maxRotation', 'a number in [0, 1] (radians)', maxRotation);
  const head = createSyntheticHead({ identity, textureSize: size > 256 ? 1024 : 512 });
  try {
    const camera = trackingCamera(size, size, options.focal ?? 1.95 * size);
    const rng = new Rng(seed).fork('synthetic-clip');
    const phase = rng.uniform(5, 0, 2 * Math.PI);
    const period = rng.uniform(5, 0.6, 1.4);
    const emotions = SYNTHETIC_EMOTIONS.filter((e) => e !== 'neutral');
    const order = rng.permutation(emotions.length);
    const sh = defaultShCoefficients();
    const images: FloatImage[] = [];
    const truth: SyntheticClipTruth[] = [];
    for (let t = 0; t < frames; t++) {
      const s = (2 * Math.PI * t) / 40; // one motion cycle per ≈ 40 frames (1.6 s at 25 fps)
      const wave = (k: number) => Math.sin(s / period[k]! + phase[k]!);
      const paperPose = Float32Array.from([
        0.5 * maxRotation * wave(0), maxRotation * wave(1), 0.3 * maxRotation * wave(2),
        Math.max(0, 0.2 * wave(3)), 0, 0,
      ]);
      const emotion = emotions[order[Math.floor((t / Math.max(1, frames)) * 3) % order.length]!]!;
      const expression = syntheticEmotionExpression(emotion, 0.5 + 0.5 * Math.abs(wave(4)));
      const positions = head.vertices({ expression, paperPose, translation: [0, 0.01, -0.62] });
      const r = rasterize({ positions, faces: head.faces, uvs: head.uvs }, camera, { texture: head.albedo(expression), shading: 'sh', sh, supersample: 2, background: [0.35, 0.4, 0.45] });
      images.push({ width: size, height: size, channels: 3, data: r.rgb });
      truth.push({ paperPose, expression, emotion });
    }
    return { images, truth, camera };
  } finally {
    head.dispose();
  }
}
