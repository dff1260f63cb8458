import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, ValidationError } from '../errors.js';
import { findJsonErrorOffset, readJson, writeJsonAtomic } from './json.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-json-'));
const file = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};

function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    return error as FormatError;
  }
  throw new Error('expected a FormatError');
}

describe('readJson / writeJsonAtomic', () => {
  it('round-trips values with a trailing newline and no temporary files left', () => {
    const p = path.join(tmp, 'sub', 'config.json');
    const value = { lr: 1e-4, steps: 3000, name: 'tsdm', nested: { list: [1, 2, { x: null }] }, unicode: 'é😀' };
    writeJsonAtomic(p, value);
    expect(fs.readFileSync(p, 'utf8').endsWith('}\n')).toBe(true);
    expect(readJson(p)).toEqual(value);
    expect(fs.readdirSync(path.dirname(p))).toEqual(['config.json']);
  });

  it('ignores a UTF-8 byte order mark', () => {
    expect(readJson(file('bom.json', '\ufeff{"a": 1}'))).toEqual({ a: 1 });
  });

  it('reports line, column and offset of a syntax error', () => {
    const p = file('bad.json', '{\n  "a": 1,\n  "b": }\n');
    const error = formatError(() => readJson(p));
    expect(error.format).toBe('json');
    expect(error.file).toBe(p);
    expect(error.message).toMatch(/invalid JSON at line 3, column 8 \(character 19\)/);
  });

  it('reports a trailing comma, a bad escape, a truncated file and trailing garbage', () => {
    expect(formatError(() => readJson(file('comma.json', '[1, 2,]'))).message).toMatch(/line 1, column 7/);
    expect(formatError(() => readJson(file('escape.json', '{"a": "x\\q"}'))).message).toMatch(/line 1, column 10/);
    expect(formatError(() => readJson(file('cut.json', '{"a": [1, 2'))).message).toMatch(/at end of file/);
    expect(formatError(() => readJson(file('garbage.json', '{"a": 1} x'))).message).toMatch(/line 1, column 10/);
    expect(formatError(() => readJson(file('empty.json', ''))).message).toMatch(/at end of file/);
  });

  it('the scanner agrees with JSON.parse on valid and invalid inputs', () => {
    const valid = ['0', '-0.5e+3', '"\\u00e9\\n"', '[]', '{}', ' {"a":[true,false,null,{"b":"c"}]} ', '1E5'];
    const invalid = ['01', '-', '.5', '[1,]', '{"a" 1}', "{'a': 1}", 'tru', '"\t"', 'NaN', '[1] [2]', '{"a":1,}'];
    for (const t of valid) {
      expect(() => JSON.parse(t)).not.toThrow();
      expect(findJsonErrorOffset(t), t).toBe(-1);
    }
    for (const t of invalid) {
      expect(() => JSON.parse(t)).toThrow();
      expect(findJsonErrorOffset(t), t).toBeGreaterThanOrEqual(0);
    }
  });

  it('runs the validator and wraps its error', () => {
    const p = file('cfg.json', '{"lr": "fast"}');
    const validate = (v: unknown) => {
      if (typeof (v as { lr?: unknown }).lr !== 'number') throw new Error('lr must be a number');
      return v as { lr: number };
    };
    expect(formatError(() => readJson(p, validate)).message).toMatch(/cfg\.json: unexpected content: lr must be a number/);
    expect(readJson(file('ok.json', '{"lr": 0.1}'), validate).lr).toBe(0.1);
  });

  it('rejects missing files and unserialisable values', () => {
    expect(formatError(() => readJson(path.join(tmp, 'nope.json'))).message).toMatch(/cannot read/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => writeJsonAtomic(path.join(tmp, 'c.json'), cyclic)).toThrow(ValidationError);
    expect(() => writeJsonAtomic(path.join(tmp, 'c.json'), { n: 10n })).toThrow(ValidationError);
    expect(() => writeJsonAtomic(path.join(tmp, 'c.json'), { loss: NaN })).toThrow(/value\.loss/);
    expect(() => writeJsonAtomic(path.join(tmp, 'c.json'), undefined)).toThrow(ValidationError);
    expect(fs.existsSync(path.join(tmp, 'c.json'))).toBe(false);
  });
});
