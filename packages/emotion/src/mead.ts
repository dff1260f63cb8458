/**
 * Build an {@link ExpressionDatabase} from a MEAD-layout tree of per-clip expression files, with the filters that
 * published MEAD databases use (NED's, foivospar/NED `preprocessing/reconstruct_MEAD.py`; docs/sources.md §mead):
 * front view only; intensity level 3 for every emotion except neutral (all its clips — MEAD has neutral at level 1
 * only); contempt excluded (7 classes) unless `classes: 8`.
 *
 * Layout: `{root}/{actor}/{view}/{emotion}/level_{n}/{clip}`, or MEAD's own `{root}/{actor}/video/{view}/…` (a
 * `video/` directory under the actor is descended into). `{clip}` is one expression file per clip — `.npy` `[T, D]`,
 * `.npz` (arrays by name, concatenated per frame in `keys` order, e.g. `['jaw', 'exp']` for NED's 53-d jaw ⊕ exp),
 * `.json` (`[[…], …]` or `{key: [[…], …]}`) — or a directory holding one file per frame (`.npy`, `.json` or
 * whitespace-separated `.txt` as the INSTA tracker writes `flame/exp/XXXXX.txt`), taken in numeric name order.
 *
 * Clip ids are `{actor}/{view}/{emotion}/level_{n}/{clip name without extension}`.
 *
 * @example
 * ```ts
 * import { buildMeadDatabase } from '@consistent-avatar/emotion';
 * const db = buildMeadDatabase('/data/MEAD_deca', { keys: ['jaw', 'exp'] }); // 53-d, 7 classes, front, level 3
 * db.classCounts();
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, describeValue, readJson, readNpy, readNpz, readTextBounded, toFloat32Array, type NpyArray } from '@consistent-avatar/core';
import { ClipRows } from './clip-rows.js';
import type { ExpressionDatabase } from './database.js';
import { MEAD_EMOTIONS, isMeadEmotion, vocabulary } from './vocabulary.js';

/**
 * Options of {@link buildMeadDatabase} (flat, JSON round-trip; defaults are the published filters).
 *
 * @example
 * ```ts
 * const options: MeadBuildOptions = { views: ['front'], level: 3, classes: 7, keys: ['exp'], dimension: 50 };
 * ```
 */
export interface MeadBuildOptions {
  /** Camera views to keep (default `['front']`). */
  views?: string[];
  /** Intensity level kept for every emotion except neutral (default 3). `'all'` keeps every level. */
  level?: number | 'all';
  /** Levels kept for neutral (default `'all'`; MEAD has neutral at level 1 only). */
  neutralLevel?: number | 'all';
  /** 7 (contempt excluded, NED's database; default) or 8 (all MEAD emotions). */
  classes?: 7 | 8;
  /** Actors to keep (default: every directory under `root`). */
  actors?: string[];
  /**
   * Arrays to read from `.npz` / JSON-object files, concatenated per frame in this order (default: `['exp']` when the
   * file has an `exp` array, else its only array).
   */
  keys?: string[];
  /** Expected vector dimension D (default: the first file's; every file must agree). */
  dimension?: number;
}

const EXPRESSION_EXTENSIONS = ['.npy', '.npz', '.json', '.txt'];

/** Directory entries, sorted with numeric awareness (`2` before `10`). */
function listDir(dir: string): fs.Dirent[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** Frames `[T, D]` from a parsed array: rank 1 → one frame; rank ≥ 2 → leading axes flattened into frames. */
function framesOf(array: NpyArray, file: string, name: string): { data: Float32Array; frames: number; dim: number } {
  if (array.dtype === 'bool' || array.shape.length === 0) {
    throw new FormatError('expression', file, `array '${name}' must be numeric with rank ≥ 1, got ${array.dtype} [${array.shape.join(', ')}]`);
  }
  const dim = array.shape[array.shape.length - 1]!;
  const frames = dim === 0 ? 0 : array.data.length / dim;
  return { data: toFloat32Array(array.data), frames, dim };
}

/** Parse a JSON value into arrays by name: `[[…]]` → `{'': …}`, `{key: [[…]]}` → by key. */
function jsonArrays(value: unknown, file: string): Record<string, NpyArray> {
  const toArray = (v: unknown, name: string): NpyArray => {
    const rows = Array.isArray(v) && v.length > 0 && Array.isArray(v[0]) ? (v as unknown[][]) : Array.isArray(v) ? [v] : null;
    if (!rows) throw new FormatError('json', file, `'${name || 'root'}' must be an array of numbers or of number arrays`);
    const dim = rows[0]!.length;
    const data = new Float32Array(rows.length * dim);
    rows.forEach((row, t) => {
      if (!Array.isArray(row) || row.length !== dim) {
        throw new FormatError('json', file, `'${name || 'root'}' row ${t} has ${Array.isArray(row) ? row.length : 'no'} values, expected ${dim}`);
      }
      row.forEach((x, j) => {
        if (typeof x !== 'number' || !Number.isFinite(x)) {
          throw new FormatError('json', file, `'${name || 'root'}'[${t}][${j}] is ${describeValue(x)}, expected a finite number`);
        }
        data[t * dim + j] = x;
      });
    });
    return { dtype: 'float32', shape: [rows.length, dim], fortranOrder: false, data };
  };
  if (Array.isArray(value)) return { '': toArray(value, '') };
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => Array.isArray(v))
        .map(([k, v]) => [k, toArray(v, k)]),
    );
  }
  throw new FormatError('json', file, 'expected an array of frames or an object of named arrays');
}

