/**
 * `ExpressionDatabase`: labelled expression vectors for the emotion retriever of Eq. 7.
 *
 * Rows are frames. Each row has an expression vector (any dimension: 50-d DECA `exp`, 53-d DECA jaw ⊕ exp as NED
 * stores it, 100-d tracker/INSTA FLAME `exp`), an emotion label (a class index into the database's vocabulary), the
 * clip it came from (clip id, actor, intensity level) and its frame index inside the clip. Vectors are one contiguous
 * row-major `Float32Array` `[N, D]`, so a database of a million frames is one allocation and the retriever reads it
 * without copies.
 *
 * The database holds no tensors (nothing to dispose); it is a class because it is serialised
 * (`save` / {@link loadExpressionDatabase}, in `database-file.ts`).
 *
 * @example
 * ```ts
 * import { ExpressionDatabase } from '@consistent-avatar/emotion';
 * const db = ExpressionDatabase.fromArrays({
 *   dimension: 3,
 *   vectors: Float32Array.from([1, 0, 0, 0, 1, 0]),
 *   labels: ['happy', 'sad'],
 * });
 * db.size;          // 2
 * db.classCounts(); // { angry: 0, disgusted: 0, contempt: 0, fear: 0, happy: 1, neutral: 0, sad: 1, surprised: 0 }
 * ```
 *
 * @packageDocumentation
 */
import { firstNonFinite, ValidationError } from '@consistent-avatar/core';
import { vocabulary as makeVocabulary, type EmotionVocabulary } from './vocabulary.js';

/**
 * One source clip of a database: every row points at one clip.
 *
 * @example
 * ```ts
 * const clip: ExpressionClip = { clipId: 'M003/front/happy/level_3/001', actor: 'M003', label: 'happy', intensity: 3 };
 * ```
 */
export interface ExpressionClip {
  /** Unique id of the clip inside the database (MEAD builds use `{actor}/{view}/{emotion}/level_{n}/{clip}`). */
  clipId: string;
  /** Actor / identity (`'M003'`). */
  actor: string;
  /** Emotion label of the whole clip (MEAD labels clips, not frames). */
  label: string;
  /** Intensity level (MEAD: 1..3; neutral is 1); 0 when unknown. */
  intensity: number;
}

/**
 * One row of a database, as returned by {@link ExpressionDatabase.row}.
 *
 * @example
 * ```ts
 * const r: ExpressionRow = db.row(0); // { vector: Float32Array(D), label: 'happy', labelIndex: 4, … }
 * ```
 */
export interface ExpressionRow {
  /** The expression vector `[D]` (a view into the database, not a copy). */
  vector: Float32Array;
  label: string;
  labelIndex: number;
  clipId: string;
  actor: string;
  intensity: number;
  frameIndex: number;
}

/**
 * Input of {@link ExpressionDatabase.fromArrays}: vectors plus per-row metadata. Only `vectors`, `dimension` and
 * `labels` are required.
 *
 * @example
 * ```ts
 * const input: ExpressionArrays = { dimension: 2, vectors: new Float32Array(4), labels: ['sad', 'sad'] };
 * ```
 */
export interface ExpressionArrays {
  /** Row-major `[N, D]` vectors (`Float32Array`, `Float64Array` or a number array; copied to float32). */
  vectors: ArrayLike<number>;
  /** D, the vector dimension. */
  dimension: number;
  /** Per-row labels: strings, or class indices into `vocabulary`. */
  labels: ArrayLike<number> | readonly string[];
  /** Label set; default: MEAD-8 when every label is a MEAD label, else the distinct labels in first-seen order. */
  vocabulary?: EmotionVocabulary;
  /** Per-row clip ids; default: one clip per label named `'{label}'`. */
  clipIds?: readonly string[];
  /** Per-row actors (must be constant within a clip); default `'unknown'`. */
  actors?: readonly string[];
  /** Per-row intensity levels (constant within a clip); default 0 (unknown). */
  intensities?: ArrayLike<number>;
  /** Per-row frame indices; default: the running count of rows of the same clip (0, 1, 2, …). */
  frameIndices?: ArrayLike<number>;
}

/**
 * Labelled expression vectors `[N, D]` with clip / actor / intensity / frame metadata.
 *
 * @example
 * ```ts
 * const db = ExpressionDatabase.fromArrays({ dimension: 2, vectors: [1, 0, 0, 1], labels: ['happy', 'sad'] });
 * db.row(1).label; // 'sad'
 * ```
 */
