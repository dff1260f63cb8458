"""Reference timings for packages/core/bench/io.ts (run with Debian's /usr/bin/python3: numpy, OpenCV, Pillow).

usage: io_reference.py <work dir> <repeats>
Reads the files io.ts wrote into <work dir> and prints one JSON object: median seconds per workload.

- safetensors: numpy reading each tensor with np.fromfile at its offset (the safetensors Python package is not
  installed here; this is the same positioned-read strategy, done by numpy's C code), and writing with tofile.
- npz: np.load + materialising every array. npy: np.load.
- PNG: cv2.imread(IMREAD_UNCHANGED) (libpng) and Pillow, decode only; cv2.imwrite for encoding.
"""
import json
import os
import statistics
import struct
import sys
import time

import cv2
import numpy as np
from PIL import Image

work, repeats = sys.argv[1], int(sys.argv[2])


def median_time(fn):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        out = {}
        for name, entry in header.items():
            if name == '__metadata__':
                continue
            begin, end = entry['data_offsets']
            f.seek(8 + n + begin)
            out[name] = np.fromfile(f, dtype=np.float32, count=(end - begin) // 4).reshape(entry['shape'])
        return out


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name in sorted(tensors):
        size = tensors[name].nbytes
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(',', ':')).encode()
    blob += b' ' * ((8 - len(blob) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(blob)))
        f.write(blob)
        for name in sorted(tensors):
            tensors[name].tofile(f)


results = {}
big = os.path.join(work, 'big.safetensors')
results['safetensors_read'] = median_time(lambda: read_safetensors(big))
tensors = read_safetensors(big)
results['safetensors_write'] = median_time(lambda: write_safetensors(os.path.join(work, 'py-out.safetensors'), tensors))
results['npz_read'] = median_time(lambda: {k: v for k, v in np.load(os.path.join(work, 'big.npz')).items()})
results['npy_read'] = median_time(lambda: np.load(os.path.join(work, 'big.npy')))
for name in ['rgb8', 'rgb16']:
    path = os.path.join(work, f'{name}.png')
    results[f'png_read_{name}_cv2'] = median_time(lambda: cv2.imread(path, cv2.IMREAD_UNCHANGED))
    results[f'png_read_{name}_pil'] = median_time(lambda: np.asarray(Image.open(path)))
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    results[f'png_write_{name}_cv2'] = median_time(lambda: cv2.imwrite(os.path.join(work, f'py-{name}.png'), image))
print(json.dumps(results))
