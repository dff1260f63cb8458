/**
 * The package layering of docs/architecture.md, checked on the sources: every `@consistent-avatar/*` import and
 * every workspace dependency points down the stack, never up or sideways out of it, so there are no cycles.
 *
 *   core ← proxy ← { diffusion, emotion, metrics } ← tsd ← avatar
 *
 * (diffusion depends on core only; emotion and metrics use the synthetic head of proxy; tsd builds on diffusion and
 * reads datasets through proxy; avatar may use everything and nothing uses it.)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What each package may import (besides itself). */
export const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  proxy: ['core'],
  diffusion: ['core'],
  emotion: ['core', 'proxy'],
  metrics: ['core', 'proxy'],
  tsd: ['core', 'proxy', 'diffusion'],
  avatar: ['core', 'proxy', 'diffusion', 'emotion', 'metrics', 'tsd'],
};

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(sourceFiles(path));
    else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(path);
  }
  return out;
}

/** `@consistent-avatar/<name>` specifiers of the real (non-comment) import / export-from statements of a file. */
export function importedPackages(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const names = new Set<string>();
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*['"]@consistent-avatar\/([a-z-]+)['"]/g)) names.add(m[1]!);
  return [...names];
}

describe('package layering (docs/architecture.md)', () => {
  const packages = readdirSync(join(ROOT, 'packages')).filter((p) => statSync(join(ROOT, 'packages', p)).isDirectory());

  it('knows every package', () => {
    expect(packages.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('the import scanner sees real imports and ignores comments', () => {
    expect(importedPackages(`import { a } from '@consistent-avatar/core';\n// import x from '@consistent-avatar/avatar'\n/** import { y } from '@consistent-avatar/tsd' */\nexport { b } from "@consistent-avatar/proxy";`).sort()).toEqual(['core', 'proxy']);
  });

  for (const pkg of Object.keys(ALLOWED)) {
    it(`${pkg}: imports and workspace dependencies point down only`, () => {
      const allowed = new Set([pkg, ...ALLOWED[pkg]!]);
      const bad: string[] = [];
      for (const sub of ['src', 'test', 'bench']) {
        for (const file of sourceFiles(join(ROOT, 'packages', pkg, sub))) {
          for (const dep of importedPackages(readFileSync(file, 'utf8'))) {
            if (!allowed.has(dep)) bad.push(`${relative(ROOT, file)} imports @consistent-avatar/${dep}`);
          }
          // No relative path into another package.
          for (const m of readFileSync(file, 'utf8').matchAll(/from\s+['"]((?:\.\.\/)+[^'"]*)['"]/g)) {
            const target = relative(join(ROOT, 'packages'), join(file, '..', m[1]!));
            if (!target.startsWith(`${pkg}/`) && !target.startsWith('..')) bad.push(`${relative(ROOT, file)} reaches into ${target}`);
          }
        }
      }
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      const declared = Object.keys(manifest.dependencies ?? {}).filter((d) => d.startsWith('@consistent-avatar/')).map((d) => d.slice('@consistent-avatar/'.length));
      for (const d of declared) if (!allowed.has(d)) bad.push(`package.json depends on @consistent-avatar/${d}`);
      expect(bad).toEqual([]);
    });
  }

  it('core holds the foundation only: no FLAME, head, raster, proxy or dataset code', () => {
    const files = sourceFiles(join(ROOT, 'packages/core/src')).map((f) => relative(join(ROOT, 'packages/core/src'), f));
    expect(files.filter((f) => /^(flame|head|raster|proxy|datasets|cli)\//.test(f))).toEqual([]);
    const stage1 = /from\s+['"][^'"]*\/(flame|head|raster|proxy|datasets)\//;
    expect(files.filter((f) => stage1.test(readFileSync(join(ROOT, 'packages/core/src', f), 'utf8')))).toEqual([]);
  });

  it('the `ca` command line lives in avatar', () => {
    expect(statSync(join(ROOT, 'packages/avatar/src/cli/ca.ts')).isFile()).toBe(true);
  });
});
