"""numpy reference for bench/tsd.ts: the same Fourier high-pass as extractTsd, timed in this process.

Reads raw float32 frames [N, H, W, 3] in [0, 1] from a file, runs fftshift(fft2) x mask -> ifft2(ifftshift) per
plane (float64, numpy.fft = pocketfft), and prints JSON timings: seconds per frame (median of `repeats` runs over
all frames; wall clock and process CPU time) for the given options.
Usage: python3 tsd_numpy.py FRAMES.f32 N H W MASK RADIUS CHANNELS OUTPUT REPEATS
"""
import json
import sys
import time

import numpy as np


def mask_for(h, w, kind, radius):
    i = np.arange(h)[:, None] - h // 2
    j = np.arange(w)[None, :] - w // 2
    d2 = (i * i + j * j).astype(np.float64)
    if kind == 'gaussian':
        return 1 - np.exp(-d2 / (2 * radius * radius))
    if kind == 'circle':
        return (d2 > radius * radius).astype(np.float64)
    return ~((np.abs(i) <= radius) & (np.abs(j) <= radius)) * np.ones((h, w))


def tsd(frame, mask, channels, output):
    x = frame.astype(np.float64)
    planes = [x @ np.array([0.299, 0.587, 0.114])] if channels == 'luma' else [x[..., c] for c in range(3)]
    out = []
    for p in planes:
        z = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(p)) * mask))
        out.append(np.abs(z) if output == 'abs' else z.real)
    return np.stack(out, axis=-1).astype(np.float32)


def main():
    path, n, h, w, kind, radius, channels, output, repeats = sys.argv[1:10]
    n, h, w, radius, repeats = int(n), int(h), int(w), float(radius), int(repeats)
    frames = np.fromfile(path, dtype=np.float32).reshape(n, h, w, 3)
    tsd(frames[0], mask_for(h, w, kind, radius), channels, output)  # warm-up, as ours
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        mask = mask_for(h, w, kind, radius)  # built once per sequence, as ours caches it
        for f in frames:
            tsd(f, mask, channels, output)
        times.append((time.perf_counter() - t0) / n)
        cpu.append((time.process_time() - c0) / n)
    print(json.dumps({'seconds_per_frame': sorted(times)[len(times) // 2],
                      'cpu_seconds_per_frame': sorted(cpu)[len(cpu) // 2], 'all': times}))


if __name__ == '__main__':
    main()
