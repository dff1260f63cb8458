/**
 * JSON files: {@link readJson} with errors that say where the file is broken (line, column, byte offset) and an
 * optional validator, and {@link writeJsonAtomic} (temporary file + rename, trailing newline).
 *
 * @example
 * ```ts
 * import { readJson, writeJsonAtomic } from '@consistent-avatar/core';
 * writeJsonAtomic('/tmp/config.json', { lr: 1e-4, steps: 3000 });
 * const config = readJson('/tmp/config.json', (v) => {
 *   if (typeof (v as { lr?: unknown }).lr !== 'number') throw new Error('lr must be a number');
 *   return v as { lr: number; steps: number };
 * });
 * // a broken file: FormatError "json file /tmp/bad.json: invalid JSON at line 3, column 5 (byte 27): …"
 * ```
 */
import { FormatError, ValidationError, describeValue } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { jsonDepth, readLimits, readTextBounded } from './limits.js';

/**
 * Offset of the first syntax error in `text` per RFC 8259, or -1 if it is valid JSON. (JSON.parse's messages only
 * sometimes carry a position; this scanner always finds it.) Iterative: nesting depth costs heap, not stack.
 *
 * @example
 * ```ts
 * findJsonErrorOffset('{"a": [1, 2,]}'); // 12
 * ```
 */
export function findJsonErrorOffset(text: string): number {
  let pos = 0;
  const ws = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };
  const literal = (word: string): boolean => {
    for (let i = 0; i < word.length; i++, pos++) if (text[pos] !== word[i]) return false;
    return true;
  };
  const string = (): boolean => {
    pos++; // opening quote
    for (;;) {
      const c = text[pos];
      if (c === undefined || c < ' ') return false;
      if (c === '"') return (pos++, true);
      if (c === '\\') {
        const e = text[pos + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) pos += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) pos += 6;
        else return (pos++, false);
      } else pos++;
    }
  };
  const number = (): boolean => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (!m || m[0] === '-') return false;
    pos += m[0].length;
    return true;
  };
  // The open containers, innermost last: after a value, `,` continues one and `]` / `}` closes it.
  const open: Array<'[' | '{'> = [];
  const done = (): number => (ws(), pos === text.length ? -1 : pos);
  const fail = (): number => Math.min(pos, text.length);
  for (;;) {
    // 1. A value (an object key first when inside an object).
    ws();
    const c = text[pos];
    if (c === '{' || c === '[') {
      pos++;
      ws();
      if (text[pos] === (c === '{' ? '}' : ']')) pos++;
      else {
        open.push(c);
        if (c === '{') {
          if (text[pos] !== '"' || !string()) return fail();
          ws();
          if (text[pos] !== ':') return fail();
          pos++;
        }
        continue;
      }
    } else if (c === '"') {
      if (!string()) return fail();
    } else if (c === 't' || c === 'f' || c === 'n') {
      if (!literal(c === 't' ? 'true' : c === 'f' ? 'false' : 'null')) return fail();
    } else if (!number()) return fail();
    // 2. Close finished containers; a comma starts the next item.
    for (;;) {
      if (open.length === 0) return done();
      ws();
      const inner = open[open.length - 1]!;
      if (text[pos] === ',') {
        pos++;
        if (inner === '{') {
          ws();
          if (text[pos] !== '"' || !string()) return fail();
          ws();
          if (text[pos] !== ':') return fail();
          pos++;
        }
        break;
      }
      if (text[pos] !== (inner === '{' ? '}' : ']')) return fail();
      pos++;
      open.pop();
    }
  }
}

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Parse JSON text read from `file` (named in errors) under the read policy: invalid JSON raises
 * `FormatError('json', file, 'invalid JSON at line L, column C …')`, nesting deeper than `maxJsonDepth` raises a
 * FormatError too (so no later recursive walk can overflow the stack).
 *
 * @example
 * ```ts
 * parseJsonText('{"a": 1}', '<string>'); // { a: 1 }
 * ```
 */
export function parseJsonText(text: string, file: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const offset = Math.max(0, findJsonErrorOffset(text));
    const { line, column } = lineColumn(text, offset);
    const where = offset >= text.length ? 'end of file' : `line ${line}, column ${column} (character ${offset})`;
    throw new FormatError('json', file, `invalid JSON at ${where}: ${(error as Error).message.slice(0, 200)}`);
  }
  const maxDepth = readLimits().maxJsonDepth;
  if (jsonDepth(value, maxDepth) > maxDepth) throw new FormatError('json', file, `nests deeper than ${maxDepth} levels (the maxJsonDepth read limit)`);
  return value;
}

/**
 * Read and parse a JSON file (a leading UTF-8 BOM is ignored) under the read policy (a regular file of at most
 * `maxTextBytes`, nesting at most `maxJsonDepth`; see `setReadLimits`). On invalid JSON, raises
 * `FormatError('json', path, 'invalid JSON at line L, column C (byte B): <message>')`. When `validate` is given it
 * receives the parsed value and returns it typed (or throws); its error becomes a `FormatError` that keeps the
 * validator's message.
 */
export function readJson<T = unknown>(file: string, validate?: (value: unknown) => T): T {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('readJson', 'file', 'a non-empty path', file);
  if (validate !== undefined && typeof validate !== 'function') {
    throw new ValidationError('readJson', 'validate', 'a function (value) => T', validate);
  }
  const value = parseJsonText(readTextBounded(file, 'json'), file);
  if (!validate) return value as T;
  try {
    return validate(value);
  } catch (error) {
    if (error instanceof FormatError) throw error;
    throw new FormatError('json', file, `unexpected content: ${(error as Error).message}`);
  }
}

/**
 * Write `value` as JSON (indented by `indent` spaces, default 2, with a trailing newline) atomically. Values JSON
 * cannot represent faithfully (undefined at the top level, cycles, BigInt, non-finite numbers) are rejected.
 */
export function writeJsonAtomic(file: string, value: unknown, options: { indent?: number } = {}): void {
  const fn = 'writeJsonAtomic';
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError(fn, 'file', 'a non-empty path', file);
  let text: string | undefined;
  let nonFinite = '';
  try {
    text = JSON.stringify(
      value,
      (key, v) => {
        if (typeof v === 'number' && !Number.isFinite(v) && !nonFinite) nonFinite = key || '<root>';
        return v;
      },
      options.indent ?? 2,
    );
  } catch (error) {
    throw new ValidationError(fn, 'value', 'a JSON-serialisable value', `${describeValue(value)} (${(error as Error).message})`);
  }
  if (text === undefined) throw new ValidationError(fn, 'value', 'a JSON-serialisable value', value);
  if (nonFinite) throw new ValidationError(fn, `value.${nonFinite}`, 'a finite number (JSON has no NaN/Infinity)', 'non-finite');
  writeFileAtomic(file, text + '\n');
}
