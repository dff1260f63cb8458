/**
 * Time of the report's headless-Chromium check (what the CI test and the demo run): `checkReportInBrowser` on a
 * written report.html (the DOM dump with the page's self-check, then the screenshot), repeated.
 *
 *   node --conditions=source --import tsx packages/avatar/bench/report-check.ts [--report .runs/demo/report.html] [--repeats 3]
 *
 * Writes `packages/avatar/bench/results/report-check.json` (figures, command, commit, date, machine, load).
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '@consistent-avatar/core';
import { checkReportInBrowser, findChromium } from '@consistent-avatar/avatar';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const report = resolve(flag('--report', '.runs/demo/report.html'));
const repeats = Number(flag('--repeats', '3'));
if (!Number.isInteger(repeats) || repeats < 1) throw new Error('report-check: --repeats N (a positive integer)');
const browser = findChromium();
if (!browser) throw new Error("report-check: no Chromium (install Debian's 'chromium')");
const version = execSync(`${browser} --version`, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
const tmp = mkdtempSync(join(tmpdir(), 'report-check-'));
const seconds: number[] = [];
let check = '';
try {
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    check = checkReportInBrowser(report, { screenshot: join(tmp, `shot-${i}.png`) }).check;
    seconds.push((performance.now() - t0) / 1000);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const sorted = [...seconds].sort((a, b) => a - b);
const commit = (() => { try { return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return null; } })();
const out = fileURLToPath(new URL('./results/report-check.json', import.meta.url));
writeJsonAtomic(out, {
  command: `node --conditions=source --import tsx packages/avatar/bench/report-check.ts ${args.join(' ')}`.trim(),
  commit, date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version },
  browser: version, report: { path: report, bytes: statSync(report).size }, check, repeats, seconds, medianSeconds: sorted[Math.floor(sorted.length / 2)],
});
console.log(`${version}: ${check}; median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} s over ${repeats} (DOM check + screenshot) → ${out}`);
