/**
 * The token conditioner: named condition encoders that turn raw conditions into cross-attention tokens `[B, N, D]`
 * for IP-Adapter branches or processors of your own — a linear for a vector (pose, expression, gaze: the
 * `Linear(P)`, `Linear(E)` of ConsistentAvatar's f_c, Eq. 4), any image encoder module for a map (the TSD encoder
 * `E(TSD_proxy)`), and a learned null token. Per-condition dropout replaces a condition's tokens by the null token,
 * per sample and seeded (classifier-free-guidance training, Ho & Salimans 2022 §3.2), or for every sample (`drop`:
 * the unconditional branch of guidance, and ablations "w/o gaze").
 *
 * Parameters are registered under the condition names (`<name>.weight` for a linear, `<name>.*` for a map
 * encoder's own names) in declaration order, then `null_token`. Each linear draws its initial weights from
 * `rng.fork(name)` and the null token from `rng.fork('null')`, so adding or reordering a condition never shifts
 * another's initial weights.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@consistent-avatar/core';
 * import { TokenConditioner } from '@consistent-avatar/diffusion';
 * const conditioner = new TokenConditioner({ tokenDim: 16, seed: 0, conditions: [
 *   { name: 'gaze', kind: 'vector', inFeatures: 2 },
 *   { name: 'audio', kind: 'vector', inFeatures: 32, tokens: 4 },
 * ] });
 * const inputs = { gaze: tf.zeros([8, 2]), audio: tf.zeros([8, 32]) };
 * const tokens = conditioner.forward(inputs);                                            // [8, 5, 16]
 * const train = conditioner.encode(inputs, { dropout: { gaze: 0.1, audio: 0.1 }, rng: new Rng(1) }); // { gaze: [8, 1, 16], audio: [8, 4, 16] }
 * const uncond = conditioner.encode(inputs, { drop: ['gaze', 'audio'] });                // null tokens only
 * ```
 */
import { nn, Rng, tf, ValidationError } from '@consistent-avatar/core';
import { modelRng, ZeroRng, type ModelInitOptions } from './init.js';

/**
 * What a map condition needs from its encoder: a module from an image `[B, H, W, C]` to one token `[B, D]` or tokens
 * `[B, N, D]` (D = the conditioner's `tokenDim`). tsd's `TsdEncoder` is one.
 * @example
 * ```ts
 * const encoder: ImageConditionEncoder = new TsdEncoder({ outDim: 256 }); // [B, H, W, 3] → [B, 256]
 * ```
 */
export interface ImageConditionEncoder extends nn.Module {
  /** `[B, H, W, C]` → `[B, D]` (one token) or `[B, N, D]`. */
  forward(map: tf.Tensor4D): tf.Tensor;
}

/**
 * One named condition of a {@link TokenConditioner}.
 * - `vector`: `[B, inFeatures]` → `Linear(inFeatures → tokens·D)` → `[B, tokens, D]` (tokens default 1).
 * - `map`: `[B, H, W, C]` → `encoder` → `[B, N, D]` (a `[B, D]` output is one token).
 * @example
 * ```ts
 * const specs: TokenConditionSpec[] = [{ name: 'gaze', kind: 'vector', inFeatures: 3 }, { name: 'proxy', kind: 'map', encoder: tsdEncoder }];
 * ```
 */
export type TokenConditionSpec =
  | { name: string; kind: 'vector'; inFeatures: number; tokens?: number }
  | { name: string; kind: 'map'; encoder: ImageConditionEncoder };

/**
 * Construction options of {@link TokenConditioner}.
 * @example
 * ```ts
 * const options: TokenConditionerOptions = { tokenDim: 256, seed: 0, conditions: [{ name: 'pose', kind: 'vector', inFeatures: 6 }] };
 * ```
 */