/** Read every named array of one expression file. */
function readArrays(file: string): Record<string, NpyArray> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return { '': readNpy(file) };
  if (ext === '.npz') return readNpz(file);
  if (ext === '.json') return jsonArrays(readJson(file), file); // bounded size and depth, a regular file
  const text = readTextBounded(file, 'txt');
  // .txt: whitespace-separated numbers, one frame.
  const values = text.trim().split(/\s+/).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new FormatError('txt', file, 'expected whitespace-separated finite numbers');
  }
  return { '': { dtype: 'float32', shape: [values.length], fortranOrder: false, data: Float32Array.from(values) } };
}

/**
 * Read one expression file into frames `[T, D]`, concatenating `keys` per frame (see {@link MeadBuildOptions.keys}).
 *
 * @example
 * ```ts
 * const { data, frames, dim } = readExpressionFile('M003/front/happy/level_3/001.npz', ['jaw', 'exp']); // dim 53
 * ```
 */
export function readExpressionFile(file: string, keys?: readonly string[]): { data: Float32Array; frames: number; dim: number } {
  const arrays = readArrays(file);
  const names = Object.keys(arrays);
  let chosen: string[];
  if (keys && keys.length > 0) {
    for (const k of keys) {
      if (!Object.hasOwn(arrays, k)) {
        throw new FormatError('expression', file, `has no array '${k}' (arrays: ${names.map((n) => n || '<root>').join(', ') || 'none'})`);
      }
    }
    chosen = [...keys];
  } else if (Object.hasOwn(arrays, 'exp')) {
    chosen = ['exp'];
  } else if (names.length === 1) {
    chosen = names;
  } else {
    throw new FormatError('expression', file, `has several arrays (${names.join(', ')}); pass options.keys to choose`);
  }
  const parts = chosen.map((k) => framesOf(arrays[k]!, file, k || '<root>'));
  const frames = parts[0]!.frames;
  for (const [i, p] of parts.entries()) {
    if (p.frames !== frames) {
      throw new FormatError('expression', file, `array '${chosen[i]}' has ${p.frames} frames, '${chosen[0]}' has ${frames}`);
    }
  }
  const dim = parts.reduce((s, p) => s + p.dim, 0);
  const data = new Float32Array(frames * dim);
  for (let t = 0; t < frames; t++) {
    let o = t * dim;
    for (const p of parts) {
      data.set(p.data.subarray(t * p.dim, (t + 1) * p.dim), o);
      o += p.dim;
    }
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new FormatError('expression', file, `value ${i} is not finite (${data[i]})`);
  }
  return { data, frames, dim };
}

/**
 * Build a database from a MEAD-layout tree (see the module description for layout and filters).
 *
 * @param root - the directory holding one folder per actor.
 *
 * @example
 * ```ts
 * const db7 = buildMeadDatabase('/data/MEAD_flame');                       // published filters, 7 classes
 * const db8 = buildMeadDatabase('/data/MEAD_flame', { classes: 8, level: 'all' });
 * ```
 */
