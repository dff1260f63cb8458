/**
 * Training checkpoints as folders:
 *
 * ```
 * step-000300/
 *   config.json             the model / run config (any JSON)
 *   model.safetensors       parameters by dotted name (Module.stateDict())
 *   optimizer.safetensors   optional: optimiser tensors (Adam.stateTensors())
 *   state.json              optional: step, RNG state, optimiser JSON, anything JSON
 *   checksums.json          SHA-256 of every file above, written last
 * ```
 *
 * Writes are atomic at the folder level: everything is written into `<dir>.tmp-<pid>-<n>` and then renamed into
 * place; an existing checkpoint of the same name is moved aside first and removed only after the new one is in
 * place (and restored if that rename fails). A crash or kill at any point leaves the previous checkpoint complete
 * and loadable; leftovers are folders whose names are not `step-NNNNNN` and are ignored (and removed by
 * {@link CheckpointManager} once their process is gone).
 *
 * Checkpoints verify themselves: {@link loadCheckpoint} recomputes the SHA-256 of every file listed in
 * `checksums.json` and refuses (FormatError naming the file) a checkpoint whose files changed, are missing, or that has
 * no `checksums.json` (one written before checksums existed loads with `{ verify: false }`). A
 * {@link CheckpointManager} holds its run folder's lock (see `acquireRunLock`): a second process writing to the same
 * folder fails at once with a {@link RunLockedError} naming the holder. System errors (a full disk) are
 * {@link IoError}s.
 *
 * Everything works on plain records `name → tf.Tensor`, so an `nn.Module` (`stateDict()` / `loadStateDict()`) and
 * an optimiser (`stateTensors()` / `loadState()`) plug in directly.
 *
 * @example
 * ```ts
 * import { CheckpointManager, nn, Adam, Rng } from '@consistent-avatar/core';
 * const model = new nn.Linear(4, 2, { rng: new Rng(0) });
 * const optimizer = new Adam(model, { lr: 1e-3 });
 * const checkpoints = new CheckpointManager('runs/tsdm', { keepLast: 3 });
 * // resume if a checkpoint exists
 * const last = checkpoints.loadLatest();
 * if (last) { model.loadStateDict(last.tensors); optimizer.loadState(last.optimizerTensors!, last.state!.optimizer as { step: number }); }
 * // … train …
 * checkpoints.save(300, { config: { lr: 1e-3 }, tensors: model.stateDict(), optimizerTensors: optimizer.stateTensors(),
 *   state: { step: 300, optimizer: optimizer.stateJson() } });
 * ```
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../backend/tf.js';
import { FormatError, IoError, ValidationError, asIoError } from '../errors.js';
import { processIsAlive, removeStaleTemporaries, temporarySibling } from './atomic.js';
import { readJson, writeJsonAtomic } from './json.js';
import { openRegularFile, readSync } from './limits.js';
import { acquireRunLock, type RunLock } from './run-lock.js';
import { loadSafetensorsAsTensors, writeSafetensors, type SafetensorsWritable } from './safetensors.js';

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  config: 'config.json',
  model: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
  state: 'state.json',
  checksums: 'checksums.json',
} as const;

/** SHA-256 (hex) of a regular file, read in 1 MiB blocks. */
function sha256File(file: string, format: string): string {
  const handle = openRegularFile(file, format);
  try {
    const hash = createHash('sha256');
    const block = Buffer.allocUnsafe(1 << 20);
    for (let position = 0; position < handle.size; ) {
      const n = readSync(handle.fd, block, 0, Math.min(block.length, handle.size - position), position, format, file);
      if (n === 0) break;
      hash.update(block.subarray(0, n));
      position += n;
    }
    return hash.digest('hex');
  } finally {
    handle.close();
  }
}

