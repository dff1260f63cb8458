"""PyTorch twin of one stage-3 FCSD sampling step for packages/avatar/bench/native-controlnet-sampling.ts: diffusers'
`ControlNetModel` (conditioning embedding, the UNet's encoder, zero convolutions, `conditioning_scale`) written in
plain PyTorch for the config features the FCSD uses (no diffusers dependency), and the backbone of unet_torch.py
with the ControlNet's residuals and IP-Adapter tokens. Both load our exported safetensors by diffusers' key names
(strict). Times the step on CPU at a given thread count; writes the step's output and the ControlNet residuals.

The step (ConsistentAvatar Eq. 8, as `FcsdModel.denoise`): x = concat[x_t, proxy]; text = the null token tiled over
the batch; residuals = C(x, t, text, z_c); out = S(x, t, {text, f_d}, residuals).

Usage: /usr/bin/python3 controlnet_torch.py <model_dir with controlnet/ and unet/> <inputs.npz> <out_prefix> <threads> <repeats>
Writes <out_prefix>.json (times) and <out_prefix>.npz (output and residuals, NCHW).
"""
import json, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'scripts', 'bench'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_torch import read_safetensors  # noqa: E402
from unet_torch import UNet, build_encoder, run_encoder, run_mid, timestep_embedding  # noqa: E402


class ConditioningEmbedding(nn.Module):
    """diffusers `ControlNetConditioningEmbedding`: conv_in → SiLU, (conv → SiLU, stride-2 conv → SiLU) per pair, conv_out."""

    def __init__(self, out_channels, cond_channels, hidden):
        super().__init__()
        self.conv_in = nn.Conv2d(cond_channels, hidden[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        for a, b in zip(hidden[:-1], hidden[1:]):
            self.blocks.append(nn.Conv2d(a, a, 3, padding=1))
            self.blocks.append(nn.Conv2d(a, b, 3, padding=1, stride=2))
        self.conv_out = nn.Conv2d(hidden[-1], out_channels, 3, padding=1)

    def forward(self, x):
        h = F.silu(self.conv_in(x))
        for conv in self.blocks:
            h = F.silu(conv(h))
        return self.conv_out(h)


class ControlNet(nn.Module):
    """diffusers `ControlNetModel` for: RGB channel order, no guess mode, no global pooling, no class / addition
    embeddings (what `ControlNetModel.fromUnet` builds for the FCSD); refuses other values of those fields."""

    def __init__(self, c):
        super().__init__()
        if c['controlnet_conditioning_channel_order'] != 'rgb' or c['global_pool_conditions']:
            raise ValueError('controlnet_torch: only rgb order without global_pool_conditions is mirrored')
        build_encoder(self, c)
        self.controlnet_cond_embedding = ConditioningEmbedding(c['block_out_channels'][0], c['conditioning_channels'], c['conditioning_embedding_out_channels'])
        ch, L = c['block_out_channels'], c['layers_per_block']
        zero_ch = [ch[0]]
        for i in range(len(ch)):
            zero_ch += [ch[i]] * (L + (1 if i < len(ch) - 1 else 0))  # one per skip: resnets, then the downsampler
        self.controlnet_down_blocks = nn.ModuleList([nn.Conv2d(k, k, 1) for k in zero_ch])
        self.controlnet_mid_block = nn.Conv2d(ch[-1], ch[-1], 1)

    def forward(self, x, t, ctx, cond, scale):
        # 1. Time embedding, as the UNet's.
        emb = self.time_embedding(timestep_embedding(t, self.ch0))
        # 2. conv_in(sample) + embedding(condition).
        h = self.conv_in(x) + self.controlnet_cond_embedding(cond)
        # 3. The encoder copy, collecting the skips as the UNet does; 4. zero convolutions; 5. conditioning scale.
        h, skips = run_encoder(self, h, emb, ctx)
        h = run_mid(self, h, emb, ctx)
        down = [conv(s) * scale for conv, s in zip(self.controlnet_down_blocks, skips, strict=True)]
        return down, self.controlnet_mid_block(h) * scale


def load(cls, folder, *extra):
    config = json.load(open(f'{folder}/config.json'))
    net = cls(config, *extra)
    net.load_state_dict(read_safetensors(f'{folder}/diffusion_pytorch_model.safetensors'), strict=True)
    return net.eval()


def main():
    model_dir, inputs, out_prefix, threads, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    data = {k: torch.from_numpy(v) for k, v in np.load(inputs).items()}
    ip_tokens, ip_scale = [data['ip_tokens']], [float(data['ip_scale'][0])]
    controlnet = load(ControlNet, f'{model_dir}/controlnet')
    unet = load(UNet, f'{model_dir}/unet', (len(ip_tokens), ip_tokens[0].shape[-1]))
    B = data['sample'].shape[0]
    scale = float(data['conditioning_scale'][0])

    def step():
        x = torch.cat([data['sample'], data['proxy']], 1)  # [B, 6, H, W]
        text = data['null_text'].expand(B, -1, -1)  # [B, 1, D]
        down, mid = controlnet(x, data['timestep'], text, data['control'], scale)
        return unet(x, data['timestep'], text, down, mid, ip_tokens, ip_scale), down, mid

    with torch.no_grad():
        y, down, mid = step()
        np.savez(f'{out_prefix}.npz', output=y.numpy(), mid=mid.numpy(), **{f'down_{k}': r.numpy() for k, r in enumerate(down)})
        step()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter(); step(); times.append((time.perf_counter() - t0) * 1000)
    params = sum(p.numel() for p in controlnet.parameters()) + sum(p.numel() for p in unet.parameters())
    json.dump({'threads': threads, 'torch': torch.__version__, 'params': params, 'step_ms': float(np.median(times)), 'times_ms': times}, open(f'{out_prefix}.json', 'w'))


if __name__ == '__main__':
    main()
