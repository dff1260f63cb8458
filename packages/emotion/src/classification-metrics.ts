/**
 * Classification metrics for evaluating emotion retrieval: confusion matrix, accuracy and macro-F1 (the unweighted
 * mean over classes of F1 = 2·precision·recall / (precision + recall); classes absent from both the truth and the
 * predictions are skipped, a class with no true positives scores 0).
 *
 * @example
 * ```ts
 * import { classificationReport } from '@consistent-avatar/emotion';
 * const r = classificationReport(Int32Array.from([0, 1, 1]), Int32Array.from([0, 1, 0]), 2);
 * r.accuracy; // 0.666…
 * r.macroF1;  // (2/3 + 2/3) / 2
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * Accuracy, macro-F1, per-class F1 and the confusion matrix `[C, C]` (row = truth, column = prediction).
 *
 * @example
 * ```ts
 * const { accuracy, macroF1, perClassF1, confusion } = classificationReport(truth, predicted, 7);
 * ```
 */
export interface ClassificationReport {
  accuracy: number;
  macroF1: number;
  perClassF1: number[];
  confusion: number[][];
}

/**
 * Compare predicted class indices with the truth.
 *
 * @example
 * ```ts
 * classificationReport([0, 0, 1], [0, 1, 1], 2).accuracy; // 0.666…
 * ```
 */
export function classificationReport(truth: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): ClassificationReport {
  const fn = 'classificationReport';
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ValidationError(fn, 'numClasses', 'a positive integer', numClasses);
  if (truth.length !== predicted.length || truth.length === 0) {
    throw new ValidationError(fn, 'predicted', `${truth.length} predictions (one per truth label, at least one)`, predicted);
  }
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= numClasses) throw new ValidationError(fn, `truth[${i}]`, `a class in [0, ${numClasses})`, t);
    if (!Number.isInteger(p) || p < 0 || p >= numClasses) throw new ValidationError(fn, `predicted[${i}]`, `a class in [0, ${numClasses})`, p);
    confusion[t]![p]!++;
    if (t === p) correct++;
  }
  const perClassF1: number[] = [];
  const f1s: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const tp = confusion[c]![c]!;
    const actual = confusion[c]!.reduce((s, v) => s + v, 0);
    const predictedCount = confusion.reduce((s, row) => s + row[c]!, 0);
    if (actual === 0 && predictedCount === 0) {
      perClassF1.push(Number.NaN);
      continue;
    }
    const f1 = tp === 0 ? 0 : (2 * tp) / (actual + predictedCount); // = 2PR / (P + R)
    perClassF1.push(f1);
    f1s.push(f1);
  }
  return {
    accuracy: correct / truth.length,
    macroF1: f1s.reduce((s, v) => s + v, 0) / f1s.length,
    perClassF1,
    confusion,
  };
}
