/**
 * Open a report in headless Chromium, read back its self-check (see `report-html.ts`) and save a screenshot — how
 * the tests and the demo confirm that every table, image, plot and animation of `report.html` actually renders.
 * Chromium is found on PATH (`chromium`, `chromium-browser`, `google-chrome`) or at `$CHROMIUM_PATH`; it is spawned
 * with a fixed argument list (no shell) and a time limit.
 *
 * @example
 * ```ts
 * import { checkReportInBrowser, findChromium } from '@consistent-avatar/avatar';
 * if (findChromium()) {
 *   const result = checkReportInBrowser('runs/demo/report.html', { screenshot: 'runs/demo/report.png' });
 *   console.log(result.check); // "ok tables=3 images=5 plots=1 videos=3"
 * }
 * ```
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackendUnavailableError, ValidationError } from '@consistent-avatar/core';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/**
 * The Chromium executable: `$CHROMIUM_PATH` when set, else the first of chromium / chromium-browser / google-chrome
 * on PATH; null when none.
 * @example
 * ```ts
 * console.log(findChromium()); // '/usr/bin/chromium' or null
 * ```
 */
export function findChromium(): string | null {
  const forced = process.env.CHROMIUM_PATH;
  if (forced) return existsSync(forced) ? forced : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of NAMES) {
      const candidate = join(dir, name);
      if (dir && existsSync(candidate)) return candidate;
    }
  }
  return null;
}

/** What {@link checkReportInBrowser} found. */
export interface BrowserCheckResult {
  /** True when the page's self-check says `ok`. */
  ok: boolean;
  /** The page's self-check text (`"ok tables=3 images=5 plots=1 videos=3"`, or `"fail image2 …"`). */
  check: string;
  /** The screenshot written, when asked for. */
  screenshot?: string;
  /** The browser that ran. */
  browser: string;
}

/** Options of {@link checkReportInBrowser}. */
export interface BrowserCheckOptions {
  /** Write a PNG screenshot of the page here. */
  screenshot?: string;
  /** Window size of the screenshot. Default [1280, 2400]. */
  windowSize?: [number, number];
  /** Time limit per browser run in ms. Default 60 000. */
  timeoutMs?: number;
}

function runChromium(browser: string, args: string[], timeoutMs: number): string {
  const common = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--hide-scrollbars', '--virtual-time-budget=5000'];
  const run = spawnSync(browser, [...common, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  if (run.error) throw new BackendUnavailableError(`checkReportInBrowser: ${browser} failed to run: ${run.error.message}`);
  if (run.status !== 0) throw new BackendUnavailableError(`checkReportInBrowser: ${browser} exited ${run.status}: ${run.stderr.slice(-2000)}`);
  return run.stdout;
}

/**
 * Load `htmlFile` in headless Chromium, return its self-check and optionally save a screenshot.
 *
 * @param htmlFile - a report written from {@link renderReportHtml}.
 * @throws BackendUnavailableError when no Chromium is found or it fails to run.
 * @example
 * ```ts
 * const { ok, check } = checkReportInBrowser('report.html');
 * ```
 */
export function checkReportInBrowser(htmlFile: string, options: BrowserCheckOptions = {}): BrowserCheckResult {
  const fn = 'checkReportInBrowser';
  if (typeof htmlFile !== 'string' || !existsSync(htmlFile)) throw new ValidationError(fn, 'htmlFile', 'an existing HTML file', htmlFile);
  const browser = findChromium();
  if (!browser) throw new BackendUnavailableError(`${fn}: no Chromium found (install Debian's 'chromium' or set CHROMIUM_PATH)`);
  const url = pathToFileURL(resolve(htmlFile)).href;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dom = runChromium(browser, ['--dump-dom', url], timeoutMs);
  const m = /data-render-check="([^"]*)"/.exec(dom);
  const check = m ? m[1]! : 'fail no self-check result in the DOM (did the page load?)';
  const result: BrowserCheckResult = { ok: check.startsWith('ok '), check, browser };
  if (options.screenshot) {
    const [w, h] = options.windowSize ?? [1280, 2400];
    runChromium(browser, [`--screenshot=${resolve(options.screenshot)}`, `--window-size=${w},${h}`, url], timeoutMs);
    if (!existsSync(options.screenshot)) throw new BackendUnavailableError(`${fn}: ${browser} wrote no screenshot to ${options.screenshot}`);
    result.screenshot = options.screenshot;
  }
  return result;
}
