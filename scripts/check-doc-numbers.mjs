#!/usr/bin/env node
/**
 * Checks that every **measured number** the documentation publishes sits next to a citation of a committed result
 * file, and appears in that file (issue 17: a library people cite must let them regenerate every figure).
 *
 * Files read: `README.md`, `BENCHMARKS.md`, `packages/<name>/README.md` and every `docs/**.md` except the generated
 * `docs/reference/` and the dated experiment logs `docs/experiments/YYYY-MM-DD-*.md` — only files tracked by git
 * (committed or staged), never build output or local runs. The dated logs are excluded because they are raw,
 * immutable records of one run each (a later run gets a new file, never an edit), some predate this check, and each
 * says in its header which result file it comes from or that it has none; every place that *quotes* their figures
 * (the READMEs, `docs/experiments/README.md`, `BENCHMARKS.md`) is checked, so an unbacked figure cannot travel.
 *
 * ## What counts as a measured number
 * Prose, lists and tables are read after dropping fenced code blocks, inline code spans (commands, config values,
 * identifiers), HTML comments, link targets and URLs. A number there is **measured** when
 *  1. it carries a unit of a measurement: a time (`ns`, `µs`, `ms`, `s`, `min`, `h`), `dB`, `%`, a ratio `×` / `x`
 *     (not a dimension: `3 × 3`, `64×64` are not ratios), a rate (`GFLOP/s`, `GB/s`, `MB/s`, `fps`), `px` or `°`;
 *  2. or it is next to `±` (a spread);
 *  3. or it is a decimal with at least three significant digits (`0.00168`, `30.7`, `2.58`; not `0.25`, `1.5`,
 *     `1e-4`: configuration values and tolerances are written with one or two) or an integer with a thousands
 *     separator (`2,970`) — in prose or in a table cell;
 *  and it is not a version (a number right after a software name: `Node 20.20`, `tfjs 4.22`, `PyTorch 1.13`, or
 *  `v1.2`, or any `a.b.c`), a date or time of day, a section / equation / figure / table reference (`§4.1`,
 *  `Eq. 7`), a value after `=` / `≤` / `≥` / `<` / `>` / "within" / "below" / "at most" … (a setting, a tolerance or
  a bound, not a result) or after a bare `±` (a range: `±20°`).
 *
 * ## Citation syntax and scope
 * A citation is a Markdown link `[…](path/to/file.json)` or a back-quoted path `` `path/to/file.json` `` naming a
 * tracked `.json` file (resolved against the Markdown file's folder, then its package's folder, then the
 * repository root). A measured number is covered by the citations of its own block (a paragraph, a list item with
 * its continuation lines, a whole table, a heading) or of the block just before it (the paragraph that introduces a
 * table or a list).
 *
 * In a table, a number with no unit of its own takes its column's unit when the header names one (`CPU ms`,
 * `wall (s)`, `%`).
 *
 * ## Rounding rule
 * A number written with d decimals (d = 0 for integers; thousands separators dropped; the sign ignored) matches a
 * number v of a cited file when |v| rounds to it: ||v| − x| ≤ 0.5·10^−d (+1e-12). Scientific notation `m·e±k`
 * compares the mantissa the same way. With `%`, v·100 also matches (fractions stored as fractions); with a time
 * unit, v·1000 and v / 1000 also match (ms ↔ s). Every number of the cited files counts (JSON numbers and numbers
 * inside JSON strings). Derived figures (a ratio, a percentage change) must therefore be written into the result
 * file by the script that makes it.
 *
 * ## Allow-list
 * `scripts/doc-numbers-allow.json`: `[{ "file", "number", "context", "reason" }]` — reviewed exceptions for numbers
 * the rules above take for measurements but that are not (a constant of a formula, a property of a file format).
 * An entry matches a number in `file` whose surrounding text contains `context`; unused entries are reported.
 * Never list a measurement there: give it a result file.
 *
 *   node scripts/check-doc-numbers.mjs [--root DIR]
 *
 * Prints one `file:line: problem` per finding and exits with 1 if there is any, else prints a summary and exits 0.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = String.raw`(?:ns|µs|us|ms|s|sec|seconds?|min|minutes?|h|hours?|dB|%|×|x|GFLOP\/s|GB\/s|MB\/s|fps|px|°)`;
const TIME_UNIT = /^(ns|µs|us|ms|s|sec|seconds?|min|minutes?|h|hours?)$/;
const SOFTWARE = /(?:^|[^\p{L}\d-])(node|tfjs(?:-\w+)?|opencv\.js|pytorch|torch|numpy|opencv|pillow|python|scikit-image|skimage|diffusers|cuda|pnpm|npm|typescript|vitest|debian|chromium|onnxruntime(?:-\w+)?|sd|sdxl|stable diffusion|v|version|flame|xnnpack|mkl|onednn|openblas|tsup|typedoc|emscripten|simd|es|ecmascript)\s*$/iu;
const DATED_LOG = /^docs\/experiments\/\d{4}-\d{2}-\d{2}-[^/]+\.md$/;
const NUMBER = /[-−+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-−+]?\d+)?/g;

/** Files tracked by git under `root` (paths relative to it, `/`-separated). */
function trackedFiles(root) {
  try {
    return new Set(execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 }).split('\0').filter(Boolean));
  } catch {
    return new Set();
  }
}

