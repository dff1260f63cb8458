/**
 * Emscripten-built modules (the tfjs wasm backend, opencv.js, human's bundled tfjs) install `process` handlers for
 * `uncaughtException` / `unhandledRejection` that rethrow from inside their own minified one-line source, so every
 * uncaught error of the program is printed after tens of kilobytes (opencv.js: megabytes) of third-party source, and
 * opencv's handler turns the exit code into 7. {@link guardCrashHandlers} is wrapped around loading such a module:
 * the handlers it added are removed and, in their place, one handler prints the error's own message and stack (and
 * its causes) first and exits with code 1 — unless the program has handlers of its own, which then decide.
 *
 * @example
 * ```ts
 * import { guardCrashHandlers } from '@consistent-avatar/core';
 * const done = guardCrashHandlers();
 * try { await import('@tensorflow/tfjs-backend-wasm'); } finally { done(); }
 * ```
 */

const EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * The error's stack (or message) and its `cause` chain, bounded (what the crash printer writes).
 * @example
 * ```ts
 * formatUncaught(new Error('boom', { cause: new Error('disk full') })); // "Error: boom\n    at …\nCaused by: Error: disk full …"
 * ```
 */
export function formatUncaught(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : `Uncaught ${typeof current === 'string' ? current : String(current)}`;
    lines.push(`${depth > 0 ? 'Caused by: ' : ''}${text.length > 20_000 ? `${text.slice(0, 20_000)}…` : text}`);
    current = current instanceof Error ? (current as Error & { cause?: unknown }).cause : undefined;
  }
  return lines.join('\n');
}

function onUncaught(error: unknown): void {
  // Another handler (the program's own) is installed: it decides what an uncaught error means.
  if (process.listenerCount('uncaughtException') > 1) return;
  process.stderr.write(`${formatUncaught(error)}\n`);
  process.exit(1);
}

let installed = false;

/**
 * Snapshot the process's crash handlers; the returned function removes every handler added since and installs the
 * library's printer (once per process). Call it after the third-party module has loaded (also when loading failed).
 *
 * @example
 * ```ts
 * const done = guardCrashHandlers();
 * try { require('@techstark/opencv-js'); } finally { done(); }
 * ```
 */
export function guardCrashHandlers(): () => void {
  const listeners = (event: (typeof EVENTS)[number]): Function[] => process.listeners(event as 'uncaughtException');
  const before = new Map(EVENTS.map((event) => [event, new Set(listeners(event))]));
  return () => {
    let removed = 0;
    for (const event of EVENTS) {
      for (const listener of listeners(event)) {
        if (before.get(event)!.has(listener) || listener === onUncaught) continue;
        process.removeListener(event as 'uncaughtException', listener as (error: Error) => void);
        removed++;
      }
    }
    // An unhandled rejection with no listener is raised as an uncaught exception, which reaches onUncaught.
    if (removed > 0 && !installed) {
      installed = true;
      process.on('uncaughtException', onUncaught);
    }
  };
}
