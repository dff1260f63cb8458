/**
 * The down / mid / up blocks of SD's UNet (diffusers `unet_2d_blocks.py`): `CrossAttnDownBlock2D`, `DownBlock2D`,
 * `UNetMidBlock2DCrossAttn`, `CrossAttnUpBlock2D`, `UpBlock2D`. NHWC activations. Down blocks return their output
 * plus the skip tensors they produce (after every layer and after the downsampler); up blocks consume
 * `layersPerBlock + 1` skips, last in first out, concatenating `[current, skip]` along channels.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { DownBlock2D } from '@consistent-avatar/diffusion';
 * const block = new DownBlock2D({ inChannels: 32, outChannels: 32, tembChannels: 128, numLayers: 1, resnetGroups: 8, addDownsample: true, seed: 0 });
 * const { hidden, skips } = block.forward(tf.zeros([1, 16, 16, 32]) as tf.Tensor4D, tf.zeros([1, 128]));
 * // hidden [1, 8, 8, 32]; skips: [1, 16, 16, 32], [1, 8, 8, 32]
 * ```
 */
import { checkConfigField, configField as f, nn, tf } from '@consistent-avatar/core';
import type { AttentionCallOptions, EncoderHiddenStates } from './attention-processors.js';
import { MODEL_CONFIG_LIMITS } from './config-checks.js';
import { modelRng, type ModelInitOptions } from './init.js';
import { Downsample2D, Upsample2D } from './resampling.js';
import { ResnetBlock2D } from './resnet.js';
import { Transformer2DModel } from './transformer-2d.js';

/** Options shared by the UNet blocks (diffusers `get_down_block` / `get_up_block` arguments). */
export interface UNetBlockOptions extends ModelInitOptions {
  inChannels: number;
  outChannels: number;
  tembChannels: number;
  /** ResNets in the block (for up blocks: layers_per_block + 1). */
  numLayers: number;
  resnetEps?: number;
  resnetGroups?: number;
  dropout?: number;
  /** ResNet output_scale_factor (default 1). */
  outputScaleFactor?: number;
}

/** Extra options of the blocks with attention. */
export interface CrossAttnBlockOptions extends UNetBlockOptions {
  numAttentionHeads: number;
  crossAttentionDim: number;
  /** Transformer layers per attention (one number, or one per layer). Default 1. */
  transformerLayersPerBlock?: number | number[];
  useLinearProjection?: boolean;
}

/** What a down block returns. */
export interface DownBlockOutput {
  hidden: tf.Tensor4D;
  /** Skip tensors in production order. */
  skips: tf.Tensor4D[];
}

/** Per-call inputs every block accepts. */
export interface BlockCallOptions {
  encoderHiddenStates?: EncoderHiddenStates | null;
  /** Passed unchanged to every attention layer's processor (IP-Adapter scale, dropout rng, named `conditions`). */
  attention?: AttentionCallOptions;
}

// Layers per block within MODEL_CONFIG_LIMITS (an up block has layers_per_block + 1 resnets). Issue 19: a block built
// with numLayers 2^32 looped or ran out of memory before failing, and `new Array(n)` threw an untyped RangeError.
const NUM_LAYERS = f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxLayersPerBlock + 1 });
const TRANSFORMER_LAYERS = f.positiveInt({ max: MODEL_CONFIG_LIMITS.maxTransformerLayers });

/** Throw a ValidationError naming `fn` unless `n` is a layer count within the limits. */
function checkNumLayers(fn: string, n: number): void {
  checkConfigField(fn, 'options.numLayers', NUM_LAYERS, n);
}

/** Transformer layers of each of the block's `n` layers (one number for all, or one per layer), checked. */
function perLayer(fn: string, v: number | number[] | undefined, n: number): number[] {
  checkNumLayers(fn, n);
  if (Array.isArray(v)) {
    checkConfigField(fn, 'options.transformerLayersPerBlock', f.intArray({ min: 1, max: MODEL_CONFIG_LIMITS.maxTransformerLayers, length: n }), v);
    return v;
  }
  if (v !== undefined) checkConfigField(fn, 'options.transformerLayersPerBlock', TRANSFORMER_LAYERS, v);
  return new Array<number>(n).fill(v ?? 1);
}

