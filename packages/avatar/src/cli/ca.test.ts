/**
 * The `ca` framework: help, strict flags (unknown options and excess arguments are errors with exit code 1 and a
 * message on stderr), `ca synth`.
 */
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './ca.js';
import { readInstaDataset } from '@consistent-avatar/proxy';

/** Run `ca` in-process and capture what it writes. */
async function runCa(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  return { code, out, err };
}

describe('ca command line', () => {
  it('prints the help of ca and of every subcommand with exit code 0', async () => {
    const top = await runCa(['--help']);
    expect(top.code).toBe(0);
    const names = [...top.out.matchAll(/^ {2}([a-z-]+)(?: \[options\])?\s/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
    expect(names).toEqual(expect.arrayContaining(['synth', 'backend']));
    for (const name of names) {
      const sub = await runCa([name, '--help']);
      expect(sub.code, name).toBe(0);
      expect(sub.out).toContain(`Usage: ca ${name}`);
    }
  });

  it('refuses unknown options, excess arguments, unknown commands and missing required options (exit 1, stderr)', async () => {
    for (const argv of [['backend', '--nope'], ['backend', 'extra'], ['frobnicate'], ['synth'], ['synth', '--out', 'x', '--frames', 'many']]) {
      const r = await runCa(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err, argv.join(' ')).toMatch(/error: (unknown option '--nope'|too many arguments|unknown command 'frobnicate'|required option '--out <dir>' not specified|option '--frames <n>' argument 'many' is invalid)/);
    }
  });

  it('ca synth writes a readable INSTA dataset of the synthetic head with a manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-synth-'));
    try {
      const out = join(dir, 'actor');
      const r = await runCa(['synth', '--out', out, '--frames', '6', '--size', '32', '--seed', '3', '--test-frames', '2', '--supersample', '1']);
      expect(r.code).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'synth-manifest.json'), 'utf8')).seed).toBe(3);
      expect(existsSync(join(out, 'synth-manifest.json'))).toBe(true);
      expect(readInstaDataset(out).frames.length).toBe(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
