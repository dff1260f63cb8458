/**
 * Progress reporting for long loops (training, sampling, evaluation).
 *
 * Library code never draws anything: it accepts an `onProgress` callback and calls it with a
 * {@link ProgressEvent} (`{ current, total, values }`). Scripts and the CLI create a reporter with
 * {@link createProgress} and pass its `onProgress` in. On a TTY the reporter redraws one bar line in place
 * (carriage return, at most every 100 ms); elsewhere (CI logs, files) it prints one plain line every `every` steps
 * and at the end — both with the rate and the ETA.
 *
 * @example
 * ```ts
 * import { createProgress } from '@consistent-avatar/core';
 * const progress = createProgress({ total: 3000, label: 'train TSDM', every: 100 });
 * for (let step = 1; step <= 3000; step++) {
 *   const loss = 0.1; // … one training step …
 *   progress.update(step, { loss });
 * }
 * progress.done();
 * // CI log:  train TSDM 100/3000 3.3% 12.5 it/s ETA 3:52 loss=0.1000
 * // sampler(…, { onProgress: progress.onProgress }) forwards library events the same way
 * ```
 */
import { ValidationError } from './errors.js';

/** What library code reports. */
export interface ProgressEvent {
  /** Steps done so far (1-based after the first step). */
  current: number;
  /** Total steps (0 when unknown). */
  total: number;
  /** Scalars to show (`{ loss: 0.12, lr: 1e-4 }`). */
  values?: Record<string, number>;
  /** Free text (the current phase, a file name). */
  message?: string;
}

/** The callback type library functions accept. */
export type OnProgress = (event: ProgressEvent) => void;

/** Where the reporter writes (process.stderr by default). */
export interface ProgressStream {
  /** Write one chunk of text (a whole line in line mode; in TTY mode `\r` and the redrawn bar). */
  write(chunk: string): unknown;
  /** True for a terminal: the reporter redraws one bar instead of printing lines. */
  isTTY?: boolean;
  /** Terminal width in characters: in TTY mode the bar line is cut to fit it. */
  columns?: number;
}

/** Options for {@link createProgress}. */
export interface ProgressOptions {
  /** Total number of steps (0 if unknown: no bar, no ETA). */
  total: number;
  /** Shown at the start of each line. Default ''. */
  label?: string;
  /** Non-TTY: print every N steps. Default: max(1, round(total / 20)) (about 20 lines), or 100 when total is 0. */
  every?: number;
  /** Output stream. Default `process.stderr`. */
  stream?: ProgressStream;
  /** Force TTY (bar) or line mode; default `stream.isTTY`. */
  tty?: boolean;
  /** Also called with every event (chain a logger, a metrics sink…). */
  onProgress?: OnProgress;
  /** Clock in milliseconds (tests inject one). Default `performance.now`. */
  now?: () => number;
}

/** A progress reporter (see the module docs). */
export interface ProgressReporter {
  /** Pass this to library functions; it forwards their events to {@link ProgressReporter.update}. */
  readonly onProgress: OnProgress;
  /** Steps done so far. */
  readonly current: number;
  /** Advance by `n` steps (default 1). */
  tick(n?: number, values?: Record<string, number>, message?: string): void;
  /** Set the absolute step count. */
  update(current: number, values?: Record<string, number>, message?: string): void;
  /**
   * Print the final line (`… in 4:00`; on a TTY, the last bar and a newline). Called automatically when
   * `current` reaches `total`; call it yourself when the total was unknown or the loop stopped early. Calling it
   * again does nothing unless a message is given.
   */
  done(message?: string): void;
}

/** `75` → `1:15`, `3725` → `1:02:05`; non-finite → `?`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '? it/s';
  return perSecond >= 1 ? `${perSecond.toFixed(1)} it/s` : `${(1 / perSecond).toFixed(2)} s/it`;
}

function formatValues(values: Record<string, number> | undefined): string {
  if (!values) return '';
  return Object.entries(values)
    .map(([k, v]) => `${k}=${Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : v.toFixed(4)}`)
    .join(' ');
}

/** Create a progress reporter (see the module docs). */
export function createProgress(options: ProgressOptions): ProgressReporter {
  const fn = 'createProgress';
  if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', '{total, label?, …}', options);
  let total = options.total;
  if (!Number.isInteger(total) || total < 0) throw new ValidationError(fn, 'options.total', 'an integer >= 0', total);
  const every = options.every ?? (total > 0 ? Math.max(1, Math.round(total / 20)) : 100);
  if (!Number.isInteger(every) || every < 1) throw new ValidationError(fn, 'options.every', 'an integer >= 1', every);
  const stream: ProgressStream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const now = options.now ?? (() => performance.now());
  const label = options.label ?? '';
  const start = now();
  let current = 0;
  let lastDraw = -Infinity;
  let lastPrinted = -1;
  let finished = false;
  let lastValues: Record<string, number> | undefined;
  let lastMessage: string | undefined;

  const line = (bar: boolean): string => {
    const elapsed = (now() - start) / 1000;
    const rate = elapsed > 0 ? current / elapsed : NaN;
    const parts: string[] = [];
    if (label) parts.push(label);
    if (total > 0) {
      if (bar) {
        const width = 24;
        const filled = Math.min(width, Math.floor((current / total) * width));
        parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`);
      }
      parts.push(`${current}/${total}`, `${((100 * current) / total).toFixed(1)}%`);
    } else {
      parts.push(`${current}`);
    }
    parts.push(formatRate(rate));
    if (finished) parts.push(`in ${formatDuration(elapsed)}`);
    else if (total > 0) parts.push(`ETA ${formatDuration(current > 0 ? (total - current) / rate : NaN)}`);
    const values = formatValues(lastValues);
    if (values) parts.push(values);
    if (lastMessage) parts.push(lastMessage);
    return parts.join(' ');
  };

  const render = () => {
    if (tty) {
      const t = now();
      if (!finished && t - lastDraw < 100) return;
      lastDraw = t;
      const text = line(true);
      const columns = stream.columns ?? 0;
      stream.write(`\r${columns > 0 ? text.slice(0, columns - 1) : text}\x1b[K`);
    } else if (current % every === 0 && current !== lastPrinted) {
      lastPrinted = current;
      stream.write(line(false) + '\n');
    }
  };

  const reporter: ProgressReporter = {
    get current() {
      return current;
    },
    onProgress: (event: ProgressEvent) => {
      if (event.total > 0 && event.total !== total) total = event.total;
      reporter.update(event.current, event.values, event.message);
    },
    tick(n = 1, values, message) {
      reporter.update(current + n, values, message);
    },
    update(value, values, message) {
      if (!Number.isFinite(value) || value < 0) {
        throw new ValidationError('ProgressReporter.update', 'current', 'a number >= 0', value);
      }
      current = value;
      if (values) lastValues = values;
      if (message !== undefined) lastMessage = message;
      options.onProgress?.({ current, total, values, message });
      if (total > 0 && current >= total && !finished) reporter.done();
      else if (!finished) render();
    },
    done(message) {
      if (finished && message === undefined) return;
      finished = true;
      if (message !== undefined) lastMessage = message;
      lastPrinted = current;
      if (tty) {
        render();
        stream.write('\n');
      } else {
        stream.write(line(false) + '\n');
      }
    },
  };
  return reporter;
}
