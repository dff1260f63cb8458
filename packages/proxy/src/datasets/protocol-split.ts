/**
 * The evaluation protocol's split (docs/experiments/protocol.md): the held-out **test** frames are the dataset's own
 * test split (by default the last frames of the video); a **validation** block is carved from the end of the
 * training frames, so every choice of hyperparameter is made without ever seeing a test frame; the remaining
 * frames **train**. Train, validation and test are each contiguous in time when the dataset's split is.
 *
 * (INSTA's own `val` split is a subset of its test frames; selecting anything on it would leak the test set, so the
 * protocol never uses it.)
 *
 * @example
 * ```ts
 * import { protocolSplit, readInstaDataset } from '@consistent-avatar/proxy';
 * const ds = readInstaDataset('data/synthetic');                 // split.train 0..271, split.test 272..319
 * const { train, validation, test } = protocolSplit(ds, { validationFrames: 32 });
 * // train 0..239, validation 240..271, test 272..319
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';
import type { AvatarDataset } from './common.js';

/** The three disjoint index sets of the protocol (frame indices into `dataset.frames`, ascending). */
export interface ProtocolSplit {
  /** Frames the models train on. */
  train: number[];
  /** Frames every hyperparameter and design choice is selected on (the last `validationFrames` training frames). */
  validation: number[];
  /** Held-out frames, scored once at the end. */
  test: number[];
}

/** Options of {@link protocolSplit}. */
export interface ProtocolSplitOptions {
  /** Size of the validation block carved from the end of the training frames. Default: 10 % of them (at least 1). */
  validationFrames?: number;
}

/**
 * Split a dataset for the protocol: its test frames stay test, the last `validationFrames` of its training frames
 * become validation.
 *
 * @param dataset - a dataset from one of the readers (`split.train` / `split.test` are used; `split.val` is ignored).
 * @returns train / validation / test indices, disjoint, ascending.
 * @example
 * ```ts
 * const split = protocolSplit(dataset, { validationFrames: 20 });
 * ```
 */
export function protocolSplit(dataset: AvatarDataset, options: ProtocolSplitOptions = {}): ProtocolSplit {
  const fn = 'protocolSplit';
  if (dataset === null || typeof dataset !== 'object' || !Array.isArray(dataset.frames) || !dataset.split || !Array.isArray(dataset.split.train) || !Array.isArray(dataset.split.test)) {
    throw new ValidationError(fn, 'dataset', 'a dataset from readInstaDataset / readNerfaceDataset / readImavatarDataset', dataset);
  }
  const train = [...dataset.split.train].sort((a, b) => a - b);
  const test = [...dataset.split.test].sort((a, b) => a - b);
  const n = options.validationFrames ?? Math.max(1, Math.round(train.length * 0.1));
  if (!Number.isInteger(n) || n < 1 || n >= train.length) {
    throw new ValidationError(fn, 'options.validationFrames', `an integer in [1, ${train.length - 1}] (the dataset has ${train.length} training frames)`, n);
  }
  const testSet = new Set(test);
  const overlap = train.filter((i) => testSet.has(i));
  if (overlap.length > 0) throw new ValidationError(fn, 'dataset.split', 'disjoint train and test frames', `${overlap.length} frames in both`);
  return { train: train.slice(0, train.length - n), validation: train.slice(train.length - n), test };
}
