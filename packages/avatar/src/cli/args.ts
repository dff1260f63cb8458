/**
 * A small, strict `--flag value` parser for the `ca` command line (no dependency): unknown flags, missing values and
 * non-numeric numbers are errors that name the command and the flag.
 *
 * @example
 * ```ts
 * import { parseFlags } from '@consistent-avatar/avatar';
 * parseFlags('ca synth', ['--out', 'data', '--frames', '64'], { out: 'string', frames: 'int' });
 * // { out: 'data', frames: 64 }
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * How {@link parseFlags} reads a flag: `'string'` and `'int'` take the next argument as the value (an `'int'` must be
 * an integer), `'bool'` takes none and is `true` when present.
 * @example
 * ```ts
 * const spec: Record<string, FlagKind> = { out: 'string', frames: 'int', force: 'bool' };
 * ```
 */
export type FlagKind = 'string' | 'int' | 'bool';

/**
 * Parse `--name value` / `--name` arguments against `spec`. Flags that are absent stay absent (the caller applies
 * its defaults).
 * @param command - Named in errors (e.g. `'ca synth'`).
 * @param argv - The arguments after the command.
 * @param spec - Flag name (without `--`) → {@link FlagKind}.
 * @returns The flags given, typed by `spec` (`'int'` → number, `'bool'` → boolean, `'string'` → string).
 * @throws ValidationError on a token that is not a flag, an unknown flag, a missing value or a non-integer `'int'`.
 * @example
 * ```ts
 * parseFlags('ca synth', ['--out', 'data', '--frames', '64'], { out: 'string', frames: 'int' });
 * // { out: 'data', frames: 64 }
 * ```
 */
export function parseFlags<S extends Record<string, FlagKind>>(
  command: string,
  argv: readonly string[],
  spec: S,
): { [K in keyof S]?: S[K] extends 'int' ? number : S[K] extends 'bool' ? boolean : string } {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('--')) throw new ValidationError(command, token, `a flag (${Object.keys(spec).map((k) => '--' + k).join(', ')})`, token);
    const name = token.slice(2);
    const kind = spec[name];
    if (!kind) throw new ValidationError(command, token, `one of ${Object.keys(spec).map((k) => '--' + k).join(', ')}`, token);
    if (kind === 'bool') {
      out[name] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) throw new ValidationError(command, token, 'a value', value);
    if (kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n)) throw new ValidationError(command, token, 'an integer', value);
      out[name] = n;
    } else out[name] = value;
  }
  return out as never;
}