/** Check every file listed in `checksums.json` of `dir` (see the module docs). */
function verifyChecksums(dir: string, label: string): void {
  const manifestPath = path.join(dir, CHECKPOINT_FILES.checksums);
  if (!fs.existsSync(manifestPath)) {
    throw new FormatError('checkpoint', label, `no ${CHECKPOINT_FILES.checksums} (a checkpoint written before checksums existed loads with { verify: false })`);
  }
  const manifest = readJson(manifestPath, (v) => {
    const m = v as { algorithm?: unknown; files?: unknown };
    if (m === null || typeof m !== 'object' || m.algorithm !== 'sha256' || m.files === null || typeof m.files !== 'object' || Array.isArray(m.files)) {
      throw new Error("expected { algorithm: 'sha256', files: { name: hex } }");
    }
    return m as { algorithm: 'sha256'; files: Record<string, unknown> };
  });
  const known = new Set<string>(Object.values(CHECKPOINT_FILES));
  for (const [name, digest] of Object.entries(manifest.files)) {
    if (!known.has(name) || name === CHECKPOINT_FILES.checksums || typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) {
      throw new FormatError('checkpoint', label, `${CHECKPOINT_FILES.checksums}: entry ${JSON.stringify(name.slice(0, 100))} is not a checkpoint file with a SHA-256 digest`);
    }
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new FormatError('checkpoint', label, `${name} is listed in ${CHECKPOINT_FILES.checksums} but missing`);
    if (sha256File(file, 'checkpoint') !== digest) throw new FormatError('checkpoint', label, `${name} does not match its SHA-256 in ${CHECKPOINT_FILES.checksums} (the file is damaged or was changed)`);
  }
  for (const name of [CHECKPOINT_FILES.config, CHECKPOINT_FILES.model, CHECKPOINT_FILES.optimizer, CHECKPOINT_FILES.state]) {
    if (fs.existsSync(path.join(dir, name)) && !Object.hasOwn(manifest.files, name)) {
      throw new FormatError('checkpoint', label, `${name} is not covered by ${CHECKPOINT_FILES.checksums}`);
    }
  }
}

/** What {@link saveCheckpoint} writes. Tensors are read, not disposed. */
export interface CheckpointData {
  /** Any JSON value (the model / run config). */
  config: unknown;
  /** Model tensors by name (e.g. `module.stateDict()`); float32 / int32 / bool, or typed-array records. */
  tensors: Record<string, SafetensorsWritable>;
  /** Optimiser tensors by name (e.g. `adam.stateTensors()`). */
  optimizerTensors?: Record<string, SafetensorsWritable>;
  /** Anything JSON: step, RNG state (`rng.getState()`), optimiser JSON, data-loader position … */
  state?: Record<string, unknown>;
  /** String metadata stored in the safetensors headers (`format: 'pt'` is added). */
  metadata?: Record<string, string>;
}

/** What {@link loadCheckpoint} returns. The caller owns (and disposes) the tensors. */
export interface LoadedCheckpoint {
  /** The folder that was loaded. */
  dir: string;
  config: unknown;
  tensors: Record<string, tf.Tensor>;
  optimizerTensors?: Record<string, tf.Tensor>;
  state?: Record<string, unknown>;
}

let counter = 0;

/** Options of {@link loadCheckpoint} and {@link CheckpointManager.loadLatest}. */
export interface LoadCheckpointOptions {
  /** Load `optimizer.safetensors` when present. Default true. */
  optimizer?: boolean;
  /** Verify `checksums.json` (see the module docs). Default true; false loads a checkpoint written without one. */
  verify?: boolean;
}

/** Folder name of the checkpoint for `step`: `step-000123` (at least 6 digits). */
export function checkpointName(step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new ValidationError('checkpointName', 'step', 'a non-negative integer', step);
  return `step-${String(step).padStart(6, '0')}`;
}

/** The step of a checkpoint folder name (`step-000123` → 123), or null for anything else (temporaries included). */
export function parseCheckpointStep(name: string): number | null {
  const match = /^step-(\d{6,})$/.exec(name);
  return match ? Number(match[1]) : null;
}