export class ExpressionDatabase {
  /** D: length of each expression vector. */
  readonly dimension: number;
  /** The label set; `labelIndices` index into `vocabulary.labels`. */
  readonly vocabulary: EmotionVocabulary;
  /** Row-major vectors `[N, D]`. */
  readonly vectors: Float32Array;
  /** Class index of each row `[N]`. */
  readonly labelIndices: Int32Array;
  /** Index into {@link clips} of each row `[N]`. */
  readonly clipIndices: Int32Array;
  /** Frame index of each row inside its clip `[N]`. */
  readonly frameIndices: Int32Array;
  /** The distinct source clips. */
  readonly clips: readonly ExpressionClip[];

  /**
   * Low-level constructor: takes ownership of the arrays and checks their consistency. Most callers use
   * {@link ExpressionDatabase.fromArrays}, `buildMeadDatabase` or `loadExpressionDatabase`.
   *
   * @example
   * ```ts
   * const db = new ExpressionDatabase({
   *   dimension: 2, vocabulary: vocabulary('mead8'), vectors: Float32Array.from([1, 2]),
   *   labelIndices: Int32Array.from([4]), clipIndices: Int32Array.from([0]), frameIndices: Int32Array.from([0]),
   *   clips: [{ clipId: 'c', actor: 'a', label: 'happy', intensity: 3 }],
   * });
   * ```
   */
  constructor(parts: {
    dimension: number;
    vocabulary: EmotionVocabulary;
    vectors: Float32Array;
    labelIndices: Int32Array;
    clipIndices: Int32Array;
    frameIndices: Int32Array;
    clips: readonly ExpressionClip[];
  }) {
    const fn = 'ExpressionDatabase';
    const { dimension, vocabulary, vectors, labelIndices, clipIndices, frameIndices, clips } = parts;
    if (!Number.isInteger(dimension) || dimension < 1) {
      throw new ValidationError(fn, 'dimension', 'a positive integer', dimension);
    }
    if (!(vectors instanceof Float32Array) || vectors.length % dimension !== 0) {
      throw new ValidationError(fn, 'vectors', `a Float32Array whose length is a multiple of D = ${dimension}`, vectors);
    }
    const n = vectors.length / dimension;
    for (const [name, arr] of [
      ['labelIndices', labelIndices],
      ['clipIndices', clipIndices],
      ['frameIndices', frameIndices],
    ] as const) {
      if (!(arr instanceof Int32Array) || arr.length !== n) {
        throw new ValidationError(fn, name, `an Int32Array of length N = ${n}`, arr);
      }
    }
    const badVector = firstNonFinite(vectors);
    if (badVector >= 0) {
      throw new ValidationError(fn, `vectors[${Math.floor(badVector / dimension)}]`, 'finite values (no NaN or ±Infinity)', vectors[badVector]);
    }
    const numClasses = vocabulary.labels.length;
    for (let i = 0; i < n; i++) {
      const l = labelIndices[i]!;
      const c = clipIndices[i]!;
      if (frameIndices[i]! < 0) throw new ValidationError(fn, `frameIndices[${i}]`, 'a frame index ≥ 0', frameIndices[i]);
      if (l < 0 || l >= numClasses) {
        throw new ValidationError(fn, `labelIndices[${i}]`, `a class index in [0, ${numClasses})`, l);
      }
      if (c < 0 || c >= clips.length) throw new ValidationError(fn, `clipIndices[${i}]`, `in [0, ${clips.length})`, c);
      if (clips[c]!.label !== vocabulary.labels[l]) {
        throw new ValidationError(fn, `labelIndices[${i}]`, `the label of its clip '${clips[c]!.label}'`, vocabulary.labels[l]);
      }
    }
    this.dimension = dimension;
    this.vocabulary = vocabulary;
    this.vectors = vectors;
    this.labelIndices = labelIndices;
    this.clipIndices = clipIndices;
    this.frameIndices = frameIndices;
    this.clips = clips;
  }

