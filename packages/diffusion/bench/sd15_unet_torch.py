"""PyTorch side of bench/sd15-unet-onnx.ts: the UNet of unet_torch.py (config from index.json: SD 1.5's) (diffusers' module layout and key names),
its weights memory-mapped from the ONNX external-data file written by the TypeScript side (index.json: name, dims,
offset, length of each float32 tensor), the same inputs (inputs.npz); one warm-up forward, then `repeats` timed.
Prints JSON (times, CPU time, peak RSS) and writes the output as torch_out.bin.

Usage: /usr/bin/python3 sd15_unet_torch.py <dir> <threads> <repeats>
"""
import json, os, resource, sys, time, warnings
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_torch import UNet  # noqa: E402

def main():
    warnings.filterwarnings('ignore', message='The given NumPy array is not writable')  # read-only memmap, never written
    d, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    index = json.load(open(os.path.join(d, 'index.json')))
    blob = np.memmap(os.path.join(d, index['data']), dtype=np.uint8, mode='r')
    state = {}
    for t in index['tensors']:
        if t['name'].startswith('const_'):
            continue  # the graph's own constants
        values = np.frombuffer(blob, dtype='<f4', count=t['length'] // 4, offset=t['offset']).reshape(t['dims'])
        state[t['name']] = torch.from_numpy(values)
    t0 = time.perf_counter()
    # Build without drawing an initialisation (the parameters stay untouched, so not resident), then point every
    # parameter at its memory-mapped tensor: no second copy of the 3.4 GB.
    saved = {k: getattr(torch.nn.init, k) for k in ('kaiming_uniform_', 'uniform_', 'ones_', 'zeros_')}
    for k in saved:
        setattr(torch.nn.init, k, lambda tensor, *a, **kw: tensor)
    try:
        net = UNet(index['config'])
    finally:
        for k, v in saved.items():
            setattr(torch.nn.init, k, v)
    params = dict(net.named_parameters())
    if sorted(params) != sorted(state):
        raise SystemExit(f'key mismatch: {sorted(set(params) ^ set(state))[:5]}')
    for name, p in params.items():
        if tuple(p.shape) != tuple(state[name].shape):
            raise SystemExit(f'{name}: {tuple(p.shape)} vs {tuple(state[name].shape)}')
        p.data = state[name]
    load_ms = (time.perf_counter() - t0) * 1000
    data = np.load(os.path.join(d, 'inputs.npz'))
    x, t, ctx = (torch.from_numpy(data[k]) for k in ('sample', 'timestep', 'text'))
    times, cpu = [], []
    with torch.no_grad():
        for i in range(repeats + 1):
            c0 = time.process_time(); w0 = time.perf_counter()
            y = net(x, t, ctx)
            if i > 0:
                times.append((time.perf_counter() - w0) * 1000); cpu.append((time.process_time() - c0) * 1000)
    y.numpy().astype('<f4').tofile(os.path.join(d, 'torch_out.bin'))
    print(json.dumps({
        'threads': threads, 'torch': torch.__version__, 'parameters': sum(p.numel() for p in net.parameters()),
        'loadMs': round(load_ms), 'forwardMs': [round(v) for v in times], 'medianForwardMs': round(float(np.median(times))),
        'medianCpuMs': round(float(np.median(cpu))), 'peakRssMiB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == '__main__':
    main()
