import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { readJson } from './io/json.js';
import { gitState, writeRunManifest, type RunManifest } from './manifest.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-manifest-'));
const coreRoot = fileURLToPath(new URL('..', import.meta.url));

describe('writeRunManifest', () => {
  it('records config, seed, backend, timings, package versions, node, date and git commit', () => {
    const dir = path.join(tmp, 'run');
    const before = Date.now();
    const written = writeRunManifest(
      dir,
      { config: { lr: 1e-5 }, seed: 42, backend: 'wasm', timings: { trainSeconds: 12.5 }, extra: { note: 'x' } },
      { cwd: coreRoot },
    );
    const manifest = readJson<RunManifest>(path.join(dir, 'manifest.json'));
    expect(manifest).toEqual(written);
    expect(manifest.config).toEqual({ lr: 1e-5 });
    expect(manifest.seed).toBe(42);
    expect(manifest.backend).toBe('wasm');
    expect(manifest.timings).toEqual({ trainSeconds: 12.5 });
    expect(manifest.extra).toEqual({ note: 'x' });
    const corePackage = JSON.parse(fs.readFileSync(path.join(coreRoot, 'package.json'), 'utf8'));
    expect(manifest.packages['@consistent-avatar/core']).toBe(corePackage.version);
    // the sibling workspace packages are found too
    for (const name of fs.readdirSync(path.join(coreRoot, '..'))) {
      const file = path.join(coreRoot, '..', name, 'package.json');
      if (!fs.existsSync(file)) continue;
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(manifest.packages[pkg.name]).toBe(pkg.version);
    }
    expect(manifest.tfjs['tfjs-core']).toMatch(/^\d+\.\d+\.\d+/);
    expect(manifest.node.version).toBe(process.version);
    const date = Date.parse(manifest.date);
    expect(date).toBeGreaterThanOrEqual(before - 1000);
    expect(date).toBeLessThanOrEqual(Date.now() + 1000);
    // inside the project's git checkout (the normal case, also in CI's clean clone) the commit is recorded
    if (fs.existsSync(path.join(coreRoot, '..', '..', '.git'))) {
      expect(manifest.git?.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(typeof manifest.git?.dirty).toBe('boolean');
    }
  });

  it('git is null outside a checkout', () => {
    expect(gitState(os.tmpdir())).toBeNull();
  });

  it('falls back to the active backend and validates its input', () => {
    const m = writeRunManifest(path.join(tmp, 'run2'), { config: null }, { cwd: tmp });
    expect(typeof m.backend).toBe('string');
    expect(m.seed).toBeNull();
    expect(() => writeRunManifest(tmp, { config: {}, seed: 1.5 })).toThrow(ValidationError);
    expect(() => writeRunManifest(tmp, { config: {}, timings: { x: NaN } })).toThrow(/timings\.x/);
    expect(() => writeRunManifest('', { config: {} })).toThrow(ValidationError);
  });
});
