/**
 * The run folder every stage command of `ca` writes into, and its lock:
 *
 * ```
 * <run>/
 *   config.json     the resolved config the run was started with; a later command must bring the same one (or none)
 *   manifest.json   versions, seed, backend, per-stage timings and finished stages (core's writeRunManifest)
 *   checkpoints/    one folder per training (<stage>/); the trainers resume from them
 *   logs/           <command>.log: every line the command printed, appended
 *   outputs/        one folder per stage (<stage>/) with its artifacts; <stage>/done.json, written last, marks it
 *                   finished, so re-running a finished stage is a no-op and an interrupted one starts again from its
 *                   last checkpoint
 *   .lock           one writer at a time (core's acquireRunLock); a second process fails naming the holder
 * ```
 *
 * Every file is written atomically (temporary file + rename), except the append-only logs.
 *
 * @example
 * ```ts
 * import { openRunFolder } from './run-folder.js';
 * const run = openRunFolder('runs/a', { command: 'ca tsd', config: { seed: 0 }, seed: 0 });
 * try {
 *   if (!run.finished('tsd')) { // … compute, write into run.stageDir('tsd') …
 *     run.finish('tsd', { ms: 1200 });
 *   }
 * } finally { run.close(); }
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { acquireRunLock, asIoError, currentBackend, readJson, ValidationError, writeJsonAtomic, writeRunManifest, type RunLock } from '@consistent-avatar/core';

/** What `outputs/<stage>/done.json` records. */
export interface StageRecord {
  stage: string;
  /** ISO 8601 time the stage finished. */
  finished: string;
  /** Wall time of the (last, resumed) run of the stage in ms. */
  ms: number;
  /** The command that finished it. */
  command: string;
  /** Anything the stage wants to report (its numbers, its files). */
  extra?: Record<string, unknown>;
}

/** An open run folder (see the module comment); {@link RunFolder.close} releases the lock. */
export interface RunFolder {
  /** The run folder (absolute). */
  readonly dir: string;
  readonly checkpoints: string;
  readonly logs: string;
  readonly outputs: string;
  /** The command named in logs and manifests (`'ca train-fcsd'`). */
  readonly command: string;
  /** `<checkpoints>/<name>`. */
  checkpointDir(name: string): string;
  /** `<outputs>/<stage>` (created). */
  stageDir(stage: string): string;
  /** The stage's record when it has finished, else null. */
  finished(stage: string): StageRecord | null;
  /** Mark a stage finished (writes `outputs/<stage>/done.json`, then the manifest with every finished stage's time). */
  finish(stage: string, record: { ms: number; extra?: Record<string, unknown> }): StageRecord;
  /** Print a line to stderr and append it to `logs/<command>.log`. */
  log(line: string): void;
  /** Release the lock (idempotent). */
  close(): void;
}

/** Options of {@link openRunFolder}. */
export interface OpenRunFolderOptions {
  /** The command (`'ca tsd'`): named in errors, logs and the manifest. */
  command: string;
  /** The resolved config (JSON-serialisable); written to `config.json` on the first open, compared afterwards. */
  config: unknown;
  /** The run's seed (recorded in the manifest). */
  seed: number | null;
  /** Where log lines go besides the log file. Default stderr. */
  print?: (line: string) => void;
}

const STAGE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Open (create, or re-open to resume) a run folder and lock it for this process.
 * @param dir - the run folder.
 * @param options - the command, its resolved config and seed.
 * @returns the open folder; `close()` it when done.
 * @throws ValidationError when the folder was started with another config (it names the first differing field);
 *   RunLockedError when another live process holds it; IoError on file-system failures.
 * @example
 * ```ts
 * const run = openRunFolder('runs/a', { command: 'ca run', config, seed: config.seed });
 * ```
 */