function makeResnet(o: UNetBlockOptions, inCh: number, rng: ModelInitOptions['rng']): ResnetBlock2D {
  return new ResnetBlock2D({ inChannels: inCh, outChannels: o.outChannels, tembChannels: o.tembChannels, eps: o.resnetEps ?? 1e-6, groups: o.resnetGroups ?? 32, dropout: o.dropout, outputScaleFactor: o.outputScaleFactor, rng });
}

function makeTransformer(o: CrossAttnBlockOptions, channels: number, layers: number, rng: ModelInitOptions['rng']): Transformer2DModel {
  return new Transformer2DModel({
    numAttentionHeads: o.numAttentionHeads,
    attentionHeadDim: channels / o.numAttentionHeads,
    inChannels: channels,
    numLayers: layers,
    crossAttentionDim: o.crossAttentionDim,
    normNumGroups: o.resnetGroups ?? 32,
    useLinearProjection: o.useLinearProjection,
    dropout: o.dropout,
    rng,
  });
}

/**
 * Shared body of the two down blocks: ResNet [→ Transformer2D] per layer, then the optional downsampler. diffusers
 * registers `attentions` before `resnets` (state-dict / processor order), which {@link DownBlockBase.build} keeps.
 */
abstract class DownBlockBase extends nn.Module {
  attentions: nn.ModuleList<Transformer2DModel> | null = null;
  resnets!: nn.ModuleList<ResnetBlock2D>;
  downsamplers: nn.ModuleList<Downsample2D> | null = null;
  /**
   * Create and register the layers (called once from the subclass constructor).
   * @param attention - builds the Transformer2D of layer i, or null for a block without attention.
   */
  protected build(
    options: UNetBlockOptions & { addDownsample?: boolean; downsamplePadding?: number },
    rng: ModelInitOptions['rng'],
    attention: ((i: number) => Transformer2DModel) | null,
  ): void {
    checkNumLayers(this.constructor.name, options.numLayers);
    const resnets: ResnetBlock2D[] = [];
    const attentions: Transformer2DModel[] = [];
    for (let i = 0; i < options.numLayers; i++) {
      resnets.push(makeResnet(options, i === 0 ? options.inChannels : options.outChannels, rng));
      if (attention) attentions.push(attention(i));
    }
    if (attention) this.attentions = this.registerModule('attentions', new nn.ModuleList(attentions));
    this.resnets = this.registerModule('resnets', new nn.ModuleList(resnets));
    if (options.addDownsample ?? true) {
      this.downsamplers = this.registerModule('downsamplers', new nn.ModuleList([new Downsample2D(options.outChannels, { padding: options.downsamplePadding ?? 1, rng })]));
    }
  }
  /** `[B, H, W, in]` → hidden `[B, H/2, W/2, out]` (or `[B, H, W, out]` without downsampler) and the skips. */
  forward(x: tf.Tensor4D, temb: tf.Tensor, call: BlockCallOptions = {}): DownBlockOutput {
    return tf.tidy(() => {
      const skips: tf.Tensor4D[] = [];
      let h = x;
      for (let i = 0; i < this.resnets.length; i++) {
        h = this.resnets.at(i).forward(h, temb, call.attention?.rng);
        if (this.attentions) h = this.attentions.at(i).forward(h, call.encoderHiddenStates ?? null, call.attention);
        skips.push(h);
      }
      if (this.downsamplers) {
        h = this.downsamplers.at(0).forward(h);
        skips.push(h);
      }
      return { hidden: h, skips };
    });
  }
}

/**
 * ResNets (+ downsampler), no attention. Keys: `resnets.<i>`, `downsamplers.0.conv`.
 * @example
 * ```ts
 * new DownBlock2D({ inChannels: 32, outChannels: 64, tembChannels: 128, numLayers: 2, resnetGroups: 8 });
 * ```
 */
export class DownBlock2D extends DownBlockBase {
  constructor(options: UNetBlockOptions & { addDownsample?: boolean; downsamplePadding?: number }) {
    super();
    this.build(options, modelRng(options, 'DownBlock2D'), null);
  }
}

/**
 * ResNet + Transformer2D pairs (+ downsampler). Keys: `attentions.<i>`, `resnets.<i>`, `downsamplers.0.conv`.
 * @example
 * ```ts
 * new CrossAttnDownBlock2D({ inChannels: 32, outChannels: 32, tembChannels: 128, numLayers: 1, resnetGroups: 8, numAttentionHeads: 8, crossAttentionDim: 32 });
 * ```
 */