  /**
   * Build a database from labelled arrays (any dataset, not only MEAD). Vectors are copied into one `Float32Array`.
   *
   * @example
   * ```ts
   * const db = ExpressionDatabase.fromArrays({
   *   dimension: 2, vectors: [1, 0, 0, 1, 0.5, 0.5], labels: ['happy', 'sad', 'sad'],
   *   clipIds: ['a', 'b', 'b'], actors: ['M003', 'W009', 'W009'], intensities: [3, 3, 3],
   * });
   * db.row(2).frameIndex; // 1 (second frame of clip 'b')
   * ```
   */
  static fromArrays(input: ExpressionArrays): ExpressionDatabase {
    const fn = 'ExpressionDatabase.fromArrays';
    if (input === null || typeof input !== 'object') throw new ValidationError(fn, 'input', 'an object', input);
    const { dimension, vectors, labels } = input;
    if (!Number.isInteger(dimension) || dimension < 1) {
      throw new ValidationError(fn, 'dimension', 'a positive integer', dimension);
    }
    if (vectors === null || typeof vectors !== 'object' || typeof vectors.length !== 'number') {
      throw new ValidationError(fn, 'vectors', 'an array of numbers [N * D]', vectors);
    }
    if (vectors.length % dimension !== 0) {
      throw new ValidationError(fn, 'vectors', `a length that is a multiple of D = ${dimension}`, vectors);
    }
    const n = vectors.length / dimension;
    if (labels === null || typeof labels !== 'object' || labels.length !== n) {
      throw new ValidationError(fn, 'labels', `${n} labels (one per row)`, labels);
    }
    const checkLength = (name: string, arr: ArrayLike<unknown> | undefined): void => {
      if (arr !== undefined && (arr === null || typeof arr !== 'object' || arr.length !== n)) {
        throw new ValidationError(fn, name, `${n} entries (one per row)`, arr);
      }
    };
    checkLength('clipIds', input.clipIds);
    checkLength('actors', input.actors);
    checkLength('intensities', input.intensities);
    checkLength('frameIndices', input.frameIndices);

    // 1. Labels → class indices.
    const labelStrings: string[] = new Array(n);
    let vocab = input.vocabulary;
    if (n > 0 && typeof labels[0] === 'number') {
      if (!vocab) throw new ValidationError(fn, 'vocabulary', 'a vocabulary when labels are class indices', vocab);
      for (let i = 0; i < n; i++) {
        const l = labels[i] as number;
        if (!Number.isInteger(l) || l < 0 || l >= vocab.labels.length) {
          throw new ValidationError(fn, `labels[${i}]`, `a class index in [0, ${vocab.labels.length})`, l);
        }
        labelStrings[i] = vocab.labels[l]!;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const l = labels[i];
        if (typeof l !== 'string' || l.length === 0) throw new ValidationError(fn, `labels[${i}]`, 'a label string', l);
        labelStrings[i] = l;
      }
      if (!vocab) vocab = defaultVocabulary(labelStrings);
      for (let i = 0; i < n; i++) {
        if (!vocab.has(labelStrings[i]!)) {
          throw new ValidationError(fn, `labels[${i}]`, `a label of vocabulary ${vocab.name}`, labelStrings[i]);
        }
      }
    }

    // 2. Vectors → one float32 copy; reject non-finite values (they would poison cosine similarities).
    const data = Float32Array.from(vectors);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new ValidationError(fn, `vectors[${i}]`, 'finite numbers', vectors[i]);
      }
    }

    // 3. Clip table: one entry per distinct clip id; actor / label / intensity must be constant within a clip.
    const clips: ExpressionClip[] = [];
    const clipIndexById = new Map<string, number>();
    const clipIndices = new Int32Array(n);
    const labelIndices = new Int32Array(n);
    const frameIndices = new Int32Array(n);
    const framesSeen: number[] = [];
    for (let i = 0; i < n; i++) {
      const label = labelStrings[i]!;
      const clipId = input.clipIds ? input.clipIds[i]! : label;
      const actor = input.actors ? input.actors[i]! : 'unknown';
      const intensity = input.intensities ? input.intensities[i]! : 0;
      if (typeof clipId !== 'string' || clipId.length === 0) {
        throw new ValidationError(fn, `clipIds[${i}]`, 'a non-empty string', clipId);
      }
      if (typeof actor !== 'string') throw new ValidationError(fn, `actors[${i}]`, 'a string', actor);
      if (!Number.isInteger(intensity) || intensity < 0) {
        throw new ValidationError(fn, `intensities[${i}]`, 'an integer ≥ 0', intensity);
      }
      let c = clipIndexById.get(clipId);
      if (c === undefined) {
        c = clips.length;
        clipIndexById.set(clipId, c);
        clips.push({ clipId, actor, label, intensity });
        framesSeen.push(0);
      } else {
        const clip = clips[c]!;
        if (clip.label !== label || clip.actor !== actor || clip.intensity !== intensity) {
          throw new ValidationError(
            fn,
            `row ${i}`,
            `the label/actor/intensity of clip '${clipId}' (${clip.label}/${clip.actor}/${clip.intensity})`,
            `${label}/${actor}/${intensity}`,
          );
        }
      }
      clipIndices[i] = c;
      labelIndices[i] = vocab.indexOf(label);
      if (input.frameIndices) {
        const f = input.frameIndices[i]!;
        if (!Number.isInteger(f) || f < 0) throw new ValidationError(fn, `frameIndices[${i}]`, 'an integer ≥ 0', f);
        frameIndices[i] = f;
      } else {
        frameIndices[i] = framesSeen[c]!++;
      }
    }
    return new ExpressionDatabase({ dimension, vocabulary: vocab, vectors: data, labelIndices, clipIndices, frameIndices, clips });
  }

  /**
   * N: number of rows (frames).
   *
   * @example
   * ```ts
   * db.size; // e.g. 12000
   * ```
   */
  get size(): number {
    return this.labelIndices.length;
  }

  /**
   * Row `i` with its metadata; the vector is a view into {@link vectors}.
   *
   * @example
   * ```ts
   * const { label, actor, vector } = db.row(0);
   * ```
   */
  row(i: number): ExpressionRow {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new ValidationError('ExpressionDatabase.row', 'i', `a row index in [0, ${this.size})`, i);
    }
    const clip = this.clips[this.clipIndices[i]!]!;
    const d = this.dimension;
    return {
      vector: this.vectors.subarray(i * d, (i + 1) * d),
      label: clip.label,
      labelIndex: this.labelIndices[i]!,
      clipId: clip.clipId,
      actor: clip.actor,
      intensity: clip.intensity,
      frameIndex: this.frameIndices[i]!,
    };
  }

  /**
   * Label string of every row (convenience for evaluation).
   *
   * @example
   * ```ts
   * db.labels().slice(0, 3); // ['angry', 'angry', 'angry']
   * ```
   */
  labels(): string[] {
    return Array.from(this.labelIndices, (l) => this.vocabulary.labels[l]!);
  }

  /**
   * Actor of every row.
   *
   * @example
   * ```ts
   * new Set(db.actors()).size; // number of identities
   * ```
   */
  actors(): string[] {
    return Array.from(this.clipIndices, (c) => this.clips[c]!.actor);
  }

  /**
   * Number of rows per label, for every label of the vocabulary (zeros included), in vocabulary order.
   *
   * @example
   * ```ts
   * db.classCounts(); // { angry: 310, disgusted: 295, … }
   * ```
   */
  classCounts(): Record<string, number> {
    const counts = new Array<number>(this.vocabulary.labels.length).fill(0);
    for (let i = 0; i < this.size; i++) counts[this.labelIndices[i]!]!++;
    return Object.fromEntries(this.vocabulary.labels.map((l, k) => [l, counts[k]!]));
  }

  /**
   * A new database with the rows at `rowIndices` (in that order); the clip table keeps only the clips used.
   *
   * @example
   * ```ts
   * const heldOut = db.subset(db.actors().flatMap((a, i) => (a === 'W009' ? [i] : [])));
   * ```
   */
  subset(rowIndices: ArrayLike<number>): ExpressionDatabase {
    const fn = 'ExpressionDatabase.subset';
    const m = rowIndices.length;
    const d = this.dimension;
    const vectors = new Float32Array(m * d);
    const labelIndices = new Int32Array(m);
    const clipIndices = new Int32Array(m);
    const frameIndices = new Int32Array(m);
    const remap = new Map<number, number>();
    const clips: ExpressionClip[] = [];
    for (let j = 0; j < m; j++) {
      const i = rowIndices[j]!;
      if (!Number.isInteger(i) || i < 0 || i >= this.size) {
        throw new ValidationError(fn, `rowIndices[${j}]`, `a row index in [0, ${this.size})`, i);
      }
      vectors.set(this.vectors.subarray(i * d, (i + 1) * d), j * d);
      labelIndices[j] = this.labelIndices[i]!;
      frameIndices[j] = this.frameIndices[i]!;
      const c = this.clipIndices[i]!;
      let nc = remap.get(c);
      if (nc === undefined) {
        nc = clips.length;
        remap.set(c, nc);
        clips.push({ ...this.clips[c]! });
      }
      clipIndices[j] = nc;
    }
    return new ExpressionDatabase({ dimension: d, vocabulary: this.vocabulary, vectors, labelIndices, clipIndices, frameIndices, clips });
  }

  /**
   * Rows for which `predicate(row index, clip)` is true.
   *
   * @example
   * ```ts
   * const train = db.filter((_, clip) => clip.actor !== 'W009');
   * ```
   */
  filter(predicate: (rowIndex: number, clip: ExpressionClip) => boolean): ExpressionDatabase {
    const keep: number[] = [];
    for (let i = 0; i < this.size; i++) if (predicate(i, this.clips[this.clipIndices[i]!]!)) keep.push(i);
    return this.subset(keep);
  }

  /**
   * Concatenate databases with the same dimension. The vocabulary is this database's when it contains every label of
   * the others; otherwise the union (this database's labels first, then new labels in order of appearance). Clip ids
   * must not collide with a different actor / label / intensity.
   *
   * @example
   * ```ts
   * const all = dbM003.merge(dbW009, dbM012);
   * ```
   */
  merge(...others: ExpressionDatabase[]): ExpressionDatabase {
    const fn = 'ExpressionDatabase.merge';
    const parts = [this as ExpressionDatabase, ...others];
    parts.forEach((p, k) => {
      if (!(p instanceof ExpressionDatabase)) throw new ValidationError(fn, `others[${k - 1}]`, 'an ExpressionDatabase', p);
      if (p.dimension !== this.dimension) {
        throw new ValidationError(fn, `others[${k - 1}].dimension`, `D = ${this.dimension} (this database's)`, p.dimension);
      }
    });
    const labels = [...this.vocabulary.labels];
    for (const p of others) for (const l of p.vocabulary.labels) if (!labels.includes(l)) labels.push(l);
    const vocab = labels.length === this.vocabulary.labels.length ? this.vocabulary : makeVocabulary(labels, `${this.vocabulary.name}+`);
    const n = parts.reduce((s, p) => s + p.size, 0);
    const d = this.dimension;
    const vectors = new Float32Array(n * d);
    const labelIndices = new Int32Array(n);
    const clipIndices = new Int32Array(n);
    const frameIndices = new Int32Array(n);
    const clips: ExpressionClip[] = [];
    const clipIndexById = new Map<string, number>();
    let offset = 0;
    for (const p of parts) {
      const clipMap = p.clips.map((clip) => {
        const existing = clipIndexById.get(clip.clipId);
        if (existing === undefined) {
          clipIndexById.set(clip.clipId, clips.length);
          clips.push({ ...clip });
          return clips.length - 1;
        }
        const e = clips[existing]!;
        if (e.actor !== clip.actor || e.label !== clip.label || e.intensity !== clip.intensity) {
          throw new ValidationError(fn, 'others', `clip id '${clip.clipId}' to describe the same clip in every database`, clip);
        }
        return existing;
      });
      const labelMap = p.vocabulary.labels.map((l) => vocab.indexOf(l));
      vectors.set(p.vectors, offset * d);
      for (let i = 0; i < p.size; i++) {
        labelIndices[offset + i] = labelMap[p.labelIndices[i]!]!;
        clipIndices[offset + i] = clipMap[p.clipIndices[i]!]!;
        frameIndices[offset + i] = p.frameIndices[i]!;
      }
      offset += p.size;
    }
    return new ExpressionDatabase({ dimension: d, vocabulary: vocab, vectors, labelIndices, clipIndices, frameIndices, clips });
  }
}

/** MEAD-8 when every label is a MEAD label, otherwise the distinct labels in first-seen order. */
function defaultVocabulary(labels: readonly string[]): EmotionVocabulary {
  const mead = makeVocabulary('mead8');
  if (labels.every((l) => mead.has(l))) return mead;
  return makeVocabulary([...new Set(labels)], 'custom');
}
