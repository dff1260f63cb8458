/**
 * Shared by the packages' bench scripts: wall-clock medians. Import with a relative path
 * (`../../../scripts/bench/timing.js`); benches are not published.
 */

/** Median ms of `repeats` calls of `f` after one untimed warm-up call. */
export function medianMs(f: () => unknown, repeats: number): number {
  f();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}
