"""Reference timings for bench/sampling-schedulers.ts: the scheduler step math of diffusers' DDIMScheduler (eta 0),
LCMScheduler and DDPMScheduler (fixed_small), written out in PyTorch and in NumPy (float32), run over the same
schedules with a fixed model output, so only the scheduler's own work is timed. diffusers itself is not installed
here; these loops follow its step() line by line (same operations, same order).

Usage: /usr/bin/python3 sampling_schedulers_ref.py CONFIG.json
CONFIG: {"shapes": [[1,64,64,4], ...], "reps": N, "threads": 1, "cases": [{"name", "kind", "timesteps", "T_over_n"}],
         "alphas_cumprod": [...], "x": [...values for the first shape...]}
Prints one JSON line: {"torch": {...}, "numpy": {...}, "torch_version", "numpy_version", "ddim_final": {...}}.
"""
import json
import sys
import time

import numpy as np
import torch


def lcm_scalings(t):
    s = t * 10.0
    return 0.25 / (s * s + 0.25), s / (s * s + 0.25) ** 0.5


def run_torch(case, ac, x0, eps, gen):
    x = x0.clone()
    ts = case["timesteps"]
    for i, t in enumerate(ts):
        a = ac[t]
        b = 1 - a
        if case["kind"] == "ddim":
            prev = t - case["T_over_n"]
            ap = ac[prev] if prev >= 0 else ac[0]
            x0p = (x - b ** 0.5 * eps) / a ** 0.5
            x = ap ** 0.5 * x0p + (1 - ap) ** 0.5 * eps
        elif case["kind"] == "lcm":
            prev = ts[i + 1] if i + 1 < len(ts) else t
            ap = ac[prev]
            cs, co = lcm_scalings(t)
            x0p = (x - b ** 0.5 * eps) / a ** 0.5
            den = co * x0p + cs * x
            if i < len(ts) - 1:
                z = torch.randn(x.shape, generator=gen, dtype=torch.float32)
                x = ap ** 0.5 * den + (1 - ap) ** 0.5 * z
            else:
                x = den
        else:  # ddpm fixed_small
            prev = t - case["T_over_n"]
            ap = ac[prev] if prev >= 0 else torch.tensor(1.0)
            ca = a / ap
            cb = 1 - ca
            x0p = (x - b ** 0.5 * eps) / a ** 0.5
            c0 = (ap ** 0.5 * cb) / b
            c1 = ca ** 0.5 * (1 - ap) / b
            x = c0 * x0p + c1 * x
            if t > 0:
                var = torch.clamp((1 - ap) / b * cb, min=1e-20)
                z = torch.randn(x.shape, generator=gen, dtype=torch.float32)
                x = x + var ** 0.5 * z
    return x


def run_numpy(case, ac, x0, eps, rng):
    x = x0.copy()
    ts = case["timesteps"]
    f = np.float32
    for i, t in enumerate(ts):
        a = ac[t]
        b = f(1) - a
        if case["kind"] == "ddim":
            prev = t - case["T_over_n"]
            ap = ac[prev] if prev >= 0 else ac[0]
            x0p = (x - np.sqrt(b) * eps) / np.sqrt(a)
            x = np.sqrt(ap) * x0p + np.sqrt(f(1) - ap) * eps
        elif case["kind"] == "lcm":
            prev = ts[i + 1] if i + 1 < len(ts) else t
            ap = ac[prev]
            cs, co = lcm_scalings(t)
            x0p = (x - np.sqrt(b) * eps) / np.sqrt(a)
            den = f(co) * x0p + f(cs) * x
            if i < len(ts) - 1:
                z = rng.standard_normal(x.shape, dtype=np.float32)
                x = np.sqrt(ap) * den + np.sqrt(f(1) - ap) * z
            else:
                x = den
        else:
            prev = t - case["T_over_n"]
            ap = ac[prev] if prev >= 0 else f(1)
            ca = a / ap
            cb = f(1) - ca
            x0p = (x - np.sqrt(b) * eps) / np.sqrt(a)
            c0 = (np.sqrt(ap) * cb) / b
            c1 = np.sqrt(ca) * (f(1) - ap) / b
            x = c0 * x0p + c1 * x
            if t > 0:
                var = max((f(1) - ap) / b * cb, f(1e-20))
                z = rng.standard_normal(x.shape, dtype=np.float32)
                x = x + np.sqrt(var) * z
    return x


def median(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(cfg["threads"])
    ac_t = torch.tensor(cfg["alphas_cumprod"], dtype=torch.float32)
    ac_n = np.array(cfg["alphas_cumprod"], dtype=np.float32)
    out = {"torch": {}, "numpy": {}, "torch_version": torch.__version__, "numpy_version": np.__version__,
           "threads": torch.get_num_threads()}
    for shape in cfg["shapes"]:
        key = "x".join(map(str, shape))
        n = int(np.prod(shape))
        values = np.random.default_rng(0).standard_normal(n).astype(np.float32).reshape(shape)
        eps_values = (0.5 * np.tanh(values)).astype(np.float32)
        for case in cfg["cases"]:
            name = f'{case["name"]} {key}'
            steps = len(case["timesteps"])
            xt, et = torch.from_numpy(values.copy()), torch.from_numpy(eps_values.copy())
            times = []
            for rep in range(cfg["reps"] + 1):
                gen = torch.Generator().manual_seed(rep)
                t0 = time.perf_counter()
                run_torch(case, ac_t, xt, et, gen)
                if rep > 0:
                    times.append((time.perf_counter() - t0) * 1000 / steps)
            out["torch"][name] = median(times)
            times = []
            for rep in range(cfg["reps"] + 1):
                rng = np.random.default_rng(rep)
                t0 = time.perf_counter()
                run_numpy(case, ac_n, values, eps_values, rng)
                if rep > 0:
                    times.append((time.perf_counter() - t0) * 1000 / steps)
            out["numpy"][name] = median(times)
    # Cross-check: the deterministic DDIM loop on the first shape with the given x.
    shape = cfg["shapes"][0]
    x = torch.tensor(cfg["x"], dtype=torch.float32).reshape(shape)
    eps = 0.5 * torch.tanh(x)
    ddim = [c for c in cfg["cases"] if c["kind"] == "ddim"][0]
    final = run_torch(ddim, ac_t, x, eps, None)
    out["ddim_final"] = final.reshape(-1).tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
