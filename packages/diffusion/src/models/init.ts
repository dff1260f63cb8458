/**
 * How the networks of this folder draw their initial weights: seeded PyTorch-default random init, or all zeros
 * (`init: 'zeros'`) — the fast path for models whose weights are loaded right after construction (an SD 1.5 UNet
 * has 859 M parameters; drawing them takes seconds and a checkpoint overwrites them anyway).
 *
 * @example
 * ```ts
 * import { modelRng } from '@consistent-avatar/diffusion';
 * const rng = modelRng({ seed: 7 });          // PyTorch-default init, seeded
 * const zeros = modelRng({ init: 'zeros' });  // every weight drawn as 0 (norm scales stay 1)
 * ```
 */
import { Rng, ValidationError } from '@consistent-avatar/core';

/** Construction-time options shared by every network here. */
export interface ModelInitOptions {
  /** `random` (default): PyTorch's default initialisers from a seeded {@link Rng}. `zeros`: every Linear / Conv weight and bias 0. */
  init?: 'random' | 'zeros';
  /** Seed of the random init (default 0). */
  seed?: number;
  /** An explicit generator (wins over `seed`); layers draw from it in construction order. */
  rng?: Rng;
}

/**
 * An {@link Rng} whose `uniform` / `normal` draws are all zero (used by `init: 'zeros'`).
 * @example
 * ```ts
 * new ZeroRng().uniform(3); // Float32Array [0, 0, 0]
 * ```
 */
export class ZeroRng extends Rng {
  constructor() {
    super(0);
  }
  override uniform(n: number): Float32Array {
    if (!Number.isInteger(n) || n < 0) throw new ValidationError('ZeroRng.uniform', 'n', 'a non-negative integer', n);
    return new Float32Array(n);
  }
  override normal(n: number): Float32Array {
    if (!Number.isInteger(n) || n < 0) throw new ValidationError('ZeroRng.normal', 'n', 'a non-negative integer', n);
    return new Float32Array(n);
  }
}

/**
 * The generator a network's layers draw from, given {@link ModelInitOptions}.
 * @param fn - the caller's name, for errors.
 * @example
 * ```ts
 * const unet = new UNet2DConditionModel(SD15_UNET_CONFIG, { init: 'zeros' }); // modelRng({init:'zeros'}) inside
 * ```
 */
export function modelRng(options: ModelInitOptions = {}, fn = 'modelRng'): Rng {
  const init = options.init ?? 'random';
  if (init !== 'random' && init !== 'zeros') throw new ValidationError(fn, 'options.init', "'random' or 'zeros'", init);
  if (init === 'zeros') return new ZeroRng();
  if (options.rng !== undefined) {
    if (!(options.rng instanceof Rng)) throw new ValidationError(fn, 'options.rng', 'an Rng', options.rng);
    return options.rng;
  }
  return new Rng(options.seed ?? 0);
}
