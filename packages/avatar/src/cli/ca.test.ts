import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './ca.js';
import { parseFlags } from './args.js';
import { readInstaDataset } from '@consistent-avatar/proxy';

describe('ca command line', () => {
  it('parses flags strictly', () => {
    expect(parseFlags('ca synth', ['--out', 'd', '--frames', '8'], { out: 'string', frames: 'int' })).toEqual({ out: 'd', frames: 8 });
    expect(() => parseFlags('ca synth', ['--frames', 'x'], { frames: 'int' })).toThrow(/ca synth: argument '--frames' expected an integer/);
    expect(() => parseFlags('ca synth', ['--nope', '1'], { frames: 'int' })).toThrow(/one of --frames/);
    expect(() => parseFlags('ca synth', ['--frames'], { frames: 'int' })).toThrow(/a value/);
  });

  it('ca synth writes a readable INSTA dataset of the synthetic head with a manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-synth-'));
    try {
      const out = join(dir, 'actor');
      expect(await main(['synth', '--out', out, '--frames', '6', '--size', '32', '--seed', '3', '--test-frames', '2', '--supersample', '1'])).toBe(0);
      expect(existsSync(join(out, 'synth-manifest.json'))).toBe(true);
      expect(JSON.parse(readFileSync(join(out, 'synth-manifest.json'), 'utf8')).seed).toBe(3);
      const ds = readInstaDataset(out);
      expect(ds.frames.length).toBe(6);
      expect(await main(['synth'])).toBe(1);
      expect(await main(['frobnicate'])).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