export function buildMeadDatabase(root: string, options: MeadBuildOptions = {}): ExpressionDatabase {
  const fn = 'buildMeadDatabase';
  if (typeof root !== 'string' || !fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new ValidationError(fn, 'root', 'an existing directory', root);
  }
  if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an object', options);
  const views = options.views ?? ['front'];
  const level = options.level ?? 3;
  const neutralLevel = options.neutralLevel ?? 'all';
  const classes = options.classes ?? 7;
  if (!Array.isArray(views) || views.some((v) => typeof v !== 'string')) {
    throw new ValidationError(fn, 'options.views', 'an array of view names', views);
  }
  for (const [name, v] of [['level', level], ['neutralLevel', neutralLevel]] as const) {
    if (v !== 'all' && (!Number.isInteger(v) || (v as number) < 1)) {
      throw new ValidationError(fn, `options.${name}`, "a level ≥ 1 or 'all'", v);
    }
  }
  if (classes !== 7 && classes !== 8) throw new ValidationError(fn, 'options.classes', '7 or 8', classes);
  if (options.dimension !== undefined && (!Number.isInteger(options.dimension) || options.dimension < 1)) {
    throw new ValidationError(fn, 'options.dimension', 'a positive integer', options.dimension);
  }
  const vocab = vocabulary(classes === 7 ? 'mead7' : 'mead8');

  const rows = new ClipRows();
  let dimension = options.dimension;
  let dimensionSource = 'options.dimension';

  const actorDirs = listDir(root).filter((e) => e.isDirectory() && (!options.actors || options.actors.includes(e.name)));
  for (const actorEntry of actorDirs) {
    const actor = actorEntry.name;
    let actorDir = path.join(root, actor);
    if (fs.existsSync(path.join(actorDir, 'video')) && fs.statSync(path.join(actorDir, 'video')).isDirectory()) {
      actorDir = path.join(actorDir, 'video');
    }
    for (const view of views) {
      const viewDir = path.join(actorDir, view);
      if (!fs.existsSync(viewDir)) continue;
      for (const emotionEntry of listDir(viewDir)) {
        const emotion = emotionEntry.name;
        if (!emotionEntry.isDirectory() || !isMeadEmotion(emotion) || !vocab.has(emotion)) continue;
        const wanted = emotion === 'neutral' ? neutralLevel : level;
        for (const levelEntry of listDir(path.join(viewDir, emotion))) {
          const m = /^level_(\d+)$/.exec(levelEntry.name);
          if (!levelEntry.isDirectory() || !m) continue;
          const intensity = Number(m[1]);
          if (wanted !== 'all' && intensity !== wanted) continue;
          const levelDir = path.join(viewDir, emotion, levelEntry.name);
          for (const clipEntry of listDir(levelDir)) {
            const clipPath = path.join(levelDir, clipEntry.name);
            const ext = path.extname(clipEntry.name).toLowerCase();
            let clip: { data: Float32Array; frames: number; dim: number; file: string };
            if (clipEntry.isDirectory()) {
              // One file per frame.
              const frameFiles = listDir(clipPath).filter((e) => e.isFile() && EXPRESSION_EXTENSIONS.includes(path.extname(e.name).toLowerCase()));
              if (frameFiles.length === 0) continue;
              const parts = frameFiles.map((f) => ({ ...readExpressionFile(path.join(clipPath, f.name), options.keys), file: path.join(clipPath, f.name) }));
              for (const p of parts) {
                if (p.dim !== parts[0]!.dim) {
                  throw new FormatError('expression', p.file, `has D = ${p.dim}, but ${parts[0]!.file} has D = ${parts[0]!.dim}`);
                }
              }
              const total = parts.reduce((s, p) => s + p.frames, 0);
              const data = new Float32Array(total * parts[0]!.dim);
              let o = 0;
              for (const p of parts) {
                data.set(p.data, o);
                o += p.data.length;
              }
              clip = { data, frames: total, dim: parts[0]!.dim, file: clipPath };
            } else if (clipEntry.isFile() && EXPRESSION_EXTENSIONS.includes(ext) && ext !== '.txt') {
              clip = { ...readExpressionFile(clipPath, options.keys), file: clipPath };
            } else {
              continue; // videos, audio and other files
            }
            if (dimension === undefined) {
              dimension = clip.dim;
              dimensionSource = clip.file;
            } else if (clip.dim !== dimension) {
              throw new FormatError('expression', clip.file, `has vectors of D = ${clip.dim}, but ${dimensionSource} has D = ${dimension}`);
            }
            const clipName = clipEntry.isDirectory() ? clipEntry.name : clipEntry.name.slice(0, -ext.length);
            const clipId = `${actor}/${view}/${emotion}/${levelEntry.name}/${clipName}`;
            rows.add({ vectors: clip.data, frames: clip.frames, label: emotion, clipId, actor, intensity });
          }
        }
      }
    }
  }
  if (rows.size === 0 || dimension === undefined) {
    throw new ValidationError(
      fn,
      'root',
      `a MEAD tree {actor}/[video/]{view}/{emotion}/level_{n}/{clip} with expression files for views ${views.join(', ')} ` +
        `and emotions ${MEAD_EMOTIONS.filter((e) => vocab.has(e)).join(', ')}`,
      root,
    );
  }
  return rows.build(dimension, vocab);
}