export interface TokenConditionerOptions extends ModelInitOptions {
  /** Size D of every token. */
  tokenDim: number;
  /** The conditions, in token order. Names: non-empty, no dots, unique, not `null_token`. */
  conditions: TokenConditionSpec[];
  /** A learned null token `[1, 1, D]` (N(0, 0.02²)) for dropout and the unconditional branch. Default true. */
  nullToken?: boolean;
}

/**
 * Call-time options of {@link TokenConditioner.encode} / {@link TokenConditioner.forward}.
 * @example
 * ```ts
 * const training: TokenConditionerCallOptions = { dropout: { gaze: 0.1, audio: 0.1 }, rng: new Rng(step) };
 * const ablation: TokenConditionerCallOptions = { drop: ['gaze'] };
 * ```
 */
export interface TokenConditionerCallOptions {
  /** Conditions whose tokens are the null token for every sample (unconditional branch, ablations). */
  drop?: string[];
  /**
   * Per-condition probability that a sample's tokens are replaced by the null token (CFG training). One Bernoulli
   * draw per sample and condition from `rng` (`rng.bernoulli(B, p)` per condition, in declaration order).
   */
  dropout?: Record<string, number>;
  /** The seeded generator of `dropout` (required when a probability is > 0). */
  rng?: Rng;
}

const FN = 'TokenConditioner';
const NAME = /^[^.\s]+$/;

/**
 * Named condition encoders producing cross-attention tokens, with a learned null token and seeded per-condition
 * dropout. Takes ownership of the map encoders given to it (`dispose()` frees them).
 * @example
 * ```ts
 * const fc = new TokenConditioner({ tokenDim: 256, rng: new Rng(0).fork('tsdm-init'), nullToken: false, conditions: [
 *   { name: 'proxy', kind: 'map', encoder: tsdEncoder }, { name: 'pose', kind: 'vector', inFeatures: 6 }, { name: 'expression', kind: 'vector', inFeatures: 100 } ] });
 * fc.forward({ proxy: proxyTsd, pose, expression }); // [B, 3, 256] = [E(TSD_proxy), Linear(P), Linear(E)]
 * ```
 */
export class TokenConditioner extends nn.Module {
  readonly tokenDim: number;
  /** Condition names in token order. */
  readonly conditionNames: string[];
  private readonly specs: TokenConditionSpec[];
  private readonly modules = new Map<string, nn.Linear | ImageConditionEncoder>();
  /** `[1, 1, D]`, or null when built with `nullToken: false`. */
  readonly null_token: tf.Variable | null;

  constructor(options: TokenConditionerOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', '{ tokenDim, conditions }', options);
    const D = options.tokenDim;
    if (!Number.isInteger(D) || D < 1) throw new ValidationError(FN, 'options.tokenDim', 'a positive integer', D);
    const specs = options.conditions;
    if (!Array.isArray(specs) || specs.length === 0) throw new ValidationError(FN, 'options.conditions', 'a non-empty array of condition specs', specs);
    const rng = modelRng(options, FN);
    const child = (name: string) => (rng instanceof ZeroRng ? rng : rng.fork(name));
    this.tokenDim = D;
    this.specs = specs;
    this.conditionNames = [];
    specs.forEach((spec, i) => {
      const arg = `options.conditions[${i}]`;
      if (typeof spec !== 'object' || spec === null) throw new ValidationError(FN, arg, "{ name, kind: 'vector' | 'map', … }", spec);
      const { name } = spec;
      if (typeof name !== 'string' || !NAME.test(name) || name === 'null_token' || this.conditionNames.includes(name)) {
        throw new ValidationError(FN, `${arg}.name`, 'a unique name without dots or spaces (not null_token)', name);
      }
      if (spec.kind === 'vector') {
        if (!Number.isInteger(spec.inFeatures) || spec.inFeatures < 1) throw new ValidationError(FN, `${arg}.inFeatures`, 'a positive integer', spec.inFeatures);
        const tokens = spec.tokens ?? 1;
        if (!Number.isInteger(tokens) || tokens < 1) throw new ValidationError(FN, `${arg}.tokens`, 'a positive integer', spec.tokens);
        this.modules.set(name, this.registerModule(name, new nn.Linear(spec.inFeatures, tokens * D, { rng: child(name) })));
      } else if (spec.kind === 'map') {
        if (!(spec.encoder instanceof nn.Module) || typeof spec.encoder.forward !== 'function') {
          throw new ValidationError(FN, `${arg}.encoder`, 'an nn.Module with forward([B, H, W, C]) → [B, D] | [B, N, D]', spec.encoder);
        }
        this.modules.set(name, this.registerModule(name, spec.encoder));
      } else {
        throw new ValidationError(FN, `${arg}.kind`, "'vector' or 'map'", (spec as { kind?: unknown }).kind);
      }
      this.conditionNames.push(name);
    });
    this.null_token = options.nullToken ?? true ? this.registerParameter('null_token', nn.normalTensor(child('null'), [1, 1, D], 0.02)) : null;
  }

