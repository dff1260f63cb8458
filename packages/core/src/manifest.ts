/**
 * Run manifests: one `manifest.json` per run folder recording what is needed to reproduce or compare the run — the
 * config, the seed, the backend, timings, the versions of this library's packages and of tfjs, the Node version and
 * platform, the date, and the git commit (plus whether the tree had uncommitted changes) when run from a checkout.
 *
 * @example
 * ```ts
 * import { writeRunManifest, currentBackend } from '@consistent-avatar/core';
 * const manifest = writeRunManifest('runs/tsdm', {
 *   config: { lr: 1e-5, steps: 3000 }, seed: 42, backend: currentBackend()?.name ?? 'cpu',
 *   timings: { trainSeconds: 812.4 }, extra: { dataset: 'synthetic-v1' },
 * });
 * console.log(manifest.packages['@consistent-avatar/core'], manifest.git?.commit); // '0.1.0' '9f2c…'
 * ```
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from './backend/tf.js';
import { currentBackend } from './backend/init.js';
import { ValidationError } from './errors.js';
import { writeJsonAtomic } from './io/json.js';

/** What {@link writeRunManifest} records (the fields the caller passes plus the environment). */
export interface RunManifest {
  /** Manifest layout version. */
  manifestVersion: 1;
  /** ISO 8601 UTC time of writing. */
  date: string;
  config: unknown;
  seed: number | null;
  /** Backend name (`wasm`, `cpu`, …): as passed, else the active one. */
  backend: string;
  /** Durations (seconds, or whatever unit the caller documents) by name. */
  timings: Record<string, number>;
  extra: Record<string, unknown>;
  /** Versions of the `@consistent-avatar/*` packages found next to core. */
  packages: Record<string, string>;
  /** tfjs component versions (`tf.version`). */
  tfjs: Record<string, string>;
  node: { version: string; platform: string; arch: string; cpus: number };
  /** null when not run inside a git checkout or git is unavailable. */
  git: { commit: string; dirty: boolean } | null;
}

/** Fields the caller supplies to {@link writeRunManifest}. */
export interface RunManifestInput {
  config: unknown;
  seed?: number | null;
  backend?: string;
  timings?: Record<string, number>;
  extra?: Record<string, unknown>;
}

/** Package names of this library, read from the package.json files next to core's. */
function packageVersions(): Record<string, string> {
  // src/manifest.ts and the bundled dist/index.js both sit one level below core's package root, and the sibling
  // packages sit next to core both in the monorepo (packages/*) and when installed (node_modules/@consistent-avatar/*).
  const coreRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
  const versions: Record<string, string> = {};
  const parent = path.dirname(coreRoot);
  const candidates = fs.existsSync(parent) ? fs.readdirSync(parent) : [];
  for (const name of candidates) {
    const file = path.join(parent, name, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === 'string' && pkg.name.startsWith('@consistent-avatar/') && typeof pkg.version === 'string') {
        versions[pkg.name] = pkg.version;
      }
    } catch {
      // not a package folder
    }
  }
  return Object.fromEntries(Object.entries(versions).sort(([a], [b]) => a.localeCompare(b)));
}

/** The git commit of `cwd` (and whether tracked files differ from it), or null outside a checkout. */
export function gitState(cwd: string = process.cwd()): { commit: string; dirty: boolean } | null {
  const run = (args: string[]) => spawnSync('git', args, { cwd, encoding: 'utf8', timeout: 10_000 });
  const head = run(['rev-parse', 'HEAD']);
  if (head.status !== 0 || !/^[0-9a-f]{40}$/.test(head.stdout.trim())) return null;
  const status = run(['status', '--porcelain', '--untracked-files=no']);
  return { commit: head.stdout.trim(), dirty: status.status === 0 ? status.stdout.trim().length > 0 : true };
}

/**
 * Write `<dir>/manifest.json` atomically (creating `dir`) and return what was written. `seed` must be an integer
 * (or null); `timings` values must be finite numbers. `options.cwd` is where the git commit is looked up
 * (default: the current directory).
 */
export function writeRunManifest(
  dir: string,
  input: RunManifestInput,
  options: { fileName?: string; cwd?: string } = {},
): RunManifest {
  const fn = 'writeRunManifest';
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError(fn, 'dir', 'a non-empty path', dir);
  if (input === null || typeof input !== 'object') throw new ValidationError(fn, 'input', '{config, seed, …}', input);
  const seed = input.seed ?? null;
  if (seed !== null && !Number.isSafeInteger(seed)) throw new ValidationError(fn, 'input.seed', 'an integer or null', seed);
  const timings = input.timings ?? {};
  for (const [key, value] of Object.entries(timings)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ValidationError(fn, `input.timings.${key}`, 'a finite number', value);
    }
  }
  if (input.backend !== undefined && typeof input.backend !== 'string') {
    throw new ValidationError(fn, 'input.backend', 'a backend name string', input.backend);
  }
  const manifest: RunManifest = {
    manifestVersion: 1,
    date: new Date().toISOString(),
    config: input.config ?? null,
    seed,
    backend: input.backend ?? currentBackend()?.name ?? tf.getBackend() ?? 'none',
    timings,
    extra: input.extra ?? {},
    packages: packageVersions(),
    tfjs: { ...(tf.version as Record<string, string>) },
    node: { version: process.version, platform: process.platform, arch: process.arch, cpus: os.cpus().length },
    git: gitState(options.cwd),
  };
  writeJsonAtomic(path.join(dir, options.fileName ?? 'manifest.json'), manifest);
  return manifest;
}