function isComplete(dir: string): boolean {
  return fs.existsSync(path.join(dir, CHECKPOINT_FILES.config)) && fs.existsSync(path.join(dir, CHECKPOINT_FILES.model));
}

/** A sibling `<dir>.old-*` left by a save that was killed between its two renames (complete, by construction). */
function interruptedSwap(dir: string): string | null {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.old-`;
  if (!fs.existsSync(parent)) return null;
  const candidates = fs.readdirSync(parent).filter((n) => n.startsWith(prefix)).map((n) => path.join(parent, n));
  return candidates.find(isComplete) ?? null;
}

/**
 * Write a checkpoint folder atomically (see the module docs). If `dir` exists it is replaced only once the new
 * checkpoint is complete. Returns `dir`.
 */
export function saveCheckpoint(dir: string, data: CheckpointData): string {
  const fn = 'saveCheckpoint';
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError(fn, 'dir', 'a non-empty path', dir);
  if (data === null || typeof data !== 'object') throw new ValidationError(fn, 'data', '{config, tensors, …}', data);
  if (data.tensors === null || typeof data.tensors !== 'object') {
    throw new ValidationError(fn, 'data.tensors', 'a record of name → tensor', data.tensors);
  }
  if (data.state !== undefined && (data.state === null || typeof data.state !== 'object' || Array.isArray(data.state))) {
    throw new ValidationError(fn, 'data.state', 'a JSON object', data.state);
  }
  const target = path.resolve(dir);
  let tmp = target;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // A previous save killed between its renames left the old checkpoint aside: put it back first.
    const aside = fs.existsSync(target) ? null : interruptedSwap(target);
    if (aside) fs.renameSync(aside, target);
    tmp = `${target}.tmp-${process.pid}-${counter++}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp);
  } catch (error) {
    throw asIoError(error, 'save checkpoint (prepare)', target);
  }
  try {
    // 1. Everything into the temporary folder.
    const metadata = { format: 'pt', ...(data.metadata ?? {}) };
    writeJsonAtomic(path.join(tmp, CHECKPOINT_FILES.config), data.config ?? null);
    writeSafetensors(path.join(tmp, CHECKPOINT_FILES.model), data.tensors, metadata);
    if (data.optimizerTensors) writeSafetensors(path.join(tmp, CHECKPOINT_FILES.optimizer), data.optimizerTensors, metadata);
    if (data.state) writeJsonAtomic(path.join(tmp, CHECKPOINT_FILES.state), data.state);
    // 1b. The checksums, last: a folder without them is never complete.
    const files: Record<string, string> = {};
    for (const name of [CHECKPOINT_FILES.config, CHECKPOINT_FILES.model, CHECKPOINT_FILES.optimizer, CHECKPOINT_FILES.state]) {
      if (fs.existsSync(path.join(tmp, name))) files[name] = sha256File(path.join(tmp, name), 'checkpoint');
    }
    writeJsonAtomic(path.join(tmp, CHECKPOINT_FILES.checksums), { algorithm: 'sha256', files });
    syncDirectory(tmp);
    // 2. Swap it into place; the old folder is removed only after the new one is there.
    if (fs.existsSync(target)) {
      const old = `${target}.old-${process.pid}-${counter++}`;
      fs.renameSync(target, old);
      try {
        fs.renameSync(tmp, target);
      } catch (error) {
        fs.renameSync(old, target);
        throw error;
      }
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
    syncDirectory(path.dirname(target));
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // A system error on a file inside the temporary folder (a full disk) is reported against the checkpoint.
    if (error instanceof IoError && error.path.startsWith(tmp + path.sep)) {
      const file = path.basename(error.path).replace(/^\.(.+)\.tmp-\d+-\d+$/, '$1');
      throw new IoError(`save checkpoint (${error.operation} ${file})`, target, error.errno, error.message);
    }
    throw asIoError(error, 'save checkpoint', target);
  }
  return dir;
}

