/**
 * {@link EmotionTextEncoder} backed by a real CLIP text encoder: each label is put into a prompt template
 * (`"a photo of a {label} face"`), tokenised to 77 ids (padded with the end token, no attention mask — the Stable
 * Diffusion 1.x way) and encoded; the embedding is CLIP's pooled output (the end-of-text token's final hidden state),
 * 768-d for ViT-L/14.
 *
 * @example
 * ```ts
 * import { ClipEmotionTextEncoder } from '@consistent-avatar/emotion';
 * const encoder = ClipEmotionTextEncoder.fromFolders('sd-v1-5/tokenizer', 'sd-v1-5/text_encoder');
 * const t = encoder.encode(['happy', 'sad']); // [2, 768]
 * console.log(encoder.name);                  // 'CLIP text encoder (sd-v1-5/text_encoder), prompt "a photo of a {label} face"'
 * t.dispose(); encoder.dispose();
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError, tf } from '@consistent-avatar/core';
import { ClipTextModel } from './clip-text-model.js';
import { ClipTokenizer } from './clip-tokenizer.js';
import { DEFAULT_PROMPT_TEMPLATE, formatPrompt, type EmotionTextEncoder } from './text-encoder.js';

/**
 * CLIP-based emotion text encoder (see the module description). Owns the model: `dispose()` frees it.
 *
 * @example
 * ```ts
 * const encoder = ClipEmotionTextEncoder.fromFolders('sd/tokenizer', 'sd/text_encoder');
 * const t = encoder.encode(['happy']); // [1, 768]
 * ```
 */
export class ClipEmotionTextEncoder implements EmotionTextEncoder {
  readonly name: string;
  readonly dimension: number;
  readonly template: string;

  /**
   * @example
   * ```ts
   * const encoder = new ClipEmotionTextEncoder(tokenizer, model, { template: 'a face that looks {label}' });
   * ```
   */
  constructor(
    readonly tokenizer: ClipTokenizer,
    readonly model: ClipTextModel,
    options: { template?: string; source?: string } = {},
  ) {
    if (!(tokenizer instanceof ClipTokenizer)) throw new ValidationError('ClipEmotionTextEncoder', 'tokenizer', 'a ClipTokenizer', tokenizer);
    if (!(model instanceof ClipTextModel)) throw new ValidationError('ClipEmotionTextEncoder', 'model', 'a ClipTextModel', model);
    this.template = options.template ?? DEFAULT_PROMPT_TEMPLATE;
    formatPrompt('x', this.template); // validates the template
    this.dimension = model.config.hidden_size;
    this.name = `CLIP text encoder${options.source ? ` (${options.source})` : ''}, prompt "${this.template}"`;
  }

  /**
   * Load a Hugging Face tokenizer folder and `text_encoder` folder.
   *
   * @example
   * ```ts
   * const encoder = ClipEmotionTextEncoder.fromFolders('sd/tokenizer', 'sd/text_encoder', { template: 'a {label} face' });
   * ```
   */
  static fromFolders(tokenizerDir: string, textEncoderDir: string, options: { template?: string } = {}): ClipEmotionTextEncoder {
    const tokenizer = ClipTokenizer.fromFolder(tokenizerDir);
    const model = ClipTextModel.fromPretrained(textEncoderDir);
    return new ClipEmotionTextEncoder(tokenizer, model, { ...options, source: textEncoderDir });
  }

  /**
   * Pooled CLIP embeddings `[N, hidden]` of the labels' prompts.
   *
   * @example
   * ```ts
   * const t = encoder.encode(['angry']); // [1, 768]
   * ```
   */
  encode(labels: readonly string[]): tf.Tensor2D {
    if (!Array.isArray(labels) || labels.length === 0) {
      throw new ValidationError('ClipEmotionTextEncoder.encode', 'labels', 'a non-empty array of label strings', labels);
    }
    const prompts = labels.map((l) => formatPrompt(l, this.template));
    const { inputIds, batch, length } = this.tokenizer.encodeBatch(prompts);
    const ids = tf.tensor2d(inputIds, [batch, length], 'int32');
    try {
      const out = this.model.forward(ids, { eosTokenId: this.tokenizer.eosTokenId });
      out.lastHiddenState.dispose();
      return out.poolerOutput;
    } finally {
      ids.dispose();
    }
  }

  /**
   * Free the CLIP weights.
   *
   * @example
   * ```ts
   * encoder.dispose();
   * ```
   */
  dispose(): void {
    this.model.dispose();
  }
}