export function openRunFolder(dir: string, options: OpenRunFolderOptions): RunFolder {
  const FN = 'openRunFolder';
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError(FN, 'dir', 'a folder path', dir);
  if (!options || typeof options.command !== 'string') throw new ValidationError(FN, 'options', '{ command, config, seed }', options);
  const root = path.resolve(dir);
  const lock: RunLock = acquireRunLock(root);
  try {
    const sub = (name: string) => {
      const p = path.join(root, name);
      try {
        fs.mkdirSync(p, { recursive: true });
      } catch (error) {
        throw asIoError(error, 'mkdir', p);
      }
      return p;
    };
    const checkpoints = sub('checkpoints');
    const logs = sub('logs');
    const outputs = sub('outputs');
    const configFile = path.join(root, 'config.json');
    const config = JSON.parse(JSON.stringify(options.config ?? null)) as unknown;
    if (fs.existsSync(configFile)) {
      const saved = readJson(configFile);
      const diff = firstDifference(saved, config);
      if (diff !== null) {
        throw new ValidationError(options.command, `config.${diff.path}`, `${JSON.stringify(diff.saved)} as in ${configFile} (this run folder's config; use a fresh --run folder for another config)`, diff.given);
      }
    } else writeJsonAtomic(configFile, config);
    const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
    const logFile = path.join(logs, `${options.command.replace(/^ca\s+/, '').replace(/[^a-z0-9-]+/gi, '-') || 'ca'}.log`);
    const checkStage = (stage: string) => {
      if (typeof stage !== 'string' || !STAGE_NAME.test(stage)) throw new ValidationError(FN, 'stage', 'a lower-case stage name ([a-z0-9-])', stage);
    };
    const doneFile = (stage: string) => path.join(outputs, stage, 'done.json');
    const finished = (stage: string): StageRecord | null => {
      checkStage(stage);
      return fs.existsSync(doneFile(stage)) ? readJson<StageRecord>(doneFile(stage)) : null;
    };
    let open = true;
    const folder: RunFolder = {
      dir: root,
      checkpoints,
      logs,
      outputs,
      command: options.command,
      checkpointDir: (name) => {
        checkStage(name);
        return path.join(checkpoints, name);
      },
      stageDir: (stage) => {
        checkStage(stage);
        return sub(path.join('outputs', stage));
      },
      finished,
      finish: (stage, { ms, extra }) => {
        checkStage(stage);
        if (!Number.isFinite(ms) || ms < 0) throw new ValidationError(FN, 'record.ms', 'a duration in ms ≥ 0', ms);
        const record: StageRecord = { stage, finished: new Date().toISOString(), ms: Math.round(ms), command: options.command, ...(extra ? { extra } : {}) };
        folder.stageDir(stage);
        writeJsonAtomic(doneFile(stage), record);
        writeManifest(root, outputs, config, options.seed);
        return record;
      },
      log: (line) => {
        print(line);
        try {
          fs.appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
        } catch (error) {
          throw asIoError(error, 'append', logFile);
        }
      },
      close: () => {
        if (!open) return;
        open = false;
        lock.release();
      },
    };
    if (!fs.existsSync(path.join(root, 'manifest.json'))) writeManifest(root, outputs, config, options.seed);
    return folder;
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** The manifest: every finished stage's time (ms) and record. */
function writeManifest(root: string, outputs: string, config: unknown, seed: number | null): void {
  const stages: Record<string, StageRecord> = {};
  for (const name of fs.readdirSync(outputs).sort()) {
    const file = path.join(outputs, name, 'done.json');
    if (fs.existsSync(file)) stages[name] = readJson<StageRecord>(file);
  }
  writeRunManifest(root, {
    config,
    seed,
    backend: currentBackend()?.name,
    timings: Object.fromEntries(Object.entries(stages).map(([name, r]) => [`${name}Ms`, r.ms])),
    extra: { stages: Object.fromEntries(Object.entries(stages).map(([name, r]) => [name, { finished: r.finished, command: r.command }])) },
  });
}

/** The first path where two JSON values differ, or null. */
function firstDifference(saved: unknown, given: unknown, at = ''): { path: string; saved: unknown; given: unknown } | null {
  if (saved !== null && given !== null && typeof saved === 'object' && typeof given === 'object' && Array.isArray(saved) === Array.isArray(given)) {
    const keys = [...new Set([...Object.keys(saved as object), ...Object.keys(given as object)])];
    for (const key of keys) {
      const inner = firstDifference((saved as Record<string, unknown>)[key], (given as Record<string, unknown>)[key], at ? `${at}.${key}` : key);
      if (inner) return inner;
    }
    return null;
  }
  return JSON.stringify(saved) === JSON.stringify(given) ? null : { path: at || '(root)', saved, given };
}
