/**
 * Internal helper (not exported from the package index): collects whole clips of frames with their clip metadata
 * and builds an {@link ExpressionDatabase} once, for the MEAD builder and the synthetic generator.
 *
 * @example
 * ```ts
 * const rows = new ClipRows();
 * rows.add({ vectors: new Float32Array(2 * 100), frames: 2, label: 'sad', clipId: 'A/front/sad/level_3/001', actor: 'A', intensity: 3 });
 * const db = rows.build(100, vocabulary('mead7'));
 * ```
 */
import { ExpressionDatabase } from './database.js';
import type { EmotionVocabulary } from './vocabulary.js';

/**
 * One clip: frames `[T, D]` row-major and the clip's metadata.
 *
 * @example
 * ```ts
 * const clip: ClipFrames = { vectors, frames: 40, label: 'happy', clipId: 'S001/front/happy/level_3/001', actor: 'S001', intensity: 3 };
 * ```
 */
export interface ClipFrames {
  vectors: Float32Array;
  frames: number;
  label: string;
  clipId: string;
  actor: string;
  intensity: number;
}

/**
 * Accumulates clips; frame indices are 0..T−1 within each clip.
 *
 * @example
 * ```ts
 * const rows = new ClipRows();
 * ```
 */
export class ClipRows {
  private readonly chunks: Float32Array[] = [];
  private readonly labels: string[] = [];
  private readonly clipIds: string[] = [];
  private readonly actors: string[] = [];
  private readonly intensities: number[] = [];
  private readonly frameIndices: number[] = [];

  /** Number of frames collected. */
  get size(): number {
    return this.labels.length;
  }

  /** Append a clip's frames. */
  add(clip: ClipFrames): void {
    this.chunks.push(clip.vectors);
    for (let t = 0; t < clip.frames; t++) {
      this.labels.push(clip.label);
      this.clipIds.push(clip.clipId);
      this.actors.push(clip.actor);
      this.intensities.push(clip.intensity);
      this.frameIndices.push(t);
    }
  }

  /** One contiguous `[N, D]` database of everything collected. */
  build(dimension: number, vocabulary: EmotionVocabulary): ExpressionDatabase {
    const vectors = new Float32Array(this.size * dimension);
    let offset = 0;
    for (const c of this.chunks) {
      vectors.set(c, offset);
      offset += c.length;
    }
    return ExpressionDatabase.fromArrays({
      dimension,
      vectors,
      labels: this.labels,
      vocabulary,
      clipIds: this.clipIds,
      actors: this.actors,
      intensities: this.intensities,
      frameIndices: this.frameIndices,
    });
  }
}
