/**
 * JSON config files for the `ca` command line: {@link readConfigFile} reads one and validates it with core's
 * `resolveConfig` (defaults filled in, unknown fields rejected, every error naming the field), and
 * {@link resolveNestedConfig} validates a nested section (`tsdm`, `fcsd`, …) with that stage's own resolver while
 * naming the field by its full path in the file (`config.fcsd.batchSize`).
 *
 * @example
 * ```ts
 * import { configField as f, type ConfigSpec } from '@consistent-avatar/core';
 * import { readConfigFile } from './config-file.js';
 * const spec: ConfigSpec<{ seed: number }> = { fn: 'ca run', fields: { seed: f.nonNegativeInt() }, defaults: { seed: 0 } };
 * readConfigFile('run.json', spec); // { seed: 0 } for '{}'; '{"sede": 1}' throws "ca run: argument 'config.sede' expected a known field (seed), …"
 * ```
 *
 * @packageDocumentation
 */
import { readJson, resolveConfig, ValidationError, type ConfigSpec } from '@consistent-avatar/core';

/**
 * Read and validate a JSON config file; `undefined` (no `--config`) resolves the defaults.
 * @param file - the file path, or undefined.
 * @param spec - the schema (its `fn` names the command in errors, e.g. `'ca run'`).
 * @returns the resolved config.
 * @throws IoError when the file cannot be read, FormatError (line and column) on broken JSON, ValidationError naming
 *   the field (`config.<field>`) on a bad or unknown field.
 * @example
 * ```ts
 * const config = readConfigFile(options.config, RUN_CONFIG_SPEC);
 * ```
 */
export function readConfigFile<C>(file: string | undefined, spec: ConfigSpec<C>): C {
  if (file !== undefined && (typeof file !== 'string' || file.length === 0)) throw new ValidationError(spec.fn, '--config', 'a JSON file path', file);
  return resolveConfig(spec, file === undefined ? undefined : readJson(file));
}

/**
 * Validate a nested config section with its own resolver, re-throwing its `ValidationError` with the full path
 * (`config.<section>.<field>`) and the command's name, so the message points into the file.
 * @param fn - the command (`'ca run'`).
 * @param section - the section's key in the file (`'fcsd'`).
 * @param value - the section as read (a plain object; undefined → the resolver's defaults).
 * @param resolve - the stage's resolver (`resolveFcsdConfig`).
 * @returns what `resolve` returns.
 * @example
 * ```ts
 * const fcsd = resolveNestedConfig('ca run', 'fcsd', config.fcsd, (c) => resolveFcsdConfig(c));
 * ```
 */
export function resolveNestedConfig<T>(fn: string, section: string, value: unknown, resolve: (partial: never) => T): T {
  try {
    return resolve(value as never);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const field = error.argument.replace(/^(config|options|partial)\.?/, '');
    const path = field ? `config.${section}.${field}` : `config.${section}`;
    return rethrow(fn, path, error.expected, valueAt(value, field));
  }
}

function rethrow(fn: string, path: string, expected: string, received: unknown): never {
  throw new ValidationError(fn, path, expected, received);
}

/** The value at a dotted / indexed path (`a.b[2]`) inside `value`, or undefined. */
function valueAt(value: unknown, path: string): unknown {
  if (!path) return value;
  let at: unknown = value;
  for (const key of path.split(/\.|\[|\]/).filter(Boolean)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}
