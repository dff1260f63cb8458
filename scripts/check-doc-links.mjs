#!/usr/bin/env node
/**
 * Checks that the documentation points at things that exist:
 *
 * 1. every relative Markdown link (`[text](path#anchor)`) in the root READMEs, `docs/` (not the generated
 *    `docs/reference/`) and `packages/<name>/README.md` names an existing file, and its `#anchor` a heading there;
 * 2. every back-quoted repository path (`packages/…` anywhere; `src/…`, `bench/…`, `test/…`, `weights/…` in a
 *    package README, relative to that package) exists;
 * 3. in `docs/method.md`, on every line that cites source files (`packages/…/*.ts`), every back-quoted name
 *    (`trainTsdm`, `TsdmModel.condition`) occurs as a word in one of the files cited on that line;
 * 4. every `sources.md §<name>` citation, in the docs and in the code under `packages/`, `examples/` and
 *    `scripts/`, names a `## name` section of `docs/sources.md`, and nothing cites the unpublished reference notes
 *    (a document users do not have) by section.
 *
 *   node scripts/check-doc-links.mjs [--root DIR]
 *
 * Prints one `file:line: problem` per finding and exits with 1 if there is any, else prints a summary and exits 0.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'fixtures', 'coverage', '.runs']);
const CODE_EXT = /\.(ts|mts|mjs|js|md)$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const PACKAGE_RELATIVE = /^(src|bench|test|weights)\/[^\s*{}<>…]+\.[A-Za-z0-9]+$/;
const REPO_PATH = /^packages\/[^\s*{}<>…]+\.[A-Za-z0-9]+$/;
const UNPUBLISHED_NOTES = new RegExp(['reference', 'notes'].join('-') + '\\s*§');

/** Files below `dir` (recursively, skipping build output and fixtures) whose names match `pattern`. */
function walk(dir, pattern) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP_DIRS.has(name)) out.push(...walk(path, pattern));
    } else if (pattern.test(name)) out.push(path);
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters, digits, `_`, `-` and spaces kept), spaces → `-`. */
export function headingSlug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (duplicates numbered `-1`, `-2`, … as GitHub does). */
function anchorsOf(text) {
  const seen = new Map();
  const anchors = new Set();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = headingSlug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Back-quoted spans of one line. */
function codeSpans(line) {
  return [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

/**
 * Run every check on the tree at `root`.
 *
 * @param {string} root - the repository root.
 * @returns {{ problems: string[], checked: { links: number, paths: number, names: number, citations: number } }}
 */
export function checkDocs(root) {
  const problems = [];
  const checked = { links: 0, paths: 0, names: 0, citations: 0 };
  const at = (file, i, message) => problems.push(`${relative(root, file)}:${i + 1}: ${message}`);
  const read = (file) => readFileSync(file, 'utf8');
  const packageReadmes = existsSync(join(root, 'packages'))
    ? readdirSync(join(root, 'packages')).sort().map((p) => join(root, 'packages', p, 'README.md')).filter(existsSync)
    : [];
  const docs = [
    ...['README.md', 'BENCHMARKS.md'].map((f) => join(root, f)).filter(existsSync),
    ...walk(join(root, 'docs'), /\.md$/).filter((f) => !relative(root, f).startsWith(join('docs', 'reference'))),
    ...packageReadmes,
  ];

  for (const file of docs) {
    const lines = read(file).split('\n');
    const isPackageReadme = packageReadmes.includes(file);
    const isMethod = relative(root, file) === join('docs', 'method.md');
    let fenced = false;
    lines.forEach((line, i) => {
      if (line.startsWith('```')) fenced = !fenced;
      if (fenced) return;
      // 1. Relative links and their anchors.
      for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        checked.links++;
        const [pathPart, anchor] = target.split('#');
        const abs = pathPart === '' ? file : resolve(dirname(file), pathPart);
        if (!existsSync(abs)) {
          at(file, i, `link to a missing file: ${target}`);
          continue;
        }
        if (anchor !== undefined && abs.endsWith('.md') && !anchorsOf(read(abs)).has(anchor)) {
          at(file, i, `link to a missing heading: ${target}`);
        }
      }
      // 2. Back-quoted paths.
      const spans = codeSpans(line);
      const cited = [];
      for (const span of spans) {
        let abs = null;
        if (REPO_PATH.test(span)) abs = join(root, span);
        else if (isPackageReadme && PACKAGE_RELATIVE.test(span)) abs = join(dirname(file), span);
        if (abs === null) continue;
        checked.paths++;
        if (!existsSync(abs)) at(file, i, `missing file: ${span}`);
        else if (/\.(ts|mjs|js)$/.test(span)) cited.push(abs);
      }
      // 3. Names on a method.md line must occur in a file that line cites.
      if (!isMethod || cited.length === 0) return;
      const sources = cited.map(read);
      for (const span of spans) {
        if (!IDENTIFIER.test(span)) continue;
        checked.names++;
        const parts = span.split('.');
        const found = sources.some((text) => parts.every((part) => new RegExp(`\\b${part.replace(/\$/g, '\\$')}\\b`).test(text)));
        if (!found) at(file, i, `\`${span}\` does not occur in the files cited on this line`);
      }
    });
  }

  // 4. Section citations of docs/sources.md, and no citations of the unpublished notes.
  const sourcesFile = join(root, 'docs', 'sources.md');
  const sections = existsSync(sourcesFile)
    ? new Set([...read(sourcesFile).matchAll(/^## ([a-z0-9-]+)\s*$/gm)].map((m) => m[1]))
    : new Set();
  const codeFiles = [
    ...['packages', 'examples', 'scripts'].flatMap((d) => walk(join(root, d), CODE_EXT)),
    ...docs,
  ];
  for (const file of new Set(codeFiles)) {
    read(file).split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/sources\.md §([A-Za-z0-9-]+)/g)) {
        checked.citations++;
        if (!sections.has(m[1])) at(file, i, `docs/sources.md has no section "${m[1]}"`);
      }
      if (UNPUBLISHED_NOTES.test(line)) at(file, i, 'cites the unpublished reference notes; cite the upstream file or docs/sources.md');
    });
  }
  return { problems, checked };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const rootArg = process.argv.indexOf('--root');
  const root = resolve(rootArg > 0 ? process.argv[rootArg + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
  const { problems, checked } = checkDocs(root);
  for (const p of problems) console.error(p);
  const summary = `${checked.links} links, ${checked.paths} paths, ${checked.names} names, ${checked.citations} sources.md citations`;
  if (problems.length > 0) {
    console.error(`${problems.length} problem(s) (checked ${summary})`);
    process.exit(1);
  }
  console.log(`ok: ${summary}`);
}
