"""Reference timings for packages/metrics/bench/metrics.ts (run by it with Debian's /usr/bin/python3).

Prints one JSON object: scikit-image SSIM (both variants) at 256² and 512², OpenCV-native Farneback on the flow
fixtures, and a PyTorch CPU LPIPS written from the published architecture (richzhang/PerceptualSimilarity v0.1)
loading the same safetensors weights as ours. Values are printed too, so the bench can check both sides agree.

usage: metrics_reference.py FIXTURES_DIR REPEATS
"""
import gzip
import json
import os
import struct
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from skimage.io import imread
from skimage.metrics import structural_similarity

fixtures, repeats = sys.argv[1], int(sys.argv[2])
cv2.setNumThreads(1)  # single-threaded, like OpenCV.js and our wasm backend
torch.set_num_threads(1)


def median_time(fn, n):
    """Median process CPU time (robust on a shared, overloaded machine; every reference runs single-threaded)."""
    times = []
    out = None
    for _ in range(n):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return float(np.median(times)), out


def load_rgb(name, scale):
    img = imread(os.path.join(fixtures, 'metrics', name)).astype(np.float64) / 255.0
    return np.kron(img, np.ones((scale, scale, 1))) if scale > 1 else img  # nearest 2x upscaling for 512²


result = {'ssim': {}, 'farneback': {}, 'lpips': {}}

# 1. SSIM (scikit-image 0.19), both variants, RGB, data_range 1.
for size, scale in ((256, 1), (512, 2)):
    a = load_rgb('astronaut256_noise005.png', scale)
    b = load_rgb('astronaut256_ref.png', scale)
    wang = dict(channel_axis=2, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    default = dict(channel_axis=2, data_range=1)
    tw, vw = median_time(lambda: structural_similarity(a, b, **wang), repeats)
    td, vd = median_time(lambda: structural_similarity(a, b, **default), repeats)
    result['ssim'][str(size)] = {'wang': {'seconds': tw, 'value': vw}, 'skimage-default': {'seconds': td, 'value': vd}}

# 2. Farneback (OpenCV native), the fixtures' parameters, on uint8 gray frames.
cases = json.load(open(os.path.join(fixtures, 'flow', 'astronaut_cases.json')))['cases']
f1 = cv2.imread(os.path.join(fixtures, 'flow', cases[0]['frame1']), cv2.IMREAD_GRAYSCALE)
for c in cases:
    f2 = cv2.imread(os.path.join(fixtures, 'flow', c['frame2']), cv2.IMREAD_GRAYSCALE)
    t, flow = median_time(lambda: cv2.calcOpticalFlowFarneback(f1, f2, None, 0.5, 3, 15, 3, 5, 1.2, 0), repeats)
    result['farneback'][c['gt']] = {'seconds': t, 'mean_magnitude': float(np.hypot(flow[..., 0], flow[..., 1]).mean())}


# 3. LPIPS v0.1 in PyTorch from the published architecture, same weights (safetensors parsed here: no library).
def read_safetensors_gz(path):
    raw = gzip.open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(raw[8 + n + s:8 + n + e], dtype=np.float32).reshape(v['shape']).copy())
    return out


ARCH = {  # (op, features index / pool size, stride, pad); 'tap' ends a slice
    'alex': [('conv', 0, 4, 2), 'tap', ('pool', 3, 2), ('conv', 3, 1, 2), 'tap', ('pool', 3, 2), ('conv', 6, 1, 1), 'tap',
             ('conv', 8, 1, 1), 'tap', ('conv', 10, 1, 1), 'tap'],
    'vgg': [('conv', 0, 1, 1), ('conv', 2, 1, 1), 'tap', ('pool', 2, 2), ('conv', 5, 1, 1), ('conv', 7, 1, 1), 'tap',
            ('pool', 2, 2), ('conv', 10, 1, 1), ('conv', 12, 1, 1), ('conv', 14, 1, 1), 'tap', ('pool', 2, 2),
            ('conv', 17, 1, 1), ('conv', 19, 1, 1), ('conv', 21, 1, 1), 'tap', ('pool', 2, 2), ('conv', 24, 1, 1),
            ('conv', 26, 1, 1), ('conv', 28, 1, 1), 'tap'],
}


def lpips_torch(sd, net, x0, x1):
    def feats(x):
        x = (x - sd['scaling_layer.shift']) / sd['scaling_layer.scale']
        taps, k = [], 1
        for op in ARCH[net]:
            if op == 'tap':
                taps.append(x)
                k += 1
            elif op[0] == 'pool':
                x = F.max_pool2d(x, op[1], op[2])
            else:
                pre = 'net.slice%d.%d' % (k, op[1])
                x = F.relu(F.conv2d(x, sd[pre + '.weight'], sd[pre + '.bias'], stride=op[2], padding=op[3]))
        return taps

    def unit(t):
        return t / (torch.sqrt(torch.sum(t ** 2, dim=1, keepdim=True)) + 1e-10)

    a, b = feats(x0), feats(x1)
    return sum(F.conv2d((unit(p) - unit(q)) ** 2, sd['lin%d.model.1.weight' % k]).mean(dim=(2, 3)) for k, (p, q) in enumerate(zip(a, b)))


in0 = torch.from_numpy(np.load(os.path.join(fixtures, 'lpips', 'batch0_in0.npy')))
in1 = torch.from_numpy(np.load(os.path.join(fixtures, 'lpips', 'batch0_in1.npy')))
big0 = F.interpolate(in0, size=(256, 256), mode='bilinear', align_corners=False)  # 2 × 3 × 256 × 256
big1 = F.interpolate(in1, size=(256, 256), mode='bilinear', align_corners=False)
for net in ('alex', 'vgg'):
    sd = read_safetensors_gz(os.path.join(fixtures, 'lpips', net, 'model.safetensors.gz'))
    with torch.no_grad():
        for label, (x0, x1) in (('64', (in0, in1)), ('256', (big0, big1))):
            # One thread, like our single-threaded wasm backend (tfjs-wasm runs without threads in Node).
            torch.set_num_threads(1)
            lpips_torch(sd, net, x0, x1)  # warm-up
            t, d = median_time(lambda: lpips_torch(sd, net, x0, x1), repeats)
            result['lpips']['%s_%s' % (net, label)] = {'seconds': t, 'values': d.flatten().tolist()}

print(json.dumps(result))
