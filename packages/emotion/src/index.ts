/**
 * `@consistent-avatar/emotion`: emotion vocabularies (MEAD-8, MEAD-7, AffectNet-8), expression databases in the
 * MEAD layout, the cosine emotion retriever of Eq. 7, the CLIP tokenizer and text encoder, and the learned
 * label-embedding fallback.
 *
 * @packageDocumentation
 */
export * from './vocabulary.js';
export * from './database.js';
export * from './cosine-search.js';
export * from './temporal-smoothing.js';
export * from './retriever.js';
export * from './database-file.js';
export * from './mead.js';
export * from './clip-tokenizer.js';
export * from './clip-text-model.js';
export * from './text-encoder.js';
export * from './clip-emotion-encoder.js';
export * from './label-embedding.js';
export * from './classification-metrics.js';
export * from './synthetic.js';
