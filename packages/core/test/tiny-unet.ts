/**
 * A small UNet-like network (conv, group norm, self-attention, nearest upsampling, skips) used by the training test
 * and by bench/train-step.ts. Its PyTorch twin is bench/train_step_torch.py (same parameter names and layouts).
 */
import { tf, nn, Rng } from '../src/index.js';

class ResBlock extends nn.Module {
  norm1: nn.GroupNorm;
  conv1: nn.Conv2d;
  norm2: nn.GroupNorm;
  conv2: nn.Conv2d;
  constructor(channels: number, groups: number, rng: Rng) {
    super();
    this.norm1 = this.registerModule('norm1', new nn.GroupNorm(groups, channels));
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(channels, channels, 3, { padding: 1, rng: rng.fork('conv1') }));
    this.norm2 = this.registerModule('norm2', new nn.GroupNorm(groups, channels));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(channels, channels, 3, { padding: 1, rng: rng.fork('conv2') }));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const h = this.conv1.forward(nn.silu(this.norm1.forward(x)));
    return tf.add(x, this.conv2.forward(nn.silu(this.norm2.forward(h))));
  }
}

class SelfAttention extends nn.Module {
  norm: nn.GroupNorm;
  to_q: nn.Linear;
  to_k: nn.Linear;
  to_v: nn.Linear;
  to_out: nn.Linear;
  constructor(readonly channels: number, readonly heads: number, groups: number, rng: Rng) {
    super();
    this.norm = this.registerModule('norm', new nn.GroupNorm(groups, channels));
    this.to_q = this.registerModule('to_q', new nn.Linear(channels, channels, { rng: rng.fork('q') }));
    this.to_k = this.registerModule('to_k', new nn.Linear(channels, channels, { rng: rng.fork('k') }));
    this.to_v = this.registerModule('to_v', new nn.Linear(channels, channels, { rng: rng.fork('v') }));
    this.to_out = this.registerModule('to_out', new nn.Linear(channels, channels, { rng: rng.fork('o') }));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [B, H, W, C] = x.shape;
    const d = C / this.heads;
    const seq = this.norm.forward(x).reshape([B, H * W, C]); // [B, L, C]
    const split = (t: tf.Tensor) => t.reshape([B, H * W, this.heads, d]).transpose([0, 2, 1, 3]); // [B, h, L, d]
    const q = split(this.to_q.forward(seq));
    const k = split(this.to_k.forward(seq));
    const v = split(this.to_v.forward(seq));
    const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d))); // [B, h, L, L]
    const out = tf.matMul(attn, v).transpose([0, 2, 1, 3]).reshape([B, H * W, C]); // [B, L, C]
    return tf.add(x, this.to_out.forward(out).reshape([B, H, W, C]));
  }
}

/** Channels (64, 128, 192) → about 2.1 M parameters. */
export class TinyUNet extends nn.Module {
  conv_in: nn.Conv2d;
  res0: ResBlock;
  down0: nn.Conv2d;
  res1: ResBlock;
  down1: nn.Conv2d;
  mid: ResBlock;
  attn: SelfAttention;
  up1: nn.Conv2d;
  res_up1: ResBlock;
  up0: nn.Conv2d;
  res_up0: ResBlock;
  conv_out: nn.Conv2d;
  constructor(seed: number, channels: [number, number, number] = [64, 128, 192], inChannels = 3) {
    super();
    const rng = new Rng(seed);
    const [c0, c1, c2] = channels;
    const g = 32;
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(inChannels, c0, 3, { padding: 1, rng: rng.fork('conv_in') }));
    this.res0 = this.registerModule('res0', new ResBlock(c0, g, rng.fork('res0')));
    this.down0 = this.registerModule('down0', new nn.Conv2d(c0, c1, 3, { stride: 2, padding: 1, rng: rng.fork('down0') }));
    this.res1 = this.registerModule('res1', new ResBlock(c1, g, rng.fork('res1')));
    this.down1 = this.registerModule('down1', new nn.Conv2d(c1, c2, 3, { stride: 2, padding: 1, rng: rng.fork('down1') }));
    this.mid = this.registerModule('mid', new ResBlock(c2, g, rng.fork('mid')));
    this.attn = this.registerModule('attn', new SelfAttention(c2, 4, g, rng.fork('attn')));
    this.up1 = this.registerModule('up1', new nn.Conv2d(c2, c1, 3, { padding: 1, rng: rng.fork('up1') }));
    this.res_up1 = this.registerModule('res_up1', new ResBlock(c1, g, rng.fork('res_up1')));
    this.up0 = this.registerModule('up0', new nn.Conv2d(c1, c0, 3, { padding: 1, rng: rng.fork('up0') }));
    this.res_up0 = this.registerModule('res_up0', new ResBlock(c0, g, rng.fork('res_up0')));
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(c0, inChannels, 3, { padding: 1, rng: rng.fork('conv_out') }));
  }
  /** @param x - `[B, H, W, 3]` with H, W divisible by 4. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const s0 = this.res0.forward(this.conv_in.forward(x)); // [B, H, W, c0]
      const s1 = this.res1.forward(this.down0.forward(s0)); // [B, H/2, W/2, c1]
      let h = this.attn.forward(this.mid.forward(this.down1.forward(s1))); // [B, H/4, W/4, c2]
      h = this.up1.forward(tf.image.resizeNearestNeighbor(h, [s1.shape[1], s1.shape[2]]));
      h = this.res_up1.forward(tf.add(h, s1));
      h = this.up0.forward(tf.image.resizeNearestNeighbor(h, [s0.shape[1], s0.shape[2]]));
      h = this.res_up0.forward(tf.add(h, s0));
      return this.conv_out.forward(nn.silu(h));
    });
  }
}