/** fsync a directory so renames inside it are durable (best effort: not every platform allows it). */
function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open directories; durability then rests on the OS.
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * Load a checkpoint folder written by {@link saveCheckpoint} (tensors as float32 / int32 / bool tfjs tensors).
 * Every file is verified against `checksums.json` first (unless `options.verify` is false); missing, damaged or
 * malformed files raise {@link FormatError}. If `dir` is absent because a save was killed between its two renames,
 * the set-aside copy is loaded.
 *
 * @example
 * ```ts
 * const { tensors, state } = loadCheckpoint('runs/tsdm/step-000300');
 * ```
 */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): LoadedCheckpoint {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('loadCheckpoint', 'dir', 'a non-empty path', dir);
  if (options === null || typeof options !== 'object') throw new ValidationError('loadCheckpoint', 'options', '{ optimizer?, verify? }', options);
  let source = path.resolve(dir);
  if (!fs.existsSync(source)) source = interruptedSwap(source) ?? source;
  if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) {
    throw new FormatError('checkpoint', dir, 'no such checkpoint folder');
  }
  for (const required of [CHECKPOINT_FILES.config, CHECKPOINT_FILES.model]) {
    if (!fs.existsSync(path.join(source, required))) throw new FormatError('checkpoint', dir, `missing ${required}`);
  }
  if (options.verify ?? true) verifyChecksums(source, dir);
  const config = readJson(path.join(source, CHECKPOINT_FILES.config));
  const statePath = path.join(source, CHECKPOINT_FILES.state);
  const state = fs.existsSync(statePath)
    ? readJson(statePath, (v) => {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('state.json must hold a JSON object');
        return v as Record<string, unknown>;
      })
    : undefined;
  const tensors = loadSafetensorsAsTensors(path.join(source, CHECKPOINT_FILES.model));
  const loaded: LoadedCheckpoint = { dir: source, config, tensors, state };
  const optimizerPath = path.join(source, CHECKPOINT_FILES.optimizer);
  if ((options.optimizer ?? true) && fs.existsSync(optimizerPath)) {
    try {
      loaded.optimizerTensors = loadSafetensorsAsTensors(optimizerPath);
    } catch (error) {
      tf.dispose(Object.values(tensors));
      throw error;
    }
  }
  return loaded;
}

