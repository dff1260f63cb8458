/**
 * Classifier-free guidance (Ho & Salimans 2022) as a denoiser wrapper: ε̃ = ε_u + g·(ε_c − ε_u) (Eq. 6), where ε_u is
 * the model under the *unconditional variant of every named condition* and ε_c under the conditions given. Each
 * condition names its own unconditional variant — the empty-prompt embedding for `text`, zeros or a learned null
 * token for IP-Adapter / token-conditioner tokens, the same map for a concatenated input — so guidance works for any
 * set of conditions, and dropping a single condition (guidance on gaze only, an ablation) is one entry.
 *
 * Both branches run as one batch `[uncond, cond]` (2B, diffusers' order) when every condition can be batched: tensors
 * (and arrays of tensors) of equal shapes are concatenated on axis 0, other values must be the same in both branches.
 * When a condition is absent (`null`) in one branch only, or a non-tensor value differs, the two branches run as two
 * calls — e.g. a ControlNet that conditions the conditional branch only (diffusers' guess mode).
 *
 * @example
 * ```ts
 * import { sample, unetDenoiser, withGuidance } from '@consistent-avatar/diffusion';
 * const guided = withGuidance(unetDenoiser(unet), { guidanceScale: 7.5, unconditional: { text: emptyPrompt, ipTokens: [zeros] } });
 * const latents = sample({ denoiser: guided, conditions: { text: prompt, ipTokens: [imageTokens] }, scheduler, numInferenceSteps: 30, shape: [1, 64, 64, 4] });
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import type { Conditions } from '../models/conditions.js';
import type { Denoiser, DenoiserConditions } from './denoiser.js';

/**
 * Options of {@link withGuidance}.
 * @example
 * ```ts
 * const options: GuidanceOptions = { guidanceScale: 5, unconditional: { text: emptyPrompt, ipTokens: [zeroTokens], controlImage: null } };
 * ```
 */
export interface GuidanceOptions<C extends Conditions = DenoiserConditions> {
  /** g ≥ 0 (g = 1: the conditional model; g = 0: the unconditional one). */
  guidanceScale: number;
  /**
   * The unconditional variant of every named condition the denoiser is called with: a tensor (array) shaped like the
   * condition, `null` for "absent in the unconditional branch", or — for a non-tensor value — the value to use. A
   * tensor condition without an entry is an error (there is no safe default null for an arbitrary condition); a
   * non-tensor one without an entry is shared. Tensors are read, never disposed.
   */
  unconditional: { [K in keyof C]?: C[K] | null };
}

const FN = 'withGuidance';

function isTensorList(v: unknown): v is tf.Tensor[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => t instanceof tf.Tensor);
}

function isTensorValued(v: unknown): boolean {
  return v instanceof tf.Tensor || isTensorList(v);
}

/** Same non-tensor value in both branches (numbers, strings, arrays of them). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
}

/** The two branches' records, and whether they fit in one batch. */
function branches(conditional: Record<string, unknown>, unconditional: Record<string, unknown>, batch: number): { uncond: Record<string, unknown>; batched: boolean } {
  const uncond: Record<string, unknown> = {};
  let batched = true;
  for (const name of Object.keys(unconditional)) {
    if (!(name in conditional)) throw new ValidationError(`${FN} denoiser`, `unconditional.${name}`, `only names of the call's conditions (${Object.keys(conditional).join(', ') || 'none'})`, name);
  }
  for (const [name, c] of Object.entries(conditional)) {
    const has = Object.hasOwn(unconditional, name);
    if (!has && isTensorValued(c)) {
      throw new ValidationError(FN, `options.unconditional.${name}`, 'the unconditional variant of this tensor condition (a tensor of its shape, or null for absent)', undefined);
    }
    const u = has ? unconditional[name] : c;
    uncond[name] = u;
    const pair = [c, u];
    if (pair.every((v) => v instanceof tf.Tensor)) {
      const [ct, ut] = pair as [tf.Tensor, tf.Tensor];
      if (ct.shape.join() !== ut.shape.join() || ct.shape[0] !== batch) {
        throw new ValidationError(`${FN} denoiser`, `conditions.${name}`, `a [${batch}, …] tensor of the unconditional variant's shape [${ut.shape.join(', ')}]`, ct);
      }
    } else if (pair.every(isTensorList)) {
      const [cl, ul] = pair as [tf.Tensor[], tf.Tensor[]];
      if (cl.length !== ul.length || cl.some((t, i) => t.shape.join() !== ul[i]!.shape.join() || t.shape[0] !== batch)) {
        throw new ValidationError(`${FN} denoiser`, `conditions.${name}`, `${ul.length} [${batch}, …] tensors shaped like the unconditional variant's`, cl);
      }
    } else if (pair.some(isTensorValued)) {
      if (pair.some((v) => v !== null && v !== undefined && !isTensorValued(v))) {
        throw new ValidationError(`${FN} denoiser`, `conditions.${name}`, 'a tensor (list) in both branches, or null in one', c);
      }
      batched = false; // present in one branch only
    } else if (!sameValue(c, u)) {
      batched = false;
    }
  }
  return { uncond, batched };
}

