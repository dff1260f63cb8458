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

export type FlagKind = 'string' | 'int' | 'bool';

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
