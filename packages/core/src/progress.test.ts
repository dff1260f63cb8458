import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { createProgress, formatDuration, type ProgressEvent } from './progress.js';

/** A stream that records writes, and a clock the test moves by hand. */
function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (chunk: string) => writes.push(chunk) } };
}
function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createProgress', () => {
  it('prints one line every N steps in CI logs, with rate and ETA, and a final line', () => {
    const { writes, stream } = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 10, label: 'train', every: 5, stream, now: clock.now });
    for (let step = 1; step <= 10; step++) {
      clock.advance(500); // 2 it/s
      progress.update(step, { loss: 1 / step });
    }
    expect(writes).toEqual([
      'train 5/10 50.0% 2.0 it/s ETA 0:03 loss=0.2000\n', // 5 steps left at 2 it/s = 2.5 s → 0:03
      'train 10/10 100.0% 2.0 it/s in 0:05 loss=0.1000\n',
    ]);
    progress.done(); // already finished: nothing more
    expect(writes).toHaveLength(2);
  });

  it('defaults to about 20 lines per run', () => {
    const { writes, stream } = fakeStream(false);
    const progress = createProgress({ total: 1000, stream, now: fakeClock().now });
    for (let i = 0; i < 1000; i++) progress.tick();
    expect(writes).toHaveLength(20);
  });

  it('redraws a bar in place on a TTY, throttled to 100 ms, and ends with a newline', () => {
    const { writes, stream } = fakeStream(true);
    const clock = fakeClock();
    const progress = createProgress({ total: 4, label: 'sample', stream, now: clock.now });
    progress.tick(); // t = 0: first draw
    clock.advance(50);
    progress.tick(); // throttled
    clock.advance(60);
    progress.tick(); // 110 ms: drawn
    clock.advance(10);
    progress.tick(); // reaches total: final draw + newline
    expect(writes.every((w) => w === '\n' || (w.startsWith('\r') && w.endsWith('\x1b[K')))).toBe(true);
    expect(writes).toHaveLength(4);
    expect(writes[1]).toContain('sample [##################------] 3/4 75.0%');
    expect(writes[2]).toContain('[########################] 4/4 100.0%');
    expect(writes[3]).toBe('\n');
  });

  it('forwards library events through onProgress and to a chained callback', () => {
    const { writes, stream } = fakeStream(false);
    const seen: ProgressEvent[] = [];
    const progress = createProgress({ total: 0, every: 2, stream, now: fakeClock().now, onProgress: (e) => seen.push(e) });
    // a library function reporting its own total
    for (let i = 1; i <= 4; i++) progress.onProgress({ current: i, total: 4, values: { t: 999 - i } });
    expect(seen.map((e) => [e.current, e.total])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    expect(writes[0]).toMatch(/^2\/4 50\.0% \? it\/s ETA \? t=997\.0000\n$/); // the fake clock never moved
    expect(writes[writes.length - 1]).toMatch(/^4\/4 100\.0% .* in 0:00 t=995\.0000\n$/);
  });

  it('unknown totals print counts and need an explicit done()', () => {
    const { writes, stream } = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 0, label: 'frames', every: 3, stream, now: clock.now });
    for (let i = 0; i < 7; i++) {
      clock.advance(250);
      progress.tick();
    }
    progress.done('wrote 7 frames');
    expect(writes).toEqual(['frames 3 4.0 it/s\n', 'frames 6 4.0 it/s\n', 'frames 7 4.0 it/s in 0:02 wrote 7 frames\n']);
  });

  it('shows slow loops in s/it and validates options', () => {
    const { writes, stream } = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 2, every: 1, stream, now: clock.now });
    clock.advance(4000);
    progress.tick(1, { lr: 1e-5 });
    expect(writes[0]).toBe('1/2 50.0% 4.00 s/it ETA 0:04 lr=1.000e-5\n');
    expect(() => createProgress({ total: -1 })).toThrow(ValidationError);
    expect(() => createProgress({ total: 3, every: 0 })).toThrow(ValidationError);
    expect(() => progress.update(NaN)).toThrow(ValidationError);
  });

  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Infinity)).toBe('?');
  });
});
