/**
 * The embedded default {@link EmotionTextEncoder}: a learned label-embedding table (one trainable 768-d vector per
 * emotion label), used when real CLIP weights are not available — they cannot be bundled. It is trained jointly with
 * stage 3 (its `trainableVariables()` go into the stage-3 optimiser) and saved with the stage-3 checkpoint.
 * Every output names it `"learned label embedding (no CLIP weights)"`, so no report can pass it off as CLIP.
 *
 * Initialisation: N(0, 1) per entry from an explicit seed (PyTorch `nn.Embedding`'s default), so untrained
 * embeddings of different labels are nearly orthogonal.
 *
 * State dict: `embedding.weight` `[numLabels, dimension]`; `save` writes it as safetensors with the labels in the
 * `__metadata__`.
 *
 * @example
 * ```ts
 * import { LabelEmbeddingTable, MEAD_EMOTIONS_7 } from '@consistent-avatar/emotion';
 * const table = new LabelEmbeddingTable(MEAD_EMOTIONS_7, { seed: 0 });
 * const t = table.encode(['happy', 'sad']); // tf.Tensor2D [2, 768]
 * console.log(table.name);                  // 'learned label embedding (no CLIP weights)'
 * t.dispose(); table.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { FormatError, Rng, ValidationError, nn, readSafetensors, tf, writeSafetensors } from '@consistent-avatar/core';
import type { EmotionTextEncoder } from './text-encoder.js';

/**
 * The name every output uses for this encoder.
 *
 * @example
 * ```ts
 * console.log(`text embedding: ${LABEL_EMBEDDING_NAME}`);
 * ```
 */
export const LABEL_EMBEDDING_NAME = 'learned label embedding (no CLIP weights)';

const FORMAT = 'consistent-avatar.label-embedding';

/**
 * Trainable label → vector table behind the {@link EmotionTextEncoder} interface. Dispose when done.
 *
 * @example
 * ```ts
 * const table = new LabelEmbeddingTable(['happy', 'sad']);
 * const vars = table.trainableVariables(); // hand to the stage-3 optimiser
 * ```
 */
export class LabelEmbeddingTable extends nn.Module implements EmotionTextEncoder {
  readonly name = LABEL_EMBEDDING_NAME;
  readonly dimension: number;
  readonly labels: readonly string[];
  readonly embedding: nn.Embedding;
  private readonly index: Map<string, number>;

  /**
   * @param labels - the label set (distinct, non-empty strings), e.g. `MEAD_EMOTIONS_7`.
   * @param options.dimension - embedding size (default 768, CLIP ViT-L/14's).
   * @param options.seed - initialisation seed (default 0).
   *
   * @example
   * ```ts
   * const table = new LabelEmbeddingTable(['happy', 'sad'], { dimension: 64, seed: 3 });
   * ```
   */
  constructor(labels: readonly string[], options: { dimension?: number; seed?: number } = {}) {
    super();
    const fn = 'LabelEmbeddingTable';
    if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'string' || l.length === 0)) {
      throw new ValidationError(fn, 'labels', 'a non-empty array of non-empty strings', labels);
    }
    if (new Set(labels).size !== labels.length) throw new ValidationError(fn, 'labels', 'distinct labels', labels);
    const dimension = options.dimension ?? 768;
    if (!Number.isInteger(dimension) || dimension < 1) throw new ValidationError(fn, 'options.dimension', 'a positive integer', dimension);
    this.dimension = dimension;
    this.labels = [...labels];
    this.index = new Map(this.labels.map((l, i) => [l, i] as const));
    this.embedding = this.registerModule('embedding', new nn.Embedding(labels.length, dimension, { rng: new Rng(options.seed ?? 0) }));
  }

  /**
   * Embeddings `[N, dimension]` of the labels (differentiable w.r.t. the table, for stage-3 training).
   *
   * @example
   * ```ts
   * const t = table.encode(['neutral']); // [1, 768]
   * ```
   */
  encode(labels: readonly string[]): tf.Tensor2D {
    if (!Array.isArray(labels) || labels.length === 0) {
      throw new ValidationError('LabelEmbeddingTable.encode', 'labels', 'a non-empty array of labels', labels);
    }
    const ids = labels.map((l, i) => {
      const id = this.index.get(l);
      if (id === undefined) {
        throw new ValidationError('LabelEmbeddingTable.encode', `labels[${i}]`, `one of ${this.labels.join(', ')}`, l);
      }
      return id;
    });
    return tf.tidy(() => this.embedding.forward(tf.tensor1d(ids, 'int32')) as tf.Tensor2D); // [N, D]
  }

  /**
   * Save as safetensors (`embedding.weight`; labels and dimension in `__metadata__`).
   *
   * @example
   * ```ts
   * table.save('checkpoints/stage3/label_embedding.safetensors');
   * ```
   */
  save(file: string): void {
    writeSafetensors(file, this.stateDict(), {
      format: FORMAT,
      name: LABEL_EMBEDDING_NAME,
      labels: JSON.stringify(this.labels),
    });
  }

  /**
   * Load a table written by {@link LabelEmbeddingTable.save}.
   *
   * @example
   * ```ts
   * const table = LabelEmbeddingTable.load('checkpoints/stage3/label_embedding.safetensors');
   * ```
   */
  static load(file: string): LabelEmbeddingTable {
    const { tensors, metadata } = readSafetensors(file);
    if (metadata.format !== FORMAT) throw new FormatError('safetensors', file, `__metadata__.format must be '${FORMAT}'`);
    let labels: unknown;
    try {
      labels = JSON.parse(metadata.labels ?? '');
    } catch {
      throw new FormatError('safetensors', file, '__metadata__.labels must be a JSON array of strings');
    }
    const weight = tensors['embedding.weight'];
    if (!weight || weight.dtype !== 'F32' || weight.shape.length !== 2) {
      throw new FormatError('safetensors', file, "needs an F32 tensor 'embedding.weight' [numLabels, dimension]");
    }
    if (!Array.isArray(labels) || labels.length !== weight.shape[0]) {
      throw new FormatError('safetensors', file, `__metadata__.labels must list ${weight.shape[0]} labels (one per row)`);
    }
    const table = new LabelEmbeddingTable(labels as string[], { dimension: weight.shape[1] });
    const t = tf.tensor2d(weight.data as Float32Array, weight.shape as [number, number]);
    try {
      table.loadStateDict({ 'embedding.weight': t }, { source: file });
    } finally {
      t.dispose();
    }
    return table;
  }
}
