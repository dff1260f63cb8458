/**
 * Issue 19 (reliability), emotion: the expression-database file loads no NaN vectors, negative frame indices or absurd
 * intensities (7), and its errors never stringify unbounded input (5).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, readSafetensors, writeSafetensors } from '@consistent-avatar/core';
import { ExpressionDatabase, loadExpressionDatabase, saveExpressionDatabase } from './index.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-emo-rel-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function saved(name: string): string {
  const db = ExpressionDatabase.fromArrays({ dimension: 2, vectors: [1, 0, 0, 1, 0.5, 0.5], labels: ['happy', 'sad', 'sad'], clipIds: ['a', 'b', 'b'], intensities: [3, 3, 3] });
  return saveExpressionDatabase(db, path.join(tmp, name)).tensors;
}

function rewriteTensor(file: string, name: string, edit: (data: Float32Array | Int32Array) => void): void {
  const { tensors, metadata } = readSafetensors(file);
  edit(tensors[name]!.data as Float32Array | Int32Array);
  writeSafetensors(file, tensors, metadata);
}

describe('7. the expression-database file', () => {
  it('refuses NaN vectors, negative frame indices and intensity 1e300, naming the row or clip', () => {
    const nan = saved('nan');
    rewriteTensor(nan, 'vectors', (d) => (d[3] = Number.NaN));
    expect(() => loadExpressionDatabase(nan)).toThrow(/vectors\[1\].*finite/);
    const negative = saved('negative');
    rewriteTensor(negative, 'frame_index', (d) => (d[2] = -5));
    expect(() => loadExpressionDatabase(negative)).toThrow(/frameIndices\[2\].*≥ 0/);
    const intense = saved('intense');
    const json = intense.replace(/\.safetensors$/, '.json');
    const meta = JSON.parse(fs.readFileSync(json, 'utf8')) as { clips: { intensity: number }[] };
    meta.clips[0]!.intensity = 1e300;
    fs.writeFileSync(json, JSON.stringify(meta));
    expect(() => loadExpressionDatabase(intense)).toThrow(/clips\[0\] must be .*intensity \(an integer in \[0, 100\]\)/);
  });

  it('a 10 MB version string is not copied into the message', () => {
    const file = saved('long');
    const json = file.replace(/\.safetensors$/, '.json');
    const meta = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown>;
    meta.version = 'x'.repeat(10_000_000);
    fs.writeFileSync(json, JSON.stringify(meta));
    let message = '';
    try {
      loadExpressionDatabase(file);
    } catch (error) {
      expect(error).toBeInstanceOf(FormatError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/unsupported version/);
    expect(message.length).toBeLessThan(3000);
  });
});