/** The Markdown files the check reads. */
export function docFiles(tracked) {
  return [...tracked]
    .filter((f) => f.endsWith('.md'))
    .filter((f) => f === 'README.md' || f === 'BENCHMARKS.md' || /^packages\/[^/]+\/README\.md$/.test(f) || (f.startsWith('docs/') && !f.startsWith('docs/reference/') && !DATED_LOG.test(f)))
    .sort();
}

/**
 * Split Markdown into blocks: `{ line, text }` (1-based first line), fenced code and HTML comments dropped. A table,
 * a paragraph, a heading, and each list item with its indented continuation lines are one block each.
 */
export function blocks(markdown) {
  const out = [];
  let current = null;
  let fenced = false, comment = false;
  const close = () => {
    if (current) out.push(current);
    current = null;
  };
  markdown.split('\n').forEach((raw, i) => {
    let line = raw;
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      close();
      return;
    }
    if (fenced) return;
    if (comment) {
      if (!line.includes('-->')) return;
      line = line.slice(line.indexOf('-->') + 3);
      comment = false;
    }
    line = line.replace(/<!--.*?-->/g, '');
    if (line.includes('<!--')) {
      line = line.slice(0, line.indexOf('<!--'));
      comment = true;
    }
    if (line.trim() === '') return close();
    const kind = /^\s*\|/.test(line) ? 'table' : /^#{1,6}\s/.test(line) ? 'heading' : /^\s{0,3}([-*+]|\d+\.)\s/.test(line) ? 'item' : 'text';
    const continues = current && ((current.kind === 'table' && kind === 'table') || (current.kind !== 'table' && current.kind !== 'heading' && kind === 'text'));
    if (!continues) {
      close();
      current = { line: i + 1, kind, lines: [] };
    }
    current.lines.push({ line: i + 1, text: line });
    if (kind === 'heading') close();
  });
  close();
  return out;
}

/** The citations of a block: back-quoted `.json` paths and link targets ending in `.json`. */
function citationsOf(text) {
  const cites = [];
  for (const m of text.matchAll(/\]\(([^)\s]+?\.json)(?:#[^)]*)?\)/g)) cites.push(m[1]);
  for (const m of text.matchAll(/`([^`\s]+?\.json)`/g)) cites.push(m[1]);
  return cites;
}

/** The text whose numbers are read: code spans, link targets, URLs, HTML tags removed. */
function prose(text) {
  return text
    .replace(/`[^`]*`/g, ' ')
    .replace(/\]\([^)]*\)/g, ']')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/<[^>]+>/g, ' ');
}