/** Complete checkpoints (`step-NNNNNN` folders with config + model) in `runDir`, by ascending step. */
export function listCheckpoints(runDir: string): Array<{ step: number; dir: string }> {
  if (typeof runDir !== 'string' || runDir.length === 0) throw new ValidationError('listCheckpoints', 'runDir', 'a non-empty path', runDir);
  if (!fs.existsSync(runDir)) return [];
  const found: Array<{ step: number; dir: string }> = [];
  for (const name of fs.readdirSync(runDir)) {
    const step = parseCheckpointStep(name);
    const dir = path.join(runDir, name);
    if (step !== null && fs.statSync(dir).isDirectory() && isComplete(dir)) found.push({ step, dir });
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The folder of the latest complete checkpoint in `runDir`, or null when there is none. */
export function latestCheckpoint(runDir: string): string | null {
  const all = listCheckpoints(runDir);
  return all.length > 0 ? all[all.length - 1]!.dir : null;
}

/**
 * Saves `step-NNNNNN` checkpoints into a run folder and keeps the last `keepLast` (default 3). Also removes
 * temporary folders and files left by processes that no longer exist. Holds the run folder's lock from construction
 * (a second process gets {@link RunLockedError} naming the holder) until {@link CheckpointManager.close} or the
 * process's exit; `{ lock: false }` makes a read-only manager (listing, loading) that takes no lock and cannot save.
 *
 * @example
 * ```ts
 * const manager = new CheckpointManager('runs/proxy', { keepLast: 2 });
 * manager.save(100, { config, tensors });
 * manager.close();
 * ```
 */
export class CheckpointManager {
  readonly runDir: string;
  readonly keepLast: number;
  private lock: RunLock | null;

  constructor(runDir: string, options: { keepLast?: number; lock?: boolean } = {}) {
    if (typeof runDir !== 'string' || runDir.length === 0) throw new ValidationError('CheckpointManager', 'runDir', 'a non-empty path', runDir);
    const keepLast = options.keepLast ?? 3;
    if (!Number.isInteger(keepLast) || keepLast < 1) {
      throw new ValidationError('CheckpointManager', 'options.keepLast', 'an integer >= 1', keepLast);
    }
    if (options.lock !== undefined && typeof options.lock !== 'boolean') {
      throw new ValidationError('CheckpointManager', 'options.lock', 'true or false', options.lock);
    }
    this.runDir = runDir;
    this.keepLast = keepLast;
    this.lock = options.lock === false ? null : acquireRunLock(runDir);
    if (this.lock) this.removeLeftovers(); // of a writer killed mid-save, before this run adds its own
  }

  /** Release the run folder's lock (idempotent); the manager can still list and load, not save. */
  close(): void {
    this.lock?.release();
    this.lock = null;
  }

  /** Save the checkpoint for `step`, then prune older ones and stale temporaries. Returns its folder. */
  save(step: number, data: CheckpointData): string {
    if (!this.lock) throw new ValidationError('CheckpointManager.save', 'this', 'a manager that holds its run folder lock (not closed, not { lock: false })', 'no lock');
    const dir = saveCheckpoint(path.join(this.runDir, checkpointName(step)), data);
    this.prune();
    return dir;
  }

  /** Complete checkpoints by ascending step. */
  list(): Array<{ step: number; dir: string }> {
    return listCheckpoints(this.runDir);
  }

  /** Folder of the latest complete checkpoint, or null. */
  latest(): string | null {
    return latestCheckpoint(this.runDir);
  }

  /** Load the latest complete checkpoint, or null when the run has none (a fresh start). */
  loadLatest(options: LoadCheckpointOptions = {}): LoadedCheckpoint | null {
    const dir = this.latest();
    return dir ? loadCheckpoint(dir, options) : null;
  }

  /**
   * Remove all but the newest `keepLast` checkpoints and temporaries of dead processes. A checkpoint is first renamed
   * to a temporary name and then deleted, so a process killed mid-deletion never leaves a listed checkpoint with some
   * of its files gone (the temporary is removed later, see {@link removeStaleTemporaries}).
   */
  prune(): void {
    const all = this.list();
    for (const { dir } of all.slice(0, Math.max(0, all.length - this.keepLast))) {
      const doomed = temporarySibling(dir);
      try {
        fs.renameSync(dir, doomed);
        fs.rmSync(doomed, { recursive: true, force: true });
      } catch (error) {
        throw asIoError(error, 'prune', dir);
      }
    }
    this.removeLeftovers();
  }

  /** Remove the temporaries and set-aside copies that processes killed mid-save left in the run folder. */
  private removeLeftovers(): void {
    if (!fs.existsSync(this.runDir)) return;
    for (const name of fs.readdirSync(this.runDir)) {
      // `<step>.tmp-<pid>-<n>`: an unfinished save; `<step>.old-<pid>-<n>`: a replaced copy not yet removed (kept
      // while its checkpoint folder is missing, since loadCheckpoint / saveCheckpoint recover it then).
      const match = /^(step-\d+)\.(tmp|old)-(\d+)-\d+$/.exec(name);
      if (!match || processIsAlive(Number(match[3]))) continue;
      if (match[2] === 'tmp' || fs.existsSync(path.join(this.runDir, match[1]!))) {
        fs.rmSync(path.join(this.runDir, name), { recursive: true, force: true });
      }
    }
    removeStaleTemporaries(this.runDir); // e.g. `.loss.json.tmp-<pid>-<n>` of a killed writer
  }
}
