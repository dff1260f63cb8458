/**
 * Seeded randomness. Every random draw in the library (weight init, diffusion noise, dropout masks, data order)
 * comes from an {@link Rng} created from an explicit seed, so the same seed on the same backend reproduces the same
 * numbers bit for bit. The generator is xoshiro128** (Blackman & Vigna) seeded through splitmix32; normals use the
 * Box–Muller transform. Draws are computed in JavaScript, so they are identical on every backend.
 *
 * @example
 * ```ts
 * import { Rng } from '@consistent-avatar/core';
 * const rng = new Rng(42);
 * const a = rng.normal(4);            // Float32Array(4)
 * const b = new Rng(42).normal(4);    // the same four numbers
 * const child = rng.fork('dropout');  // an independent stream derived from the parent's seed and a name
 * ```
 */
import { checkConfigField, configField } from './config.js';
import { ValidationError } from './errors.js';
import { checkFinite } from './finite.js';

/** Sample counts: integers ≥ 0. */
const COUNT = configField.nonNegativeInt();

/** splitmix32: expands a 32-bit seed into well-mixed words. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [state, z >>> 0];
}

/** FNV-1a hash of a string to 32 bits (used by {@link Rng.fork}). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Serializable generator state (for checkpoints: resuming continues the same stream). */
export interface RngState {
  seed: number;
  words: [number, number, number, number];
  spareNormal: number | null;
}

/** A seeded pseudo-random generator (xoshiro128**). */
export class Rng {
  readonly seed: number;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** @param seed - any integer in [0, 2^32); non-integers are rejected. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ValidationError('Rng', 'seed', 'an integer in [0, 2^32)', seed);
    }
    this.seed = seed;
    let st = seed | 0;
    const w: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(st);
      st = next;
      w.push(out | 0);
    }
    [this.s0, this.s1, this.s2, this.s3] = w as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal draw (Box–Muller; caches the second value). */
  nextNormal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `n` uniform draws in [low, high) as a Float32Array. */
  uniform(n: number, low = 0, high = 1): Float32Array {
    checkConfigField('Rng.uniform', 'n', COUNT, n);
    checkFinite('Rng.uniform', 'low', low); // the non-finite policy: a NaN bound made every draw NaN
    checkFinite('Rng.uniform', 'high', high);
    const out = new Float32Array(n);
    const span = high - low;
    for (let i = 0; i < n; i++) out[i] = low + span * this.next();
    return out;
  }

  /** `n` normal draws with the given mean and standard deviation as a Float32Array. */
  normal(n: number, mean = 0, std = 1): Float32Array {
    checkConfigField('Rng.normal', 'n', COUNT, n);
    checkFinite('Rng.normal', 'mean', mean);
    checkFinite('Rng.normal', 'std', std);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.nextNormal();
    return out;
  }

  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive <= 0) {
      throw new ValidationError('Rng.int', 'maxExclusive', 'a positive integer', maxExclusive);
    }
    return Math.floor(this.next() * maxExclusive);
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    checkConfigField('Rng.permutation', 'n', COUNT, n);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  /** Bernoulli mask of length `n` with P(1) = `p`, as 0/1 floats. */
  bernoulli(n: number, p: number): Float32Array {
    checkConfigField('Rng.bernoulli', 'n', COUNT, n);
    if (!(p >= 0 && p <= 1)) throw new ValidationError('Rng.bernoulli', 'p', 'a probability in [0, 1]', p);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() < p ? 1 : 0;
    return out;
  }

  /**
   * An independent child stream named `key`, derived from this generator's seed (not its position), so adding
   * draws elsewhere never shifts the child's numbers.
   */
  fork(key: string | number): Rng {
    if (typeof key === 'number' && !Number.isInteger(key)) throw new ValidationError('Rng.fork', 'key', 'a string or an integer', key); // NaN forked stream 0
    const k = typeof key === 'number' ? key >>> 0 : hashString(key);
    return new Rng((Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(k, 0x165667b1)) >>> 0);
  }

  /** Snapshot the state (JSON-serialisable). */
  getState(): RngState {
    return { seed: this.seed, words: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spare };
  }

  /**
   * Restore a state from {@link getState}. Every field is checked first ({@link ValidationError} naming it): `seed` an
   * integer in [0, 2^32), `words` four 32-bit integers not all zero (xoshiro's all-zero state never leaves zero),
   * `spareNormal` null or a finite number.
   *
   * @example
   * ```ts
   * const again = Rng.fromState(rng.getState()); // continues the same stream
   * ```
   */
  static fromState(state: RngState): Rng {
    const fn = 'Rng.fromState';
    if (state === null || typeof state !== 'object') throw new ValidationError(fn, 'state', '{ seed, words, spareNormal } from getState()', state);
    if (!Number.isInteger(state.seed) || state.seed < 0 || state.seed > 0xffffffff) throw new ValidationError(fn, 'state.seed', 'an integer in [0, 2^32)', state.seed);
    const words = state.words as unknown;
    if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= -0x80000000 && w <= 0xffffffff)) {
      throw new ValidationError(fn, 'state.words', 'four 32-bit integers', words);
    }
    if (words.every((w) => (w | 0) === 0)) throw new ValidationError(fn, 'state.words', 'words not all zero (the all-zero xoshiro state is stuck at zero)', '[0, 0, 0, 0]');
    if (state.spareNormal !== null && !(typeof state.spareNormal === 'number' && Number.isFinite(state.spareNormal))) {
      throw new ValidationError(fn, 'state.spareNormal', 'null or a finite number', state.spareNormal);
    }
    const r = new Rng(state.seed);
    [r.s0, r.s1, r.s2, r.s3] = (words as number[]).map((w) => w | 0) as [number, number, number, number];
    r.spare = state.spareNormal;
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

