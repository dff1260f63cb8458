"""numpy / PyTorch reference for bench/batch-matmul.ts: median ms of C = A @ B for the same shapes, 1 thread.

Usage: /usr/bin/python3 batch_matmul_ref.py '<json list of [batch, M, K, N]>' REPEATS
Prints one JSON line: {"numpy": [ms, ...], "torch": [ms, ...]}.
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


def main():
    shapes = json.loads(sys.argv[1])
    repeats = int(sys.argv[2])
    rng = np.random.default_rng(0)
    out = {"numpy": [], "torch": []}
    for b, m, k, n in shapes:
        a = rng.standard_normal((b, m, k), dtype=np.float32)
        w = rng.standard_normal((b, k, n), dtype=np.float32)
        out["numpy"].append(median_ms(lambda: np.matmul(a, w), repeats))
        ta, tw = torch.from_numpy(a), torch.from_numpy(w)
        out["torch"].append(median_ms(lambda: torch.matmul(ta, tw), repeats))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
