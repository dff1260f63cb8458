/**
 * The interface every emotion text encoder implements (CLIP, or the learned label-embedding table), and prompt
 * templates. Stage 3 (FCSD) consumes `encode(labels)` as the text embedding T of Eq. 7's labels; it never needs to
 * know which encoder produced it — but every output names the encoder (`name`), so a report can say whether real CLIP
 * weights were used.
 *
 * @example
 * ```ts
 * import { formatPrompt, type EmotionTextEncoder } from '@consistent-avatar/emotion';
 * formatPrompt('happy');                                    // 'a photo of a happy face'
 * formatPrompt('sad', 'a close-up of a {label} person');    // 'a close-up of a sad person'
 * function describe(encoder: EmotionTextEncoder) { return `${encoder.name}, ${encoder.dimension}-d`; }
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError, type tf } from '@consistent-avatar/core';

/**
 * An emotion text encoder: labels in, one embedding per label out.
 *
 * @example
 * ```ts
 * const t = encoder.encode(['happy', 'sad']); // tf.Tensor2D [2, encoder.dimension]
 * console.log(encoder.name);                  // e.g. 'learned label embedding (no CLIP weights)'
 * t.dispose();
 * ```
 */
export interface EmotionTextEncoder {
  /** Human-readable name, printed in every output that uses the embeddings. */
  readonly name: string;
  /** Embedding size (768 for CLIP ViT-L/14 and the default table). */
  readonly dimension: number;
  /** Embeddings `[N, dimension]` of the labels (the caller disposes the tensor). */
  encode(labels: readonly string[]): tf.Tensor2D;
  /** Release the encoder's weights. */
  dispose(): void;
}

/**
 * The paper's prompt: `"a photo of a {label} face"`.
 *
 * @example
 * ```ts
 * DEFAULT_PROMPT_TEMPLATE.replace('{label}', 'sad'); // 'a photo of a sad face'
 * ```
 */
export const DEFAULT_PROMPT_TEMPLATE = 'a photo of a {label} face';

/**
 * Fill a prompt template: every `{label}` is replaced by the label.
 *
 * @example
 * ```ts
 * formatPrompt('fear'); // 'a photo of a fear face'
 * ```
 */
export function formatPrompt(label: string, template: string = DEFAULT_PROMPT_TEMPLATE): string {
  if (typeof label !== 'string' || label.length === 0) throw new ValidationError('formatPrompt', 'label', 'a non-empty string', label);
  if (typeof template !== 'string' || !template.includes('{label}')) {
    throw new ValidationError('formatPrompt', 'template', "a string containing '{label}'", template);
  }
  return template.replaceAll('{label}', label);
}
