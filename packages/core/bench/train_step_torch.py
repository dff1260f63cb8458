"""PyTorch twin of test/tiny-unet.ts for bench/train-step.ts: same architecture, parameter names and weights.

Usage: /usr/bin/python3 train_step_torch.py WEIGHTS.safetensors INPUT.safetensors THREADS STEPS
Prints one JSON line: {"threads", "step_ms": [...], "losses": [...]}.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'scripts', 'bench'))
from safetensors_torch import read_safetensors  # noqa: E402


class ResBlock(nn.Module):
    def __init__(self, c, g):
        super().__init__()
        self.norm1 = nn.GroupNorm(g, c)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.norm2 = nn.GroupNorm(g, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class SelfAttention(nn.Module):
    def __init__(self, c, heads, g):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(g, c)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.Linear(c, c)

    def forward(self, x):
        b, c, h, w = x.shape
        d = c // self.heads
        seq = self.norm(x).reshape(b, c, h * w).transpose(1, 2)  # [B, L, C]
        split = lambda t: t.reshape(b, h * w, self.heads, d).transpose(1, 2)  # [B, h, L, d]
        q, k, v = split(self.to_q(seq)), split(self.to_k(seq)), split(self.to_v(seq))
        attn = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.to_out(out).transpose(1, 2).reshape(b, c, h, w)


class TinyUNet(nn.Module):
    def __init__(self, c0=64, c1=128, c2=192, cin=3):
        super().__init__()
        g = 32
        self.conv_in = nn.Conv2d(cin, c0, 3, padding=1)
        self.res0 = ResBlock(c0, g)
        self.down0 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.res1 = ResBlock(c1, g)
        self.down1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = ResBlock(c2, g)
        self.attn = SelfAttention(c2, 4, g)
        self.up1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.res_up1 = ResBlock(c1, g)
        self.up0 = nn.Conv2d(c1, c0, 3, padding=1)
        self.res_up0 = ResBlock(c0, g)
        self.conv_out = nn.Conv2d(c0, cin, 3, padding=1)

    def forward(self, x):
        s0 = self.res0(self.conv_in(x))
        s1 = self.res1(self.down0(s0))
        h = self.attn(self.mid(self.down1(s1)))
        h = self.up1(F.interpolate(h, size=s1.shape[-2:], mode="nearest"))
        h = self.res_up1(h + s1)
        h = self.up0(F.interpolate(h, size=s0.shape[-2:], mode="nearest"))
        h = self.res_up0(h + s0)
        return self.conv_out(F.silu(h))


def main():
    weights, inputs, threads, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    net = TinyUNet()
    net.load_state_dict(read_safetensors(weights), strict=True)
    batch = read_safetensors(inputs)
    x = batch["noisy"].permute(0, 3, 1, 2).contiguous()  # NHWC → NCHW
    target = batch["noise"].permute(0, 3, 1, 2).contiguous()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    times, cpu, losses = [], [], []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        c0 = time.process_time()
        opt.zero_grad()
        loss = F.mse_loss(net(x), target)
        loss.backward()
        opt.step()
        dt = (time.perf_counter() - t0) * 1000
        dc = (time.process_time() - c0) * 1000
        if i > 0:  # the first step is warm-up
            times.append(dt)
            cpu.append(dc)
        losses.append(float(loss))
    print(json.dumps({"threads": threads, "step_ms": times, "cpu_ms": cpu, "losses": losses}))


if __name__ == "__main__":
    main()
