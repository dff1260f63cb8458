"""PyTorch reference for packages/diffusion/bench/unet.ts: the SD UNet2DConditionModel architecture written from the
published design (diffusers' module layout and key names; no diffusers dependency), loading the same safetensors
file as the TypeScript side. Times forward and forward+backward on CPU at a given thread count and writes JSON.
Also takes ControlNet residuals (diffusers' `down_block_additional_residuals` / `mid_block_additional_residual`) and
IP-Adapter tokens (diffusers' `IPAdapterAttnProcessor` on every attn2, keys `….attn2.processor.to_k_ip.<i>.weight`),
which controlnet_torch.py uses for the stage-3 FCSD sampling step.

Usage: /usr/bin/python3 unet_torch.py <model_dir> <inputs.npz> <out.json> <threads> <repeats>
"""
import json, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'scripts', 'bench'))
from safetensors_torch import read_safetensors  # noqa: E402


def timestep_embedding(t, dim, flip=True, shift=0):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - shift)
    args = t[:, None].float() * torch.exp(exponent)[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], -1)
    return torch.cat([emb[:, half:], emb[:, :half]], -1) if flip else emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, dim, ctx, heads, ip=None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx, dim, bias=False)
        self.to_v = nn.Linear(ctx, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        if ip is not None:  # ip = (adapters, token size): diffusers' IPAdapterAttnProcessor
            self.processor = nn.Module()
            self.processor.to_k_ip = nn.ModuleList([nn.Linear(ip[1], dim, bias=False) for _ in range(ip[0])])
            self.processor.to_v_ip = nn.ModuleList([nn.Linear(ip[1], dim, bias=False) for _ in range(ip[0])])

    def attend(self, q, k, v):
        B, L, C = q.shape
        h, d = self.heads, C // self.heads
        q, k, v = (z.view(B, -1, h, d).transpose(1, 2) for z in (q, k, v))  # [B, h, L, d]
        p = torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, -1)
        return (p @ v).transpose(1, 2).reshape(B, L, C)  # [B, L, C]

    def forward(self, x, ctx=None, ip_tokens=(), ip_scale=()):
        ctx = x if ctx is None else ctx
        q = self.to_q(x)
        h = self.attend(q, self.to_k(ctx), self.to_v(ctx))
        # IP-Adapter: the same query on each adapter's own keys / values, added with its scale before to_out.
        for i, (tokens, s) in enumerate(zip(ip_tokens, ip_scale)):
            h = h + s * self.attend(q, self.processor.to_k_ip[i](tokens), self.processor.to_v_ip[i](tokens))
        return self.to_out[0](h)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        a, g = self.proj(x).chunk(2, -1)
        return a * F.gelu(g)


class FF(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class Block(nn.Module):
    def __init__(self, dim, ctx, heads, ip=None):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, dim, heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, ctx, heads, ip)
        self.norm3, self.ff = nn.LayerNorm(dim), FF(dim)

    def forward(self, x, ctx, ip_tokens=(), ip_scale=()):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), ctx, ip_tokens, ip_scale)
        return x + self.ff(self.norm3(x))


class Transformer2D(nn.Module):
    def __init__(self, ch, ctx, heads, groups, ip=None):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch, 1e-6)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.transformer_blocks = nn.ModuleList([Block(ch, ctx, heads, ip)])
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x, ctx, ip_tokens=(), ip_scale=()):
        B, C, H, W = x.shape
        h = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(B, H * W, C)  # [B, H*W, C]
        for blk in self.transformer_blocks:
            h = blk(h, ctx, ip_tokens, ip_scale)
        return self.proj_out(h.reshape(B, H, W, C).permute(0, 3, 1, 2)) + x  # [B, C, H, W]


class Sampler(nn.Module):
    def __init__(self, ch, down):
        super().__init__()
        self.down = down
        self.conv = nn.Conv2d(ch, ch, 3, stride=2 if down else 1, padding=1)

    def forward(self, x):
        return self.conv(x if self.down else F.interpolate(x, scale_factor=2.0, mode='nearest'))


def build_encoder(net, c, ip=None):
    """conv_in, time_embedding, down_blocks and mid_block on `net` (the modules the UNet and the ControlNet share,
    diffusers' `ControlNetModel.from_unet` list); returns the per-block channels."""
    ch, n, L = c['block_out_channels'], len(c['block_out_channels']), c['layers_per_block']
    heads, groups, eps, ctx = c['attention_head_dim'], c['norm_num_groups'], c['norm_eps'], c['cross_attention_dim']
    temb = ch[0] * 4
    net.ch0 = ch[0]
    net.conv_in = nn.Conv2d(c['in_channels'], ch[0], 3, padding=1)
    net.time_embedding = TimestepEmbedding(ch[0], temb)
    net.down_blocks = nn.ModuleList()
    out = ch[0]
    for i, kind in enumerate(c['down_block_types']):
        cin, out = out, ch[i]
        blk = nn.Module()
        blk.resnets = nn.ModuleList([Resnet(cin if j == 0 else out, out, temb, groups, eps) for j in range(L)])
        blk.attentions = nn.ModuleList([Transformer2D(out, ctx, heads, groups, ip) for _ in range(L)]) if kind.startswith('CrossAttn') else None
        blk.downsamplers = nn.ModuleList([Sampler(out, True)]) if i < n - 1 else None
        net.down_blocks.append(blk)
    net.mid_block = nn.Module()
    net.mid_block.resnets = nn.ModuleList([Resnet(ch[-1], ch[-1], temb, groups, eps) for _ in range(2)])
    net.mid_block.attentions = nn.ModuleList([Transformer2D(ch[-1], ctx, heads, groups, ip)])
    return temb