export class CrossAttnDownBlock2D extends DownBlockBase {
  constructor(options: CrossAttnBlockOptions & { addDownsample?: boolean; downsamplePadding?: number }) {
    super();
    const rng = modelRng(options, 'CrossAttnDownBlock2D');
    const layers = perLayer('CrossAttnDownBlock2D', options.transformerLayersPerBlock, options.numLayers);
    this.build(options, rng, (i) => makeTransformer(options, options.outChannels, layers[i]!, rng));
  }
}

/**
 * ResNet → (Transformer2D → ResNet)×n. Keys: `attentions.<i>`, `resnets.<i>`.
 * @example
 * ```ts
 * const mid = new UNetMidBlock2DCrossAttn({ inChannels: 48, tembChannels: 128, resnetGroups: 8, numAttentionHeads: 8, crossAttentionDim: 32 });
 * mid.forward(tf.zeros([1, 4, 4, 48]) as tf.Tensor4D, tf.zeros([1, 128]), { encoderHiddenStates: tf.zeros([1, 7, 32]) }).shape; // [1, 4, 4, 48]
 * ```
 */
export class UNetMidBlock2DCrossAttn extends nn.Module {
  readonly attentions: nn.ModuleList<Transformer2DModel>;
  readonly resnets: nn.ModuleList<ResnetBlock2D>;
  /** @param options - `inChannels` = `outChannels`; `numLayers` = number of attention layers (default 1). */
  constructor(options: Omit<CrossAttnBlockOptions, 'outChannels' | 'numLayers'> & { numLayers?: number }) {
    super();
    const rng = modelRng(options, 'UNetMidBlock2DCrossAttn');
    const n = options.numLayers ?? 1;
    const o = { ...options, outChannels: options.inChannels, numLayers: n };
    const layers = perLayer('UNetMidBlock2DCrossAttn', options.transformerLayersPerBlock, n);
    const resnets = [makeResnet(o, o.inChannels, rng)];
    const attentions: Transformer2DModel[] = [];
    for (let i = 0; i < n; i++) {
      attentions.push(makeTransformer(o, o.inChannels, layers[i]!, rng));
      resnets.push(makeResnet(o, o.inChannels, rng));
    }
    this.attentions = this.registerModule('attentions', new nn.ModuleList(attentions));
    this.resnets = this.registerModule('resnets', new nn.ModuleList(resnets));
  }
  /** `[B, H, W, in]` → `[B, H, W, in]`: the first ResNet, then each Transformer2D followed by its ResNet. */
  forward(x: tf.Tensor4D, temb: tf.Tensor, call: BlockCallOptions = {}): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.resnets.at(0).forward(x, temb, call.attention?.rng);
      for (let i = 0; i < this.attentions.length; i++) {
        h = this.attentions.at(i).forward(h, call.encoderHiddenStates ?? null, call.attention);
        h = this.resnets.at(i + 1).forward(h, temb, call.attention?.rng);
      }
      return h;
    });
  }
}

/** Options of the up blocks: `prevOutputChannels` is the incoming feature size, `inChannels` the last skip's. */
export interface UpBlockOptions extends UNetBlockOptions {
  prevOutputChannels: number;
  addUpsample?: boolean;
}

/** Channel counts of up-block ResNet j (diffusers: skip of the last ResNet has `inChannels` channels). */
function upResnetInput(o: UpBlockOptions, j: number): number {
  const skip = j === o.numLayers - 1 ? o.inChannels : o.outChannels;
  const current = j === 0 ? o.prevOutputChannels : o.outChannels;
  return current + skip;
}