/** `[uncond; cond]` along the batch axis for tensors and tensor lists; shared values as they are. */
function concatBranches(uncond: Record<string, unknown>, cond: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(cond)) {
    const u = uncond[name];
    if (c instanceof tf.Tensor) out[name] = tf.concat([u as tf.Tensor, c], 0); // [2B, …] = [uncond, cond]
    else if (isTensorList(c)) out[name] = c.map((t, i) => tf.concat([(u as tf.Tensor[])[i]!, t], 0)); // [2B, …] each
    else out[name] = c;
  }
  return out;
}

/**
 * Wrap a denoiser with classifier-free guidance.
 *
 * @param denoiser - the conditional model.
 * @param options - the scale g and the unconditional variant of every named condition.
 * @returns a denoiser computing ε_u + g·(ε_c − ε_u) (Eq. 6), one batched call when the branches batch (see above).
 * @example
 * ```ts
 * import { withGuidance } from '@consistent-avatar/diffusion';
 * // Guide on gaze only: every other condition is the same in both branches.
 * const guided = withGuidance(denoiser, { guidanceScale: 3, unconditional: { text, gaze: nullGazeTokens } });
 * ```
 */
export function withGuidance<C extends Conditions = DenoiserConditions>(denoiser: Denoiser<C>, options: GuidanceOptions<C>): Denoiser<C> {
  if (typeof denoiser !== 'function') throw new ValidationError(FN, 'denoiser', 'a denoiser function (x, t, conditions) => output', denoiser);
  if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', '{ guidanceScale, unconditional }', options);
  const g = options.guidanceScale;
  if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) throw new ValidationError(FN, 'options.guidanceScale', 'a finite number ≥ 0', g);
  const unconditional = options.unconditional as Record<string, unknown>;
  if (typeof unconditional !== 'object' || unconditional === null || Array.isArray(unconditional)) {
    throw new ValidationError(FN, 'options.unconditional', 'a record with the unconditional variant of every named condition', unconditional);
  }
  return (x, timestep, conditions) => {
    if (typeof conditions !== 'object' || conditions === null) throw new ValidationError(`${FN} denoiser`, 'conditions', 'a record of named conditions', conditions);
    const B = x.shape[0];
    // 1. The unconditional variant of every named condition.
    const { uncond, batched } = branches(conditions, unconditional, B);
    return tf.tidy(() => {
      let uncondOut: tf.Tensor4D;
      let condOut: tf.Tensor4D;
      if (batched) {
        // 2. One call on [uncond, cond] (2B).
        const both = denoiser(tf.concat([x, x], 0) as tf.Tensor4D, timestep, concatBranches(uncond, conditions) as C); // [2B, H, W, C]
        [uncondOut, condOut] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
      } else {
        // 2'. Two calls (a condition present in one branch only).
        uncondOut = denoiser(x, timestep, uncond as C);
        condOut = denoiser(x, timestep, conditions);
      }
      // 3. Eq. 6: ε_u + g·(ε_c − ε_u).
      return tf.add(uncondOut, tf.mul(tf.sub(condOut, uncondOut), g)) as tf.Tensor4D;
    });
  };
}
