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
import * as fs from 'node:fs';
import { FormatError, ValidationError, describeValue } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

/**
 * Offset of the first syntax error in `text` per RFC 8259, or -1 if it is valid JSON. (JSON.parse's messages only
 * sometimes carry a position; this scanner always finds it.)
 */
export function findJsonErrorOffset(text: string): number {
  let pos = 0;
  class Stop extends Error {}
  const fail = (): never => {
    throw new Stop();
  };
  const ws = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };
  const literal = (word: string) => {
    for (let i = 0; i < word.length; i++) if (text[pos++] !== word[i]) return (pos--, fail());
  };
  const string = () => {
    pos++; // opening quote
    for (;;) {
      const c = text[pos];
      if (c === undefined || c < ' ') return fail();
      if (c === '"') return pos++;
      if (c === '\\') {
        const e = text[pos + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) pos += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) pos += 6;
        else return (pos++, fail());
      } else pos++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos));
    if (!m || m[0] === '-') return fail();
    pos += m[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      ws();
      if (text[pos] === '}') return void pos++;
      for (;;) {
        ws();
        if (text[pos] !== '"') return fail();
        string();
        ws();
        if (text[pos] !== ':') return fail();
        pos++;
        value();
        ws();
        if (text[pos] === ',') pos++;
        else if (text[pos] === '}') return void pos++;
        else return fail();
      }
    }
    if (c === '[') {
      pos++;
      ws();
      if (text[pos] === ']') return void pos++;
      for (;;) {
        value();
        ws();
        if (text[pos] === ',') pos++;
        else if (text[pos] === ']') return void pos++;
        else return fail();
      }
    }
    if (c === '"') return void string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    return number();
  };
  try {
    value();
    ws();
    return pos === text.length ? -1 : pos;
  } catch (error) {
    if (error instanceof Stop) return Math.min(pos, text.length);
    throw error;
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
 * Read and parse a JSON file (a leading UTF-8 BOM is ignored). On invalid JSON, raises
 * `FormatError('json', path, 'invalid JSON at line L, column C (byte B): <message>')`. When `validate` is given it
 * receives the parsed value and returns it typed (or throws); its error becomes a `FormatError` that keeps the
 * validator's message.
 */
export function readJson<T = unknown>(file: string, validate?: (value: unknown) => T): T {
  if (typeof file !== 'string' || file.length === 0) throw new ValidationError('readJson', 'file', 'a non-empty path', file);
  if (validate !== undefined && typeof validate !== 'function') {
    throw new ValidationError('readJson', 'validate', 'a function (value) => T', validate);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new FormatError('json', file, `cannot read: ${(error as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const offset = Math.max(0, findJsonErrorOffset(text));
    const { line, column } = lineColumn(text, offset);
    const where = offset >= text.length ? 'end of file' : `line ${line}, column ${column} (character ${offset})`;
    throw new FormatError('json', file, `invalid JSON at ${where}: ${(error as Error).message}`);
  }
  if (!validate) return value as T;
  try {
    return validate(value);
  } catch (error) {
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