/** Shared body of the two up blocks: ResNet over [current, skip] [→ Transformer2D] per layer, then the upsampler. */
abstract class UpBlockBase extends nn.Module {
  attentions: nn.ModuleList<Transformer2DModel> | null = null;
  resnets!: nn.ModuleList<ResnetBlock2D>;
  upsamplers: nn.ModuleList<Upsample2D> | null = null;
  /**
   * Create and register the layers (called once from the subclass constructor).
   * @param attention - builds the Transformer2D of layer j, or null for a block without attention.
   */
  protected build(options: UpBlockOptions, rng: ModelInitOptions['rng'], attention: ((j: number) => Transformer2DModel) | null): void {
    checkNumLayers(this.constructor.name, options.numLayers);
    const resnets: ResnetBlock2D[] = [];
    const attentions: Transformer2DModel[] = [];
    for (let j = 0; j < options.numLayers; j++) {
      resnets.push(makeResnet(options, upResnetInput(options, j), rng));
      if (attention) attentions.push(attention(j));
    }
    if (attention) this.attentions = this.registerModule('attentions', new nn.ModuleList(attentions));
    this.resnets = this.registerModule('resnets', new nn.ModuleList(resnets));
    if (options.addUpsample ?? true) this.upsamplers = this.registerModule('upsamplers', new nn.ModuleList([new Upsample2D(options.outChannels, { rng })]));
  }
  /**
   * `[B, H, W, prevOutputChannels]` → `[B, 2H, 2W, out]` (`[B, H, W, out]` without upsampler): each layer concatenates
   * the next skip on channels, then runs its ResNet [and Transformer2D].
   * @param skips - this block's skips in production order (the last one is consumed first).
   * @param upsampleSize - explicit `[H, W]` for the upsampler (when the latent is not divisible by 2^upsamplers).
   */
  forward(x: tf.Tensor4D, skips: tf.Tensor4D[], temb: tf.Tensor, call: BlockCallOptions = {}, upsampleSize?: [number, number]): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (let j = 0; j < this.resnets.length; j++) {
        const skip = skips[skips.length - 1 - j]!;
        h = this.resnets.at(j).forward(tf.concat([h, skip], 3) as tf.Tensor4D, temb, call.attention?.rng); // [B, H, W, C + Cskip]
        if (this.attentions) h = this.attentions.at(j).forward(h, call.encoderHiddenStates ?? null, call.attention);
      }
      return this.upsamplers ? this.upsamplers.at(0).forward(h, upsampleSize) : h;
    });
  }
}

/**
 * ResNets over [current, skip] concatenations (+ upsampler). Keys: `resnets.<i>`, `upsamplers.0.conv`.
 * @example
 * ```ts
 * new UpBlock2D({ inChannels: 32, prevOutputChannels: 48, outChannels: 48, tembChannels: 128, numLayers: 2, resnetGroups: 8 });
 * ```
 */
export class UpBlock2D extends UpBlockBase {
  constructor(options: UpBlockOptions) {
    super();
    this.build(options, modelRng(options, 'UpBlock2D'), null);
  }
}

/**
 * ResNet + Transformer2D pairs over skip concatenations (+ upsampler). Keys: `attentions.<i>`, `resnets.<i>`, `upsamplers.0.conv`.
 * @example
 * ```ts
 * new CrossAttnUpBlock2D({ inChannels: 32, prevOutputChannels: 48, outChannels: 32, tembChannels: 128, numLayers: 2, resnetGroups: 8, numAttentionHeads: 8, crossAttentionDim: 32, addUpsample: false });
 * ```
 */
export class CrossAttnUpBlock2D extends UpBlockBase {
  constructor(options: UpBlockOptions & Omit<CrossAttnBlockOptions, keyof UNetBlockOptions>) {
    super();
    const rng = modelRng(options, 'CrossAttnUpBlock2D');
    const layers = perLayer('CrossAttnUpBlock2D', options.transformerLayersPerBlock, options.numLayers);
    this.build(options, rng, (j) => makeTransformer(options as CrossAttnBlockOptions, options.outChannels, layers[j]!, rng));
  }
}

/**
 * A down block of the UNet or ControlNet encoder (`down_blocks.<i>`), as built from
 * {@link UNetDownBlockType}: both classes return the hidden state and the skips from `forward`.
 * @example
 * ```ts
 * for (const block of unet.down_blocks) console.log(block.constructor.name); // one per config.down_block_types entry
 * ```
 */
export type UNetDownBlock = CrossAttnDownBlock2D | DownBlock2D;

/**
 * An up block of the UNet decoder (`up_blocks.<i>`), as built from {@link UNetUpBlockType}.
 * @example
 * ```ts
 * const last: UNetUpBlock = unet.up_blocks.at(unet.up_blocks.length - 1);
 * ```
 */
export type UNetUpBlock = CrossAttnUpBlock2D | UpBlock2D;
