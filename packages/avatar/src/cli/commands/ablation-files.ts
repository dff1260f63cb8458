/**
 * File helpers shared by `ca ablate` and `ca merge`: the optional `--config` JSON, the `--publish` prefix, and the
 * part files named on `ca merge` (a part file, or a shard's run folder holding them).
 *
 * @example
 * ```ts
 * const { dir, name } = publishTarget('docs/experiments/2026-12-03-ablation'); // name '2026-12-03-ablation'
 * ```
 *
 * @packageDocumentation
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { IoError, readJson, ValidationError } from '@consistent-avatar/core';

/**
 * The parsed `--config` file, or undefined without one.
 * @param file - the path given, or undefined.
 * @example
 * ```ts
 * const input = readConfigFileJson('ablate.json');
 * ```
 */
export function readConfigFileJson(file: string | undefined): unknown {
  if (file === undefined) return undefined;
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('ca', '--config', 'a JSON file path', file);
  return readJson(file);
}

/**
 * Split a `--publish` prefix into its folder (which must exist) and base name.
 * @param prefix - e.g. `docs/experiments/2026-12-03-ablation`.
 * @example
 * ```ts
 * publishTarget('docs/experiments/2026-12-03-ablation'); // { dir: '…/docs/experiments', name: '2026-12-03-ablation' }
 * ```
 */
export function publishTarget(prefix: string): { dir: string; name: string } {
  const dir = dirname(resolve(prefix)), name = basename(prefix);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ValidationError('ca', '--publish', 'a path whose last part is a file base name ([A-Za-z0-9._-])', prefix);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ValidationError('ca', '--publish', 'a path in an existing folder', prefix);
  return { dir, name };
}

/**
 * The part files named on `ca merge`: each argument is a part file, or a shard's run folder (its
 * `outputs/ablate/parts/part-*.json` are taken).
 * @param args - the arguments.
 * @example
 * ```ts
 * partFiles(['runs/shard-0', 'runs/shard-1']); // ['runs/shard-0/outputs/ablate/parts/part-0-of-2.json', …]
 * ```
 */
export function partFiles(args: readonly string[]): string[] {
  if (!Array.isArray(args) || args.length === 0) throw new ValidationError('ca merge', 'parts', 'one or more part files or shard run folders', args);
  return args.flatMap((arg) => {
    if (!existsSync(arg)) throw new IoError('read', arg, 'ENOENT', 'no such file or folder');
    if (!statSync(arg).isDirectory()) return [arg];
    const dir = join(arg, 'outputs', 'ablate', 'parts');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^part-.*\.json$/.test(f)).sort().map((f) => join(dir, f)) : [];
    if (files.length === 0) throw new ValidationError('ca merge', arg, `a run folder with part files in ${dir}`, 'none');
    return files;
  });
}