  /**
   * The null token repeated: `[batch, count, D]` (the unconditional variant of a `count`-token condition).
   * @example
   * ```ts
   * const nullGaze = conditioner.nullTokens(8); // [8, 1, 16]
   * ```
   */
  nullTokens(batch: number, count = 1): tf.Tensor3D {
    if (!this.null_token) throw new ValidationError(`${FN}.nullTokens`, 'this', 'a conditioner built with a null token (nullToken: true)', 'nullToken: false');
    if (!Number.isInteger(batch) || batch < 1) throw new ValidationError(`${FN}.nullTokens`, 'batch', 'a positive integer', batch);
    if (!Number.isInteger(count) || count < 1) throw new ValidationError(`${FN}.nullTokens`, 'count', 'a positive integer', count);
    return tf.tidy(() => tf.tile(this.null_token!, [batch, count, 1]) as tf.Tensor3D); // [B, count, D]
  }

  /** Validate the inputs and call options; returns the batch and the dropout masks (drawn in declaration order). */
  private prepare(fn: string, inputs: Record<string, tf.Tensor>, options: TokenConditionerCallOptions): { batch: number; masks: Map<string, Float32Array>; drop: Set<string> } {
    if (typeof inputs !== 'object' || inputs === null) throw new ValidationError(fn, 'inputs', `a record { ${this.conditionNames.join(', ')} } of tensors`, inputs);
    const unknown = Object.keys(inputs).filter((k) => !this.conditionNames.includes(k));
    if (unknown.length) throw new ValidationError(fn, 'inputs', `only the conditions ${this.conditionNames.join(', ')}`, unknown.join(', '));
    let batch = -1;
    for (const spec of this.specs) {
      const x = inputs[spec.name];
      const rank = spec.kind === 'vector' ? 2 : 4;
      const last = spec.kind === 'vector' ? spec.inFeatures : undefined;
      if (!(x instanceof tf.Tensor) || x.rank !== rank || (last !== undefined && x.shape[1] !== last) || (batch >= 0 && x.shape[0] !== batch)) {
        const want = spec.kind === 'vector' ? `[${batch >= 0 ? batch : 'B'}, ${last}]` : `[${batch >= 0 ? batch : 'B'}, H, W, C]`;
        throw new ValidationError(fn, `inputs.${spec.name}`, `a ${want} tensor`, x);
      }
      batch = x.shape[0]!;
    }
    const drop = new Set(options.drop ?? []);
    if (!Array.isArray(options.drop ?? []) || [...drop].some((n) => !this.conditionNames.includes(n))) {
      throw new ValidationError(fn, 'options.drop', `names among ${this.conditionNames.join(', ')}`, options.drop);
    }
    const dropout = options.dropout ?? {};
    if (typeof dropout !== 'object' || dropout === null) throw new ValidationError(fn, 'options.dropout', '{ name: probability }', dropout);
    for (const [name, p] of Object.entries(dropout)) {
      if (!this.conditionNames.includes(name)) throw new ValidationError(fn, 'options.dropout', `names among ${this.conditionNames.join(', ')}`, name);
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ValidationError(fn, `options.dropout.${name}`, 'a probability in [0, 1]', p);
    }
    const random = this.conditionNames.filter((n) => (dropout[n] ?? 0) > 0 && !drop.has(n));
    if ((random.length || drop.size) && !this.null_token) throw new ValidationError(fn, 'options', 'no dropout or drop (this conditioner has no null token)', options);
    if (random.length && !(options.rng instanceof Rng)) throw new ValidationError(fn, 'options.rng', 'a seeded Rng (required by dropout)', options.rng);
    const masks = new Map(random.map((n) => [n, options.rng!.bernoulli(batch, dropout[n]!)] as const));
    return { batch, masks, drop };
  }

