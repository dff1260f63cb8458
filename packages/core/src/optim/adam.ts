/**
 * Adam and AdamW exactly as PyTorch's `torch.optim.Adam` / `AdamW` (bias-corrected moments, eps added after the
 * square root; Adam's weight decay is an L2 term on the gradient, AdamW's is decoupled: p ← p − lr·wd·p), with
 * optional global-norm gradient clipping. State (moments and step) saves to / loads from plain tensor records so
 * checkpoints can resume exactly.
 *
 * @example
 * ```ts
 * import { nn, AdamW, Rng, tf } from '@consistent-avatar/core';
 * const model = new nn.Linear(2, 1, { rng: new Rng(0) });
 * const opt = new AdamW(model, { lr: 1e-2, maxGradNorm: 1 });
 * const x = tf.tensor2d([[1, 2]]), y = tf.tensor2d([[3]]);
 * for (let i = 0; i < 10; i++) opt.step(() => tf.losses.meanSquaredError(y, model.forward(x)) as tf.Scalar);
 * opt.dispose(); model.dispose();
 * ```
 */
import { tf } from '../backend/tf.js';
import { NonFiniteError, ValidationError } from '../errors.js';
import { firstNonFinite } from '../finite.js';
import type { Module } from '../nn/module.js';
import { clipGradNorm } from './clip.js';

/** Hyper-parameters (PyTorch names in camelCase; defaults are PyTorch's, weight decay per class). */
export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip gradients to this global L2 norm before the update (off when undefined). */
  maxGradNorm?: number;
}

/** What one {@link Adam.step} did. */
export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  step: number;
}

interface Slot {
  name: string;
  variable: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
}

/** Adam (L2 weight decay added to the gradient, like torch.optim.Adam). */
export class Adam {
  readonly config: AdamConfig;
  protected readonly decoupled: boolean = false;
  private slots: Slot[];
  private stepCount = 0;

