/** Exponential moving average of a module's parameters (see {@link Ema}). */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import type { Module } from '../nn/module.js';

/**
 * Exponential moving average of a module's parameters (the LCM target network, EMA checkpoints):
 * shadow ← decay·shadow + (1 − decay)·param, one shadow variable per parameter of the source module. Holds tensors:
 * call {@link Ema.dispose} when done.
 *
 * @example
 * ```ts
 * import { nn, Ema, Rng } from '@consistent-avatar/core';
 * const student = new nn.Linear(4, 4, { rng: new Rng(0) });
 * const ema = new Ema(student, 0.95);
 * ema.update(student);            // after each optimiser step
 * const target = new nn.Linear(4, 4); ema.copyTo(target);
 * ema.dispose(); student.dispose(); target.dispose();
 * ```
 */
export class Ema {
  private shadow = new Map<string, tf.Variable>();
  /**
   * @param source Module whose parameters start the shadow copy (cloned, so `source` may change afterwards).
   * @param decay Weight of the old average per update, in [0, 1] (1 freezes the shadow, 0 copies the parameters).
   */
  constructor(
    source: Module,
    /** Weight of the old average per update, in [0, 1]. */
    readonly decay: number,
  ) {
    if (!(decay >= 0 && decay <= 1)) throw new ValidationError('Ema', 'decay', 'a number in [0, 1]', decay);
    for (const [name, v] of source.namedParameters()) this.shadow.set(name, tf.tidy(() => tf.variable(v.clone(), false)));
  }
  /** Blend the module's current parameters into the shadow copy. */
  update(source: Module): void {
    for (const [name, v] of source.namedParameters()) {
      const s = this.shadow.get(name);
      if (!s) throw new ValidationError('Ema.update', 'source', `a module with parameter '${name}' tracked at construction`, name);
      tf.tidy(() => s.assign(tf.add(tf.mul(s, this.decay), tf.mul(v, 1 - this.decay))));
    }
  }
  /** Copy the averaged parameters into `target` (same parameter names). */
  copyTo(target: Module): void {
    target.loadStateDict(Object.fromEntries(this.shadow), { strict: false });
  }
  /** The averaged parameters by name (live; do not dispose). */
  stateTensors(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.shadow);
  }
  /** Restore from {@link stateTensors}. */
  loadState(tensors: Record<string, tf.Tensor>): void {
    for (const [name, s] of this.shadow) {
      const t = tensors[name];
      if (!t) throw new ValidationError('Ema.loadState', 'tensors', `a tensor named '${name}'`, t);
      s.assign(t);
    }
  }
  /** Free the shadow variables; the instance cannot be used afterwards. */
  dispose(): void {
    for (const s of this.shadow.values()) s.dispose();
    this.shadow.clear();
  }
}
