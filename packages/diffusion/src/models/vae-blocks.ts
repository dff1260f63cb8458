/**
 * The VAE's blocks (diffusers `DownEncoderBlock2D`, `UpDecoderBlock2D`, `UNetMidBlock2D`): ResNets without time
 * embedding, the encoder's asymmetric-padding downsampler, and the single-head mid-block self-attention with its own
 * GroupNorm and residual. NHWC activations; every norm uses eps 1e-6 as in diffusers' VAE.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { UNetMidBlock2D } from '@consistent-avatar/diffusion';
 * const mid = new UNetMidBlock2D({ inChannels: 64, resnetGroups: 8, seed: 0 });
 * mid.forward(tf.zeros([1, 8, 8, 64]) as tf.Tensor4D).shape; // [1, 8, 8, 64]
 * ```
 */
import { nn, tf } from '@consistent-avatar/core';
import { Attention } from './attention.js';
import { modelRng, type ModelInitOptions } from './init.js';
import { Downsample2D, Upsample2D } from './resampling.js';
import { ResnetBlock2D } from './resnet.js';

/** Options shared by the VAE blocks. */
export interface VaeBlockOptions extends ModelInitOptions {
  inChannels: number;
  outChannels: number;
  numLayers: number;
  resnetGroups?: number;
  resnetEps?: number;
}

function resnet(inCh: number, outCh: number, o: { resnetGroups?: number; resnetEps?: number }, rng: ModelInitOptions['rng']): ResnetBlock2D {
  return new ResnetBlock2D({ inChannels: inCh, outChannels: outCh, tembChannels: null, groups: o.resnetGroups ?? 32, eps: o.resnetEps ?? 1e-6, rng });
}

/**
 * Encoder block: ResNets, then (optionally) Downsample2D with padding 0 (pad right/bottom by 1, conv stride 2).
 * @example
 * ```ts
 * new DownEncoderBlock2D({ inChannels: 32, outChannels: 64, numLayers: 1, resnetGroups: 8 }).forward(tf.zeros([1, 16, 16, 32]) as tf.Tensor4D).shape; // [1, 8, 8, 64]
 * ```
 */
export class DownEncoderBlock2D extends nn.Module {
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly downsamplers: nn.ModuleList<Downsample2D> | null;
  constructor(options: VaeBlockOptions & { addDownsample?: boolean; downsamplePadding?: number }) {
    super();
    const rng = modelRng(options, 'DownEncoderBlock2D');
    this.resnets = this.registerModule('resnets', new nn.ModuleList<ResnetBlock2D>());
    for (let i = 0; i < options.numLayers; i++) this.resnets.push(resnet(i === 0 ? options.inChannels : options.outChannels, options.outChannels, options, rng));
    this.downsamplers = options.addDownsample ?? true
      ? this.registerModule('downsamplers', new nn.ModuleList([new Downsample2D(options.outChannels, { padding: options.downsamplePadding ?? 0, rng })]))
      : null;
  }
  /** `[B, H, W, in]` → `[B, H/2, W/2, out]` (`[B, H, W, out]` without downsampler). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const r of this.resnets) h = r.forward(h);
      return this.downsamplers ? this.downsamplers.at(0).forward(h) : h;
    });
  }
}

/**
 * Decoder block: ResNets, then (optionally) Upsample2D.
 * @example
 * ```ts
 * new UpDecoderBlock2D({ inChannels: 64, outChannels: 32, numLayers: 2, resnetGroups: 8 }).forward(tf.zeros([1, 8, 8, 64]) as tf.Tensor4D).shape; // [1, 16, 16, 32]
 * ```
 */
export class UpDecoderBlock2D extends nn.Module {
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  readonly upsamplers: nn.ModuleList<Upsample2D> | null;
  constructor(options: VaeBlockOptions & { addUpsample?: boolean }) {
    super();
    const rng = modelRng(options, 'UpDecoderBlock2D');
    this.resnets = this.registerModule('resnets', new nn.ModuleList<ResnetBlock2D>());
    for (let i = 0; i < options.numLayers; i++) this.resnets.push(resnet(i === 0 ? options.inChannels : options.outChannels, options.outChannels, options, rng));
    this.upsamplers = options.addUpsample ?? true ? this.registerModule('upsamplers', new nn.ModuleList([new Upsample2D(options.outChannels, { rng })])) : null;
  }
  /** `[B, H, W, in]` → `[B, 2H, 2W, out]` (`[B, H, W, out]` without upsampler). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const r of this.resnets) h = r.forward(h);
      return this.upsamplers ? this.upsamplers.at(0).forward(h) : h;
    });
  }
}

/**
 * VAE mid block: ResNet → (Attention → ResNet)×numLayers. The attention is single-head (head size = channels when
 * `attentionHeadDim` is left at the channel count), GroupNorm inside, biases on q/k/v, residual inside.
 * @example
 * ```ts
 * new UNetMidBlock2D({ inChannels: 512 }); // SD VAE mid block: ResNet → single-head attention → ResNet
 * ```
 */
export class UNetMidBlock2D extends nn.Module {
  readonly attentions: nn.ModuleList<Attention> | null;
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  constructor(options: Omit<VaeBlockOptions, 'outChannels' | 'numLayers'> & { numLayers?: number; addAttention?: boolean; attentionHeadDim?: number }) {
    super();
    const rng = modelRng(options, 'UNetMidBlock2D');
    const C = options.inChannels;
    const n = options.numLayers ?? 1;
    const headDim = options.attentionHeadDim ?? C;
    const resnets = [resnet(C, C, options, rng)];
    const attentions: Attention[] = [];
    for (let i = 0; i < n; i++) {
      if (options.addAttention ?? true) {
        attentions.push(new Attention({ queryDim: C, heads: C / headDim, dimHead: headDim, bias: true, residualConnection: true, normNumGroups: options.resnetGroups ?? 32, eps: options.resnetEps ?? 1e-6, rng }));
      }
      resnets.push(resnet(C, C, options, rng));
    }
    this.attentions = attentions.length ? this.registerModule('attentions', new nn.ModuleList(attentions)) : null;
    this.resnets = this.registerModule('resnets', new nn.ModuleList(resnets));
  }
  /** `[B, H, W, C]` → `[B, H, W, C]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.resnets.at(0).forward(x);
      for (let i = 1; i < this.resnets.length; i++) {
        if (this.attentions) h = this.attentions.at(i - 1).forward(h) as tf.Tensor4D; // [B, H, W, C] in and out
        h = this.resnets.at(i).forward(h);
      }
      return h;
    });
  }
}