def run_encoder(net, h, emb, ctx, ip_tokens=(), ip_scale=()):
    """Down blocks then mid block from conv_in's output `h`; returns (mid output, skips in production order)."""
    skips = [h]
    for blk in net.down_blocks:
        for j, r in enumerate(blk.resnets):
            h = r(h, emb)
            if blk.attentions is not None:
                h = blk.attentions[j](h, ctx, ip_tokens, ip_scale)
            skips.append(h)
        if blk.downsamplers is not None:
            h = blk.downsamplers[0](h)
            skips.append(h)
    return h, skips


def run_mid(net, h, emb, ctx, ip_tokens=(), ip_scale=()):
    h = net.mid_block.resnets[0](h, emb)
    h = net.mid_block.attentions[0](h, ctx, ip_tokens, ip_scale)
    return net.mid_block.resnets[1](h, emb)


class UNet(nn.Module):
    def __init__(self, c, ip=None):
        """`ip` = (adapters, token size) adds IP-Adapter processors on every attn2 (None: plain attention)."""
        super().__init__()
        ch, n, L = c['block_out_channels'], len(c['block_out_channels']), c['layers_per_block']
        heads, groups, eps, ctx = c['attention_head_dim'], c['norm_num_groups'], c['norm_eps'], c['cross_attention_dim']
        temb = build_encoder(self, c, ip)
        self.up_blocks = nn.ModuleList()
        rev = ch[::-1]
        out = rev[0]
        for i, kind in enumerate(c['up_block_types']):
            prev, out, cin = out, rev[i], rev[min(i + 1, n - 1)]
            blk = nn.Module()
            blk.resnets = nn.ModuleList([Resnet((prev if j == 0 else out) + (cin if j == L else out), out, temb, groups, eps) for j in range(L + 1)])
            blk.attentions = nn.ModuleList([Transformer2D(out, ctx, heads, groups, ip) for _ in range(L + 1)]) if kind.startswith('CrossAttn') else None
            blk.upsamplers = nn.ModuleList([Sampler(out, False)]) if i < n - 1 else None
            self.up_blocks.append(blk)
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps)
        self.conv_out = nn.Conv2d(ch[0], c['out_channels'], 3, padding=1)

    def forward(self, x, t, ctx, down_residuals=None, mid_residual=None, ip_tokens=(), ip_scale=()):
        emb = self.time_embedding(timestep_embedding(t, self.ch0))
        h, skips = run_encoder(self, self.conv_in(x), emb, ctx, ip_tokens, ip_scale)
        if down_residuals is not None:  # ControlNet: one residual per skip (diffusers' down_block_additional_residuals)
            skips = [s + r for s, r in zip(skips, down_residuals, strict=True)]
        h = run_mid(self, h, emb, ctx, ip_tokens, ip_scale)
        if mid_residual is not None:
            h = h + mid_residual
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, skips.pop()], 1), emb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h, ctx, ip_tokens, ip_scale)
            if blk.upsamplers is not None:
                h = blk.upsamplers[0](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def main():
    model_dir, inputs, out_path, threads, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    config = json.load(open(f'{model_dir}/config.json'))
    net = UNet(config)
    net.load_state_dict(read_safetensors(f"{model_dir}/diffusion_pytorch_model.safetensors"), strict=True)
    data = np.load(inputs)
    x, t, ctx = (torch.from_numpy(data[k]) for k in ('sample', 'timestep', 'text'))  # NCHW sample
    with torch.no_grad():
        y = net(x, t, ctx)
    def fwd():
        with torch.no_grad():
            net(x, t, ctx)
    def fwd_bwd():
        net.zero_grad(set_to_none=True)
        (net(x, t, ctx) ** 2).mean().backward()
    res = {'threads': threads, 'params': sum(p.numel() for p in net.parameters()), 'output': y.numpy().ravel()[:4096].tolist()}
    for name, fn in (('forward', fwd), ('forward_backward', fwd_bwd)):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter(); fn(); times.append((time.perf_counter() - t0) * 1000)
        res[name + '_ms'] = float(np.median(times))
    a = torch.randn(1024, 1024); b = torch.randn(1024, 1024)
    a @ b
    t0 = time.perf_counter()
    for _ in range(5):
        a @ b
    res['matmul_gflops'] = 5 * 2 * 1024 ** 3 / (time.perf_counter() - t0) / 1e9
    json.dump(res, open(out_path, 'w'))


if __name__ == '__main__':
    main()
