/**
 * The one TensorFlow.js engine every package uses. Import `tf` from `@consistent-avatar/core` (never from
 * `@tensorflow/tfjs*` directly in library code) so all packages share one engine and one backend choice.
 *
 * This is the `@tensorflow/tfjs` union package: unlike `@tensorflow/tfjs-core` alone, its Node bundle registers
 * every op's gradient and the chained tensor methods (`x.square()`), which training needs.
 */
export * as tf from '@tensorflow/tfjs';