/** The measured numbers of a line of prose: `{ token, value, decimals, unit }`. */
export function measuredNumbers(text, inTable = false) {
  const out = [];
  for (const m of text.matchAll(NUMBER)) {
    const token = m[0];
    const start = m.index, end = start + token.length;
    const before = text.slice(Math.max(0, start - 24), start), after = text.slice(end, end + 16);
    const prev = text[start - 1] ?? '', next = text[end] ?? '';
    // Part of a word, a path, a version a.b.c, an identifier, a date or a time of day.
    if (/[\p{L}_/\\.#[,]/u.test(prev) || (prev === '-' && /[\p{L}\d]/u.test(text[start - 2] ?? ''))) continue; // ResNet-18, v1, path/2
    if (next === '/' && /^\/\S/.test(after)) continue; // a DOI or a path
    if (/^[\p{L}_]/u.test(next) && !new RegExp(`^${UNIT}\\b`).test(after) && !/^x\b/.test(after)) continue;
    if (/^\.\d/.test(after) || /^-\d{2}(-\d{2})?\b/.test(after) || /^:\d{2}/.test(after) || /\d[:.-]$/.test(before)) continue;
    if (/(§|Eqs?\.\s*|Fig(?:ure)?s?\.?\s*|Tables?\s*|Sec(?:tion)?s?\.?\s*|Algorithm\s*|issue\s*#?|#|step-|Step\s*)$/i.test(before) && !/[±]/.test(after)) continue;
    if (/([=≤≥<>]|\b(within|below|under|above|at most|at least|up to|bound of|tolerance of?))\s*[~≈]?\s*$/i.test(before)) continue;
    if (/(^|[^\d\s])\s*±\s*$/.test(before)) continue; // ±20°: a range bound, a setting
    if (SOFTWARE.test(before.replace(/[(\[]\s*$/, ''))) continue;
    const unitMatch = new RegExp(`^\\s?(${UNIT})(?![\\p{L}\\d])`, 'u').exec(after);
    let unit = unitMatch ? unitMatch[1] : null;
    // × or x between two numbers is a dimension (3 × 3, 64×64×3), not a ratio.
    if (unit && /^(×|x)$/.test(unit) && /^\s?[×x]\s?\d/.test(after)) unit = null;
    if (/\d\s?[×x]\s?$/.test(before)) unit = unit && !/^(×|x)$/.test(unit) ? unit : null;
    const spread = /\d\s*±\s*$/.test(before) || /^\s*±\s*\d/.test(after); // a ± b: both are results
    const plain = token.replace(/^[-−+]/, '');
    const [mantissa, exponent] = plain.split(/[eE]/);
    const digits = mantissa.replace(/,/g, '');
    const decimals = digits.includes('.') ? digits.split('.')[1].length : 0;
    const significant = digits.replace('.', '').replace(/^0+/, '').length;
    const thousands = mantissa.includes(',');
    const precise = (decimals > 0 && significant >= 3 && exponent === undefined) || thousands;
    if (!unit && !spread && !precise) continue;
    out.push({ token, value: Number(digits) * (exponent === undefined ? 1 : 10 ** Number(exponent.replace('−', '-'))), mantissa: Number(digits), exponent: exponent === undefined ? null : Number(exponent.replace('−', '-')), decimals, unit });
  }
  return out;
}

/** The time or percent unit a table column header names (`ms`, `s`, `%`), else null. */
function columnUnit(header) {
  const h = prose(header);
  if (/\bms\b/.test(h)) return 'ms';
  if (/\((s|seconds?)\)|\bs\b\s*(\/|$)|\bseconds?\b/.test(h)) return 's';
  if (/%/.test(h)) return '%';
  return null;
}

/** Every number in a result file's text (JSON numbers and numbers inside strings), as absolute values. */
function numbersOf(text) {
  const values = [];
  for (const m of text.matchAll(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g)) values.push(Math.abs(Number(m[0])));
  return values;
}

/** Whether the doc number `n` matches one of `values` under the rounding rule. */
export function matches(n, values) {
  const close = (v, x, d) => Math.abs(v - x) <= 0.5 * 10 ** -d + 1e-12;
  const scales = [1];
  if (n.unit === '%') scales.push(100);
  if (n.unit && TIME_UNIT.test(n.unit)) scales.push(1000, 1 / 1000);
  for (const v0 of values) {
    for (const s of scales) {
      const v = v0 * s;
      if (n.exponent === null) {
        if (close(v, n.mantissa, n.decimals)) return true;
      } else if (v > 0) {
        const mant = v / 10 ** n.exponent;
        if (close(mant, n.mantissa, n.decimals)) return true;
      }
    }
  }
  return false;
}

/**
 * Run the check on a repository.
 * @returns `{ problems: string[], checked: { files, numbers, citations } }`.
 */
export function checkDocNumbers(root, options = {}) {
  const tracked = options.tracked ?? trackedFiles(root);
  const allowFile = join(root, 'scripts', 'doc-numbers-allow.json');
  const allow = tracked.has('scripts/doc-numbers-allow.json') && existsSync(allowFile) ? JSON.parse(readFileSync(allowFile, 'utf8')) : [];
  const used = new Set();
  const problems = [];
  const cache = new Map();
  let numbers = 0, citations = 0;
  const files = docFiles(tracked);
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const bs = blocks(text);
    const pkg = /^packages\/[^/]+\//.exec(file)?.[0] ?? '';
    const resolveCite = (cite) => {
      for (const base of [dirname(file), pkg.replace(/\/$/, ''), '']) {
        const p = normalize(join(base, cite)).replace(/\\/g, '/');
        if (tracked.has(p)) return p;
      }
      return null;
    };
    bs.forEach((block, b) => {
      const scope = [block, bs[b - 1]].filter(Boolean);
      const cites = [];
      for (const s of scope) {
        for (const l of s.lines) {
          for (const c of citationsOf(l.text)) {
            const p = resolveCite(c);
            if (p) {
              cites.push(p);
              if (s === block) citations++;
            }
            else if (s === block && /(^|\/)results\/[^*{}]+$|\.results\.json$/.test(c) && !/[*{}<>]/.test(c)) problems.push(`${file}:${l.line}: cites ${c}, which is not a tracked file`);
          }
        }
      }
      const values = () => cites.flatMap((p) => {
        if (!cache.has(p)) cache.set(p, numbersOf(readFileSync(join(root, p), 'utf8')));
        return cache.get(p);
      });
      // A table's header names the unit of a column ("ours CPU ms/frame", "wall (s)", "share %").
      const header = block.kind === 'table' ? block.lines[0].text.split('|').slice(1, -1).map(columnUnit) : [];
      for (const l of block.lines) {
        const line = prose(l.text);
        const cells = block.kind === 'table' ? l.text.split('|').slice(1, -1) : null;
        for (const n of measuredNumbers(line, block.kind === 'table')) {
          if (cells && !n.unit) {
            const column = cells.findIndex((c) => prose(c).includes(n.token));
            if (column >= 0 && header[column]) n.unit = header[column];
          }
          numbers++;
          const a = allow.findIndex((e) => e.file === file && e.number === n.token && l.text.includes(e.context));
          if (a >= 0) {
            used.add(a);
            continue;
          }
          if (cites.length === 0) problems.push(`${file}:${l.line}: ${n.token}${n.unit ? ` ${n.unit}` : ''} has no result file cited next to it`);
          else if (!matches(n, values())) problems.push(`${file}:${l.line}: ${n.token}${n.unit ? ` ${n.unit}` : ''} does not appear in ${[...new Set(cites)].join(', ')}`);
        }
      }
    });
  }
  allow.forEach((e, i) => {
    if (!used.has(i)) problems.push(`scripts/doc-numbers-allow.json: entry ${i} (${e.file}: ${e.number}) matches nothing`);
  });
  return { problems, checked: { files: files.length, numbers, citations } };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--root');
  const root = resolve(i >= 0 ? process.argv[i + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
  const { problems, checked } = checkDocNumbers(root);
  for (const p of problems) console.log(p);
  if (problems.length > 0) {
    console.log(`${problems.length} problem(s) in ${checked.files} files`);
    process.exit(1);
  }
  console.log(`ok: ${checked.numbers} measured numbers in ${checked.files} files, ${checked.citations} citations`);
}