  /**
   * Each condition's tokens, after dropout.
   * @param inputs - every declared condition: vectors `[B, inFeatures]`, maps `[B, H, W, C]`.
   * @returns `{ name: [B, n, D] }` in declaration order.
   * @example
   * ```ts
   * const { gaze, audio } = conditioner.encode({ gaze: g, audio: a }, { dropout: { gaze: 0.2 }, rng }); // [B, 1, D], [B, 4, D]
   * ```
   */
  encode(inputs: Record<string, tf.Tensor>, options: TokenConditionerCallOptions = {}): Record<string, tf.Tensor3D> {
    const fn = `${FN}.encode`;
    const { batch, masks, drop } = this.prepare(fn, inputs, options);
    const D = this.tokenDim;
    return tf.tidy(() => {
      const out: Record<string, tf.Tensor3D> = {};
      for (const spec of this.specs) {
        // 1. The condition's encoder: a linear for a vector, the given module for a map.
        const raw = this.modules.get(spec.name)!.forward(inputs[spec.name] as tf.Tensor4D);
        let tokens: tf.Tensor3D;
        if (spec.kind === 'vector') {
          tokens = raw.reshape([batch, spec.tokens ?? 1, D]) as tf.Tensor3D; // [B, tokens·D] → [B, tokens, D]
        } else {
          if (!(raw.rank === 2 || raw.rank === 3) || raw.shape[0] !== batch || raw.shape[raw.rank - 1] !== D) {
            throw new ValidationError(fn, `conditions.${spec.name}.encoder`, `an encoder returning [${batch}, ${D}] or [${batch}, N, ${D}]`, raw);
          }
          tokens = (raw.rank === 2 ? raw.reshape([batch, 1, D]) : raw) as tf.Tensor3D; // [B, D] → [B, 1, D]
        }
        // 2. Dropout: the whole condition, or the sampled samples, become the null token.
        const n = tokens.shape[1];
        const mask = masks.get(spec.name);
        if (drop.has(spec.name)) tokens = this.nullTokens(batch, n);
        else if (mask) {
          const dropped = tf.broadcastTo(tf.tensor3d(mask, [batch, 1, 1], 'bool'), [batch, n, D]); // [B, 1, 1] → [B, n, D]
          tokens = tf.where(dropped, this.nullTokens(batch, n), tokens) as tf.Tensor3D; // per sample
        }
        out[spec.name] = tokens;
      }
      return out;
    });
  }

  /**
   * All conditions' tokens concatenated in declaration order.
   * @returns `[B, Σ n, D]`.
   * @example
   * ```ts
   * const fc = conditioner.forward({ proxy, pose, expression }); // [B, 3, D]
   * ```
   */
  forward(inputs: Record<string, tf.Tensor>, options: TokenConditionerCallOptions = {}): tf.Tensor3D {
    const tokens = this.encode(inputs, options);
    const list = this.conditionNames.map((n) => tokens[n]!);
    if (list.length === 1) return list[0]!;
    const out = tf.concat(list, 1) as tf.Tensor3D; // [B, Σ n, D]
    tf.dispose(list);
    return out;
  }
}
