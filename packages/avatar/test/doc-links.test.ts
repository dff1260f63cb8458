/**
 * scripts/check-doc-links.mjs: the repository's documentation points at files, headings, names and sources.md
 * sections that exist — and the checker does report each kind of broken reference (a small tree written here).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDocs, headingSlug } from '../../../scripts/check-doc-links.mjs';

type Check = (root: string) => { problems: string[]; checked: { links: number; paths: number; names: number; citations: number } };
const check = checkDocs as Check;
const slug = headingSlug as (heading: string) => string;

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const temp = mkdtempSync(join(tmpdir(), 'doc-links-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Write `files` (path → text) under a fresh folder and return it. */
function tree(name: string, files: Record<string, string>): string {
  const root = join(temp, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('check-doc-links', () => {
  it("the repository's docs have no broken links, paths, names or citations", () => {
    const { problems, checked } = check(ROOT);
    expect(problems).toEqual([]);
    // It did look: method.md alone cites dozens of files and names.
    expect(checked.links).toBeGreaterThan(20);
    expect(checked.paths).toBeGreaterThan(50);
    expect(checked.names).toBeGreaterThan(50);
    expect(checked.citations).toBeGreaterThan(10);
  });

  it("computes GitHub's heading anchors", () => {
    expect(slug('Stage 2 — TSDM (§4.1, Eqs. 4–6)')).toBe('stage-2--tsdm-41-eqs-46');
    expect(slug('Emotion label (§4.2, Eq. 7)')).toBe('emotion-label-42-eq-7');
    expect(slug('lcm-distillation')).toBe('lcm-distillation');
  });

  const notes = ['reference', 'notes'].join('-'); // spelled apart so this file does not trip the check itself
  const files: Record<string, string> = {
    'docs/sources.md': '# Sources\n\n## flame\n\nLBS.\n\n## flame\n\nAgain.\n',
    'docs/method.md': [
      '# Method',
      '',
      '| paper | ours |',
      '|---|---|',
      '| Eq. 1 | `packages/a/src/lbs.ts` → `skin`, `Model.forward` |',
      '| Eq. 2 | `packages/a/src/lbs.ts` → `missingName` |',
      '',
      '[ok](sources.md#flame) [dup](sources.md#flame-1) [bad anchor](sources.md#nothing) [bad file](gone.md)',
      '',
      '```ts',
      '[not a link in a code block](nowhere.md)',
      '```',
    ].join('\n'),
    'packages/a/README.md': 'See `src/lbs.ts`, `bench/missing.ts`, `packages/a/src/nope.ts` and [up](../../docs/method.md).\n',
    'packages/a/src/lbs.ts': [
      '/** Steps (docs/sources.md §flame). */',
      'export function skin() {}',
      'export class Model { forward() {} }',
      `// ${notes} §8 and docs/sources.md §deca`,
    ].join('\n'),
  };

  it('reports every kind of broken reference, with file and line', () => {
    const { problems } = check(tree('broken', files));
    expect(problems.sort()).toEqual(
      [
        'docs/method.md:6: `missingName` does not occur in the files cited on this line',
        'docs/method.md:8: link to a missing heading: sources.md#nothing',
        'docs/method.md:8: link to a missing file: gone.md',
        'packages/a/README.md:1: missing file: bench/missing.ts',
        'packages/a/README.md:1: missing file: packages/a/src/nope.ts',
        'packages/a/src/lbs.ts:4: docs/sources.md has no section "deca"',
        'packages/a/src/lbs.ts:4: cites the unpublished reference notes; cite the upstream file or docs/sources.md',
      ].sort(),
    );
  });

  it('passes the same tree once the references are mended', () => {
    const mended = {
      ...files,
      'docs/method.md': files['docs/method.md']!.replace('`missingName`', '`skin`').replace(' [bad anchor](sources.md#nothing) [bad file](gone.md)', ''),
      'packages/a/README.md': 'See `src/lbs.ts` and [up](../../docs/method.md).\n',
      'packages/a/src/lbs.ts': files['packages/a/src/lbs.ts']!.replace(`// ${notes} §8 and docs/sources.md §deca`, '// smplx lbs.py'),
    };
    const { problems, checked } = check(tree('mended', mended));
    expect(problems).toEqual([]);
    expect(checked).toEqual({ links: 3, paths: 3, names: 3, citations: 1 });
  });
});