  /**
   * @param params - a module (its trainable variables, named by their dotted names) or explicit [name, variable] pairs.
   */
  constructor(params: Module | Array<[string, tf.Variable]>, config: Partial<AdamConfig> = {}, defaultWeightDecay = 0) {
    this.config = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: defaultWeightDecay, ...config };
    const c = this.config;
    if (!(c.lr > 0 && c.lr < Infinity)) throw new ValidationError(this.constructor.name, 'lr', 'a finite number > 0', c.lr);
    if (!(c.beta1 >= 0 && c.beta1 < 1)) throw new ValidationError(this.constructor.name, 'beta1', 'a number in [0, 1)', c.beta1);
    if (!(c.beta2 >= 0 && c.beta2 < 1)) throw new ValidationError(this.constructor.name, 'beta2', 'a number in [0, 1)', c.beta2);
    if (!(c.eps > 0 && c.eps < Infinity)) throw new ValidationError(this.constructor.name, 'eps', 'a finite number > 0', c.eps);
    if (!(c.weightDecay >= 0)) throw new ValidationError(this.constructor.name, 'weightDecay', 'a number ≥ 0', c.weightDecay);
    const pairs = Array.isArray(params) ? params : params.namedParameters().filter(([, v]) => v.trainable);
    if (pairs.length === 0) throw new ValidationError(this.constructor.name, 'params', 'at least one trainable parameter', pairs);
    this.slots = pairs.map(([name, variable]) => ({
      name,
      variable,
      // tidy frees the zeros; the variables hold their own reference to the data.
      m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
    }));
  }

  /** Number of updates applied so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** Change the learning rate (schedules). */
  setLearningRate(lr: number): void {
    if (!(lr > 0 && lr < Infinity)) throw new ValidationError(`${this.constructor.name}.setLearningRate`, 'lr', 'a finite number > 0', lr);
    this.config.lr = lr;
  }

  /**
   * Compute the loss and its gradients w.r.t. the parameters, clip, and apply one update. A non-finite loss or
   * gradient throws {@link NonFiniteError} naming it, before anything is updated.
   * @param lossFn - returns a scalar loss; runs inside the gradient tape (use tf ops only, no `dataSync`).
   */
  step(lossFn: () => tf.Scalar): StepResult {
    const varList = this.slots.map((s) => s.variable);
    const { value, grads } = tf.variableGrads(lossFn, varList);
    const byName: Record<string, tf.Tensor> = {};
    for (const s of this.slots) {
      const g = grads[s.variable.name];
      byName[s.name] = g ?? tf.zerosLike(s.variable);
    }
    try {
      const loss = value.dataSync()[0]!;
      if (!Number.isFinite(loss)) throw new NonFiniteError(`${this.constructor.name}.step`, 'loss', `${loss} at update ${this.stepCount + 1}`);
      const result = this.applyGradients(byName);
      return { ...result, loss };
    } finally {
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
      for (const s of this.slots) if (!grads[s.variable.name]) byName[s.name]!.dispose();
    }
  }

  /** Throw NonFiniteError naming the first gradient with NaN / ±Infinity (one reduction, one scalar read when all are finite). */
  private checkGradients(grads: Record<string, tf.Tensor>): void {
    const present = this.slots.filter((s) => grads[s.name]);
    if (present.length === 0) return;
    const finite = tf.tidy(() => tf.stack(present.map((s) => tf.cast(tf.all(tf.isFinite(grads[s.name]!)), 'float32'))).dataSync());
    const bad = finite.findIndex((v) => v !== 1);
    if (bad < 0) return;
    const g = grads[present[bad]!.name]!.dataSync() as Float32Array;
    const index = firstNonFinite(g);
    throw new NonFiniteError(`${this.constructor.name}.step`, `gradient of ${present[bad]!.name}`, `${g[index]} at flat index ${index} at update ${this.stepCount + 1}`);
  }

  /**
   * Apply one update from precomputed gradients by parameter name (missing names are skipped). A gradient with NaN /
   * ±Infinity throws {@link NonFiniteError} naming it before any parameter changes.
   */
  applyGradients(gradsByName: Record<string, tf.Tensor>): { gradNorm: number; step: number } {
    this.checkGradients(gradsByName);
    let grads = gradsByName;
    let gradNorm = Number.NaN;
    let clipped: Record<string, tf.Tensor> | null = null;
    if (this.config.maxGradNorm !== undefined) {
      const r = clipGradNorm(gradsByName, this.config.maxGradNorm);
      clipped = r.grads;
      grads = clipped;
      gradNorm = r.totalNorm;
    }
    this.stepCount++;
    const { lr, beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - Math.pow(beta1, this.stepCount);
    const bc2 = 1 - Math.pow(beta2, this.stepCount);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const s of this.slots) {
      const g0 = grads[s.name];
      if (!g0) continue;
      tf.tidy(() => {
        let p: tf.Tensor = s.variable;
        let g: tf.Tensor = g0;
        if (weightDecay > 0) {
          if (this.decoupled) p = tf.mul(p, 1 - lr * weightDecay);
          else g = tf.add(g, tf.mul(p, weightDecay));
        }
        const m = tf.add(tf.mul(s.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        s.m.assign(m);
        s.v.assign(v);
        // p ← p − (lr / bc1) · m / (√v / √bc2 + eps)
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps);
        s.variable.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
    if (clipped) for (const t of Object.values(clipped)) t.dispose();
    return { gradNorm, step: this.stepCount };
  }

  /** Moments as tensors named `${param}.exp_avg` / `${param}.exp_avg_sq` (live variables; do not dispose). */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const s of this.slots) {
      out[`${s.name}.exp_avg`] = s.m;
      out[`${s.name}.exp_avg_sq`] = s.v;
    }
    return out;
  }

  /** JSON part of the state (step count and config). */
  stateJson(): { step: number; config: AdamConfig } {
    return { step: this.stepCount, config: { ...this.config } };
  }

  /**
   * Check a saved state against this optimiser without changing anything: every moment present with the parameter's
   * shape, finite (and `exp_avg_sq` ≥ 0), and `json.step` a non-negative safe integer. Throws
   * {@link ValidationError} naming the first bad field.
   *
   * @example
   * ```ts
   * optimizer.checkState(loaded.optimizerTensors, loaded.state.optimizer); // throws before anything is assigned
   * ```
   */
  checkState(tensors: Record<string, tf.Tensor>, json: { step: number }): void {
    const fn = `${this.constructor.name}.loadState`;
    if (tensors === null || typeof tensors !== 'object') throw new ValidationError(fn, 'tensors', 'a record of moment tensors', tensors);
    if (json === null || typeof json !== 'object') throw new ValidationError(fn, 'json', '{ step, config } from stateJson()', json);
    if (!Number.isSafeInteger(json.step) || json.step < 0) throw new ValidationError(fn, 'json.step', 'a non-negative integer', json.step);
    for (const s of this.slots) {
      for (const [key, target] of [[`${s.name}.exp_avg`, s.m], [`${s.name}.exp_avg_sq`, s.v]] as const) {
        const t = Object.hasOwn(tensors, key) ? tensors[key] : undefined;
        if (!(t instanceof tf.Tensor) || t.isDisposed || t.shape.join() !== target.shape.join()) {
          throw new ValidationError(fn, `tensors['${key}']`, `a tensor of shape [${target.shape.join(', ')}]`, t);
        }
        const ok = tf.tidy(() => {
          const finite = tf.all(tf.isFinite(t));
          return (key.endsWith('_sq') ? tf.logicalAnd(finite, tf.all(tf.greaterEqual(t, 0))) : finite).dataSync()[0] === 1;
        });
        if (!ok) throw new ValidationError(fn, `tensors['${key}']`, key.endsWith('_sq') ? 'finite values ≥ 0' : 'finite values', t);
      }
    }
  }

  /**
   * Restore from {@link stateTensors} + {@link stateJson}: everything is checked first ({@link Adam.checkState}), so a
   * bad state throws and leaves the optimiser as it was.
   *
   * @example
   * ```ts
   * optimizer.loadState(last.optimizerTensors!, last.state!.optimizer as { step: number });
   * ```
   */
  loadState(tensors: Record<string, tf.Tensor>, json: { step: number }): void {
    this.checkState(tensors, json);
    for (const s of this.slots) {
      s.m.assign(tensors[`${s.name}.exp_avg`]!);
      s.v.assign(tensors[`${s.name}.exp_avg_sq`]!);
    }
    this.stepCount = json.step;
  }

  /** Free the moment variables (not the parameters). */
  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots = [];
  }
}

/** AdamW: decoupled weight decay (PyTorch default weight decay 1e-2). */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: Module | Array<[string, tf.Variable]>, config: Partial<AdamConfig> = {}) {
    super(params, config, 1e-2);
  }
}
